"""The command line against hostile and mistaken input, as an attacker or a tired user would try it.

Every case runs ``splitdiff`` on files this test makes (malicious pickles for every loader that
takes a path, planted links, decompression bombs, traversal names, broken numbers) and checks:
exit code 2 with one line naming the problem, no marker file (no code ran from a file), nothing
outside the output changed, and no existing file overwritten without ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from splitdiff.cli import main
from splitdiff.priors.adm import create_unet

FLAGS = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2], attention_resolutions="16",
             num_head_channels=32, learn_sigma=False, use_scale_shift_norm=True, resblock_updown=True)


class Planted:
    """Pickled, it asks the loader to call ``tempfile.mkdtemp`` (a folder ``marker*`` beside
    ``marker``) when loaded: a module splitdiff does not refuse by name, so the file is opened
    and the call must become an inert placeholder."""

    def __init__(self, source: Path, marker: Path) -> None:
        self.marker = Path(marker)

    def __reduce__(self):
        return tempfile.mkdtemp, ("", self.marker.name, str(self.marker.parent))


class Python2Name:
    """Pickled (protocol 2), ``subprocess.call`` is written under its Python 2 name ``commands.call``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return subprocess.call, (["touch", self.marker],)


class Shell:
    """Pickled, it asks for ``os.system("touch marker")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def lab(tmp_path):
    """A folder of inputs: a photo, a small exported prior, and hostile files."""
    d = tmp_path / "lab"
    d.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(d / "photo.png")
    net = create_unet(**FLAGS)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(d / "prior.safetensors"))
    (d / "prior.json").write_text(json.dumps({"flags": FLAGS, "steps": 0}))
    marker = tmp_path / "marker"
    # the same weights, pickled with a payload beside them, once through shutil and once through os
    torch.save({"state_dict": state, "callbacks": Planted(d / "photo.png", marker)}, d / "planted.ckpt")
    torch.save({"state_dict": state, "callbacks": Shell(marker)}, d / "shell.ckpt")
    torch.save({"state_dict": state, "callbacks": Python2Name(marker)}, d / "py2.ckpt")
    torch.save(Planted(d / "photo.png", marker), d / "planted_y.pt")
    (d / "random.pt").write_bytes(rng.bytes(4096))
    (d / "empty.pt").write_bytes(b"")
    return d


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a digest of what it is (content, link target or kind)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "link:" + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p)] = "dir" if p.is_dir() else "other"
    return out


def run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse
        code = exit_.code
    return code, capsys.readouterr().err


def refused(argv, capsys, root: Path, message: str) -> None:
    """``argv`` exits 2 with one line matching ``message`` and changes nothing under ``root``."""
    before = snapshot(root)
    code, err = run(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert message.lower() in lines[0].lower(), lines[0]
    assert not list(root.glob("marker*")) and not list(root.parent.glob("marker*"))
    assert snapshot(root) == before


def solve(lab: Path, *extra, prior=None) -> list:
    return ["solve", "--image", lab / "photo.png", "--task", "hdr", "--steps", "2", "--size", "32",
            "--prior", prior or f"default:{lab / 'prior.safetensors'}", *extra]


# -- 1. no code runs from a file --------------------------------------------------------------

@pytest.mark.parametrize("spec,message", [
    ("ldm:{lab}/planted.ckpt", "model.diffusion_model"),  # the payload is an inert placeholder; no LDM keys
    ("ldm:{lab}/shell.ckpt", "posix.system"),
    ("adm:{lab}/planted.ckpt", "does not match"),
    ("adm:{lab}/shell.ckpt", "posix.system"),
    ("default:{lab}/planted.ckpt", "not found"),  # no metadata beside it
    ("adm:{lab}/py2.ckpt", "commands.call"),
    ("adm:{lab}/random.pt", "corrupted"),
    ("adm:{lab}/empty.pt", "corrupted"),
])
def test_malicious_checkpoints_run_no_code(lab, tmp_path, capsys, spec, message):
    refused(solve(lab, "--out", tmp_path / "x.png", prior=spec.format(lab=lab)), capsys, tmp_path, message)


def test_weights_beside_a_payload_load_without_it(lab, tmp_path, capsys):
    """The tensors under state_dict are used; the object beside them stays an inert placeholder."""
    shutil.copy(lab / "prior.json", lab / "planted.json")
    code, err = run(solve(lab, "--out", tmp_path / "x.png", prior=f"default:{lab}/planted.ckpt"), capsys)
    assert code == 0, err
    assert (tmp_path / "x.png").is_file() and not list(tmp_path.glob("marker*"))


@pytest.mark.parametrize("name,message", [
    ("planted_y.pt", "holds OpaqueObject"), ("random.pt", "corrupted"), ("empty.pt", "corrupted"),
])
def test_malicious_measurements_run_no_code(lab, tmp_path, capsys, name, message):
    argv = ["solve", "--measurement", lab / name, "--task", "hdr", "--prior", "tv", "--algorithm", "pnp-admm",
            "--out", tmp_path / "x.png"]
    refused(argv, capsys, tmp_path, message)


def test_train_prior_refuses_a_planted_resume_checkpoint(lab, tmp_path, capsys):
    run_dir = tmp_path / "run" / "checkpoints"
    run_dir.mkdir(parents=True)
    shutil.copy(lab / "planted.ckpt", run_dir / "last.ckpt")
    refused(["train-prior", "--out", tmp_path / "run", "--steps", "1", "--accelerator", "cpu"], capsys, tmp_path,
            "tempfile.mkdtemp")


def test_train_prior_init_and_export_run_no_code(lab, tmp_path, capsys):
    from splitdiff.training import export_prior

    refused(["train-prior", "--out", tmp_path / "run", "--steps", "1", "--init", lab / "shell.ckpt"], capsys,
            tmp_path, "posix.system")
    with pytest.raises(ValueError, match="not a checkpoint of splitdiff train-prior"):
        export_prior(lab / "planted.ckpt", tmp_path / "w.safetensors")
    assert not list(tmp_path.glob("marker*")) and not (tmp_path / "w.safetensors").exists()


def test_lpips_weights_reader_admits_only_arrays(tmp_path):
    import pickle

    from splitdiff.evaluation.metrics import LPIPSWeightsMissing, _read_numpy_pickle

    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps({"AlexNet_0": {"Conv_0": {"kernel": np.ones((2, 2), np.float32)}}}))
    assert _read_numpy_pickle(good)["AlexNet_0"]["Conv_0"]["kernel"].sum() == 4
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps({"AlexNet_0": Planted(good, tmp_path / "marker")}))
    with pytest.raises(LPIPSWeightsMissing, match="tempfile.mkdtemp is not allowed"):
        _read_numpy_pickle(evil)
    assert not list(tmp_path.glob("marker*"))


def test_operator_weights_run_no_code(lab, tmp_path):
    import splitdiff as sd

    with pytest.raises(ValueError, match="posix.system"):
        sd.operators.build("nonlinear_blur", checkpoint=lab / "shell.ckpt")
    assert not list(tmp_path.glob("marker*"))


def test_trust_checkpoint_is_explicit_and_loud(lab, tmp_path, capsys):
    """With --trust-checkpoint the file is unpickled fully (its payload runs): a warning says so."""
    code, err = run(solve(lab, "--out", tmp_path / "x.png", "--trust-checkpoint",
                          prior=f"adm:{lab}/planted.ckpt"), capsys)
    assert code == 2 and "--trust-checkpoint" in err and "any code" in err
    assert list(tmp_path.glob("marker*"))  # the payload ran, because the user said to trust the file


# -- 2. no file overwritten, nothing written through a link ----------------------------------

def test_out_equal_to_the_input_is_refused_even_with_force(lab, tmp_path, capsys):
    refused(solve(lab, "--out", lab / "photo.png", "--force"), capsys, lab, "also an input")


def test_an_existing_output_needs_force(lab, tmp_path, capsys):
    out = tmp_path / "x.png"
    out.write_bytes(b"precious")
    refused(solve(lab, "--out", out), capsys, tmp_path, "--force")
    code, _ = run(solve(lab, "--out", out, "--force"), capsys)
    assert code == 0 and Image.open(out).size == (32, 32)


@pytest.mark.parametrize("kind", ["symlink", "fifo", "folder"])
def test_non_regular_targets_are_never_replaced(lab, tmp_path, capsys, kind):
    out = tmp_path / "x.png"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    if kind == "symlink":
        out.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(out)
    else:
        out.mkdir()
    refused(solve(lab, "--out", out, "--force"), capsys, tmp_path, "exists and is")


def test_a_planted_temporary_file_is_neither_followed_nor_consumed(lab, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "x.png.tmp").symlink_to(victim)
    (tmp_path / ".x.png.tmp").write_text("someone else's")
    code, err = run(solve(lab, "--out", tmp_path / "x.png"), capsys)
    assert code == 0, err
    assert victim.read_text() == "precious" and (tmp_path / "x.png.tmp").is_symlink()
    assert (tmp_path / ".x.png.tmp").read_text() == "someone else's"
    assert {p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")} == {"x.png.tmp", ".x.png.tmp"}


@pytest.mark.parametrize("where,message", [
    ("missing/x.png", "does not exist"), ("afile/x.png", "not a folder"),
])
def test_output_folder_is_checked_before_the_solve(lab, tmp_path, capsys, where, message):
    (tmp_path / "afile").write_text("a file")
    refused(solve(lab, "--out", tmp_path / where), capsys, tmp_path, message)


def test_output_format_follows_the_suffix(lab, tmp_path, capsys):
    code, _ = run(solve(lab, "--out", tmp_path / "x.jpg"), capsys)
    assert code == 0 and Image.open(tmp_path / "x.jpg").format == "JPEG"
    refused(solve(lab, "--out", tmp_path / "x.unknown"), capsys, tmp_path, "use one of")


def test_demo_and_export_need_force(lab, tmp_path, capsys):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "metrics.md").write_text("an earlier run")
    refused(["demo", "--out", tmp_path / "demo", "--prior", "tv", "--algorithm", "pnp-admm"], capsys, tmp_path,
            "--force")
    (tmp_path / "w.safetensors").write_text("earlier weights")
    refused(["train-prior", "--out", tmp_path / "run", "--steps", "1", "--export", tmp_path / "w.safetensors"],
            capsys, tmp_path, "--force")


# -- 6, 7, 10, 12: bombs, numbers, devices, measurements, images -----------------------------

def bomb(path: Path, side: int = 30000) -> Path:
    """A tiny PNG whose header declares side x side pixels."""
    Image.new("L", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [9000, 30000])
def test_decompression_bombs_are_refused(lab, tmp_path, capsys, side):
    image = bomb(lab / "bomb.png", side)
    argv = ["solve", "--image", image, "--task", "hdr", "--prior", "tv", "--algorithm", "pnp-admm",
            "--out", tmp_path / "x.png"]
    refused(argv, capsys, tmp_path, "decompression bomb")


@pytest.mark.parametrize("extra,message", [
    (["--steps", "0"], "--steps"), (["--size", "0"], "--size"), (["--size", "-1"], "--size"),
    (["--seed", str(2**70)], "--seed"), (["--seed", "-3"], "--seed"), (["--sigma", "nan"], "--sigma"),
    (["--device", "banana"], "unknown device"), (["--device", "meta"], "unsupported device"),
    (["--device", "cuda:7"], "cuda"),
])
def test_bad_numbers_and_devices(lab, tmp_path, capsys, extra, message):
    refused(solve(lab, "--out", tmp_path / "x.png", *extra), capsys, tmp_path, message)


@pytest.mark.parametrize("argv,message", [
    (["train-prior", "--out", "{tmp}/run", "--steps", "0"], "--steps"),
    (["train-prior", "--out", "{tmp}/run", "--batch-size", "0"], "--batch-size"),
    (["train-prior", "--out", "{tmp}/run", "--steps", "1", "--focus", "1.5"], "focus is a share in"),
    (["train-prior", "--out", "{tmp}/run", "--steps", "1", "--crop-scales", "0.5", "0.25"], "min_scale <= max_scale"),
    (["demo", "--out", "{tmp}/demo", "--size", "0"], "--size"),
    (["solve", "--image", "{lab}", "--task", "hdr", "--out", "{tmp}/x.png"], "is a folder"),
    (["solve", "--image", "{lab}/photo.png", "--task", "hdr", "--size", "64", "--out", "{tmp}/x.png"],
     "smaller than 64x64"),
])
def test_more_bad_input(lab, tmp_path, capsys, argv, message):
    refused([a.format(tmp=tmp_path, lab=lab) for a in argv], capsys, tmp_path, message)


@pytest.mark.parametrize("array,message", [
    (np.zeros((0,)), "shape (0,)"),
    (np.array(["a", "b"]), "real numbers"),
    (np.zeros((3, 8, 8), dtype=np.complex64), "real numbers"),
    (np.zeros((8, 8)), "shape (8, 8)"),
    (np.zeros((1, 1, 3, 8, 8)), "(C, H, W) or (N, C, H, W)"),
    (np.full((1, 3, 8, 8), np.nan), "NaN"),
])
def test_bad_measurement_arrays(lab, tmp_path, capsys, array, message):
    np.save(lab / "y.npy", array)
    argv = ["solve", "--measurement", lab / "y.npy", "--task", "hdr", "--prior", "tv", "--algorithm", "pnp-admm",
            "--out", tmp_path / "x.png"]
    refused(argv, capsys, tmp_path, message)


def test_empty_and_pickled_npy(lab, tmp_path, capsys):
    (lab / "y.npy").write_bytes(b"")
    argv = ["solve", "--measurement", lab / "y.npy", "--task", "hdr", "--prior", "tv", "--algorithm", "pnp-admm",
            "--out", tmp_path / "x.png"]
    refused(argv, capsys, tmp_path, "cannot read")
    np.save(lab / "y.npy", np.array([Planted(lab / "photo.png", tmp_path / "marker")], dtype=object))
    refused(argv, capsys, tmp_path, "cannot read")


def test_a_batch_of_measurements_writes_every_image(lab, tmp_path, capsys):
    np.save(lab / "y.npy", np.zeros((3, 3, 16, 16), dtype=np.float32))
    code, err = run(["solve", "--measurement", lab / "y.npy", "--task", "hdr", "--prior", "tv", "--algorithm",
                     "pnp-admm", "--steps", "2", "--out", tmp_path / "x.png"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.glob("x*.png")) == ["x_0.png", "x_1.png", "x_2.png"]


@pytest.mark.parametrize("meta,message", [
    ({"steps": 1}, "'flags'"), ([1, 2], "JSON object"), ("{broken", "not valid JSON"),
    ({"flags": {**FLAGS, "num_channels": 4096}}, "does not match"),  # checked on 'meta', before a weight exists
    ({"flags": {**FLAGS, "num_channels": 100_000}}, "num_channels must be in"),
    ({"flags": {**FLAGS, "num_channels": "many"}}, "num_channels"),
])
def test_bad_prior_metadata(lab, tmp_path, capsys, meta, message):
    (lab / "prior.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    refused(solve(lab, "--out", tmp_path / "x.png"), capsys, tmp_path, message)


def test_sixteen_bit_images_keep_their_range(tmp_path):
    from splitdiff.evaluation.images import read_image

    ramp = np.linspace(0, 65535, 16 * 16).reshape(16, 16).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    x = read_image(tmp_path / "g16.png")
    assert x.shape == (1, 3, 16, 16)
    assert abs(float(x.min()) + 1) < 1e-6 and abs(float(x.max()) - 1) < 1e-6
    assert abs(float(x.mean())) < 1e-3  # a ramp over the whole range has mean 0 in [-1, 1]


def test_evaluate_and_table_hostile_files(tmp_path, capsys):
    """Config-level cases live in test_evaluation_safety.py; here, the CLI's one-line contract."""
    (tmp_path / "evil.yaml").write_text("name: !!python/object/apply:os.system ['touch marker']\n")
    refused(["evaluate", tmp_path / "evil.yaml", "--out", tmp_path / "out"], capsys, tmp_path, "evil.yaml")
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "table.json").write_text("[]")
    refused(["table", tmp_path / "t"], capsys, tmp_path, "table.json")
    config = {"name": "../../escape", "prior": "tv", "data": {"skimage": ["chelsea"], "size": 32},
              "tasks": {"hdr": {}}, "methods": {"pnp": {"algorithm": "pnp-admm"}}}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    refused(["evaluate", tmp_path / "c.yaml", "--out", tmp_path / "out"], capsys, tmp_path, "name")
    config["name"] = "ok"
    config["methods"] = {"../../../../outside": {"algorithm": "pnp-admm"}}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    refused(["evaluate", tmp_path / "c.yaml", "--out", tmp_path / "out"], capsys, tmp_path, "methods")


# -- found by a black-box review after the first fixes ---------------------------------------

def test_evaluate_never_writes_through_a_linked_results_folder(tmp_path, capsys):
    config = {"name": "t1", "prior": "tv", "data": {"skimage": ["chelsea"], "size": 32}, "tasks": {"hdr": {}},
              "methods": {"pnp": {"algorithm": "pnp-admm", "options": {"steps": 2}}},
              "trainer": {"accelerator": "cpu", "devices": 1}}
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "t1").symlink_to(tmp_path / "elsewhere")
    refused(["evaluate", tmp_path / "c.yaml", "--out", tmp_path / "out", "--no-progress"], capsys, tmp_path,
            "not a folder of its own")


def test_yaml_alias_bombs_are_refused(tmp_path, capsys):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
               f"*a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    text = "name: t1\nprior: tv\ndata: {skimage: [chelsea], size: 32}\ntasks: {hdr: {}}\nmethods:\n" \
           "  pnp:\n    algorithm: pnp-admm\n    options:\n      junk:\n" + \
           "\n".join("        " + line for line in levels) + "\n"
    (tmp_path / "bomb.yaml").write_text(text)
    refused(["evaluate", tmp_path / "bomb.yaml", "--out", tmp_path / "out"], capsys, tmp_path, "alias bomb")


def test_train_prior_never_exports_over_its_init(lab, tmp_path, capsys):
    refused(["train-prior", "--out", tmp_path / "run", "--steps", "1", "--init", lab / "prior.safetensors",
             "--export", lab / "prior.safetensors", "--force"], capsys, lab, "also an input")


@pytest.mark.parametrize("content,message", [
    ({"a": 1}, "not a Lightning checkpoint"), (torch.zeros(3), "not a Lightning checkpoint"),
])
def test_train_prior_refuses_a_malformed_resume_checkpoint(tmp_path, capsys, content, message):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save(content, tmp_path / "run" / "checkpoints" / "last.ckpt")
    refused(["train-prior", "--out", tmp_path / "run", "--steps", "1"], capsys, tmp_path, message)


def test_train_prior_never_writes_through_a_linked_folder(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "run" / "logs").symlink_to(tmp_path / "elsewhere")
    refused(["train-prior", "--out", tmp_path / "run", "--steps", "1"], capsys, tmp_path, "not a folder of its own")


def test_a_huge_npy_header_is_refused_before_it_allocates(lab, tmp_path, capsys):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 100000, 100000), }"
    header += " " * (63 - len(header) % 64) + "\n"
    (lab / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    argv = ["solve", "--measurement", lab / "huge.npy", "--task", "hdr", "--prior", "tv", "--algorithm", "pnp-admm",
            "--out", tmp_path / "x.png"]
    refused(argv, capsys, tmp_path, "more than the limit")


def test_one_channel_measurements_write_grayscale_images(lab, tmp_path, capsys):
    np.save(lab / "y.npy", np.zeros((1, 16, 16), dtype=np.float32))
    code, err = run(["solve", "--measurement", lab / "y.npy", "--task", "hdr", "--prior", "tv", "--algorithm",
                     "pnp-admm", "--steps", "2", "--out", tmp_path / "x.png"], capsys)
    assert code == 0, err
    assert Image.open(tmp_path / "x.png").mode == "L"


@pytest.mark.parametrize("name", ["x.fits", "x.xbm", "x.pdf"])
def test_only_image_formats_are_written(lab, tmp_path, capsys, name):
    refused(solve(lab, "--out", tmp_path / name), capsys, tmp_path, "use one of")


@pytest.mark.parametrize("group,message", [
    ({"dataset": []}, "expected text"), ({"sigma_y": 10**400}, "expected numbers"),
])
def test_table_json_values_are_checked(tmp_path, capsys, group, message):
    base = {"dataset": "d", "task": "t", "sigma_y": 0.05, "method": "m", "n": 1}
    for metric in ("psnr", "ssim", "lpips", "residual", "seconds", "nfe"):
        base[metric] = base[f"{metric}_ci95"] = 1.0
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "table.json").write_text(json.dumps({"groups": [{**base, **group}], "skipped": []}))
    refused(["table", tmp_path / "t"], capsys, tmp_path, message)
    (tmp_path / "t" / "table.json").write_text("[" * 100_000)
    refused(["table", tmp_path / "t"], capsys, tmp_path, "not JSON")


def test_outputs_get_a_new_files_usual_mode(lab, tmp_path, capsys):
    """The exclusive temporary file is 0600; the written output is not."""
    mask = os.umask(0o022)
    os.umask(mask)
    code, err = run(solve(lab, "--out", tmp_path / "x.png"), capsys)
    assert code == 0, err
    assert (tmp_path / "x.png").stat().st_mode & 0o777 == 0o666 & ~mask

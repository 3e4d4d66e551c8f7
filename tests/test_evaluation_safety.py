"""`splitdiff evaluate` / `splitdiff table` with hostile or mistaken configs: paths stay inside the
results folder, keys are lossless, edited configs never mix results, bad input is one error line."""

from __future__ import annotations

import fcntl
import json
import os
import struct
import zlib
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from splitdiff.cli import main
from splitdiff.evaluation import tables
from splitdiff.evaluation.config import Item, load_config, parse_config
from splitdiff.evaluation.ground_truth import list_images
from splitdiff.evaluation.runner import evaluate
from splitdiff.evaluation.store import ResultStore
from splitdiff.training.crops import load_skimage


def small(**changes) -> dict:
    """A config that runs in about a second: TV-PnP-ADMM, 2 steps, one 32x32 image (LPIPS's
    AlexNet needs more than 16x16)."""
    raw = {
        "name": "safe", "dataset": "d", "prior": "tv",
        "data": {"skimage": ["chelsea"], "size": 32, "convention": "resize"},
        "tasks": {"super_resolution": {"options": {"scale": 2}}},
        "methods": {"tv": {"algorithm": "pnp-admm", "options": {"steps": 2}}},
        "trainer": {"accelerator": "cpu"},
    }
    raw.update(changes)
    return raw


def run(raw: dict, out: Path, **kwargs):
    return evaluate(parse_config(raw), out, progress=False, **kwargs)


def rows_of(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "results").rglob("*.json"))]


def write_config(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def folder_of(root: Path, names: list[str], size: int = 40) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    x = ((load_skimage("chelsea")[:, :size, :size] + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    for name in names:
        Image.fromarray(x).save(root / name)
    return root


def one_error_line(capsys, argv: list[str], command: str = "evaluate") -> str:
    """Run the CLI in this process: exit status 2 and one line `splitdiff COMMAND: error: ...`."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"splitdiff {command}: error: ") and err.count("\n") == 1, err
    return err


# --- 1. nothing is written outside the results folder ---------------------------------------------

PATTERN = r"\^\[A-Za-z0-9\]"


@pytest.mark.parametrize("changes, key", [
    ({"methods": {"../../../../outside": {"algorithm": "pnp-admm"}}}, "methods"),
    ({"tasks": {"/tmp/absolute": {"operator": "super_resolution"}}}, "tasks"),
    ({"tasks": {"a..b": {"operator": "super_resolution"}}}, "tasks"),
    ({"name": "../up"}, "name"),
    ({"name": "a/b"}, "name"),
    ({"data": {"skimage": ["../chelsea"], "size": 32}}, "data.skimage"),
])
def test_names_that_become_path_parts_are_checked(changes, key):
    with pytest.raises(ValueError, match=f"evaluation config: {key}.*{PATTERN}"):
        parse_config(small(**changes))


def test_image_folders_skip_hidden_files_and_refuse_unsafe_names(tmp_path):
    folder = folder_of(tmp_path / "ok", ["img0.png", ".img1.png", "._img0.png"])
    config = parse_config(small(data={"folder": str(folder), "size": 32}))
    assert list_images(config.data) == ["img0"]
    bad = folder_of(tmp_path / "bad", ["img0.png", "-rf.png"])
    with pytest.raises(ValueError, match=f"data.folder: .*'-rf.png'.*{PATTERN}"):
        list_images(parse_config(small(data={"folder": str(bad), "size": 32})).data)


def test_result_paths_stay_inside_the_results_folder(tmp_path):
    store = ResultStore(tmp_path / "out")
    with pytest.raises(ValueError, match="outside the results folder"):
        store.row_path(Item(0, "sr", 0.05, "../../../escaped", "img", 0))
    # a planted link that leads out of the folder is refused too (defence in depth)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "errors").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="outside the results folder"):
        store.write_error(Item(0, "sr", 0.05, "m", "img", 0), "x")
    assert not any((tmp_path / "elsewhere").iterdir())


# --- 2. keys are unique and lossless ----------------------------------------------------------------

def test_tasks_whose_names_differ_only_by_a_dot_keep_their_own_operators(tmp_path):
    raw = small(tasks={"sr.a": {"operator": "super_resolution", "options": {"scale": 4}},
                       "sr_a": {"operator": "super_resolution", "options": {"scale": 2}}})
    store = run(raw, tmp_path)
    shapes = {t: torch.load(store.root / "results" / f"{t}@0.05" / "tv" / "chelsea.pt", weights_only=True)["y"].shape
              for t in ("sr.a", "sr_a")}
    assert shapes == {"sr.a": (1, 3, 8, 8), "sr_a": (1, 3, 16, 16)}


def test_noise_levels_are_keyed_and_printed_losslessly():
    config = parse_config(small(tasks={"super_resolution": {"sigma_y": [0.05, 0.050000001]}}))
    keys = [i.key for i in config.items(["chelsea"])]
    assert keys == ["super_resolution@0.05/tv/chelsea", "super_resolution@0.050000001/tv/chelsea"]
    groups = [{"dataset": "d", "task": "t", "sigma_y": s, "method": "m", "n": 1,
               **{k: 1.0 for m in tables.METRICS for k in (m, f"{m}_ci95")}} for s in (0.05, 0.050000001)]
    text = tables.markdown(groups)
    assert "| t | 0.05 | m |" in text and "| t | 0.050000001 | m |" in text
    table2 = tables.markdown(groups, "table2")
    assert "σ_y = 0.05:" in table2 and "σ_y = 0.050000001:" in table2


@pytest.mark.parametrize("changes, message", [
    ({"tasks": {"super_resolution": {"sigma_y": [0.05, 0.05]}}}, "tasks.super_resolution.sigma_y: .*0.05.*twice"),
    ({"data": {"skimage": ["chelsea", "chelsea"], "size": 32}}, "data.skimage: .*'chelsea'.*twice"),
    ({"tasks": {1: {"operator": "hdr"}, "1": {"operator": "hdr"}}}, "tasks: .*'1'.*twice"),
    ({"methods": {1: {"algorithm": "pnp-admm"}, "1": {"algorithm": "pnp-admm"}}}, "methods: .*'1'.*twice"),
    ({"methods": {"TV": {"algorithm": "pnp-admm"}, "tv": {"algorithm": "pnp-admm"}}}, "methods: .*differ only in case"),
])
def test_duplicates_are_errors(changes, message):
    with pytest.raises(ValueError, match=message):
        parse_config(small(**changes))


def test_duplicate_yaml_keys_are_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(small()) + "seed: 1\nseed: 2\n")
    with pytest.raises(ValueError, match="duplicate key 'seed'"):
        load_config(path)
    path.write_text(yaml.safe_dump(small()).replace("methods:\n", "methods:\n  tv: {algorithm: pnp-admm}\n", 1))
    with pytest.raises(ValueError, match="duplicate key 'tv'.*line"):
        load_config(path)
    # a key that overrides one merged in with YAML's '<<' is not a duplicate
    path.write_text(yaml.safe_dump({k: v for k, v in small().items() if k != "methods"})
                    + "methods:\n  tv:\n    <<: {algorithm: pnp-hqs}\n    algorithm: pnp-admm\n")
    assert load_config(path).method("tv").algorithm == "pnp-admm"


def test_duplicate_image_names_in_a_folder_are_errors(tmp_path):
    # a.b.png and a_b.png are distinct stems, but c.png and c.jpg are not: then names are file
    # names with dots as underscores, and the first two collide
    folder = folder_of(tmp_path / "imgs", ["a.b.png", "a_b.png", "c.png", "c.jpg"])
    with pytest.raises(ValueError, match="data.folder: .*'a_b_png'"):
        list_images(parse_config(small(data={"folder": str(folder), "size": 32})).data)


# --- 3. an edited config never mixes results; concurrent runs share the work -----------------------------

def test_a_changed_config_fails_before_any_work_unless_asked_to_recompute(tmp_path):
    run(small(), tmp_path)
    root = tmp_path / "safe"
    (before,) = rows_of(root)
    assert len(before["fingerprint"]) == 64
    changed = small(methods={"tv": {"algorithm": "pnp-admm", "options": {"steps": 3}}})
    with pytest.raises(ValueError, match=r"1 finished row.*methods\.tv\.options.*--recompute-changed"):
        run(changed, tmp_path)
    assert yaml.safe_load((root / "config.yaml").read_text())["methods"]["tv"]["options"]["steps"] == 2
    assert rows_of(root) == [before]
    run(changed, tmp_path, recompute_changed=True)
    (after,) = rows_of(root)
    assert after["steps"] == 3 and after["run_id"] != before["run_id"]
    assert yaml.safe_load((root / "config.yaml").read_text())["methods"]["tv"]["options"]["steps"] == 3
    # the same config again: nothing to do, nothing recomputed
    run(changed, tmp_path)
    assert rows_of(root) == [after]


def test_rows_without_a_fingerprint_and_the_cli_flag(tmp_path, capsys):
    raw = small()
    config = write_config(tmp_path / "c.yaml", raw)
    assert main(["evaluate", str(config), "--out", str(tmp_path), "--no-progress"]) == 0
    (path,) = (tmp_path / "safe" / "results").rglob("*.json")
    row = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in row.items() if k not in ("fingerprint", "inputs")}))
    capsys.readouterr()
    err = one_error_line(capsys, ["evaluate", str(config), "--out", str(tmp_path), "--no-progress"])
    assert "no fingerprint" in err
    assert main(["evaluate", str(config), "--out", str(tmp_path), "--no-progress", "--recompute-changed"]) == 0
    assert "fingerprint" in json.loads(path.read_text())


def test_an_item_locked_by_another_run_is_left_to_it(tmp_path):
    raw = small(data={"skimage": ["chelsea", "coffee"], "size": 32, "convention": "resize"})
    config = parse_config(raw)
    store = ResultStore(tmp_path / "safe")
    held = config.items(["chelsea", "coffee"])[1]
    lock = store.lock_path(held)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "another run" is solving coffee
        run(raw, tmp_path)
        assert [r["image"] for r in rows_of(store.root)] == ["chelsea"]
    run(raw, tmp_path)  # the lock is free again (a dead process releases it too)
    assert sorted(r["image"] for r in rows_of(store.root)) == ["chelsea", "coffee"]


# --- 4. decompression bombs are item errors ------------------------------------------------------------

def bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A small valid PNG whose header claims ``width`` x ``height`` pixels."""
    Image.new("RGB", (8, 8)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_a_decompression_bomb_is_an_item_error(tmp_path):
    folder = folder_of(tmp_path / "imgs", ["img0.png"])
    bomb(folder / "bomb.png")
    store = run(small(data={"folder": str(folder), "size": 32, "convention": "resize"}), tmp_path / "out")
    assert [r["image"] for r in rows_of(store.root)] == ["img0"]
    (error,) = store.errors()
    assert error["image"] == "bomb" and "decompression bomb" in error["error"].lower()


# --- 5. one-line errors from the command line ---------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("name: [unclosed\n", "not valid YAML"),
    ("name: !!python/object/apply:os.system ['echo owned']\n", "python/object"),
])
def test_bad_yaml_is_one_error_line(tmp_path, capsys, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert message in one_error_line(capsys, ["evaluate", str(path)])


def test_bad_trainer_settings_are_one_error_line(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", small(trainer={"bogus": 1}))
    assert "trainer: unknown keys ['bogus']" in one_error_line(capsys, ["evaluate", str(config)])
    config = write_config(tmp_path / "d.yaml", small())
    for devices in ("0", "-1", "abc", "0,x"):
        assert "--devices" in one_error_line(capsys, ["evaluate", str(config), "--devices", devices])
    assert "--num-nodes" in one_error_line(capsys, ["evaluate", str(config), "--num-nodes", "0"])
    with pytest.raises(ValueError, match=r"evaluate\(\): trainer.devices: expected a count >= 1"):
        run(small(), tmp_path, devices=-1)
    with pytest.raises(ValueError, match="trainer.devices"):
        parse_config(small(trainer={"devices": 0}))
    with pytest.raises(ValueError, match="trainer.num_nodes"):
        parse_config(small(trainer={"num_nodes": "two"}))


@pytest.mark.parametrize("content", ['{"skipped": []}', "not json", "[1, 2]", '{"groups": [{"task": "t"}]}',
                                     '{"groups": "x"}'])
def test_table_refuses_malformed_table_json(tmp_path, capsys, content):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "table.json").write_text(content)
    assert "table.json" in one_error_line(capsys, ["table", str(tmp_path / "r")], "table")


def test_table_out_never_overwrites_without_force(tmp_path, capsys):
    run(small(), tmp_path)
    out = tmp_path / "merged.md"
    out.write_text("keep me")
    assert "--force" in one_error_line(capsys, ["table", str(tmp_path / "safe"), "--out", str(out)], "table")
    assert out.read_text() == "keep me"
    assert main(["table", str(tmp_path / "safe"), "--out", str(out), "--force"]) == 0
    assert "| super_resolution | 0.05 | tv | 1 |" in out.read_text()
    source = tmp_path / "safe" / "table.json"
    one_error_line(capsys, ["table", str(tmp_path / "safe"), "--out", str(source), "--force"], "table")
    assert json.loads(source.read_text())["groups"]


# --- 6. no silent coercions; errors name the key -----------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"seed": 1.5}, "seed: expected an integer"),
    ({"seed": 2**63}, "seed: expected an integer"),
    ({"seed": "abc"}, "seed: expected an integer"),
    ({"seed": True}, "seed: expected an integer"),
    ({"name": None}, "name: expected a non-empty string"),
    ({"name": ""}, "name: expected a non-empty string"),
    ({"data": {"skimage": "chelsea", "size": 32}}, "data.skimage: expected a list of image names"),
    ({"data": {"skimage": ["chelsea"], "size": "abc"}}, "data.size: expected an integer"),
    ({"data": {"skimage": ["chelsea"], "size": True}}, "data.size: expected an integer"),
    ({"tasks": {"super_resolution": {"sigma_y": "abc"}}}, "tasks.super_resolution.sigma_y: expected"),
    ({"tasks": {"super_resolution": {"sigma_y": [0.05, "abc"]}}}, "tasks.super_resolution.sigma_y: expected"),
    ({"tasks": {"super_resolution": {"sigma_y": float("nan")}}}, "tasks.super_resolution.sigma_y: expected"),
    ({"trace": "no"}, "trace: expected true or false"),
    ({"prior": None}, "prior: expected"),
])
def test_values_are_checked_not_coerced(changes, message):
    with pytest.raises(ValueError, match=f"evaluation config: {message}"):
        parse_config(small(**changes))


def test_a_size_the_prior_or_an_operator_cannot_take_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="data.size.*63x63.*multiples of 8"):
        run(small(prior="default", methods={"ddiff": {"algorithm": "ddiff", "options": {"steps": 2}}},
                  tasks={"gaussian_blur": {"options": {"kernel_size": 9, "std": 1.0}}},
                  data={"skimage": ["chelsea"], "size": 63}), tmp_path)
    with pytest.raises(ValueError, match="data.size.*super_resolution.*divisible by 4"):
        run(small(tasks={"super_resolution": {"options": {"scale": 4}}}, data={"skimage": ["chelsea"], "size": 18}),
            tmp_path)
    assert not (tmp_path / "safe" / "results").exists()


def test_report_only_without_results_is_an_error(tmp_path, capsys):
    config = write_config(tmp_path / "c.yaml", small())
    err = one_error_line(capsys, ["evaluate", str(config), "--out", str(tmp_path / "none"), "--report-only"])
    assert "no results" in err and not (tmp_path / "none").exists()


# --- 7. every write is atomic and never follows a planted link ----------------------------------------------

def test_writes_never_follow_a_planted_link(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    store = ResultStore(tmp_path / "out")
    item = Item(0, "sr", 0.05, "m", "img", 0)
    folder = store.error_path(item).parent
    folder.mkdir(parents=True)
    (folder / f".img.json.{os.getpid()}.tmp").symlink_to(target)  # the old predictable temp name
    store.write_error(item, "boom")
    assert target.read_text() == "precious"
    assert json.loads(store.error_path(item).read_text())["error"] == "boom"
    # figures too: a link planted at a figure's path is replaced, not written through
    run(small(tasks={"super_resolution": {"sigma_y": [0.05, 0.1]}}), tmp_path / "res")
    figure = tmp_path / "res" / "safe" / "figures" / "noise.png"
    figure.unlink()
    figure.symlink_to(target)
    from splitdiff.evaluation.report import write_report

    write_report(parse_config(small(tasks={"super_resolution": {"sigma_y": [0.05, 0.1]}})),
                 ResultStore(tmp_path / "res" / "safe"))
    assert target.read_text() == "precious" and not figure.is_symlink()

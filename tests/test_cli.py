"""The splitdiff command: list, solve (and its errors), demo."""

from __future__ import annotations

import csv

import json
import re
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


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory):
    """A small exported prior in the shipped format (safetensors + json)."""
    folder = tmp_path_factory.mktemp("prior")
    net = create_unet(**FLAGS)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "prior.safetensors"))
    (folder / "prior.json").write_text(json.dumps({"flags": FLAGS, "steps": 0}))
    return folder / "prior.safetensors"


@pytest.fixture
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ["ddiff", "diffpir", "super_resolution", "phase_retrieval", "default", "adm", "admm", "hqs"]:
        assert f"  {name} " in out


@pytest.mark.parametrize("algorithm", ["ddiff", "pnp-admm"])
def test_solve_an_image(tmp_path, photo, tiny_prior, algorithm):
    out = tmp_path / "x.png"
    prior = "tv" if algorithm == "pnp-admm" else f"default:{tiny_prior}"
    assert main(["solve", "--image", str(photo), "--task", "super_resolution", "--algorithm", algorithm,
                 "--prior", prior, "--steps", "5", "--size", "32", "--out", str(out)]) == 0
    assert Image.open(out).size == (32, 32)


def test_solve_with_samples_writes_their_mean_and_std(tmp_path, photo, tiny_prior, capsys):
    out = tmp_path / "x.png"
    args = ["solve", "--image", str(photo), "--task", "super_resolution", "--prior", f"default:{tiny_prior}",
            "--steps", "3", "--size", "32", "--out", str(out), "--samples", "3"]
    assert main(args) == 0
    mean, std = np.asarray(Image.open(out)), np.asarray(Image.open(tmp_path / "x_std.png"))
    assert mean.shape == std.shape == (32, 32, 3) and std.max() > 0  # samples differ
    assert "per-pixel std of 3 samples" in capsys.readouterr().out
    # the mean is the mean of the samples the same seed draws
    import splitdiff as sd
    from splitdiff.evaluation.images import load_image
    from splitdiff.priors.spec import parse_prior

    op = sd.operators.build("super_resolution")
    y = op.measure(load_image(photo, size=32), generator=torch.Generator().manual_seed(0))
    solver = sd.algorithms.build("ddiff", prior=parse_prior(f"default:{tiny_prior}", "cpu"), operator=op, steps=3)
    expected = solver.sample(y, 3, generator=torch.Generator().manual_seed(1)).mean(0)
    assert np.abs(mean.astype(int) - sd.evaluation.to_uint8(expected).astype(int)).max() <= 1
    assert main(args) == 2  # both outputs exist now: --force is needed
    assert "exists; pass --force" in capsys.readouterr().err


def test_solve_a_measurement(tmp_path, tiny_prior):
    y = torch.zeros(1, 3, 32, 32)
    np.save(tmp_path / "y.npy", y.numpy())
    out = tmp_path / "x.png"
    assert main(["solve", "--measurement", str(tmp_path / "y.npy"), "--task", "hdr", "--prior", f"default:{tiny_prior}",
                 "--steps", "4", "--out", str(out)]) == 0
    assert out.is_file()


@pytest.mark.parametrize("args,message", [
    (["--image", "missing.png"], "image not found"),
    (["--image", "{bad}"], "cannot read"),
    (["--measurement", "missing.npy"], "measurement not found"),
    (["--image", "{photo}", "--task", "no_such_task"], "unknown operator"),
    (["--image", "{photo}", "--algorithm", "no_such"], "unknown algorithm"),
    (["--image", "{photo}", "--prior", "nonsense"], "unknown prior"),
    (["--image", "{photo}", "--size", "33"], "multiples of"),
])
def test_solve_errors(tmp_path, photo, tiny_prior, capsys, args, message):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    args = [a.format(bad=bad, photo=photo) for a in args]
    base = ["solve", "--out", str(tmp_path / "o.png"), "--prior", f"default:{tiny_prior}", "--steps", "3"]
    if "--task" not in args:
        base += ["--task", "hdr"]
    assert main(base + args) == 2
    assert message in capsys.readouterr().err


def test_demo_writes_grid_and_table(tmp_path, tiny_prior):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "3", "--prior", f"default:{tiny_prior}"]) == 0
    assert (out / "grid.png").is_file() and (out / "posterior.png").is_file()
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert list(rows[0]) == ["task", "estimate", "image", "psnr", "ssim", "lpips", "residual", "coverage_2std"]
    # one sample for 7 tasks, and the mean of 3 for super-resolution, deblurring and inpainting; 2 images
    assert len(rows) == (7 + 3) * 2
    means = [r for r in rows if r["estimate"] == "mean of 3"]
    assert {r["task"] for r in means} == {"super_resolution", "gaussian_blur", "random_inpainting"}
    assert all(0 <= float(r["coverage_2std"]) <= 1 for r in means)
    text = (out / "metrics.md").read_text()
    assert "| super_resolution | one sample | chelsea |" in text and "Gaussian blur (kernel 17, std 0.75)" in text
    assert main(["demo", "--out", str(out), "--steps", "3", "--prior", f"default:{tiny_prior}"]) == 2  # no --force


def test_demo_row_labels_fit_their_rows():
    """The posterior figure's row labels are the tasks' descriptions: wrapped to 22 characters a
    line, with every word kept (the longest, box inpainting's, was 60 characters on one line)."""
    from splitdiff.demo import axis_label, demo_tasks, describe

    for task, options in demo_tasks(64).items():
        text = describe(task, options)
        label = axis_label(text)
        assert all(len(line) <= 22 for line in label.splitlines()), label
        assert label.split() == text.split()
    assert axis_label("box inpainting (a half-size square hole, placed as DPS does)").count("\n") == 2


# --- the command line and its documentation say the same ----------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs"


def subcommands() -> dict:
    """Each command's parser; a command with one subcommand (``photos fetch``) gives that one's."""
    from splitdiff.cli import build_parser

    commands = dict(build_parser()._subparsers._group_actions[0].choices)
    for name, parser in commands.items():
        if parser._subparsers is not None:
            (nested,) = parser._subparsers._group_actions[0].choices.values()
            commands[name] = nested
    return commands


def long_options(parser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings if s.startswith("--")}


def documented_commands(text: str) -> list[tuple[str, set[str], str]]:
    """Every ``splitdiff CMD ...`` in code (inline spans and fenced blocks): (command, its long
    options, the command line)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()] + spans
    found = []
    for line in lines:
        line = line.split(" #")[0]
        match = re.search(r"(?:^|\s)splitdiff ([a-z][a-z-]*)(.*)", line)
        if match:
            found.append((match[1], set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", match[2])), line.strip()))
    return found


def test_the_docstring_names_every_command():
    import splitdiff.cli

    first = splitdiff.cli.__doc__.splitlines()[0]
    for name in subcommands():
        assert f"``{name}``" in first, name


def test_the_cli_reference_lists_every_option_of_every_command():
    text = (DOCS / "cli.md").read_text()
    rows = {cmd: (options, line) for cmd, options, line in documented_commands(text) if line.startswith("splitdiff")}
    for name, parser in subcommands().items():
        options, line = rows[name]
        assert options == long_options(parser) - {"--help"}, f"docs/cli.md: {line}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")) + ["../README.md"])
def test_documented_command_lines_use_real_options(page):
    commands = subcommands()
    for name, options, line in documented_commands((DOCS / page).read_text()):
        if name in commands:
            unknown = options - long_options(commands[name])
            assert not unknown, f"{page}: `{line}`: splitdiff {name} has no {', '.join(sorted(unknown))}"


def test_the_prior_help_lists_every_spec_form():
    from splitdiff.priors.spec import SPEC_FORMS

    action = next(a for a in subcommands()["solve"]._actions if "--prior" in a.option_strings)
    for form in re.split(r", | or ", SPEC_FORMS):
        assert form in action.help, form


def test_a_tv_prior_spec_can_carry_its_strength():
    from splitdiff.priors.spec import parse_prior

    assert parse_prior("tv").strength == 20.0
    assert parse_prior("tv:2.5").strength == 2.5
    for bad in ("tv:abc", "tv:-1", "tv:nan", "wiener:3"):
        with pytest.raises(ValueError, match="unknown prior|strength"):
            parse_prior(bad)

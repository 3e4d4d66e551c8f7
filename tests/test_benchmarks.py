"""Every benchmark runs on a tiny setting (benchmarks are not timed tests: their numbers are in
docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import csv

import pytest
import torch
from safetensors.torch import load_file

import splitdiff as sd

from benchmarks import batched_samples, default_prior_quality, exact_posterior, forward, few_steps, noise_small, speed, table2_small, train_step


def test_exact_posterior_runs_and_its_references_are_consistent(capsys):
    results = exact_posterior.run(n=4, steps=10, seed=0, operators=("super_resolution",))
    rows = {r["method"]: r for r in results[0][1]}
    assert rows["MAP"]["rmse MAP"] == pytest.approx(0, abs=1e-6)
    assert rows["posterior mean"]["rmse mean"] == pytest.approx(0, abs=1e-9)
    assert {"ddiff", "dps", "daps", "diffpir"} <= set(rows)
    exact_posterior.main(["--n", "2", "--steps", "5", "--operators", "random_inpainting"])
    assert "| MAP |" in capsys.readouterr().out


def test_speed_runs(capsys, monkeypatch):
    """The table from every mode; one mode through a real child process (the others in-process:
    each child costs an interpreter start)."""
    child = speed.child("forward", argparse.Namespace(prior="default", nfe=2, repeats=1, device="cpu",
                                                      dtype="float32"), 1)
    assert child["mode"] == "forward" and child["nfe"] == 2 and child["solve_s"] > 0
    monkeypatch.setattr(speed, "child", lambda mode, args, batch: speed.run_mode(
        mode, args.prior, args.nfe, args.repeats, batch, args.device, args.dtype))
    speed.main(["--nfe", "2", "--repeats", "1", "--batch", "1", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    for mode in ("forward", "ddiff", "dps", "daps"):
        assert f"| {mode} |" in out
    assert "| 2 |" in out  # the batch-2 throughput row
    # the network in bfloat16 (the GPU session's rows), only the solvers asked for (ddiff always)
    speed.main(["--nfe", "1", "--repeats", "1", "--batch", "1", "--device", "cpu", "--dtype", "bfloat16",
                "--modes", "dps"])
    out = capsys.readouterr().out
    assert "(bfloat16)" in out and "| dps |" in out and "| ddiff |" in out and "| daps |" not in out


def test_table2_and_noise_benchmarks_run(tmp_path, capsys):
    table2_small.main(["--out", str(tmp_path), "--steps", "2", "--limit", "1", "--images", "2"])
    out = capsys.readouterr().out
    assert "| super_resolution |" in out and "DDiff best" in out
    assert "ddiff-hqs − ddiff" in (tmp_path / "table2-small-quick" / "table.md").read_text()  # paired to ddiff
    noise_small.main(["--out", str(tmp_path), "--steps", "2", "--limit", "1", "--images", "2"])
    out = capsys.readouterr().out
    assert "| super_resolution | 0.3 |" in out and "gaussian_blur" not in out
    row = next(line for line in out.splitlines() if line.startswith("| super_resolution | 0.3 |"))
    assert row.count(" ± ") == 4  # PSNR and LPIPS of both methods, each with its 95% interval over the 2 images


def test_few_steps_runs(capsys):
    few_steps.main(["--steps", "2", "--images", "1"])
    out = capsys.readouterr().out
    assert all(f"| {task} | 2 |" in out for task in few_steps.TASKS)


def test_train_step_runs(capsys, monkeypatch):
    monkeypatch.setattr(train_step, "DEFAULT_FLAGS", dict(train_step.DEFAULT_FLAGS, image_size=16, num_channels=32,
                                                          num_res_blocks=1, channel_mult=(1, 2), attention_resolutions="8"))
    train_step.main(["--batch", "2", "--steps", "1", "--channels", "32", "64", "--formats", "contiguous"])
    out = capsys.readouterr().out
    assert "| 32 |" in out and "| 64 |" in out and "| 2 | contiguous | False |" in out and "channels_last |" not in out


def test_default_prior_quality_runs_and_pairs_by_image(tmp_path, capsys):
    default_prior_quality.main(["--size", "32", "--steps", "2", "--samples", "2", "--limit", "3", "--tasks",
                                "super_resolution", "--tv-strengths", "5", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "TV tuned on 3 training photographs; 3 held-out images" in out  # scikit-image's, without a corpus
    assert "| super_resolution | 5 |" in out
    rows = list(csv.DictReader(open(tmp_path / "rows.csv")))
    assert {r["method"] for r in rows} == {"pnp-admm-tv", "ddiff-sample", "ddiff-mean-2"} and len(rows) == 9
    # the table's paired PSNR difference is the mean over images of (mean of 2 - TV), written independently here
    by = {(r["method"], r["image"]): float(r["psnr"]) for r in rows}
    images = {r["image"] for r in rows}
    expected = sum(by[("ddiff-mean-2", i)] - by[("pnp-admm-tv", i)] for i in images) / len(images)
    assert f"| {expected:+.2f} ± " in out
    # TV's mean PSNR with its 95% interval: t(0.975, 2 dof) = 4.302653 (tables), sd with ddof 1
    tv = [by[("pnp-admm-tv", i)] for i in images]
    m = sum(tv) / 3
    half = 4.302653 * (sum((v - m) ** 2 for v in tv) / 2) ** 0.5 / 3 ** 0.5
    assert f"| super_resolution | 5 | {m:.2f} ± {half:.2f} |" in out
    with pytest.raises(SystemExit):  # never overwrites without --force
        default_prior_quality.main(["--size", "32", "--steps", "2", "--samples", "2", "--limit", "1", "--tasks",
                                    "super_resolution", "--tv-strengths", "5", "--out", str(tmp_path)])
    # --resume keeps the solved task (its rows unchanged, not solved again) and adds the next one
    solved = (tmp_path / "rows.csv").read_text()
    args = ["--size", "32", "--steps", "2", "--samples", "2", "--limit", "3", "--tv-strengths", "5", "--out",
            str(tmp_path), "--resume", "--tasks", "super_resolution", "random_inpainting"]
    default_prior_quality.main(args)
    out = capsys.readouterr().out
    assert "super_resolution: kept from" in out and "| super_resolution | 5 |" in out and "| random_inpainting | 5 |" in out
    assert (tmp_path / "rows.csv").read_text().startswith(solved)  # the first task's rows, byte for byte
    assert len(list(csv.DictReader(open(tmp_path / "rows.csv")))) == 18
    assert sorted(p.name for p in tmp_path.glob("draws-*")) == ["draws-random_inpainting.safetensors",
                                                                 "draws-super_resolution.safetensors"]
    with pytest.raises(SystemExit):  # other settings (steps) cannot resume this run
        default_prior_quality.main([a if a != "2" else "3" for a in args[:4]] + args[4:])
    # --force starts afresh: the earlier run's samples are removed, not resumed by a later --resume
    default_prior_quality.main(["--size", "32", "--limit", "3", "--tasks", "random_inpainting", "--tv-strengths",
                                "5", "--out", str(tmp_path), "--force", "--tune-only"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json", "tuning.csv"]
    (tmp_path / "settings.json").unlink()  # files without their settings cannot be resumed
    with pytest.raises(SystemExit):
        default_prior_quality.main(args)


def test_default_prior_quality_resume_never_drops_a_kept_task(tmp_path, monkeypatch, capsys):
    """A resumed run rewrites rows.csv and tuning.csv after each task it solves: the tasks kept
    from the earlier run stay in them, also those later in --tasks (interrupted before they are
    reached) or not in --tasks at all. (2026-11-27: a resumed 1,000-step run wrote rows.csv after
    super-resolution without the Gaussian deblurring it had kept, then was stopped.)"""
    common = ["--size", "32", "--steps", "2", "--samples", "2", "--limit", "3", "--tv-strengths", "5", "--out",
              str(tmp_path)]
    default_prior_quality.main(common + ["--tasks", "gaussian_blur"])
    kept = [r for r in csv.DictReader(open(tmp_path / "rows.csv"))]
    kept_sweep = [r for r in csv.DictReader(open(tmp_path / "tuning.csv"))]
    assert {r["task"] for r in kept} == {"gaussian_blur"} and len(kept) == 9

    solve = default_prior_quality.draw

    def interrupted(solver, y, samples, store, resume, key):
        if key["task"] == "random_inpainting":
            raise KeyboardInterrupt  # the run is stopped while drawing the third task
        return solve(solver, y, samples, store, resume, key)

    monkeypatch.setattr(default_prior_quality, "draw", interrupted)
    with pytest.raises(KeyboardInterrupt):
        default_prior_quality.main(common + ["--resume", "--tasks", "super_resolution", "gaussian_blur",
                                             "random_inpainting"])
    rows = list(csv.DictReader(open(tmp_path / "rows.csv")))
    assert {r["task"] for r in rows} == {"super_resolution", "gaussian_blur"} and len(rows) == 18
    assert [r for r in rows if r["task"] == "gaussian_blur"] == kept  # the kept rows, unchanged
    sweeps = list(csv.DictReader(open(tmp_path / "tuning.csv")))
    assert [r for r in sweeps if r["task"] == "gaussian_blur"] == kept_sweep
    assert {r["task"] for r in sweeps} == {"super_resolution", "gaussian_blur"}

    monkeypatch.setattr(default_prior_quality, "draw", solve)  # a task left out of --tasks stays too
    default_prior_quality.main(common + ["--resume", "--tasks", "random_inpainting"])
    rows = list(csv.DictReader(open(tmp_path / "rows.csv")))
    assert sorted({r["task"] for r in rows}) == ["gaussian_blur", "random_inpainting", "super_resolution"]
    assert len(rows) == 27 and [r for r in rows if r["task"] == "gaussian_blur"] == kept
    table = (tmp_path / "table.md").read_text()  # the table too covers every task of the run
    assert all(f"| {task} | 5 |" in table for task in ("random_inpainting", "super_resolution", "gaussian_blur"))


@pytest.mark.filterwarnings("ignore:these step sizes")
def test_default_prior_quality_draws_are_samples_and_resume_at_the_next_sample(tmp_path):
    """Each sample is kept as it is drawn: the draws equal ``solver.sample`` with one solve per
    sample (chunk = N), and a task interrupted after 2 of 3 samples goes on to the same 3; the
    kept file names its run, and another run's file is refused."""
    op = sd.operators.build("random_inpainting", sigma=0.05)
    prior = sd.priors.build("gaussian", mean=torch.zeros(3 * 8 * 8), covariance=torch.full((3 * 8 * 8,), 0.3),
                            image_shape=(3, 8, 8))
    solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=4)
    y = op.measure(0.5 * torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)),
                   generator=torch.Generator().manual_seed(2))
    reference = solver.sample(y, 3, generator=torch.Generator().manual_seed(0), chunk=2)
    store, key = tmp_path / "draws-random_inpainting.safetensors", {"task": "random_inpainting", "images": ["a", "b"]}
    whole = default_prior_quality.draw(solver, y, 3, store, False, key)
    assert torch.equal(whole, reference)
    default_prior_quality.draw(solver, y, 2, store, False, key)  # interrupted after 2 samples
    assert load_file(store)["draws"].shape == (2, 2, 3, 8, 8) and [p.name for p in tmp_path.iterdir()] == [store.name]
    assert torch.equal(default_prior_quality.draw(solver, y, 3, store, True, key), reference)
    assert not torch.equal(reference[0], reference[1])  # the samples differ: the stream goes on
    with pytest.raises(ValueError, match="holds samples of another run"):
        default_prior_quality.draw(solver, y, 3, store, True, {**key, "images": ["a", "c"]})


def test_forward_benchmark_runs_each_option(capsys):
    rows = forward.main(["--prior", "default", "--batch", "2", "--repeats", "1", "--in-process"])
    assert [r["option"] for r in rows] == list(forward.OPTIONS) and all(r["seconds"] > 0 for r in rows)
    assert "| default | 2 | sdpa+channels_last |" in capsys.readouterr().out
    child = forward.child(argparse.Namespace(repeats=1, device="cpu", dtype="float32"), "default", "sdpa", 1)
    assert child["option"] == "sdpa" and child["peak_mib"] >= 0


def test_batched_samples_benchmark_runs(capsys):
    rows = batched_samples.main(["--k", "1", "2", "--steps", "2", "--images", "1", "--repeats", "1"])
    assert [r["k"] for r in rows] == [1, 2] and all(r["batched"] > 0 and r["separate"] > 0 for r in rows)
    assert "| 2 |" in capsys.readouterr().out


def test_recipe_benchmark_pairs_priors_image_by_image(capsys):
    from benchmarks import recipe

    shipped = str(sd.priors.default.WEIGHTS)
    recipe.main([f"a={shipped}", f"b={shipped}"])
    out = capsys.readouterr().out
    # the shipped prior's curve (docs/model-card.md, measured by benchmarks.model_card), and no
    # difference between a prior and itself
    assert "| a | 36.95 | 33.01 | 29.28 | 26.10 |" in out
    assert "| b | 36.95 | 33.01 | 29.28 | 26.10 | +0.00 ± 0.00 | +0.00 ± 0.00 | +0.00 ± 0.00 | +0.00 ± 0.00 |" in out


def test_model_card_classical_rows_denoise_the_priors_own_noisy_images(monkeypatch):
    """Each classical row is scored on the prior's noisy images of that level (the same draw, the
    timestep's sigma_t), and TV is told sigma_t at the strength chosen for that level on the
    training images: TV's rows equal TV recomputed here from the images ``denoising_psnr`` feeds
    the prior, at strengths chosen here from ``classical_psnr`` on the tuning images."""
    import math
    import sys

    from benchmarks import model_card
    from benchmarks.default_prior_quality import tuning_images
    from splitdiff.photos import heldout_images
    from splitdiff.priors import TotalVariation
    from splitdiff.priors.schedule import NoiseSchedule
    from splitdiff.training.validation import VALIDATION_SIGMAS, classical_psnr, denoising_psnr

    strengths = (2.0, 5.0, 10.0)
    monkeypatch.setattr(model_card, "SIZE", 16)
    monkeypatch.setattr(model_card, "TV_STRENGTHS", strengths)
    monkeypatch.setitem(sys.modules, "bm3d", None)  # no BM3D rows: `import bm3d` raises ImportError
    told, denoise = [], TotalVariation.denoise
    monkeypatch.setattr(TotalVariation, "denoise", lambda self, x, sigma: told.append(sigma) or denoise(self, x, sigma))
    rows = model_card.classical_rows(None)
    assert [(r["method"], r["sigma"]) for r in rows] == [(m, s) for m in ("Wiener", "TV") for s in VALIDATION_SIGMAS]

    schedule = NoiseSchedule.linear()
    _, x = heldout_images(16)
    inputs = []

    def capture(x_t, t):
        a = float(schedule.alphas_cumprod[int(t[0])])
        inputs.append((x_t / math.sqrt(a), math.sqrt((1 - a) / a)))
        return torch.zeros_like(x_t)

    denoising_psnr(capture, x, schedule)
    assert told[-4:] == [sigma_t for _, sigma_t in inputs]  # the last four calls: the test images' rows
    _, x_tune = tuning_images(16, None)
    curves = {k: classical_psnr(denoise.__get__(sd.priors.build("tv", strength=k)), x_tune, schedule=schedule)
              for k in strengths}
    best = [max(strengths, key=lambda k: curves[k][sigma]) for sigma in VALIDATION_SIGMAS]
    assert len(set(best)) > 1  # the levels choose different strengths here, so the mapping matters
    for row, (noisy, sigma_t), strength in zip([r for r in rows if r["method"] == "TV"], inputs, best, strict=True):
        assert row["setting"] == f"strength {strength:g}"
        out = denoise(sd.priors.build("tv", strength=strength), noisy, sigma_t).clamp(-1, 1)
        psnr = (10 * torch.log10(4 / (out - x).pow(2).flatten(1).mean(1))).mean().item()
        assert abs(row["psnr"] - psnr) < 1e-3, (row, psnr)


def test_gpu_session_script_dispatches_its_parts_and_always_packs_its_logs(tmp_path):
    """benchmarks/gpu_session.sh (one device call per part): an unknown part is exit code 2 with a
    one-line message, and the logs still come back as one archive (device.run returns 8 files)."""
    import subprocess
    import tarfile
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_session.sh"
    run = subprocess.run(["bash", str(script), "bogus"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")}, cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip() == ("gpu_session.sh: unknown part 'bogus' (expected acceptance, tests, rows, "
                                  "target or train)")
    assert not (tmp_path / "out").exists()  # refused before anything runs, also after valid parts
    run = subprocess.run(["bash", str(script), "tests", "bogus"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")}, cwd=tmp_path)
    assert run.returncode == 2 and not (tmp_path / "out").exists()
    for part in ("acceptance", "tests", "rows", "target", "train"):  # each documented part is a function
        assert f"\n{part}() {{" in script.read_text()
    # a part that fails (here: no tests/test_gpu.py in this folder) still packs its logs into one archive
    run = subprocess.run(["bash", str(script), "tests"], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")}, cwd=tmp_path)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["logs.tar.gz"]
    with tarfile.open(tmp_path / "out" / "logs.tar.gz") as archive:
        assert {"logs/gpu.txt", "logs/gpu-tests.txt"} <= set(archive.getnames())

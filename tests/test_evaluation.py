"""`splitdiff evaluate`: configs, sharding, resumable atomic results, tables and figures."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from scipy import stats

from splitdiff.evaluation import tables
from splitdiff.evaluation.config import load_config, parse_config, shipped_configs
from splitdiff.evaluation.ground_truth import ShardSampler, crop
from splitdiff.evaluation.runner import evaluate
from splitdiff.evaluation.images import load_skimage


def tiny(**changes) -> dict:
    raw = {
        "name": "tiny", "dataset": "heldout", "prior": "default",
        "data": {"skimage": ["chelsea", "coffee"], "size": 32, "convention": "resize"},
        "tasks": {"super_resolution": {"options": {"scale": 4}},
                  "gaussian_blur": {"options": {"kernel_size": 9, "std": 1.0}, "sigma_y": [0.05, 0.1]}},
        "methods": {"ddiff": {"algorithm": "ddiff", "options": {"steps": 3, "gamma0": 4.5},
                              "per_task": {"gaussian_blur": {"gamma0": 0.7}}},
                    "ddiff5": {"algorithm": "ddiff", "options": {"steps": 5, "gamma0": 4.5}}},
    }
    raw.update(changes)
    return raw


def image_folder(root: Path, count: int, size: int = 40) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    x = load_skimage("chelsea")
    for i in range(count):
        patch = x[:, 10 * i: 10 * i + size, 20 * i: 20 * i + size]
        Image.fromarray(((patch + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()).save(root / f"img{i}.png")
    return root


def cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "splitdiff", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kwargs)


def rows_of(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "results").rglob("*.json"))]


# --- sharding and statistics ------------------------------------------------------------------

@given(st.integers(0, 60), st.integers(1, 8))
def test_shards_cover_every_item_exactly_once(length, world):
    seen = [i for rank in range(world) for i in ShardSampler(length, rank, world)]
    assert sorted(seen) == list(range(length))
    assert sum(len(ShardSampler(length, r, world)) for r in range(world)) == length


@given(st.lists(st.floats(-100, 100), min_size=2, max_size=30))
def test_confidence_interval_is_student_t(values):
    mean, half = tables.mean_ci(values)
    a = np.asarray(values)
    if a.std() == 0:
        assert half == pytest.approx(0.0, abs=1e-9)
        return
    low, high = stats.t.interval(0.95, a.size - 1, loc=a.mean(), scale=stats.sem(a))
    assert mean == pytest.approx(a.mean(), abs=1e-9)
    assert half == pytest.approx((high - low) / 2, rel=1e-6, abs=1e-9)


def test_a_single_value_has_no_interval():
    mean, half = tables.mean_ci([3.0, None, float("nan")])
    assert mean == 3.0 and math.isnan(half)


def _row(method, image, psnr, lpips, task="super_resolution"):
    return {"dataset": "d", "task": task, "sigma_y": 0.05, "method": method, "image": image,
            "psnr": psnr, "ssim": None, "lpips": lpips, "residual": None, "seconds": 1.0}


def test_paired_differences_match_images_and_use_student_t():
    rows = [_row("tv", "a", 20.0, 0.30), _row("tv", "b", 22.0, 0.20), _row("tv", "c", 25.0, 0.10),
            _row("ddiff", "c", 26.0, 0.05), _row("ddiff", "a", 21.5, 0.25), _row("ddiff", "b", 22.5, 0.30),
            _row("ddiff", "z", 99.0, 0.0)]  # z has no baseline row: not paired
    (group,) = tables.paired(rows, "tv")
    assert (group["method"], group["baseline"], group["n"]) == ("ddiff", "tv", 3)
    # differences by image (ddiff - tv): a 1.5, b 0.5, c 1.0 -> mean 1.0, sd 0.5, t(0.975, 2) = 4.302653
    assert group["psnr"] == pytest.approx(1.0)
    assert group["psnr_ci95"] == pytest.approx(4.302653 * 0.5 / math.sqrt(3), rel=1e-6)
    # LPIPS: a -0.05, b 0.10, c -0.05 -> mean 0.0, sd 0.0866025
    assert group["lpips"] == pytest.approx(0.0, abs=1e-12)
    assert group["lpips_ci95"] == pytest.approx(4.302653 * 0.0866025 / math.sqrt(3), rel=1e-5)
    assert math.isnan(group["ssim"])
    text = tables.paired_markdown([group])
    assert "ddiff − tv" in text and "1.00 ± 1.24" in text


def test_paired_differences_need_a_known_baseline():
    with pytest.raises(ValueError, match="baseline 'bm3d'.*tv"):
        tables.paired([_row("tv", "a", 20.0, 0.3)], "bm3d")


# --- configs and data --------------------------------------------------------------------------

def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="unknown keys.*'steps'"):
        parse_config(tiny(steps=3))
    with pytest.raises(ValueError, match="tasks.deconv.operator: unknown operator 'deconv'"):
        parse_config(tiny(tasks={"deconv": {}}))
    with pytest.raises(ValueError, match="methods.x.algorithm: unknown algorithm 'dsp'"):
        parse_config(tiny(methods={"x": {"algorithm": "dsp"}}))
    with pytest.raises(ValueError, match="sigma_y"):
        parse_config(tiny(tasks={"hdr": {"sigma_y": [0.1, -1]}}))
    with pytest.raises(ValueError, match="exactly one of 'folder'"):
        parse_config(tiny(data={"size": 64}))
    with pytest.raises(ValueError, match="baseline: expected one of the config's methods.*'tv'"):
        parse_config(tiny(baseline="tv"))
    with pytest.raises(FileNotFoundError, match="shipped configs: .*table1-small"):
        load_config(tmp_path / "nope.yaml")


def test_missing_data_or_checkpoint_fails_before_any_work(tmp_path):
    missing = tmp_path / "no-such-folder"
    config = parse_config(tiny(data={"folder": str(missing)}))
    with pytest.raises(FileNotFoundError, match=str(missing)):
        evaluate(config, tmp_path / "out", progress=False, accelerator="cpu")
    config = parse_config(tiny(prior=f"adm:{tmp_path / 'ffhq_10m.pt'}:ffhq"))
    with pytest.raises(FileNotFoundError, match="ffhq_10m.pt"):
        evaluate(config, tmp_path / "out", progress=False, accelerator="cpu")
    assert not (tmp_path / "out" / "tiny" / "results").exists()


def test_crop_conventions():
    x = torch.linspace(-1, 1, 3 * 300 * 400).view(1, 3, 300, 400)
    assert torch.equal(crop(x, "ffhq", 256), x[..., 22:278, 72:328])
    with pytest.raises(ValueError, match="smaller than the 256x256 center crop"):
        crop(x[..., :200, :], "ffhq", 256)
    out = crop(x, "imagenet", 150)  # shorter side to 150 (150x200), then the center 150x150
    ref = torch.nn.functional.interpolate(x, size=(150, 200), mode="bicubic", antialias=True, align_corners=False)
    assert torch.allclose(out, ref[..., :, 25:175].clamp(-1, 1))
    assert crop(x, "resize", 64).shape == (1, 3, 64, 64)


def test_shipped_configs_parse():
    names = shipped_configs()
    assert {"table1-ffhq", "table1-imagenet", "table2-ffhq", "table1-small", "table2-small", "figures-small"} <= set(names)
    for name in names:
        config = load_config(name)
        assert config.items(["a", "b"])
    table1 = load_config("table1-ffhq")
    assert len(table1.tasks) == 8 and table1.task("phase_retrieval").best_of == 5
    assert {m.algorithm for m in load_config("table2-small").methods} == {"ddiff", "ddiff-hqs", "diff-pnp-admm",
                                                                         "diff-pnp-hqs"}


# --- one scoring function, one measurement preview ------------------------------------------------

def test_demo_and_evaluation_share_scoring_and_previews():
    import splitdiff.demo
    from splitdiff.evaluation import figures, images, runner

    assert splitdiff.demo.score is runner.score is images.score
    assert splitdiff.demo.measurement_preview is figures.measurement_preview is images.measurement_preview


def test_measurement_preview():
    from splitdiff.evaluation.images import measurement_preview

    y = torch.linspace(-3, 3, 2 * 3 * 8 * 8).view(2, 3, 8, 8)
    shown = measurement_preview(y, 16)
    assert shown.shape == (2, 3, 16, 16) and shown.min() == -1 and shown.max() == 1  # clipped
    assert torch.equal(shown[..., ::2, ::2], y.clamp(-1, 1))  # nearest: each value a 2x2 block
    magnitude = measurement_preview(y.abs() * 100, 8, magnitude=True)  # log scale, each image to [-1, 1]
    assert torch.allclose(magnitude.flatten(1).amax(1), torch.ones(2)) and magnitude.min() >= -1


def test_score_marks_missing_lpips_weights_as_nan(monkeypatch):
    from splitdiff import operators
    from splitdiff.evaluation import images

    def missing(*args):
        raise images.LPIPSWeightsMissing("no weights")

    monkeypatch.setattr(images, "lpips_distance", missing)
    op = operators.build("super_resolution", scale=2)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    scores = images.score(op(x), op, x, x)
    assert set(scores) == {"psnr", "ssim", "lpips", "residual"} and all(v.shape == (2,) for v in scores.values())
    assert torch.isnan(scores["lpips"]).all() and torch.all(scores["ssim"] > 0.999)


# --- runs ----------------------------------------------------------------------------------------

def test_evaluate_writes_rows_tables_and_figures(tmp_path):
    config = parse_config(tiny(trace=True, baseline="ddiff5"))
    store = evaluate(config, tmp_path, progress=False, accelerator="cpu")
    rows = rows_of(store.root)
    assert len(rows) == 3 * 2 * 2  # (SR + blur at two noise levels) x 2 methods x 2 images
    assert len({r["key"] for r in rows}) == len(rows)
    row = next(r for r in rows if r["method"] == "ddiff5")
    assert row["nfe"] == row["iterations"] == 4  # steps - 1 network calls
    assert len(row["trace"]["primal"]) == 4 and row["lpips"] is not None
    assert row["hparams"]["algorithm"] == "ddiff" and row["hparams"]["steps"] == 5  # resolved settings recorded
    assert "GradientStep(gamma=StepDown(" in row["hparams"]["data_step"]
    y = torch.load(store.root / "results" / "super_resolution@0.05" / "ddiff" / "chelsea.pt", weights_only=True)
    assert y["y"].shape == (1, 3, 8, 8)
    for name in ("table.md", "table.csv", "table.json", "config.yaml", "run.json"):
        assert (store.root / name).is_file(), name
    for name in ("reconstructions", "convergence", "noise", "speed"):
        assert (store.root / "figures" / f"{name}.png").is_file(), name
    groups = json.loads((store.root / "table.json").read_text())["groups"]
    assert len(groups) == 6 and all(g["n"] == 2 for g in groups)
    mine = [r["psnr"] for r in rows if r["task"] == "gaussian_blur" and r["sigma_y"] == 0.1 and r["method"] == "ddiff"]
    g = next(g for g in groups if g["task"] == "gaussian_blur" and g["sigma_y"] == 0.1 and g["method"] == "ddiff")
    assert g["psnr"] == pytest.approx(np.mean(mine))
    assert "| gaussian_blur | 0.1 | ddiff | 2 |" in (store.root / "table.md").read_text()
    # baseline: ddiff's paired difference to ddiff5, image by image
    (pair,) = [p for p in json.loads((store.root / "table.json").read_text())["paired"]
               if p["task"] == "gaussian_blur" and p["sigma_y"] == 0.1]
    other = {r["image"]: r["psnr"] for r in rows if r["task"] == "gaussian_blur" and r["sigma_y"] == 0.1
             and r["method"] == "ddiff5"}
    diffs = [r["psnr"] - other[r["image"]] for r in rows if r["task"] == "gaussian_blur" and r["sigma_y"] == 0.1
             and r["method"] == "ddiff"]
    assert pair["method"] == "ddiff" and pair["baseline"] == "ddiff5" and pair["psnr"] == pytest.approx(np.mean(diffs))
    assert "| heldout | gaussian_blur | 0.1 | ddiff − ddiff5 | 2 |" in (store.root / "table.md").read_text()
    assert yaml.safe_load((store.root / "config.yaml").read_text())["name"] == "tiny"


def test_best_of_k_keeps_the_best_psnr(tmp_path, monkeypatch):
    from splitdiff.evaluation import images, runner

    scored, psnr_calls = [], []
    score, psnr = images.score, images.psnr
    monkeypatch.setattr(runner, "score", lambda *args: scored.append(score(*args)) or scored[-1])
    monkeypatch.setattr(images, "psnr", lambda *args: psnr_calls.append(1) or psnr(*args))
    raw = tiny(tasks={"super_resolution": {"best_of": 3}}, methods={"ddiff": {"options": {"steps": 3}}})
    raw["data"]["skimage"] = ["chelsea"]
    store = evaluate(parse_config(raw), tmp_path, progress=False, accelerator="cpu")
    (row,) = rows_of(store.root)
    assert row["best_of"] == 3 and 0 <= row["best_repeat"] < 3
    assert len(scored) == len(psnr_calls) == 3  # each solve scored once, by the one scoring function
    best = scored[row["best_repeat"]]
    assert row["psnr"] == float(best["psnr"][0]) == max(float(s["psnr"][0]) for s in scored)
    assert (row["ssim"], row["residual"]) == (float(best["ssim"][0]), float(best["residual"][0]))
    single = evaluate(parse_config({**raw, "name": "one", "tasks": {"super_resolution": {}}}), tmp_path,
                      progress=False, accelerator="cpu")
    (first,) = rows_of(single.root)  # repeat 0 of the best-of-3 run is the single run
    assert row["psnr"] >= first["psnr"] - 1e-9


def test_samples_score_their_mean_and_record_the_coverage(tmp_path):
    raw = tiny(tasks={"super_resolution": {}}, methods={"ddiff": {"options": {"steps": 3}, "samples": 3},
                                                       "daps": {"algorithm": "daps", "options": {"steps": 2}, "samples": 2}})
    raw["data"]["skimage"] = ["chelsea"]
    config = parse_config(raw)
    assert config.method("ddiff").samples == 3
    store = evaluate(config, tmp_path, progress=False, accelerator="cpu")
    row, daps = sorted(rows_of(store.root), key=lambda r: r["method"] != "ddiff")
    assert row["samples"] == 3 and 0.0 <= row["coverage_2std"] <= 1.0
    assert row["nfe"] == 2 and row["iterations"] == 2 and math.isfinite(row["psnr"])
    # iterations are one solve's (DAPS: its annealing steps, not its 5 ODE calls each)
    assert daps["samples"] == 2 and daps["iterations"] == 2 and daps["nfe"] == 10
    with pytest.raises(ValueError, match="methods.ddiff.samples"):
        parse_config(tiny(methods={"ddiff": {"samples": 0}}))


def test_a_sampled_row_scores_the_mean_not_a_sample(tmp_path, monkeypatch):
    """With ``samples: 3`` the row's PSNR is the mean's and its coverage the truth's fraction
    within mean +- 2 std: the sampler is replaced by one that returns -0.2, 0 and +0.2 everywhere
    (mean 0, Bessel std 0.2), so the expected numbers follow from the truth alone."""
    from splitdiff.algorithms.solver import BaseSolver
    from splitdiff.evaluation import psnr
    from splitdiff.evaluation.ground_truth import load_ground_truth

    original = BaseSolver.sample

    def three_levels(self, y, k, **kwargs):
        shape = original(self, y, k, **kwargs).shape  # (k, N, C, H, W) of the real solver
        return torch.tensor([-0.2, 0.0, 0.2]).view(3, 1, 1, 1, 1).expand(shape).clone()

    monkeypatch.setattr(BaseSolver, "sample", three_levels)
    raw = tiny(tasks={"super_resolution": {}}, methods={"ddiff": {"options": {"steps": 2}, "samples": 3}})
    raw["data"]["skimage"] = ["chelsea"]
    config = parse_config(raw)
    (row,) = rows_of(evaluate(config, tmp_path, progress=False, accelerator="cpu").root)
    x = load_ground_truth(config.data, "chelsea")
    assert row["psnr"] == pytest.approx(float(psnr(torch.zeros_like(x), x)[0]), abs=1e-6)
    assert row["psnr"] != pytest.approx(float(psnr(torch.full_like(x, -0.2), x)[0]), abs=0.1)  # not sample 0
    assert row["coverage_2std"] == pytest.approx(float((x.abs() <= 0.4).double().mean()), abs=1e-9)


def test_unreadable_and_small_images_are_reported_not_fatal(tmp_path):
    folder = image_folder(tmp_path / "images", 2, size=40)
    (folder / "broken.png").write_bytes(b"not a png")
    Image.new("RGB", (20, 20)).save(folder / "tiny.png")
    # motion blur: an operator whose adjoint is autograd's, which Lightning's inference mode would break
    raw = tiny(data={"folder": str(folder), "size": 32, "convention": "ffhq"},
               tasks={"motion_blur": {"options": {"kernel_size": 9}}},
               methods={"ddiff": {"options": {"steps": 2, "gamma0": 0.7}}})
    store = evaluate(parse_config(raw), tmp_path / "out", progress=False, accelerator="cpu")
    assert sorted(r["image"] for r in rows_of(store.root)) == ["img0", "img1"]
    skipped = json.loads((store.root / "table.json").read_text())["skipped"]
    reasons = {e["image"]: e["error"] for e in skipped}
    assert "cannot read" in reasons["broken"] and "smaller than the 32x32" in reasons["tiny"]
    assert "Skipped items" in (store.root / "table.md").read_text()


def write_config(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def metric_groups(root: Path) -> list[dict]:
    groups = json.loads((root / "table.json").read_text())["groups"]
    return [{k: v for k, v in g.items() if not k.startswith("seconds")} for g in groups]


def assert_same_tables(a: Path, b: Path) -> None:
    """The same groups and counts, metrics equal up to float32 rounding (processes with different
    thread counts sum convolutions in different orders)."""
    ga, gb = metric_groups(a), metric_groups(b)
    assert [sorted(g) for g in ga] == [sorted(g) for g in gb]
    for x, y in zip(ga, gb):
        for key, value in x.items():
            if isinstance(value, float):
                assert value == pytest.approx(y[key], rel=1e-4, abs=1e-6), key
            else:
                assert value == y[key], key


def test_a_killed_two_process_run_resumes_and_scores_each_image_once(tmp_path):
    """DDP and resumption in one run (each costs an interpreter and Lightning start):

    - two processes (``--devices 2``) share the items: rows from both ranks, no image twice;
    - the run is killed (SIGKILL, both ranks) after some rows and restarted on one process:
      finished items are not recomputed, the rest get the new run's id;
    - the final tables equal a clean single-process run: seeds belong to items, not ranks."""
    folder = image_folder(tmp_path / "images", 8)
    raw = tiny(data={"folder": str(folder), "size": 32, "convention": "ffhq"},
               tasks={"super_resolution": {}}, methods={"ddiff": {"options": {"steps": 10}}})
    config = write_config(tmp_path / "eight.yaml", raw)
    out, root = tmp_path / "out", tmp_path / "out" / "tiny"
    proc = cli("evaluate", str(config), "--out", str(out), "--accelerator", "cpu", "--devices", "2", "--no-progress",
               start_new_session=True)
    deadline = time.time() + 240

    def ranks_seen() -> set:
        try:
            return {r["rank"] for r in rows_of(root)} if (root / "results").exists() else set()
        except (json.JSONDecodeError, KeyError):  # a row being written: look again
            return set()

    while ranks_seen() != {0, 1}:
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {r["key"]: r for r in rows_of(root)}
    assert 2 <= len(first) < 8 and {r["rank"] for r in first.values()} == {0, 1}
    assert len({r["image"] for r in first.values()}) == len(first)  # no image scored twice
    proc = cli("evaluate", str(config), "--out", str(out), "--accelerator", "cpu", "--no-progress")
    log = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, log
    final = {r["key"]: r for r in rows_of(root)}
    assert len(final) == 8 and len({r["image"] for r in final.values()}) == 8
    assert all(final[k] == first[k] for k in first)  # finished items untouched
    second_runs = {r["run_id"] for k, r in final.items() if k not in first}
    assert len(second_runs) == 1 and not second_runs & {r["run_id"] for r in first.values()}
    assert json.loads((root / "table.json").read_text())["groups"][0]["n"] == 8
    clean = evaluate(parse_config(raw), tmp_path / "clean", progress=False, accelerator="cpu")
    assert_same_tables(clean.root, root)


def test_the_documented_config_is_valid():
    text = (Path(__file__).parent.parent / "docs" / "evaluation.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(yaml.safe_load(block))
    assert config.method("tv").prior == "tv" and config.task("phase_retrieval").best_of == 5


def test_cli_report_only_rebuilds_the_tables(tmp_path):
    from splitdiff.cli import main

    raw = tiny(tasks={"super_resolution": {}}, methods={"ddiff": {"options": {"steps": 2}}})
    config = write_config(tmp_path / "c.yaml", raw)
    assert main(["evaluate", str(config), "--out", str(tmp_path), "--accelerator", "cpu", "--no-progress"]) == 0
    table = tmp_path / "tiny" / "table.md"
    before = table.read_text()
    table.unlink()
    assert main(["evaluate", str(config), "--out", str(tmp_path), "--report-only"]) == 0
    assert table.read_text() == before
    assert main(["evaluate", str(tmp_path / "missing.yaml")]) == 2
    other = write_config(tmp_path / "d.yaml", {**raw, "name": "other", "dataset": "second"})
    assert main(["evaluate", str(other), "--out", str(tmp_path), "--accelerator", "cpu", "--no-progress"]) == 0
    merged = tmp_path / "merged.md"
    assert main(["table", str(tmp_path / "tiny"), str(tmp_path / "other"), "--out", str(merged)]) == 0
    assert "## heldout" in merged.read_text() and "## second" in merged.read_text()
    assert main(["table", str(tmp_path / "nothing")]) == 2


def test_as_image_turns_arrays_and_pil_images_into_nchw_in_minus_one_one():
    """Written-out values: uint8 0 / 255 -> -1 / 1, uint16 65535 -> 1, float 0.5 -> 0, gray -> 3 channels."""
    from PIL import Image

    from splitdiff.evaluation import as_image

    gray = np.array([[0, 255]], dtype=np.uint8)
    x = as_image(gray)
    assert x.shape == (1, 3, 1, 2) and x.dtype == torch.float32
    assert x[0, :, 0, 0].tolist() == [-1.0] * 3 and x[0, :, 0, 1].tolist() == [1.0] * 3
    assert as_image(np.full((2, 2), 65535, dtype=np.uint16)).max().item() == 1.0
    assert as_image(np.full((2, 2, 3), 0.5)).abs().max().item() == 0.0
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    assert as_image(rgba).shape == (1, 3, 2, 2)
    assert torch.equal(as_image(Image.fromarray(gray)), x)
    assert as_image(np.zeros((2, 2, 3), dtype=np.uint8), channels=1).shape == (1, 1, 2, 2)
    for bad, what in ((np.full((2, 2), 1.5), r"\[0, 1\]"), (np.zeros((2, 2, 2)), "C in 1, 3, 4"),
                      (np.zeros((2, 2), dtype=np.int64), "uint8, uint16")):
        with pytest.raises(ValueError, match=what):
            as_image(bad)


def test_a_method_can_take_its_prior_per_task():
    """TV with a strength tuned per task: ``per_task.TASK.prior`` over the method's ``prior``; it
    is not an algorithm option, and it is part of that task's fingerprint only."""
    from splitdiff.evaluation.runner import EvaluationModule
    from splitdiff.evaluation.store import ResultStore

    config = parse_config(tiny(methods={"tv": {"algorithm": "pnp-admm", "prior": "tv:2", "options": {"steps": 3},
                                               "per_task": {"gaussian_blur": {"prior": "tv:5"}}}}))
    method = config.method("tv")
    assert (method.prior_for("super_resolution"), method.prior_for("gaussian_blur")) == ("tv:2", "tv:5")
    assert method.options_for("gaussian_blur") == {"steps": 3}
    items = config.items(["chelsea"])
    module = EvaluationModule(config, items, prior=None, store=None, run_id="x")
    strengths = {i.task: module.solver(i).prior.strength for i in items}
    assert strengths == {"super_resolution": 2.0, "gaussian_blur": 5.0}
    inputs = {i.task: config.inputs(i)["methods.tv.prior"] for i in items}
    assert inputs == {"super_resolution": "tv:2", "gaussian_blur": "tv:5"}
    with pytest.raises(ValueError, match="methods.tv.per_task.gaussian_blur.prior"):
        parse_config(tiny(methods={"tv": {"algorithm": "pnp-admm", "per_task": {"gaussian_blur": {"prior": 5}}}}))

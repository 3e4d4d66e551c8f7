"""The default prior with DDiff against plug-and-play ADMM with total variation (issue 14's test).

    python -m benchmarks.default_prior_quality [--size 64] [--steps 100] [--samples 8] [--limit N]
        [--tune-images DIR] [--tv-strengths ...] [--weights W] [--device cpu] [--out DIR [--force | --resume]]

Tasks at ``--size`` pixels, sigma_y = 0.05 (the demo's): super-resolution x4, Gaussian deblurring
(the paper's 61 / std 3 at 256 pixels, scaled: 17 / std 0.75 at 64) and random inpainting (70%).

1. **TV is tuned on training photographs only**: for each task, the strength in
   ``TV_STRENGTHS`` with the best mean PSNR on the training photographs (``--tune-images DIR``:
   a fetched corpus's ``train/``, e.g. ``splitdiff photos fetch /tmp/corpus``; without it, the
   corpus's scikit-image training photographs). No held-out image is seen.
2. **On the shipped held-out benchmark** (24 photographs): DDiff with the Appendix H defaults
   (scaled to the size by ``ddiff``) draws ``--samples`` samples per image
   (``solver.sample(y, k, chunk=N)``: one batched solve of the N images per sample); it is
   scored as one sample (the first) and as the mean of the samples (the MMSE estimate).
   TV-PnP-ADMM runs with the tuned strength.
3. **Paired differences**, image by image, with 95% Student-t intervals
   (``splitdiff.evaluation.tables.paired``): each DDiff estimate minus TV.

``--tune-only --tasks ...`` stops after step 1 (for any demo task: the strengths of the small
evaluation configs' TV baseline). Prints the acceptance table; ``--out`` also writes
``settings.json``, ``rows.csv`` (one row per task, estimate and image) and ``tuning.csv`` after
every task, ``table.md`` at the end, and keeps each task's samples in ``draws-TASK.safetensors``
(k x N x 3 x size x size float32 with the generator's state: 9.4 MB per task at 64x64), all
written atomically. ``--force`` removes an earlier run's files first. ``--resume`` continues an
interrupted run in ``--out`` (the paper's 1,000 steps take hours per task on a CPU): the run's
settings (``settings.json``) must be the same; the tasks already in ``rows.csv`` are kept, not
solved again, and a task interrupted between samples goes on at the next sample, with the same
draws as an uninterrupted run (each draws file records the settings, task and images it is for).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

import splitdiff as sd
from splitdiff.demo import demo_tasks
from splitdiff.evaluation import lpips_distance, psnr, ssim
from splitdiff.evaluation.images import load_skimage, square_resize
from splitdiff.evaluation.tables import mean_ci, paired, to_csv
from splitdiff.files import atomic_write, write_text
from splitdiff.photos import heldout_images, photos

TASKS = ("super_resolution", "gaussian_blur", "random_inpainting")
TV_STRENGTHS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0)
SIGMA_Y = 0.05
TV = "pnp-admm-tv"


def tuning_images(size: int, folder: str | None) -> tuple[list[str], torch.Tensor]:
    """Training photographs, center square at ``size``: a corpus's ``train/`` folder (held-out
    photographs refused by ``load_folder``) or the manifest's scikit-image training photographs."""
    if folder is not None:
        from splitdiff.training.crops import load_folder

        names, images = load_folder(folder)
    else:
        names = [p.skimage_name for p in photos("train") if p.skimage_name]
        images = [load_skimage(n) for n in names]
    return names, torch.cat([square_resize(x[None], size) for x in images])


def scores(x_hat: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"psnr": psnr(x_hat, x), "ssim": ssim(x_hat, x), "lpips": lpips_distance(x_hat, x)}


def tune_tv(op, y: torch.Tensor, x: torch.Tensor, strengths: tuple[float, ...] = TV_STRENGTHS) -> tuple[float, list[dict]]:
    """The strength with the best mean PSNR on ``x`` (training photographs) from their
    measurements ``y``, and the sweep."""
    sweep = []
    for strength in strengths:
        solver = sd.algorithms.build("pnp-admm", prior=sd.priors.build("tv", strength=strength), operator=op)
        sweep.append({"task": op.task, "strength": strength, "psnr": psnr(solver.solve(y).cpu(), x).mean().item()})
    return best_strength(sweep), sweep


def best_strength(sweep: list[dict]) -> float:
    """The strength of a task's sweep with the best mean PSNR."""
    return max(sweep, key=lambda r: r["psnr"])["strength"]


def rows_for(task: str, method: str, names: list[str], values: dict[str, torch.Tensor], size: int) -> list[dict]:
    return [{"dataset": f"heldout-{size}", "task": task, "sigma_y": SIGMA_Y, "method": method, "image": name,
             "psnr": float(values["psnr"][i]), "ssim": float(values["ssim"][i]), "lpips": float(values["lpips"][i]),
             "residual": None, "seconds": None} for i, name in enumerate(names)]


def table(rows: list[dict], strengths: dict[str, float], samples: int) -> str:
    """The acceptance table: mean of ``samples`` vs TV in PSNR, one sample vs TV in LPIPS; each
    method's mean over the images and the paired differences with their 95% intervals."""
    mean_name, one = f"ddiff-mean-{samples}", "ddiff-sample"
    pairs = {(g["task"], g["method"]): g for g in paired(rows, TV)}

    def avg(task, method, metric):
        m, half = mean_ci([r[metric] for r in rows if r["task"] == task and r["method"] == method])
        return f"{m:.2f} ± {half:.2f}" if metric == "psnr" else f"{m:.3f} ± {half:.3f}"

    def diff(task, method, metric):
        g = pairs[(task, method)]
        d = 2 if metric == "psnr" else 3
        return f"{g[metric]:+.{d}f} ± {g[f'{metric}_ci95']:.{d}f}", g[metric] - g[f"{metric}_ci95"], \
            g[metric] + g[f"{metric}_ci95"]

    lines = [f"| task | TV strength (tuned on training) | PSNR TV | PSNR DDiff 1 sample | PSNR DDiff mean of {samples} "
             f"| Δ PSNR mean − TV (95% CI) | LPIPS TV | LPIPS DDiff 1 sample | Δ LPIPS sample − TV (95% CI) "
             "| holds |", "|---|---|---|---|---|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in rows):
        d_psnr, low, _ = diff(task, mean_name, "psnr")
        d_lpips, _, high = diff(task, one, "lpips")
        holds = "yes" if low > 0 and high < 0 else "PSNR only" if low > 0 else "LPIPS only" if high < 0 else "no"
        lines.append(f"| {task} | {strengths[task]:g} | {avg(task, TV, 'psnr')} | {avg(task, one, 'psnr')} | "
                     f"{avg(task, mean_name, 'psnr')} | {d_psnr} | {avg(task, TV, 'lpips')} | "
                     f"{avg(task, one, 'lpips')} | {d_lpips} | {holds} |")
    return "\n".join(lines) + "\n"


def draw(solver, y: torch.Tensor, samples: int, store: Path | None, resume: bool, key: dict) -> torch.Tensor:
    """``solver.sample(y, samples, seed 0, chunk=N)``: sample j is one solve of the N images, all
    from one generator, so the draws are those of ``sample``. Each sample is kept in ``store`` (a
    safetensors file: the samples so far, the generator's state, and ``key`` as metadata: the run's
    settings, task and images); with ``resume`` an interrupted task goes on from there. A kept
    file for another ``key`` is a ValueError. Returns (samples, N, C, H, W)."""
    generator, drawn, tag = torch.Generator(y.device).manual_seed(0), [], json.dumps(key, sort_keys=True)
    if resume and store is not None and store.exists():
        with safe_open(store, framework="pt") as f:
            if (f.metadata() or {}).get("key") != tag:
                raise ValueError(f"{store} holds samples of another run ({(f.metadata() or {}).get('key')}); "
                                 "remove it or use another --out")
            drawn, state = list(f.get_tensor("draws").to(y.device)), f.get_tensor("generator")
        generator.set_state(state)
        print(f"  {store.name}: kept {len(drawn)} of {samples} samples", flush=True)
    while len(drawn) < samples:
        start = time.perf_counter()
        drawn.append(solver.sample(y, 1, generator=generator)[0])
        print(f"  sample {len(drawn)} of {samples}: {time.perf_counter() - start:.0f} s", flush=True)
        if store is not None:  # atomically: a run killed while writing keeps the last file
            tensors = {"draws": torch.stack(drawn).cpu().contiguous(), "generator": generator.get_state()}
            atomic_write(store, lambda path: save_file(tensors, path, metadata={"key": tag}))
    return torch.stack(drawn)


def read_run(out: Path) -> tuple[list[dict], list[dict]]:
    """The rows and the TV sweeps an earlier run wrote in ``out`` (``rows.csv``, ``tuning.csv``)."""
    def load(name: str) -> list[dict]:
        with open(out / name, newline="") as f:
            return list(csv.DictReader(f))

    rows = [{**r, "sigma_y": float(r["sigma_y"]), "psnr": float(r["psnr"]), "ssim": float(r["ssim"]),
             "lpips": float(r["lpips"]), "residual": None, "seconds": None} for r in load("rows.csv")]
    sweeps = [{**r, "strength": float(r["strength"]), "psnr": float(r["psnr"])} for r in load("tuning.csv")]
    return rows, sweeps


def with_kept(rows: list[dict], kept: list[dict]) -> list[dict]:
    """``rows`` and, after them, the ``kept`` rows (an earlier run's, ``--resume``) of the tasks
    ``rows`` do not hold: a task kept from the earlier run is written again whether or not this
    run has reached it yet or has it in ``--tasks``."""
    tasks = {r["task"] for r in rows}
    return rows + [r for r in kept if r["task"] not in tasks]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--limit", type=int, default=None, help="the first N held-out images only")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(demo_tasks()))
    parser.add_argument("--tune-only", action="store_true",
                        help="only choose TV's strength per task on the training photographs (any demo task)")
    parser.add_argument("--tv-strengths", type=float, nargs="+", default=list(TV_STRENGTHS))
    parser.add_argument("--tune-images", default=None, help="a corpus's train/ folder (default: scikit-image's)")
    parser.add_argument("--weights", default=None, help="prior weights (default: the shipped ones)")
    parser.add_argument("--device", default="cpu",
                        help="where TV and DDiff run (e.g. cuda); measurements and scores stay on the CPU")
    parser.add_argument("--out", default=None,
                        help="write settings.json, rows.csv, tuning.csv, table.md and draws-TASK.safetensors here")
    parser.add_argument("--force", action="store_true", help="remove an earlier run's files in --out first")
    parser.add_argument("--resume", action="store_true", help="keep the tasks already in --out, solve the rest")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else None
    settings = {k: getattr(args, k) for k in ("size", "steps", "samples", "limit", "tv_strengths", "tune_images",
                                              "weights", "device")}
    done_rows, done_sweeps = [], []
    if args.resume and (out is None or args.force or args.tune_only):
        parser.exit(2, "error: --resume needs --out, and neither --force nor --tune-only\n")
    if out is not None:
        taken = sorted(out.glob("draws-*.safetensors")) + [
            p for p in (out / n for n in ("rows.csv", "tuning.csv", "table.md", "settings.json")) if p.exists()]
        if args.resume and taken:
            before = json.loads((out / "settings.json").read_text()) if (out / "settings.json").exists() else None
            if before is not None:
                before.setdefault("device", "cpu")  # written before --device existed
            if before != settings:
                parser.exit(2, f"error: {out} holds a run with other settings ({before}); --resume needs the same\n")
            if (out / "rows.csv").exists():
                done_rows, done_sweeps = read_run(out)
        elif taken and not args.force and not args.resume:
            parser.exit(2, f"error: {taken[0]} exists; pass --force to overwrite or --resume to continue\n")
        elif taken:  # --force: nothing of the earlier run is kept (its samples would be resumed)
            for path in taken:
                path.unlink()
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "settings.json", json.dumps(settings))
    warnings.simplefilter("ignore", UserWarning)  # the short-solve warning of Appendix H's steps
    prior = sd.priors.default_prior(device=args.device, weights=args.weights)
    tune_names, x_tune = tuning_images(args.size, args.tune_images)
    names, x = heldout_images(args.size)
    names, x = names[: args.limit], x[: args.limit]
    print(f"prior: {args.weights or 'shipped'} ({prior.meta.get('steps')} steps); DDiff {args.steps} steps, "
          f"{args.samples} samples; TV tuned on {len(tune_names)} training photographs; {len(names)} held-out images",
          flush=True)
    rows, sweeps, strengths = [], [], {}
    for task in args.tasks:
        if any(r["task"] == task for r in done_rows):  # --resume: solved by the interrupted run
            rows += [r for r in done_rows if r["task"] == task]
            sweeps += [r for r in done_sweeps if r["task"] == task]  # its strength: after the loop
            print(f"{task}: kept from {out / 'rows.csv'}", flush=True)
            continue
        start = time.perf_counter()
        op = sd.operators.build(task, sigma=SIGMA_Y, **demo_tasks(args.size)[task])
        # measured on the CPU, so every device solves the same measurements
        y_tune, y = (op.measure(images, generator=torch.Generator().manual_seed(100)) for images in (x_tune, x))
        op.to(args.device)
        strengths[task], sweep = tune_tv(op, y_tune.to(args.device), x_tune, tuple(args.tv_strengths))
        sweeps += sweep
        if args.tune_only:
            print(f"{task}: TV strength {strengths[task]:g} (" +
                  ", ".join(f"{r['strength']:g}: {r['psnr']:.2f} dB" for r in sweep) + ")", flush=True)
            continue
        y = y.to(args.device)
        tv = sd.algorithms.build("pnp-admm", prior=sd.priors.build("tv", strength=strengths[task]), operator=op)
        rows += rows_for(task, TV, names, scores(tv.solve(y).cpu(), x), args.size)
        solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=args.steps)
        store = out / f"draws-{task}.safetensors" if out is not None else None
        try:
            draws = draw(solver, y, args.samples, store, args.resume, {"settings": settings, "task": task,
                                                                         "images": names})
        except ValueError as e:
            parser.exit(2, f"error: {e}\n")
        draws = draws.cpu()
        rows += rows_for(task, "ddiff-sample", names, scores(draws[0], x), args.size)
        rows += rows_for(task, f"ddiff-mean-{args.samples}", names, scores(draws.mean(0), x), args.size)
        print(f"{task}: TV strength {strengths[task]:g}; {time.perf_counter() - start:.0f} s", flush=True)
        if out is not None:  # after every task: an interrupted run keeps what it solved (--resume)
            write_text(out / "rows.csv", to_csv(with_kept(rows, done_rows)))
            write_text(out / "tuning.csv", to_csv(with_kept(sweeps, done_sweeps)))
    if args.tune_only:
        if out is not None:
            write_text(out / "tuning.csv", to_csv(sweeps))
        return
    rows, sweeps = with_kept(rows, done_rows), with_kept(sweeps, done_sweeps)
    for task in dict.fromkeys(r["task"] for r in sweeps):  # the kept tasks, listed in --tasks or not
        strengths.setdefault(task, best_strength([r for r in sweeps if r["task"] == task]))
    text = table(rows, strengths, args.samples)
    print(text)
    if out is not None:  # rows.csv and tuning.csv were written after each task
        write_text(out / "table.md", text)


if __name__ == "__main__":
    main()

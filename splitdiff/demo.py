"""``splitdiff demo``: DDiff with the shipped prior on two held-out photographs, every operator that
needs no external weights; a PNG grid (measurement | reconstruction | ground truth), a posterior
figure (one sample | the mean of k | the per-pixel std | ground truth) for super-resolution,
Gaussian deblurring and random inpainting, and a metrics table."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import torch
from torch import Tensor

from . import algorithms, operators
from .evaluation.images import measurement_preview, score, to_uint8
from .files import atomic_write, write_text

#: The demo's tasks with the paper's options at 256x256; ``demo_tasks(size)`` scales the blur
#: kernels to the demo's size (a std-3 blur of a 256-pixel image is a std-0.75 blur at 64).
DEMO_TASKS = {
    "super_resolution": dict(scale=4),
    "gaussian_blur": dict(kernel_size=61, std=3.0),
    "motion_blur": dict(kernel_size=61, intensity=0.5),
    "box_inpainting": dict(),
    "random_inpainting": dict(),
    "phase_retrieval": dict(),
    "hdr": dict(),
}
#: The tasks whose posterior (mean and std of ``samples`` samples) the demo shows.
POSTERIOR_TASKS = ("super_resolution", "gaussian_blur", "random_inpainting")
#: What each task is, for the demo's output.
TASK_LABELS = {
    "super_resolution": "4x bicubic downsampling",
    "gaussian_blur": "Gaussian blur",
    "motion_blur": "motion blur",
    "box_inpainting": "box inpainting (a half-size square hole, placed as DPS does)",
    "random_inpainting": "random inpainting (70% of pixels missing)",
    "phase_retrieval": "Fourier phase retrieval (magnitude only)",
    "hdr": "HDR (2x gain, clipped to [-1, 1])",
}


def demo_tasks(size: int = 64) -> dict[str, dict]:
    """``DEMO_TASKS`` at ``size`` pixels: blur kernel sizes (odd, at least 3) and the Gaussian std
    scaled by ``size / 256``."""
    scale = size / 256
    out = {}
    for task, options in DEMO_TASKS.items():
        options = dict(options)
        if "kernel_size" in options:
            options["kernel_size"] = max(3, 2 * round((options["kernel_size"] - 1) * scale / 2) + 1)
        if "std" in options:
            options["std"] = options["std"] * scale
        out[task] = options
    return out


def describe(task: str, options: dict) -> str:
    """A task's label with its scaled options, e.g. 'Gaussian blur (kernel 15, std 0.75)'."""
    label = TASK_LABELS.get(task, task.replace("_", " "))
    details = [f"kernel {options['kernel_size']}"] if "kernel_size" in options else []
    details += [f"std {options['std']:g}"] if "std" in options else []
    return f"{label} ({', '.join(details)})" if details else label


def axis_label(text: str, width: int = 22) -> str:
    """A figure row's label in lines of at most ``width`` characters (a row is 1.8 inches tall)."""
    import textwrap

    return textwrap.fill(text, width, break_long_words=False)


#: The demo's photographs: two of the shipped held-out benchmark (its id for each short name).
DEMO_IMAGES = {"chelsea": "skimage-chelsea", "coffee": "skimage-coffee"}


def held_out_images(size: int = 64) -> tuple[list[str], Tensor]:
    """The demo's two photographs of the held-out benchmark (``DEMO_IMAGES``: scikit-image's cat
    and coffee cup, never used for training) at ``size`` x ``size``: (names, (2, 3, size, size) in
    [-1, 1]). ``splitdiff.photos.heldout_images`` gives all 24."""
    from .photos import heldout_images

    ids, x = heldout_images(size)
    return list(DEMO_IMAGES), x[[ids.index(i) for i in DEMO_IMAGES.values()]]


def run_demo(out: str | Path, steps: int = 100, seed: int = 0, size: int = 64, prior=None,
             algorithm: str = "ddiff", progress: bool = True, samples: int = 3) -> dict:
    """Solve every demo task for the held-out images; write ``grid.png``, ``posterior.png``,
    ``metrics.md`` and ``metrics.csv``.

    For ``POSTERIOR_TASKS`` the solver draws ``samples`` samples per image in one batch
    (``solver.sample``): the grid shows the first, the posterior figure the first, the mean and
    the per-pixel std, and the table scores both the sample and the mean (with the fraction of
    pixels whose truth is within mean +- 2 std)."""
    from tqdm.auto import tqdm

    from .evaluation.posterior import calibration, summarize
    from .priors import default_prior

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prior = prior or default_prior()
    names, x = held_out_images(size)
    rows, panels, posterior = [], [], []
    start = time.perf_counter()
    for task, options in tqdm(demo_tasks(size).items(), desc="demo", disable=not progress):
        op = operators.build(task, **options)
        y = op.measure(x, generator=torch.Generator().manual_seed(seed))
        solver = algorithms.build(algorithm, prior=prior, operator=op, steps=steps)
        generator = torch.Generator().manual_seed(seed + 1)
        estimates = {}
        if task in POSTERIOR_TASKS and samples > 1:
            draws = solver.sample(y, samples, generator=generator)
            summary = summarize(draws)
            estimates = {"one sample": draws[0], f"mean of {samples}": summary.mean}
            coverage = calibration(summary, x)
            posterior.append((describe(task, options), draws[0], summary.mean, summary.std, x))
        else:
            estimates = {"one sample": solver.solve(y, generator=generator)}
            coverage = None
        for estimate, x_hat in estimates.items():
            s = score(y, op, x_hat, x)
            for i, name in enumerate(names):
                rows.append({"task": task, "estimate": estimate, "image": name, **{k: float(v[i]) for k, v in s.items()},
                             "coverage_2std": float(coverage[i]) if coverage is not None and estimate != "one sample"
                             else None})
        panels.append((describe(task, options), measurement_preview(y, size, magnitude=task == "phase_retrieval"),
                       estimates["one sample"], x))
    seconds = time.perf_counter() - start
    _write_grid(panels, names, out / "grid.png")
    if posterior:
        _write_posterior(posterior, names, samples, out / "posterior.png")
    _write_tables(rows, out, algorithm, steps, seconds, size)
    return {"rows": rows, "seconds": seconds}


def demo_outputs(out: str | Path, samples: int = 3) -> list[Path]:
    """The files ``run_demo`` writes in ``out`` (``posterior.png`` only with ``samples`` > 1)."""
    names = ("grid.png", "posterior.png", "metrics.md", "metrics.csv") if samples > 1 else \
        ("grid.png", "metrics.md", "metrics.csv")
    return [Path(out) / name for name in names]


def _write_tables(rows: list[dict], out: Path, algorithm: str, steps: int, seconds: float, size: int) -> None:
    keys = ["task", "estimate", "image", "psnr", "ssim", "lpips", "residual", "coverage_2std"]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "metrics.csv", table.getvalue())
    tasks = demo_tasks(size)
    lines = [f"# splitdiff demo: {algorithm}, {steps} steps, {size}x{size}, {seconds:.1f} s", "",
             "Tasks (sigma_y = 0.05 on the [-1, 1] scale): "
             + "; ".join(f"{t}: {describe(t, o)}" for t, o in tasks.items()) + ".", "",
             "| task | estimate | image | PSNR | SSIM | LPIPS | residual | truth within mean +- 2 std |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['estimate']} | {r['image']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['lpips']:.3f} | "
              f"{r['residual']:.4f} | {_percent(r['coverage_2std'])} |" for r in rows]
    write_text(out / "metrics.md", "\n".join(lines) + "\n")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.0f}%"


def _write_grid(panels, names, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_img = len(names)
    fig, axes = plt.subplots(len(panels), 3 * n_img, figsize=(1.6 * 3 * n_img, 1.7 * len(panels)), squeeze=False)
    for r, (task, y, x_hat, x) in enumerate(panels):
        for i in range(n_img):
            for c, (label, img) in enumerate((("measurement", y), ("reconstruction", x_hat), ("ground truth", x))):
                ax = axes[r, 3 * i + c]
                ax.imshow(to_uint8(img[i]))
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"{names[i]}: {label}", fontsize=7)
                if c == 0 and i == 0:
                    ax.set_ylabel(task.replace("_", " "), fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _write_posterior(panels, names, samples: int, path: Path) -> None:
    """Per task and image: one sample | the mean of ``samples`` | the per-pixel std | ground truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_img = len(names)
    fig, axes = plt.subplots(len(panels), 4 * n_img, figsize=(1.6 * 4 * n_img, 1.8 * len(panels)), squeeze=False)
    labels = ("one sample", f"mean of {samples}", "std (white: 0.5+)", "ground truth")
    for r, (task, sample, mean, std, x) in enumerate(panels):
        for i in range(n_img):
            for c, label in enumerate(labels):
                ax = axes[r, 4 * i + c]
                if c == 2:  # the uncertainty map: std per pixel, averaged over channels
                    ax.imshow(std[i].mean(0).cpu().numpy(), cmap="gray", vmin=0.0, vmax=0.5)
                else:
                    ax.imshow(to_uint8((sample, mean, None, x)[c][i]))
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(f"{names[i]}: {label}", fontsize=7)
                if c == 0 and i == 0:
                    ax.set_ylabel(axis_label(task), fontsize=6)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)

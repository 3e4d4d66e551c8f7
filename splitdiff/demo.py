"""``splitdiff demo``: DDiff with the shipped prior on the held-out images, every operator that
needs no external weights; a PNG grid (measurement | reconstruction | ground truth) and a
metrics table."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import torch
from torch import Tensor

from . import algorithms, operators
from .evaluation.images import TEST_IMAGES, load_skimage, measurement_preview, score, square_resize, to_uint8
from .files import atomic_write, write_text

#: The demo's tasks: operator name and options at 64x64 (the paper's definitions, scaled).
DEMO_TASKS = {
    "super_resolution": dict(scale=4),
    "gaussian_blur": dict(kernel_size=61, std=3.0),
    "motion_blur": dict(kernel_size=61, intensity=0.5),
    "box_inpainting": dict(),
    "random_inpainting": dict(),
    "phase_retrieval": dict(),
    "hdr": dict(),
}


def held_out_images(size: int = 64) -> tuple[list[str], Tensor]:
    """The training data's held-out test images, center-cropped and resized: (N, 3, size, size)."""
    return list(TEST_IMAGES), torch.cat([square_resize(load_skimage(n)[None], size) for n in TEST_IMAGES])


def run_demo(out: str | Path, steps: int = 100, seed: int = 0, size: int = 64, prior=None,
             algorithm: str = "ddiff", progress: bool = True) -> dict:
    """Solve every demo task for the held-out images; write ``grid.png``, ``metrics.md`` and ``metrics.csv``."""
    from tqdm.auto import tqdm

    from .priors import default_prior

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prior = prior or default_prior()
    names, x = held_out_images(size)
    rows, panels = [], []
    start = time.perf_counter()
    for task, options in tqdm(DEMO_TASKS.items(), desc="demo", disable=not progress):
        op = operators.build(task, **options)
        y = op.measure(x, generator=torch.Generator().manual_seed(seed))
        solver = algorithms.build(algorithm, prior=prior, operator=op, steps=steps)
        x_hat = solver.solve(y, generator=torch.Generator().manual_seed(seed + 1))
        s = score(y, op, x_hat, x)
        for i, name in enumerate(names):
            rows.append({"task": task, "image": name, **{k: float(v[i]) for k, v in s.items()}})
        panels.append((task, measurement_preview(y, size, magnitude=task == "phase_retrieval"), x_hat, x))
    seconds = time.perf_counter() - start
    _write_grid(panels, names, out / "grid.png")
    _write_tables(rows, out, algorithm, steps, seconds)
    return {"rows": rows, "seconds": seconds}


def demo_outputs(out: str | Path) -> list[Path]:
    """The files ``run_demo`` writes in ``out``."""
    return [Path(out) / name for name in ("grid.png", "metrics.md", "metrics.csv")]


def _write_tables(rows: list[dict], out: Path, algorithm: str, steps: int, seconds: float) -> None:
    keys = ["task", "image", "psnr", "ssim", "lpips", "residual"]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    write_text(out / "metrics.csv", table.getvalue())
    lines = [f"# splitdiff demo: {algorithm}, {steps} steps, {seconds:.1f} s", "",
             "| task | image | PSNR | SSIM | LPIPS | residual |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['task']} | {r['image']} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r['lpips']:.3f} | {r['residual']:.4f} |"
              for r in rows]
    write_text(out / "metrics.md", "\n".join(lines) + "\n")


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

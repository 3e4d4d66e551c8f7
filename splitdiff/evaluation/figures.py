"""The paper's figures from an evaluation's results (matplotlib, PNG).

- ``reconstructions.png`` (Fig. 2): per task, measurement | each method | ground truth.
- ``convergence.png`` (Fig. 1): ``||x - z||`` and ``||u||`` per iteration (configs with ``trace: true``).
- ``noise.png`` (Fig. 3): PSNR and LPIPS against the measurement noise sigma_y.
- ``speed.png`` (Fig. 5): PSNR against seconds per image, one point per method (labelled by NFE).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ..files import atomic_write
from ..priors.checkpoint import safe_load
from .config import EvalConfig, Item, sigma_text
from .images import measurement_preview, read_image


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: int) -> Path:
    """Save ``fig`` as PNG atomically (a link planted at ``path`` is replaced, not written through)."""
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
    finally:
        _plt().close(fig)


def _rgb(x: torch.Tensor) -> np.ndarray:
    """The first image of (N, 3, H, W) in [-1, 1] as (H, W, 3) in [0, 1], for ``imshow``."""
    return ((x[0] + 1) / 2).permute(1, 2, 0).numpy()


def _reconstruction(path: Path, size: int) -> np.ndarray:
    """A result PNG as (size, size, 3) in [0, 1] (ValueError if it is not one)."""
    x = read_image(path)
    if x.shape[-2:] != (size, size):
        raise ValueError(f"{path} is {x.shape[-2]}x{x.shape[-1]}, not {size}x{size}")
    return _rgb(x)


def reconstructions(config: EvalConfig, store, rows: list[dict], path: Path, images: int = 1) -> Path | None:
    """Fig. 2: rows task x image (the first ``images`` images), columns measurement, methods, truth."""
    from .ground_truth import load_ground_truth

    done = {r["key"] for r in rows}
    methods = [m.name for m in config.methods]
    names = list(dict.fromkeys(r["image"] for r in rows))[:images]
    panels = []
    for task in config.tasks:
        sigma = task.sigma_y[0]
        for image in names:
            items = [Item(0, task.name, sigma, m, image, 0) for m in methods]
            if not any(i.key in done for i in items):
                continue
            try:  # a figure shows what it can read; a missing or tampered file never stops the report
                truth = load_ground_truth(config.data, image)
                size = truth.shape[-1]
                first = next(i for i in items if i.key in done)
                y = safe_load(store.measurement_path(first))["y"]
                row = [_rgb(measurement_preview(y, size, magnitude=task.operator == "phase_retrieval"))]
                row += [_reconstruction(store.image_path(i), size) if i.key in done else np.ones((size, size, 3))
                        for i in items]
            except (ValueError, OSError, KeyError, TypeError, IndexError, RuntimeError):
                continue
            row.append(_rgb(truth))
            panels.append((f"{task.name} / {image}", row))
    if not panels:
        return None
    plt = _plt()
    cols = len(methods) + 2
    fig, axes = plt.subplots(len(panels), cols, figsize=(1.8 * cols, 1.9 * len(panels)), squeeze=False)
    for r, (label, row) in enumerate(panels):
        for c, img in enumerate(row):
            ax = axes[r][c]
            ax.imshow(np.clip(img, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title((["measurement"] + methods + ["ground truth"])[c], fontsize=8)
        axes[r][0].set_ylabel(label, fontsize=7)
    fig.tight_layout()
    return _save(fig, path, 80)


def _finish(fig, axes, tasks: list[str], xlabel: str, path: Path) -> Path:
    """Titles on the top row, ``xlabel`` on the bottom row, legends; save and close."""
    for c, task in enumerate(tasks):
        axes[0][c].set_title(task)
        axes[-1][c].set_xlabel(xlabel)
        axes[0][c].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path, 120)


def _by(rows, *keys):
    out = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return out


def convergence(rows: list[dict], path: Path) -> Path | None:
    """Fig. 1: mean over images of ``||x - z||`` and ``||u||`` per iteration, one panel per task."""
    traced = [r for r in rows if "trace" in r]
    if not traced:
        return None
    plt = _plt()
    tasks = list(dict.fromkeys(r["task"] for r in traced))
    fig, axes = plt.subplots(2, len(tasks), figsize=(4 * len(tasks), 6), squeeze=False)
    for c, task in enumerate(tasks):
        for (method,), group in _by([r for r in traced if r["task"] == task], "method").items():
            for r_, key, label in ((0, "primal", "||x - z||"), (1, "dual", "||u||")):
                curve = np.mean([g["trace"][key] for g in group], axis=0)
                axes[r_][c].semilogy(np.arange(1, len(curve) + 1), np.maximum(curve, 1e-12), label=method)
                axes[r_][c].set_ylabel(label)
    return _finish(fig, axes, tasks, "iteration", path)


def noise(rows: list[dict], path: Path) -> Path | None:
    """Fig. 3: mean PSNR and LPIPS against sigma_y per method, one column per task."""
    tasks = [t for t, in _by(rows, "task") if len({r["sigma_y"] for r in rows if r["task"] == t}) > 1]
    if not tasks:
        return None
    plt = _plt()
    fig, axes = plt.subplots(2, len(tasks), figsize=(4 * len(tasks), 6), squeeze=False)
    for c, task in enumerate(tasks):
        for (method,), group in _by([r for r in rows if r["task"] == task], "method").items():
            by_sigma = _by(group, "sigma_y")
            sigmas = sorted(s for s, in by_sigma)
            for r_, metric in ((0, "psnr"), (1, "lpips")):
                values = [np.mean([g[metric] for g in by_sigma[(s,)] if g[metric] is not None] or [np.nan])
                          for s in sigmas]
                axes[r_][c].plot(sigmas, values, "o-", label=method)
                axes[r_][c].set_ylabel(metric.upper())
    return _finish(fig, axes, tasks, "σ_y", path)


def speed(rows: list[dict], path: Path) -> Path | None:
    """Fig. 5: mean PSNR against mean seconds per image; one point per method, labelled by NFE
    (at the noise level closest to sigma_y = 0.05 when a task has several)."""
    if len({r["steps"] for r in rows}) < 2:
        return None
    plt = _plt()
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.5), squeeze=False)
    for c, task in enumerate(tasks):
        ax = axes[0][c]
        mine = [r for r in rows if r["task"] == task]
        sigma = min({r["sigma_y"] for r in mine}, key=lambda s: abs(s - 0.05))
        for (algorithm,), group in _by([r for r in mine if r["sigma_y"] == sigma], "algorithm").items():
            points = sorted(
                (np.mean([g["seconds"] for g in members]), np.mean([g["psnr"] for g in members]),
                 members[0].get("nfe", members[0]["iterations"]))
                for _, members in _by(group, "method").items()
            )
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=algorithm)
            for s, v, nfe in points:
                ax.annotate(str(nfe), (s, v), fontsize=7, textcoords="offset points", xytext=(3, 3))
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image")
        ax.set_ylabel("PSNR")
        ax.set_title(f"{task}, σ_y = {sigma_text(sigma)}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path, 120)

"""Summaries of posterior samples: the mean (an MMSE estimate), the per-pixel standard deviation
(an uncertainty map) and its calibration.

``samples``: (k, N, C, H, W) as ``solver.sample(y, k)`` returns them, k >= 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PosteriorSummary:
    """``mean`` and ``std`` (N, C, H, W) over ``k`` samples; ``std`` uses Bessel's correction."""

    mean: Tensor
    std: Tensor
    k: int


def summarize(samples: Tensor) -> PosteriorSummary:
    """The mean and the per-pixel standard deviation of ``samples`` (k, N, ...) over k."""
    if not isinstance(samples, Tensor) or samples.dim() < 2 or not samples.is_floating_point():
        raise ValueError(f"samples must be a floating-point tensor (k, N, ...), got "
                         f"{type(samples).__name__ if not isinstance(samples, Tensor) else tuple(samples.shape)}")
    k = samples.shape[0]
    if k < 2:
        raise ValueError(f"a standard deviation needs k >= 2 samples, got k = {k}")
    return PosteriorSummary(samples.mean(0), samples.std(0, correction=1), k)


def calibration(summary: PosteriorSummary, x: Tensor, z: float = 2.0) -> Tensor:
    """Per image (N,): the fraction of pixels whose truth ``x`` lies within ``mean +- z std``.

    For exact Gaussian posterior samples and a truth drawn from the same posterior this tends to
    ``erf(z / sqrt(2))`` (0.954 at z = 2) as k grows; lower means over-confident samples.
    """
    if not isinstance(x, Tensor) or tuple(x.shape) != tuple(summary.mean.shape):
        raise ValueError(f"x must be a tensor of the samples' image shape {tuple(summary.mean.shape)}, got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    if not z > 0:
        raise ValueError(f"z must be > 0, got {z!r}")
    inside = (x - summary.mean).abs() <= z * summary.std
    return inside.flatten(1).to(torch.float64).mean(1)

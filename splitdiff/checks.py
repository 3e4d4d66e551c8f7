"""Input validation shared by the public API: errors say what was wrong and what is expected."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class DivergenceError(RuntimeError):
    """An iterate became NaN or Inf; the message names the iteration and timestep."""


def check_image(x: object, name: str = "x", channels: int | None = None) -> Tensor:
    """Check that ``x`` is a finite NCHW float tensor (optionally with ``channels`` channels)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W) (4 dimensions), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    check_finite(x, name)
    return x


def check_finite(x: Tensor, name: str) -> Tensor:
    """Raise ValueError when ``x`` holds NaN or Inf."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or Inf values; expected finite numbers")
    return x


def check_positive(value: float, name: str) -> float:
    """Check that ``value`` is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_positive_int(value: int, name: str) -> int:
    """Check that ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value

"""Input validation shared by the public API: errors say what was wrong and what is expected."""

from __future__ import annotations

import math
import numbers

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


#: Dtypes the operators compute in. Half precision is refused: CPU FFTs and reflection padding
#: do not support it, and conjugate-gradient tolerances and sums overflow in float16.
OPERATOR_DTYPES = (torch.float32, torch.float64)


def check_tensor_nchw(x: object, name: str = "x", channels: int | None = None) -> Tensor:
    """Structural check of an image batch, without reading its values (no device sync).

    ``x`` must be a torch.Tensor of shape (N, C, H, W) with every dimension >= 1 and dtype
    float32 or float64 (optionally with ``channels`` channels). Raises ValueError.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.dim() != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W) (4 dimensions), got shape {tuple(x.shape)}")
    if min(x.shape) < 1:
        raise ValueError(f"{name} must have non-empty dimensions (N, C, H, W all >= 1), got shape {tuple(x.shape)}")
    if x.dtype not in OPERATOR_DTYPES:
        hint = "; half precision is not supported, cast with .float()" if x.is_floating_point() else ""
        raise ValueError(f"{name} must be a floating-point tensor (float32 or float64), got {x.dtype}{hint}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels, got {x.shape[1]} (shape {tuple(x.shape)})")
    return x


def check_shape_nchw(shape: object, name: str = "shape") -> tuple[int, int, int, int]:
    """Check that ``shape`` is a sequence of 4 integers >= 1, (N, C, H, W); returns it as a tuple."""
    return _check_dims(shape, name, "(N, C, H, W)")  # type: ignore[return-value]


def check_shape_chw(shape: object, name: str = "image_shape") -> tuple[int, int, int]:
    """Check that ``shape`` is a sequence of 3 integers >= 1, (C, H, W); returns it as a tuple."""
    return _check_dims(shape, name, "(C, H, W)")  # type: ignore[return-value]


def _check_dims(shape: object, name: str, layout: str) -> tuple[int, ...]:
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        dims = None
    count = layout.count(",") + 1
    if dims is None or len(dims) != count or not all(is_integer(d) and d >= 1 for d in dims):
        raise ValueError(f"{name} must be {count} integers >= 1, {layout}, got {shape!r}")
    return tuple(int(d) for d in dims)


def check_int_range(value: object, name: str, low: int, high: int) -> int:
    """Check that ``value`` is an integer in [low, high] (numpy integers too); returns an int."""
    if not is_integer(value) or not low <= value <= high:  # type: ignore[operator]
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)  # type: ignore[arg-type]


def check_number_range(value: object, name: str, low: float, high: float, low_open: bool = True) -> float:
    """Check that ``value`` is a finite real number in (low, high] (``low_open``) or [low, high]."""
    inside = is_real_number(value) and math.isfinite(value) and (low < value if low_open else low <= value) and value <= high
    if not inside:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be a finite number in {bracket}{low:g}, {high:g}], got {value!r}")
    return float(value)  # type: ignore[arg-type]


def is_integer(value: object) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real_number(value: object) -> bool:
    """A real number (Python or numpy, possibly NaN / Inf), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)

"""Super-resolution: MATLAB-compatible bicubic ``imresize`` with antialiasing.

The weights follow Shocher's ``Resizer`` used by DPS / DAPS / DDiff: Keys cubic kernel
(a = -0.5) stretched by ``1/scale`` when downscaling, weights normalised to sum 1, mirror
(symmetric) boundary. We build the equivalent dense matrix per axis.
"""

from __future__ import annotations

import math

import numpy as np
from torch import Tensor

from ..validation import check_positive_int, check_shape_nchw
from .separable import SeparableOperator


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``imresize`` 'bicubic')."""
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (
        -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    ) * ((ax > 1) & (ax <= 2))


def imresize_matrix(in_length: int, out_length: int, scale: float, antialias: bool = True) -> np.ndarray:
    """Dense (out_length, in_length) matrix of MATLAB bicubic resizing along one axis."""
    kernel_width = 4.0
    if antialias and scale < 1:
        kernel = lambda d: scale * cubic(scale * d)  # noqa: E731
        kernel_width /= scale
    else:
        kernel = cubic
    out = np.arange(1, out_length + 1, dtype=np.float64)
    # keep the image centre fixed when out_length != in_length * scale
    out = out - (out_length - in_length * scale) / 2
    match = out / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(match - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    fov = (left[:, None] + np.arange(taps) - 1).astype(np.int64)
    weights = kernel(match[:, None] - fov - 1)
    total = weights.sum(axis=1, keepdims=True)
    total[total == 0] = 1.0
    weights = weights / total
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    cols = mirror[np.mod(fov, 2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), cols.ravel()), weights.ravel())
    return matrix


class SuperResolution(SeparableOperator):
    """Bicubic downsampling by an integer ``scale`` (paper: x4, 256 -> 64), noise std ``sigma``.

    Input (N, C, H, W) in [-1, 1] with H, W divisible by ``scale``; output (N, C, H/scale, W/scale).
    """

    task = "super_resolution"

    def __init__(self, scale: int = 4, sigma: float = 0.05, antialias: bool = True) -> None:
        super().__init__(sigma)
        self.scale = check_positive_int(scale, "scale")
        self.antialias = bool(antialias)

    def check_shape(self, x: Tensor) -> Tensor:
        super().check_shape(x)
        h, w = x.shape[-2:]
        if h % self.scale or w % self.scale:
            raise ValueError(f"super-resolution x{self.scale} needs image sides divisible by {self.scale}, got {h}x{w}")
        return x

    def out_length(self, length: int) -> int:
        if length % self.scale:
            raise ValueError(f"super-resolution x{self.scale} needs image sides divisible by {self.scale}, got {length}")
        return length // self.scale

    def axis_matrix(self, length: int) -> np.ndarray:
        out = self.out_length(length)
        return imresize_matrix(length, out, 1.0 / self.scale, self.antialias)

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, h, w = check_shape_nchw(output_shape, "output_shape")
        return (n, c, h * self.scale, w * self.scale)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, sigma={self.sigma}"

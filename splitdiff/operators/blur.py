"""Blur operators: reflection padding then per-channel correlation with a kernel.

This is DPS's ``Blurkernel`` (``ReflectionPad2d(k // 2)`` + grouped ``Conv2d``), the
convention of DPS / DAPS / DDiff. Output has the input's shape.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .base import LinearOperator
from .kernels import MAX_KERNEL_SIZE, check_kernel_size, check_std, gaussian_kernel_1d, motion_kernel
from .separable import SeparableOperator, reflect_index


_DIRECT_MAX_TAPS = 15 * 15


class Blur(LinearOperator):
    """Blur with a user kernel (kh, kw): real, finite, odd sides of at most MAX_KERNEL_SIZE;
    input (N, C, H, W) with H > kh // 2 and W > kw // 2."""

    task = None

    def __init__(self, kernel: np.ndarray | Tensor, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        self.register_buffer("kernel", _check_kernel(kernel))

    def check_shape(self, x: Tensor) -> Tensor:
        super().check_shape(x)
        ph, pw = self.kernel.shape[0] // 2, self.kernel.shape[1] // 2
        if x.shape[-2] <= ph or x.shape[-1] <= pw:
            raise ValueError(
                f"a {tuple(self.kernel.shape)} kernel with reflection padding needs images larger than "
                f"{ph}x{pw} pixels, got {x.shape[-2]}x{x.shape[-1]}"
            )
        return x

    def forward(self, x: Tensor) -> Tensor:
        kh, kw = self.kernel.shape
        padded = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="reflect")
        kernel = self.kernel.to(x.dtype)
        if kh * kw <= _DIRECT_MAX_TAPS:
            c = x.shape[1]
            return F.conv2d(padded, kernel.expand(c, 1, kh, kw), groups=c)
        # Large kernels: the same valid correlation through the FFT (no wrap-around reaches
        # the first H x W outputs of the circular correlation of the padded image).
        size = padded.shape[-2:]
        spectrum = torch.fft.rfft2(padded) * torch.conj(torch.fft.rfft2(kernel, s=size))
        return torch.fft.irfft2(spectrum, s=size)[..., : x.shape[-2], : x.shape[-1]]


def _check_kernel(kernel: object) -> Tensor:
    """A user kernel as a float64 tensor (kh, kw); ValueError unless it is a real, finite 2-D
    array with odd sides of at most MAX_KERNEL_SIZE."""
    try:
        k = kernel if isinstance(kernel, Tensor) else torch.as_tensor(np.asarray(kernel))
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"kernel must be a 2-D array of real numbers, got {type(kernel).__name__}") from None
    if k.is_complex() or k.dtype == torch.bool:
        raise ValueError(f"kernel must be real (a float or integer array), got dtype {k.dtype}")
    if k.dim() != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ValueError(f"kernel must be a 2-D array with odd sides, got shape {tuple(k.shape)}")
    if max(k.shape) > MAX_KERNEL_SIZE:
        raise ValueError(f"kernel sides must be at most {MAX_KERNEL_SIZE} (MAX_KERNEL_SIZE), got shape {tuple(k.shape)}")
    k = k.detach().to(torch.float64)
    if not bool(torch.isfinite(k).all()):
        raise ValueError("kernel contains NaN or Inf values")
    return k


class MotionBlur(Blur):
    """Motion blur (paper: 61x61, intensity 0.5, the kernel of ``np.random.seed(0)``).

    Pass ``kernel`` to use your own; otherwise one is generated from ``seed``.
    """

    task = "motion_blur"

    def __init__(
        self,
        kernel_size: int = 61,
        intensity: float = 0.5,
        seed: int = 0,
        kernel: np.ndarray | Tensor | None = None,
        sigma: float = 0.05,
    ) -> None:
        if kernel is None:
            kernel = motion_kernel(kernel_size, intensity, seed)
        super().__init__(kernel, sigma)


class GaussianBlur(SeparableOperator):
    """Gaussian blur (paper: 61x61, std 3.0) with reflection padding, as separable matrices.

    Numerically the same as ``Blur(gaussian_kernel(size, std))`` (the 2-D kernel is the outer
    product of the 1-D one), with an explicit adjoint and an exact proximal solve.
    """

    task = "gaussian_blur"

    def __init__(self, kernel_size: int = 61, std: float = 3.0, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        self.kernel_size = check_kernel_size(kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        self.std = check_std(std, self.kernel_size)
        self.taps = gaussian_kernel_1d(kernel_size, std)

    def check_shape(self, x: Tensor) -> Tensor:
        super().check_shape(x)
        for side in x.shape[-2:]:
            self.out_length(side)
        return x

    def out_length(self, length: int) -> int:
        reflect_index(length, self.kernel_size // 2)  # raises where the reflection padding does not fit
        return length

    def axis_matrix(self, length: int) -> np.ndarray:
        pad = self.kernel_size // 2
        src = reflect_index(length, pad)
        matrix = np.zeros((length, length))
        rows = np.repeat(np.arange(length), self.kernel_size)
        cols = src[np.arange(length)[:, None] + np.arange(self.kernel_size)].ravel()
        np.add.at(matrix, (rows, cols), np.tile(self.taps, length))
        return matrix

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, std={self.std}, sigma={self.sigma}"

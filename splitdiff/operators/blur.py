"""Blur operators: reflection padding then per-channel correlation with a kernel.

This is DPS's ``Blurkernel`` (``ReflectionPad2d(k // 2)`` + grouped ``Conv2d``), the
convention of DPS / DAPS / DDiff. Output has the input's shape.

Reflection padding makes the operator neither circulant (no FFT diagonalises it) nor, for a kernel
that is not mirror-symmetric, DCT-diagonal; an FFT solve would be exact for circular boundaries
only, a different operator. So the proximal step is solved for the operator itself: directly on
small images (``normal.py``), by conjugate gradients on larger ones.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .base import ConvergenceWarning, LinearOperator, _as_rho, conjugate_gradient
from .kernels import MAX_KERNEL_SIZE, check_kernel_size, check_std, gaussian_kernel_1d, motion_kernel
from .normal import NormalEigh, normal_eigh, solve_shifted
from .separable import SeparableOperator, reflect_index


_DIRECT_MAX_TAPS = 15 * 15
#: Image sizes (per operator) whose normal-matrix eigendecomposition ``Blur`` keeps.
_NORMAL_CACHE_SIZE = 4


class Blur(LinearOperator):
    """Blur with a user kernel (kh, kw): real, finite, odd sides of at most MAX_KERNEL_SIZE;
    input (N, C, H, W) with H > kh // 2 and W > kw // 2.

    ``proximal`` solves for this operator, reflection padding included. On images of at most
    ``direct_max_pixels`` pixels (H W), where a few conjugate-gradient iterations do not
    converge (small rho), it is direct and exact at any rho: the per-channel normal matrix is
    eigendecomposed once per image size (kept for the last few sizes; on two CPU cores
    about 1 s at 32x32 and 15 s at 64x64, with 134 MB kept) and each solve is then two dense
    products (3 ms at 32x32, 40 ms at 64x64). Larger images, or rho that varies over pixels, use
    conjugate gradients (``cg_rtol``, ``cg_max_iter``; a ``ConvergenceWarning`` where they stop short).
    """

    task = None
    #: Largest H * W solved directly; (H W)^2 float64 values are kept per image size.
    direct_max_pixels: int = 4096
    #: Conjugate-gradient iterations tried before the first direct solve of an image size.
    cg_direct_after: int = 100

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

    def adjoint(self, y: Tensor) -> Tensor:
        """``A^T y``: the transposed correlation (a full convolution, H + kh - 1 by W + kw - 1),
        then each padded pixel added back onto the pixel it reflects."""
        n, c, h, w = self.check_measurement_shape(y)
        kh, kw = self.kernel.shape
        kernel = self.kernel.to(y.dtype)
        if kh * kw <= _DIRECT_MAX_TAPS:
            full = F.conv_transpose2d(y, kernel.expand(c, 1, kh, kw), groups=c)
        else:
            size = (h + kh - 1, w + kw - 1)  # the linear convolution's length: nothing wraps around
            full = torch.fft.irfft2(torch.fft.rfft2(y, s=size) * torch.fft.rfft2(kernel, s=size), s=size)
        return _fold_reflection(full, kh // 2, kw // 2)

    def proximal(self, v: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
        """``argmin_x 1/2 ||A x - y||^2 + rho/2 ||x - v||^2``, always to ``cg_rtol`` or better.

        On images of at most ``direct_max_pixels`` pixels with rho constant over pixels:
        directly once this size's eigendecomposition is cached; before that, by at most
        ``cg_direct_after`` conjugate-gradient iterations (cheap where rho is large and the
        system well conditioned), and directly where those do not converge. Otherwise by
        conjugate gradients (``LinearOperator.proximal``).
        """
        y = self.check_pair(v, y, "v")
        rho = _as_rho(rho, v)
        h, w = v.shape[-2:]
        if h * w > self.direct_max_pixels or (rho.dim() >= 2 and rho.shape[-2:] != (1, 1)):
            return super().proximal(v, y, rho)
        if not self._has_normal_eigh(h, w, v.device):
            with warnings.catch_warnings():
                warnings.simplefilter("error", ConvergenceWarning)  # not converged: solve directly below
                try:
                    return conjugate_gradient(lambda x: self.adjoint(self(x)) + rho * x, self.adjoint(y) + rho * v,
                                              x0=v, rtol=self.cg_rtol, max_iter=self.cg_direct_after)
                except ConvergenceWarning:
                    pass
        rho = rho.to(torch.float64)
        rhs = self.adjoint(y.to(torch.float64)) + rho * v.to(torch.float64)
        return solve_shifted(self._normal_eigh(h, w, v.device), rhs, rho).to(v.dtype)

    def _normal_key(self, h: int, w: int, device: torch.device) -> tuple:
        return (h, w, str(device), self.kernel._version)  # _version: in-place edits of the kernel

    def _has_normal_eigh(self, h: int, w: int, device: torch.device) -> bool:
        return self._normal_key(h, w, device) in self.__dict__.get("_normal_cache", {})

    def _normal_eigh(self, h: int, w: int, device: torch.device) -> NormalEigh:
        """The eigendecomposition of ``A^T A`` for one (h, w) channel, cached per size and kernel."""
        cache = self.__dict__.setdefault("_normal_cache", {})
        key = self._normal_key(h, w, device)
        if key not in cache:
            if len(cache) >= _NORMAL_CACHE_SIZE:
                del cache[next(iter(cache))]
            cache[key] = normal_eigh(lambda x: self.adjoint(self(x)), h, w, device)
        return cache[key]


def _fold_reflection(padded: Tensor, ph: int, pw: int) -> Tensor:
    """The adjoint of ``F.pad(x, (pw, pw, ph, ph), mode="reflect")``: ``padded`` (N, C, H + 2 ph,
    W + 2 pw) summed onto the (N, C, H, W) pixels its entries copy."""
    h, w = padded.shape[-2] - 2 * ph, padded.shape[-1] - 2 * pw
    rows = torch.as_tensor(reflect_index(h, ph), device=padded.device)
    cols = torch.as_tensor(reflect_index(w, pw), device=padded.device)
    folded = padded.new_zeros(*padded.shape[:2], h, padded.shape[-1]).index_add_(2, rows, padded)
    return padded.new_zeros(*padded.shape[:2], h, w).index_add_(3, cols, folded)


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

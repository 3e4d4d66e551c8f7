"""The forward-model interface: ``y = A(x) + noise``.

Images are NCHW tensors in [-1, 1]. An operator is a ``torch.nn.Module`` whose ``forward``
computes the noiseless ``A(x)``; ``measure`` adds its noise model (Gaussian, std ``sigma``
on the [-1, 1] scale). Linear operators add ``adjoint`` and an exact ``proximal`` solve.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..checks import check_image, check_positive


class Operator(nn.Module):
    """A differentiable forward model with additive Gaussian noise of std ``sigma``.

    Subclasses implement ``forward(x)`` (noiseless, differentiable) and, when the output
    shape differs from the input shape, ``output_shape`` / ``input_shape``.
    """

    linear: ClassVar[bool] = False
    #: Paper task this operator stands for (used to look up per-task defaults), or None.
    task: str | None = None

    def __init__(self, sigma: float = 0.05) -> None:
        super().__init__()
        self.sigma = check_positive(sigma, "sigma")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``A(x)`` for an input of ``input_shape`` (N, C, H, W)."""
        return tuple(input_shape)

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the image that produces a measurement of ``output_shape``."""
        return tuple(output_shape)

    def check_input(self, x: Tensor) -> Tensor:
        """Validate an image batch for this operator (raises ValueError)."""
        return check_image(x, "x")

    def measure(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``A(x) + sigma * n`` with ``n ~ N(0, I)`` drawn from ``generator``."""
        self.check_input(x)
        with torch.no_grad():
            clean = self(x)
            noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
            return clean + self.sigma * noise

    def check_measurement(self, y: object, image_shape: tuple[int, ...]) -> Tensor:
        """Check that ``y`` is finite and has the shape this operator gives ``image_shape``."""
        if not isinstance(y, Tensor):
            raise ValueError(f"measurement y must be a torch.Tensor, got {type(y).__name__}")
        expected = self.output_shape(tuple(image_shape))
        if tuple(y.shape) != tuple(expected):
            raise ValueError(
                f"measurement y has shape {tuple(y.shape)}, but {type(self).__name__} maps images of "
                f"shape {tuple(image_shape)} to {tuple(expected)}"
            )
        if not y.is_floating_point():
            raise ValueError(f"measurement y must be a floating-point tensor, got {y.dtype}")
        if not bool(torch.isfinite(y).all()):
            raise ValueError("measurement y contains NaN or Inf values; expected finite numbers")
        return y

    def data_gradient(self, x: Tensor, y: Tensor) -> Tensor:
        """``grad_x 1/2 ||A(x) - y||^2`` per batch element (autograd through ``A`` only)."""
        with torch.enable_grad():
            v = x.detach().requires_grad_(True)
            loss = 0.5 * (self(v) - y).pow(2).sum()
            (grad,) = torch.autograd.grad(loss, v)
        return grad

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class LinearOperator(Operator):
    """A linear forward model. ``adjoint`` defaults to autograd; ``proximal`` to conjugate gradients."""

    linear: ClassVar[bool] = True

    def adjoint(self, y: Tensor) -> Tensor:
        """``A^T y`` (autograd vector-Jacobian product; subclasses override where cheaper)."""
        shape = self.input_shape(tuple(y.shape))
        with torch.enable_grad():
            x = torch.zeros(shape, device=y.device, dtype=y.dtype, requires_grad=True)
            (out,) = torch.autograd.grad(self(x), x, grad_outputs=y)
        return out

    def data_gradient(self, x: Tensor, y: Tensor) -> Tensor:
        return self.adjoint(self(x) - y)

    def matrix(self, image_shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> Tensor:
        """``A`` as a dense (M, D) matrix for one image of ``image_shape`` (C, H, W); small sizes only."""
        d = math.prod(image_shape)
        basis = torch.eye(d, dtype=dtype).reshape(d, *image_shape)
        return self(basis).reshape(d, -1).T

    def proximal(self, v: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
        """``argmin_x 1/2 ||A x - y||^2 + rho/2 ||x - v||^2`` = ``(A^T A + rho I)^{-1} (A^T y + rho v)``.

        ``rho`` is a positive number or a tensor broadcastable to ``v`` (per batch element).
        The default solves the normal equations by conjugate gradients to relative residual 1e-6.
        """
        rho = _as_rho(rho, v)
        rhs = self.adjoint(y) + rho * v
        return conjugate_gradient(lambda x: self.adjoint(self(x)) + rho * x, rhs, x0=v)


def _as_rho(rho: float | Tensor, like: Tensor) -> Tensor:
    rho = torch.as_tensor(rho, dtype=like.dtype, device=like.device)
    if rho.dim() == 1:
        rho = rho.view(-1, *([1] * (like.dim() - 1)))
    if not bool((rho > 0).all()):
        raise ValueError(f"rho must be > 0, got {rho.flatten()[:4].tolist()}")
    return rho


def conjugate_gradient(
    apply: "callable", rhs: Tensor, x0: Tensor | None = None, rtol: float = 1e-6, max_iter: int = 500
) -> Tensor:
    """Solve ``apply(x) = rhs`` for a symmetric positive definite ``apply``, batch-wise.

    Each batch element stops contributing once its residual is below ``rtol * ||rhs||``.
    """
    dims = tuple(range(1, rhs.dim()))
    x = torch.zeros_like(rhs) if x0 is None else x0.clone()
    r = rhs - apply(x)
    p = r.clone()
    rs = (r * r).sum(dims, keepdim=True)
    target = (rtol**2) * (rhs * rhs).sum(dims, keepdim=True).clamp_min(torch.finfo(rhs.dtype).tiny)
    for _ in range(max_iter):
        if bool((rs <= target).all()):
            break
        ap = apply(p)
        active = (rs > target).to(rhs.dtype)
        alpha = active * rs / (p * ap).sum(dims, keepdim=True).clamp_min(torch.finfo(rhs.dtype).tiny)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = (r * r).sum(dims, keepdim=True)
        p = r + (rs_new / rs.clamp_min(torch.finfo(rhs.dtype).tiny)) * p
        rs = rs_new
    return x

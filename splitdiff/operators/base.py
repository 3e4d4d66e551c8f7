"""The forward-model interface: ``y = A(x) + noise``.

Images are NCHW tensors in [-1, 1]. An operator is a ``torch.nn.Module`` whose ``forward``
computes the noiseless ``A(x)``; ``measure`` adds its noise model (Gaussian, std ``sigma``
on the [-1, 1] scale). Linear operators add ``adjoint`` and an exact ``proximal`` solve.

Input checks: every public method that takes tensors either works or raises ``ValueError``.
The structural checks (type, rank, non-empty, float32 / float64, sizes the operator takes) are
cheap and run on every call (``check_shape``, from ``__call__``); the NaN / Inf check reads the
values (a GPU sync), so it runs only where user data enters: ``measure``, ``check_input``,
``check_measurement``.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Callable, ClassVar

import torch
from torch import Tensor, nn

from ..validation import (
    OPERATOR_DTYPES, check_finite, check_positive, check_positive_int, check_shape_chw, check_shape_nchw,
    check_tensor_nchw,
)

#: Largest image (C * H * W values) ``LinearOperator.matrix`` builds a dense basis for.
MAX_MATRIX_SIZE = 4096


class ConvergenceWarning(UserWarning):
    """An iterative solve stopped at its iteration cap before reaching its tolerance: its result
    is not the solution asked for. The message gives the residual reached and how to fix it."""


class Operator(nn.Module):
    """A differentiable forward model with additive Gaussian noise of std ``sigma``.

    Subclasses implement ``forward(x)`` (noiseless, differentiable) and, when the output
    shape differs from the input shape, ``output_shape`` / ``input_shape``; they extend
    ``check_shape`` with the image sizes / channels they can take. Call the operator
    (``op(x)``), not ``forward``: the call checks ``x`` first.
    """

    linear: ClassVar[bool] = False
    #: Paper task this operator stands for (used to look up per-task defaults), or None.
    task: str | None = None

    def __init__(self, sigma: float = 0.05) -> None:
        super().__init__()
        self.sigma = check_positive(sigma, "sigma")

    def __call__(self, x: Tensor, *args, **kwargs) -> Tensor:
        """``A(x)`` for images ``x`` (N, C, H, W), after the structural ``check_shape(x)``."""
        self.check_shape(x)
        return super().__call__(x, *args, **kwargs)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``A(x)`` for an input of ``input_shape`` (N, C, H, W)."""
        return check_shape_nchw(input_shape, "input_shape")

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the image that produces a measurement of ``output_shape``."""
        return check_shape_nchw(output_shape, "output_shape")

    def check_shape(self, x: Tensor) -> Tensor:
        """Structural check of images ``x``: a float32 / float64 tensor (N, C, H, W) with all
        dimensions >= 1 that this operator can take. Reads no values, so it is cheap enough for
        every call; subclasses add their size constraints. Raises ValueError."""
        return check_tensor_nchw(x, "x")

    def check_input(self, x: Tensor) -> Tensor:
        """Validate user images ``x``: ``check_shape`` and finite values (raises ValueError)."""
        self.check_shape(x)
        return check_finite(x, "x")

    def measure(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``A(x) + sigma * n`` with ``n ~ N(0, I)`` drawn from ``generator``.

        ``x``: finite images (N, C, H, W), float32 / float64, in [-1, 1]; returns ``output_shape(x.shape)``.
        """
        self.check_input(x)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        with torch.no_grad():
            clean = self(x)
            noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
            return clean + self.sigma * noise

    def check_measurement(self, y: object, image_shape: tuple[int, ...]) -> Tensor:
        """Check that ``y`` is finite, float32 / float64, and has the shape this operator gives
        images of ``image_shape`` (N, C, H, W), a shape it takes. Returns ``y``."""
        image_shape = check_shape_nchw(image_shape, "image_shape")
        if not isinstance(y, Tensor):
            raise ValueError(f"measurement y must be a torch.Tensor, got {type(y).__name__}")
        if y.dtype not in OPERATOR_DTYPES:
            raise ValueError(f"measurement y must be a floating-point tensor (float32 or float64), got {y.dtype}")
        self.check_shape(_shaped(image_shape, y.dtype))
        expected = self.output_shape(image_shape)
        if tuple(y.shape) != tuple(expected):
            raise ValueError(
                f"measurement y has shape {tuple(y.shape)}, but {type(self).__name__} maps images of "
                f"shape {tuple(image_shape)} to {tuple(expected)}"
            )
        if not bool(torch.isfinite(y).all()):
            raise ValueError("measurement y contains NaN or Inf values; expected finite numbers")
        return y

    def check_pair(self, x: Tensor, y: Tensor, name: str = "x") -> Tensor:
        """Structural check of images ``x`` and a measurement ``y`` of them (shape
        ``output_shape(x.shape)``); returns ``y`` in ``x``'s dtype. Reads no values."""
        self.check_shape(x)
        expected = tuple(self.output_shape(tuple(x.shape)))
        if not isinstance(y, Tensor):
            raise ValueError(f"y must be a torch.Tensor of shape {expected}, got {type(y).__name__}")
        if tuple(y.shape) != expected:
            raise ValueError(
                f"y has shape {tuple(y.shape)}, but {type(self).__name__} expects {expected} for {name} of "
                f"shape {tuple(x.shape)}"
            )
        if y.dtype not in OPERATOR_DTYPES:
            raise ValueError(f"y must be a floating-point tensor (float32 or float64), got {y.dtype}")
        return y.to(x.dtype)  # a no-op for matching dtypes; mixed ones would fail in matmuls

    def data_gradient(self, x: Tensor, y: Tensor) -> Tensor:
        """``grad_x 1/2 ||A(x) - y||^2`` per batch element (autograd through ``A`` only).

        ``x``: images (N, C, H, W); ``y``: measurements of shape ``output_shape(x.shape)``.
        """
        y = self.check_pair(x, y)
        with torch.enable_grad():
            v = x.detach().requires_grad_(True)
            loss = 0.5 * (self(v) - y).pow(2).sum()
            (grad,) = torch.autograd.grad(loss, v)
        return grad

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}"


class LinearOperator(Operator):
    """A linear forward model. ``adjoint`` defaults to autograd; ``proximal`` to conjugate gradients.

    The default ``proximal`` stops at relative residual ``cg_rtol`` of its normal equations and
    warns (``ConvergenceWarning``) when ``cg_max_iter`` iterations do not get there; set either
    on an instance (``op.cg_max_iter = 2000``) to change them.
    """

    linear: ClassVar[bool] = True
    #: Relative residual ``||b - (A^T A + rho I) x|| / ||b||`` at which the default ``proximal`` stops.
    cg_rtol: float = 1e-6
    #: Iteration cap of the default ``proximal`` (a ``ConvergenceWarning`` when it is reached).
    cg_max_iter: int = 500

    def adjoint(self, y: Tensor) -> Tensor:
        """``A^T y`` (autograd vector-Jacobian product; subclasses override where cheaper).

        ``y``: measurements (N, C, h, w) of images this operator takes; returns those images' shape.
        """
        shape = self.check_measurement_shape(y)
        with torch.enable_grad():
            x = torch.zeros(shape, device=y.device, dtype=y.dtype, requires_grad=True)
            (out,) = torch.autograd.grad(self(x), x, grad_outputs=y)
        return out

    def check_measurement_shape(self, y: Tensor) -> tuple[int, ...]:
        """Structural check of measurements ``y``: returns the shape (N, C, H, W) of the images
        that give them, or raises ValueError where this operator gives no measurement of that shape."""
        check_tensor_nchw(y, "y")
        shape = tuple(self.input_shape(tuple(y.shape)))
        try:
            self.check_shape(_shaped(shape, y.dtype))
            expected = tuple(self.output_shape(shape))
        except ValueError as err:
            raise ValueError(f"y of shape {tuple(y.shape)} would come from images of shape {shape}, which "
                             f"{type(self).__name__} does not take: {err}") from None
        if expected != tuple(y.shape):
            raise ValueError(f"{type(self).__name__} gives no measurement of shape {tuple(y.shape)}; "
                             f"images of shape {shape} give {expected}")
        return shape

    def data_gradient(self, x: Tensor, y: Tensor) -> Tensor:
        y = self.check_pair(x, y)
        return self.adjoint(self(x) - y)

    def matrix(self, image_shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> Tensor:
        """``A`` as a dense (M, D) matrix for one image of ``image_shape`` (C, H, W); small sizes only
        (D = C H W <= MAX_MATRIX_SIZE)."""
        image_shape = check_shape_chw(image_shape, "image_shape")
        d = math.prod(image_shape)
        if d > MAX_MATRIX_SIZE:
            raise ValueError(f"matrix() builds a dense ({d}, {d}) basis for image_shape {tuple(image_shape)}; "
                             f"C * H * W must be at most {MAX_MATRIX_SIZE}")
        if dtype not in OPERATOR_DTYPES:
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        basis = torch.eye(d, dtype=dtype).reshape(d, *image_shape)
        return self(basis).reshape(d, -1).T

    def proximal(self, v: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
        """``argmin_x 1/2 ||A x - y||^2 + rho/2 ||x - v||^2`` = ``(A^T A + rho I)^{-1} (A^T y + rho v)``.

        ``rho`` is a positive number or a tensor broadcastable to ``v`` (per batch element).
        The default solves the normal equations by conjugate gradients to relative residual
        ``cg_rtol`` within ``cg_max_iter`` iterations, and warns (``ConvergenceWarning``) where
        it stops short.
        """
        y = self.check_pair(v, y, "v")
        rho = _as_rho(rho, v)
        rhs = self.adjoint(y) + rho * v
        return conjugate_gradient(lambda x: self.adjoint(self(x)) + rho * x, rhs, x0=v,
                                  rtol=self.cg_rtol, max_iter=self.cg_max_iter)


def _as_rho(rho: float | Tensor, like: Tensor) -> Tensor:
    """``rho`` as a tensor broadcastable to ``like`` (N, C, H, W), in its dtype and device.

    ``rho``: a number > 0, or a real tensor of them: one per image (N,), or broadcastable to
    ``like``'s shape. Raises ValueError otherwise (also for values that are 0 in ``like.dtype``).
    """
    if isinstance(rho, bool) or not isinstance(rho, (numbers.Real, Tensor)):
        raise ValueError(f"rho must be a number > 0 or a real tensor of them, got {type(rho).__name__}")
    if isinstance(rho, Tensor) and (rho.is_complex() or rho.dtype == torch.bool):
        raise ValueError(f"rho must be a number > 0 or a real tensor of them, got a {rho.dtype} tensor")
    rho = torch.as_tensor(rho, dtype=like.dtype, device=like.device)
    if rho.dim() == 1:
        if rho.shape[0] not in (1, like.shape[0]):
            raise ValueError(f"rho with one value per image must have N = {like.shape[0]} values, got {rho.shape[0]}")
        rho = rho.view(-1, *([1] * (like.dim() - 1)))
    if not _broadcasts_to(rho.shape, like.shape):
        raise ValueError(f"rho must be a number, (N,) values or broadcastable to {tuple(like.shape)}, "
                         f"got shape {tuple(rho.shape)}")
    if not bool((torch.isfinite(rho) & (rho > 0)).all()):
        raise ValueError(f"rho must be finite and > 0 (as {like.dtype}), got {rho.flatten()[:4].tolist()}")
    return rho


def _broadcasts_to(shape: torch.Size, target: torch.Size) -> bool:
    try:
        return tuple(torch.broadcast_shapes(shape, target)) == tuple(target)
    except RuntimeError:
        return False


def _shaped(shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
    """A tensor of ``shape`` without storage (meta device): lets ``check_shape`` judge a shape."""
    return torch.empty(shape, dtype=dtype, device="meta")


def conjugate_gradient(
    apply: Callable[[Tensor], Tensor], rhs: Tensor, x0: Tensor | None = None, rtol: float = 1e-6,
    max_iter: int = 500,
) -> Tensor:
    """Solve ``apply(x) = rhs`` for a symmetric positive definite ``apply``, batch-wise.

    ``rhs``: (N, ...); ``x0``: the starting point (zeros by default). Each batch element stops
    once its residual ``||rhs - apply(x)||`` is at most ``rtol * ||rhs||``. After ``max_iter``
    iterations it returns what it has; where an element has not reached ``rtol`` it warns
    (``ConvergenceWarning``) with the relative residual reached. ``rtol``: a number > 0;
    ``max_iter``: an integer >= 1. Raises ValueError otherwise.
    """
    rtol = check_positive(rtol, "rtol")
    max_iter = check_positive_int(max_iter, "max_iter")
    dims = tuple(range(1, rhs.dim()))
    tiny = torch.finfo(rhs.dtype).tiny
    x = torch.zeros_like(rhs) if x0 is None else x0.clone()
    r = rhs - apply(x)
    p = r.clone()
    rs = (r * r).sum(dims, keepdim=True)
    target = (rtol**2) * (rhs * rhs).sum(dims, keepdim=True).clamp_min(tiny)
    for _ in range(max_iter):
        if bool((rs <= target).all()):
            return x
        ap = apply(p)
        active = (rs > target).to(rhs.dtype)
        alpha = active * rs / (p * ap).sum(dims, keepdim=True).clamp_min(tiny)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = (r * r).sum(dims, keepdim=True)
        p = r + (rs_new / rs.clamp_min(tiny)) * p
        rs = rs_new
    _warn_if_unconverged(apply, rhs, x, rtol, max_iter)
    return x


def _warn_if_unconverged(apply: Callable[[Tensor], Tensor], rhs: Tensor, x: Tensor, rtol: float,
                         max_iter: int) -> None:
    """``ConvergenceWarning`` where ``x`` misses ``rtol``; the residual is recomputed (one more
    ``apply``), since the updated one drifts from it in floating point."""
    dims = tuple(range(1, rhs.dim()))
    norm = (rhs * rhs).sum(dims).sqrt().clamp_min(torch.finfo(rhs.dtype).tiny)
    residual = ((rhs - apply(x)).pow(2).sum(dims).sqrt() / norm).max().item()
    if residual > rtol:
        warnings.warn(
            f"conjugate gradients stopped at its cap of max_iter={max_iter} iterations with relative "
            f"residual {residual:.2e}, above its tolerance rtol={rtol:g}: the result is not the solution. "
            f"Allow more iterations (max_iter; cg_max_iter on a LinearOperator), use a larger rho "
            f"(better conditioned), or an operator with an exact proximal",
            ConvergenceWarning, stacklevel=3,
        )

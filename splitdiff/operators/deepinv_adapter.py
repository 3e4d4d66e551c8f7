"""deepinv interop: any deepinv ``Physics`` as a splitdiff operator, and a splitdiff operator as
deepinv physics (``pip install splitdiff[deepinv]``).

Both sides use NCHW tensors; splitdiff images are in [-1, 1]. deepinv's physics are scale-free
(their A is applied to whatever tensor it gets), so ``A`` is the same on both sides; only the
noise is translated: splitdiff's ``sigma`` <-> deepinv's ``GaussianNoise(sigma)``.

Where the definitions agree (tested in tests/test_deepinv_adapter.py): splitdiff's
``super_resolution`` = deepinv ``DownsamplingMatlab`` (to float32 rounding), ``gaussian_blur``
= deepinv ``Blur(filter, padding="reflect")``, ``inpainting`` = ``Inpainting(mask)``.
Where they differ: splitdiff's blurs correlate with their kernel (as DPS / DAPS / DDiff's
``nn.Conv2d``), deepinv's ``Blur`` convolves: ``motion_blur`` / ``blur`` with kernel k equal
deepinv's ``Blur`` with k flipped in both axes (the same for symmetric kernels). deepinv's ``PhaseRetrieval(B)`` measures the intensity ``|B x|^2``; splitdiff's
``phase_retrieval`` (DPS / DDiff) measures the magnitude ``|F pad(x)|`` with an orthonormal,
centred FFT: ``splitdiff(x)^2`` is deepinv's measurement with ``B`` = that padded FFT.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..validation import check_shape_chw, check_shape_nchw, check_tensor_nchw
from .base import LinearOperator, Operator


def _deepinv():
    try:
        import deepinv
    except ImportError as err:
        raise ImportError("the deepinv adapters need deepinv: pip install 'splitdiff[deepinv]'") from err
    return deepinv


def _gaussian_sigma(physics, sigma: float | None) -> float:
    if sigma is not None:
        return float(sigma)
    noise = getattr(physics, "noise_model", None)
    value = getattr(noise, "sigma", None)
    if value is None:
        raise ValueError("this physics has no Gaussian noise model; pass sigma=... (std on the [-1, 1] scale)")
    return float(torch.as_tensor(value).flatten()[0])


def _physics_call(fn, t: Tensor, what: str) -> Tensor:
    """``fn(t)`` for a deepinv physics method ``what``: deepinv refuses shapes it cannot take
    with assorted exceptions; they become one-line ValueErrors here."""
    try:
        return fn(t)
    except (RuntimeError, IndexError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"deepinv physics {what} failed on a tensor of shape {tuple(t.shape)}: {reason}") from err


class DeepinvOperator(Operator):
    """A deepinv ``Physics`` as a (nonlinear) splitdiff operator: ``forward = physics.A``.

    ``image_shape`` (C, H, W): the image shape for ``input_shape`` (deepinv physics do not say
    which image produced a measurement). ``sigma``: the noise std (default: the physics'
    ``GaussianNoise`` sigma).
    """

    def __init__(self, physics, sigma: float | None = None, image_shape: tuple[int, int, int] | None = None,
                 task: str | None = None) -> None:
        deepinv = _deepinv()
        if not isinstance(physics, deepinv.physics.Physics):
            raise ValueError(f"expected a deepinv Physics, got {type(physics).__name__}")
        super().__init__(_gaussian_sigma(physics, sigma))
        if image_shape is not None:
            image_shape = check_shape_chw(image_shape, "image_shape")
        self.physics, self.image_shape, self.task = physics, image_shape, task
        self._output_shapes: dict = {}

    def check_shape(self, x: Tensor) -> Tensor:
        super().check_shape(x)
        if self.image_shape is not None and tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.image_shape))}) (image_shape), "
                             f"got {tuple(x.shape)}")
        return x

    def forward(self, x: Tensor) -> Tensor:
        return _physics_call(self.physics.A, x, "A")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        shape = check_shape_nchw(input_shape, "input_shape")
        if shape not in self._output_shapes:  # one evaluation per shape: data_gradient asks every call
            with torch.no_grad():
                self._output_shapes[shape] = tuple(_physics_call(self.physics.A, torch.zeros(shape), "A").shape)
        return self._output_shapes[shape]

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        output_shape = check_shape_nchw(output_shape, "output_shape")
        if self.image_shape is None:
            raise ValueError("pass image_shape=(C, H, W) to know which images give this measurement")
        return (output_shape[0], *self.image_shape)


class DeepinvLinearOperator(DeepinvOperator, LinearOperator):
    """A deepinv ``LinearPhysics`` as a splitdiff linear operator (``adjoint = physics.A_adjoint``)."""

    def adjoint(self, y: Tensor) -> Tensor:
        # structure only: a full shape check would cost two more physics calls per adjoint (CG loops)
        check_tensor_nchw(y, "y")
        return _physics_call(self.physics.A_adjoint, y, "A_adjoint")

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        output_shape = check_shape_nchw(output_shape, "output_shape")
        if self.image_shape is not None:
            return (output_shape[0], *self.image_shape)
        with torch.no_grad():
            return tuple(_physics_call(self.physics.A_adjoint, torch.zeros(output_shape), "A_adjoint").shape)


def from_deepinv(physics, sigma: float | None = None, image_shape: tuple[int, int, int] | None = None,
                 task: str | None = None) -> DeepinvOperator:
    """Wrap deepinv physics; linear physics become a ``LinearOperator``. ``task``: a paper task
    whose defaults (e.g. DDiff's gamma0) the algorithms should use, if any."""
    deepinv = _deepinv()
    cls = DeepinvLinearOperator if isinstance(physics, deepinv.physics.LinearPhysics) else DeepinvOperator
    return cls(physics, sigma, image_shape, task)


def to_deepinv(operator: Operator):
    """A splitdiff operator as deepinv physics (``LinearPhysics`` for linear operators), with
    ``GaussianNoise(operator.sigma)``; usable with deepinv's solvers and losses."""
    deepinv = _deepinv()
    if not isinstance(operator, Operator):
        raise ValueError(f"expected a splitdiff Operator, got {type(operator).__name__}")
    noise = deepinv.physics.GaussianNoise(sigma=operator.sigma)
    if isinstance(operator, LinearOperator):
        return deepinv.physics.LinearPhysics(A=operator, A_adjoint=operator.adjoint, noise_model=noise)
    return deepinv.physics.Physics(A=operator, noise_model=noise)

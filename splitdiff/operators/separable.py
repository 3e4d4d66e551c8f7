"""Linear operators that act on rows and columns separately: ``A x = M_h x M_w^T``.

Super-resolution (bicubic imresize) and Gaussian blur (separable kernel with reflection
padding) are of this form. Their adjoint is explicit, and ``(A^T A + rho I)^{-1}`` is exact
through the eigendecompositions of the small ``M^T M`` matrices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from ..validation import check_shape_nchw
from .base import LinearOperator, _as_rho


class SeparableOperator(LinearOperator):
    """``A x = M_h x M_w^T`` applied to every channel; subclasses provide the axis matrices."""

    def axis_matrix(self, length: int) -> np.ndarray:
        """The float64 matrix (out_length, length) applied along an axis of ``length`` pixels."""
        raise NotImplementedError  # abstractmethod: each separable operator defines its 1-D matrix

    def out_length(self, length: int) -> int:
        """Output length along an axis of ``length`` pixels (ValueError where the axis cannot take
        it); subclasses override this with arithmetic, to spare building the matrix."""
        return self.axis_matrix(length).shape[0]

    def _matrices(self, h: int, w: int, like: Tensor) -> tuple[Tensor, Tensor]:
        return (
            _cached_tensor(self, h, like.dtype, like.device),
            _cached_tensor(self, w, like.dtype, like.device),
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, h, w = check_shape_nchw(input_shape, "input_shape")
        return (n, c, self.out_length(h), self.out_length(w))

    def forward(self, x: Tensor) -> Tensor:
        mh, mw = self._matrices(x.shape[-2], x.shape[-1], x)
        return mh @ x @ mw.T

    def adjoint(self, y: Tensor) -> Tensor:
        n, c, h, w = self.check_measurement_shape(y)
        mh, mw = self._matrices(h, w, y)
        return mh.T @ y @ mw

    def proximal(self, v: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
        y = self.check_pair(v, y, "v")
        rho = _as_rho(rho, v)
        h, w = v.shape[-2:]
        (lh, qh), (lw, qw) = _gram_eigh(self, h), _gram_eigh(self, w)
        lh, qh, lw, qw = (t.to(device=v.device, dtype=v.dtype) for t in (lh, qh, lw, qw))
        rhs = self.adjoint(y) + rho * v
        spectrum = lh[:, None] * lw[None, :]
        return qh @ ((qh.T @ rhs @ qw) / (spectrum + rho)) @ qw.T


def _cached_tensor(op: SeparableOperator, length: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    key = (length, dtype, str(device))
    cache = op.__dict__.setdefault("_matrix_cache", {})
    if key not in cache:
        cache[key] = torch.as_tensor(op.axis_matrix(length), dtype=dtype, device=device)
    return cache[key]


def _gram_eigh(op: SeparableOperator, length: int) -> tuple[Tensor, Tensor]:
    cache = op.__dict__.setdefault("_eigh_cache", {})
    if length not in cache:
        m = op.axis_matrix(length)
        evals, evecs = np.linalg.eigh(m.T @ m)
        cache[length] = (torch.from_numpy(np.clip(evals, 0.0, None)), torch.from_numpy(evecs))
    return cache[length]


@lru_cache(maxsize=64)
def reflect_index(length: int, pad: int) -> np.ndarray:
    """Source index of each of ``length + 2 pad`` positions under torch's 'reflect' padding."""
    if pad >= length:
        raise ValueError(
            f"reflection padding of {pad} pixels needs an image side > {pad}, got {length}"
        )
    idx = np.arange(-pad, length + pad)
    idx = np.where(idx < 0, -idx, idx)
    return np.where(idx >= length, 2 * (length - 1) - idx, idx)

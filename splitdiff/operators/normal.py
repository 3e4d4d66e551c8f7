"""Exact proximal solves on small images through the eigendecomposition of ``A^T A``.

For an operator that acts on each channel alone, the per-channel normal matrix ``A^T A`` of an
(H, W) image is (H W) x (H W). Eigendecomposed once, ``A^T A = Q diag(lam) Q^T``, it gives
``(A^T A + rho I)^{-1} b = Q diag(1 / (lam + rho)) Q^T b`` for every ``rho``: two dense products,
exact to float64 rounding at any rho, where conjugate gradients slow down as ``1 / sqrt(rho)``.
Used by operators that no fast transform diagonalises (non-separable blur with reflection
padding). The eigendecomposition costs O((H W)^3) once per image size, and (H W)^2 floats.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor


class NormalEigh(NamedTuple):
    """``A^T A = vectors @ diag(values) @ vectors.T`` for one channel of an (H, W) image (float64)."""

    values: Tensor  #: (H W,) eigenvalues, clipped at 0
    vectors: Tensor  #: (H W, H W) orthonormal eigenvectors, as columns


def normal_eigh(normal: Callable[[Tensor], Tensor], height: int, width: int, device: torch.device,
                chunk: int = 256) -> NormalEigh:
    """Eigendecompose the per-channel normal matrix of images (``height``, ``width``).

    ``normal`` maps float64 images (B, 1, H, W) on ``device`` to ``A^T A`` of each; it is applied
    to the H W basis images, ``chunk`` at a time.
    """
    size = height * width
    matrix = torch.empty(size, size, dtype=torch.float64, device=device)
    for start in range(0, size, chunk):
        stop = min(start + chunk, size)
        basis = torch.zeros(stop - start, size, dtype=torch.float64, device=device)
        basis[torch.arange(stop - start), torch.arange(start, stop)] = 1.0
        matrix[start:stop] = normal(basis.view(-1, 1, height, width)).reshape(stop - start, size)
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)  # symmetric up to rounding
    return NormalEigh(values.clamp_min(0.0), vectors)


def solve_shifted(eig: NormalEigh, rhs: Tensor, rho: Tensor) -> Tensor:
    """``(A^T A + rho I)^{-1} rhs`` for each channel of ``rhs`` (N, C, H, W), float64.

    ``rho``: values > 0 broadcastable to (N, C, 1, 1), one per image or channel.
    """
    n, c, h, w = rhs.shape
    shift = torch.broadcast_to(rho, (n, c, 1, 1)).reshape(n, c, 1)
    coefficients = rhs.reshape(n, c, h * w) @ eig.vectors
    return ((coefficients / (eig.values + shift)) @ eig.vectors.T).reshape(n, c, h, w)

"""Helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import torch


def randomize(module: torch.nn.Module, seed: int = 0, scale: float = 0.3, add: bool = False) -> torch.nn.Module:
    """Give a network non-zero random weights (guided-diffusion and others zero-initialise their
    output layers, which would make every output trivially zero).

    ``add=False``: replace each parameter by ``scale * N(0, 1) / sqrt(fan)``; ``add=True``: add
    ``scale * N(0, 1)`` to the existing values.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            noise = torch.randn(p.shape, generator=g)
            if add:
                p.add_(scale * noise)
            else:
                p.copy_(scale * noise / max(1, p[0].numel()) ** 0.5)
    return module


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Outputs of two networks holding identical weights: equal up to float32 rounding (CPU
    convolution kernels may order their sums differently between calls)."""
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-6)

"""High dynamic range: ``A(x) = clip(scale * x, -1, 1)`` (paper: scale 2)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..checks import check_positive
from .base import Operator


class HighDynamicRange(Operator):
    """Saturating gain: input and output (N, C, H, W) in [-1, 1]."""

    task = "hdr"

    def __init__(self, scale: float = 2.0, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        self.scale = check_positive(scale, "scale")

    def forward(self, x: Tensor) -> Tensor:
        return torch.clamp(self.scale * x, -1.0, 1.0)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, sigma={self.sigma}"

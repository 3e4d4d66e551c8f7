"""High dynamic range: ``A(x) = clip(scale * x, -1, 1)`` (paper: scale 2)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..validation import check_number_range
from .base import Operator

#: Largest gain: beyond it A saturates almost every pixel, and the data gradient (scale times the
#: residual) loses its scale.
MAX_HDR_SCALE = 100.0


class HighDynamicRange(Operator):
    """Saturating gain ``scale`` in (0, MAX_HDR_SCALE]: input and output (N, C, H, W) in [-1, 1]."""

    task = "hdr"

    def __init__(self, scale: float = 2.0, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        self.scale = check_number_range(scale, "scale", 0.0, MAX_HDR_SCALE)

    def forward(self, x: Tensor) -> Tensor:
        return torch.clamp(self.scale * x, -1.0, 1.0)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, sigma={self.sigma}"

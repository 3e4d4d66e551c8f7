"""Fourier phase retrieval with oversampling, as DPS / DDiff define it (on [-1, 1] input)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..checks import check_positive
from .base import Operator


class PhaseRetrieval(Operator):
    """``y = |fftshift(fft2(ifftshift(pad(x)), norm="ortho"))|``.

    ``pad = int(oversampling / 8 * side)`` zeros on each side (64 at 256 with oversampling 2).
    Input (N, C, H, W); output (N, C, H + 2 pad_h, W + 2 pad_w), non-negative.
    """

    task = "phase_retrieval"

    def __init__(self, oversampling: float = 2.0, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        self.oversampling = check_positive(oversampling, "oversampling")

    def pad(self, side: int) -> int:
        return int(self.oversampling / 8.0 * side)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, h, w = input_shape
        return (n, c, h + 2 * self.pad(h), w + 2 * self.pad(w))

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, hp, wp = output_shape
        sides = []
        for padded in (hp, wp):
            side = next((s for s in range(1, padded + 1) if s + 2 * self.pad(s) == padded), None)
            if side is None:
                raise ValueError(f"no image side gives a padded side of {padded} at oversampling {self.oversampling}")
            sides.append(side)
        return (n, c, *sides)

    def forward(self, x: Tensor) -> Tensor:
        ph, pw = self.pad(x.shape[-2]), self.pad(x.shape[-1])
        padded = F.pad(x, (pw, pw, ph, ph))
        dims = (-2, -1)
        spectrum = torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(padded, dim=dims), norm="ortho"), dim=dims)
        return spectrum.abs()

    def extra_repr(self) -> str:
        return f"oversampling={self.oversampling}, sigma={self.sigma}"

"""Fourier phase retrieval with oversampling, as DPS / DDiff define it (on [-1, 1] input)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..validation import check_number_range, check_shape_nchw
from .base import Operator

#: Largest oversampling: the output side is (1 + oversampling / 4) times the input's, so its size
#: grows with the square (the paper uses 2.0: 256 -> 384).
MAX_OVERSAMPLING = 16.0


class PhaseRetrieval(Operator):
    """``y = |fftshift(fft2(ifftshift(pad(x)), norm="ortho"))|``.

    ``pad = int(oversampling / 8 * side)`` zeros on each side (64 at 256 with oversampling 2);
    ``oversampling`` in (0, MAX_OVERSAMPLING]. Input (N, C, H, W); output
    (N, C, H + 2 pad_h, W + 2 pad_w), non-negative.
    """

    task = "phase_retrieval"

    def __init__(self, oversampling: float = 2.0, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        self.oversampling = check_number_range(oversampling, "oversampling", 0.0, MAX_OVERSAMPLING)

    def pad(self, side: int) -> int:
        return int(self.oversampling / 8.0 * side)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, h, w = check_shape_nchw(input_shape, "input_shape")
        return (n, c, h + 2 * self.pad(h), w + 2 * self.pad(w))

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, c, hp, wp = check_shape_nchw(output_shape, "output_shape")
        sides = []
        for padded in (hp, wp):
            side = self._side_of(padded)
            if side is None:
                raise ValueError(f"no image side gives a padded side of {padded} at oversampling {self.oversampling}")
            sides.append(side)
        return (n, c, *sides)

    def _side_of(self, padded: int) -> int | None:
        """The image side s with s + 2 pad(s) == padded, or None. That length grows strictly
        with s, so a bisection over [1, padded] finds s (in O(log padded), for any padded)."""
        low, high = 1, padded
        while low < high:
            mid = (low + high) // 2
            if mid + 2 * self.pad(mid) < padded:
                low = mid + 1
            else:
                high = mid
        return low if low + 2 * self.pad(low) == padded else None

    def forward(self, x: Tensor) -> Tensor:
        ph, pw = self.pad(x.shape[-2]), self.pad(x.shape[-1])
        padded = F.pad(x, (pw, pw, ph, ph))
        dims = (-2, -1)
        spectrum = torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(padded, dim=dims), norm="ortho"), dim=dims)
        return spectrum.abs()

    def extra_repr(self) -> str:
        return f"oversampling={self.oversampling}, sigma={self.sigma}"

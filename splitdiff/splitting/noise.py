"""Where a solve's Gaussian draws come from: a ``torch.Generator``, or a user's ``noise`` hook.

A hook ``noise(k, t, shape) -> Tensor`` receives the iteration ``k`` (``-1`` for the draw of
the starting iterate), its timestep ``t`` (or noise-level index, see each solver) and the shape
of the draw, and returns a standard normal tensor of that shape. Draws are requested in the
order the solver makes them, so a hook that pops tensors from a recorded list replays another
code's noise stream exactly. Which draws a solver makes is documented on its ``solve``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

#: ``noise(k, t, shape) -> Tensor``: one standard normal draw of ``shape`` for iteration ``k``.
Noise = Callable[[int, int, tuple[int, ...]], Tensor]


class NoiseSource:
    """The draws of one solve: from ``noise`` when given, else ``torch.randn`` on ``generator``
    (the global generator when both are None). Giving both is an error (which one would win?)."""

    def __init__(self, generator: torch.Generator | None = None, noise: Noise | None = None) -> None:
        if noise is not None and generator is not None:
            raise ValueError("give either generator= or noise= (a noise hook replaces the generator), not both")
        if noise is not None and not callable(noise):
            raise ValueError(f"noise must be a callable noise(k, t, shape) -> Tensor, got {type(noise).__name__}")
        self.generator = generator
        self.noise = noise

    def draw(self, k: int, t: int, like: Tensor) -> Tensor:
        """A standard normal tensor shaped, typed and placed like ``like``."""
        if self.noise is None:
            return torch.randn(like.shape, generator=self.generator, device=like.device, dtype=like.dtype)
        shape = tuple(like.shape)
        out = self.noise(k, t, shape)
        if not isinstance(out, Tensor) or tuple(out.shape) != shape:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"the noise hook must return a tensor of shape {shape} (iteration {k}, t = {t}), got {got}")
        return out.to(device=like.device, dtype=like.dtype)


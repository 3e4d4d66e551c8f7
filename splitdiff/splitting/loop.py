"""Splittings: the loop over (x, z, u) shared by every solver in the family.

ADMM keeps the dual ``u``; HQS drops it (``u = 0``); linearized ADMM is ADMM whose data
step is one gradient step. The loop below is Algorithm 1 of the paper, line by line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ..checks import DivergenceError
from ..operators.base import Operator
from .data_step import DataStep, GradientStep
from .prior_step import PriorStep
from .timeline import Schedule, Timeline


@dataclass(frozen=True)
class IterationState:
    """What a callback sees after iteration ``k`` (timestep ``t``); tensors are (N, C, H, W)."""

    k: int
    t: int
    x: Tensor
    z: Tensor
    u: Tensor
    x_t: Tensor


Callback = Callable[[IterationState], None]


class Splitting:
    """A data step plus a dual rule: ``dual=True`` is ADMM, ``dual=False`` is HQS."""

    def __init__(self, data_step: DataStep, dual: bool) -> None:
        if not isinstance(data_step, DataStep):
            raise ValueError(f"data_step must be a DataStep, got {type(data_step).__name__}")
        self.data_step = data_step
        self.dual = dual

    def run(
        self,
        y: Tensor,
        operator: Operator,
        prior_step: PriorStep,
        x_init: Tensor,
        timeline: Timeline,
        generator: torch.Generator | None = None,
        callback: Callback | None = None,
    ) -> Tensor:
        """Iterate from ``x_init`` (x_T for diffusion priors) over ``timeline``; no autograd graph is kept."""
        self.data_step.start(timeline)
        prior_step.start(timeline)
        x_t, u = x_init, torch.zeros_like(x_init)
        with torch.no_grad():
            for k in range(len(timeline)):
                z = prior_step.denoise(x_t, k)                       # denoising step (Eq. 11)
                x = self.data_step(z - u, y, operator, k)            # measurement step (Eq. 10)
                x_t = prior_step.advance(x_t, x, u, k, generator)    # reverse diffusion (Eq. 12)
                if self.dual:
                    u = u + x - z                                    # dual update (Eq. 6)
                _check_finite(k, int(timeline.t[k]), x=x, z=z, u=u, x_t=x_t)
                if callback is not None:
                    callback(IterationState(k, int(timeline.t[k]), x, z, u, x_t))
        return prior_step.output(x_t, x)


def ADMM(data_step: DataStep) -> Splitting:
    """ADMM with the given data step (exact proximal step for classical PnP-ADMM)."""
    return Splitting(data_step, dual=True)


def HQS(data_step: DataStep) -> Splitting:
    """Half-quadratic splitting: no dual variable."""
    return Splitting(data_step, dual=False)


def LinearizedADMM(gamma: Schedule, normalized: bool = True) -> Splitting:
    """ADMM whose x-update is one (normalized) gradient step of size ``gamma`` (paper Eq. 10)."""
    return Splitting(GradientStep(gamma, normalized), dual=True)


def _check_finite(k: int, t: int, **tensors: Tensor) -> None:
    for name, value in tensors.items():
        if not bool(torch.isfinite(value).all()):
            raise DivergenceError(
                f"{name} became NaN or Inf at iteration {k} (timestep {t}); "
                "lower the step size (gamma) or check the operator and measurement"
            )

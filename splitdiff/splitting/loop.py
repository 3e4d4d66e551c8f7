"""Splittings: the loop over (x, z, u) shared by every solver in the family.

ADMM keeps the dual ``u``; HQS drops it (``u = 0``); linearized ADMM is ADMM whose data
step is one gradient step. The loop below is Algorithm 1 of the paper, line by line, with the
dual update placed either as Algorithm 1 does or as standard ADMM does (``Splitting.order``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ..validation import DivergenceError
from ..operators.base import Operator
from .data_step import DataStep, GradientStep
from .noise import Noise, NoiseSource
from .prior_step import PriorStep
from .timeline import Schedule, Timeline


@dataclass(frozen=True)
class IterationState:
    """Iteration ``k`` (timestep ``t``) as a callback sees it, after the iteration; (N, C, H, W).

    Inputs: ``x_t`` (the denoiser's input), ``u_in`` (the dual entering the iteration).
    Outputs: ``z`` (denoiser output, Eq. 11), ``x`` (data step output, Eq. 10), ``u`` (the dual
    leaving the iteration, Eq. 6) and ``x_next`` (the next iteration's denoiser input, Eq. 12).
    The data step pulled ``v = z - u_in`` in Algorithm 1 order and ``v = z - u`` in ADMM order
    (there the dual is updated before the data step). Solvers without a dual report zeros.
    """

    k: int
    t: int
    x_t: Tensor
    z: Tensor
    x: Tensor
    u_in: Tensor
    u: Tensor
    x_next: Tensor


#: Called after every iteration; returning ``False`` stops the solve, which then returns its
#: current result (as if that iteration had been the last). ``None`` / ``True`` go on.
Callback = Callable[[IterationState], "bool | None"]

ORDERS = ("algorithm1", "admm")


class Splitting:
    """A data step plus a dual rule: ``dual=True`` is ADMM, ``dual=False`` is HQS.

    ``order`` (only matters with a dual):

    - ``"algorithm1"``: DDiff's Algorithm 1 and the authors' code: denoise, data step on
      ``z - u``, re-noise, then ``u += x - z`` with the z that preceded x. With one gradient
      step this makes ``u`` minus the last step (it does not accumulate).
    - ``"admm"``: standard ADMM (Sec. 3.1, Eq. 3 -> Eq. 9 -> Eq. 6): x-update, ``z = D(x + u)``,
      then ``u += x - z`` with the new z, so ``u`` is the running sum of the residuals
      ``x_{k-1} - z_k``. In the loop this is: denoise, dual update with the new z and the
      previous x, data step on ``z - u``, form the next input from ``x + u``.
    """

    def __init__(self, data_step: DataStep, dual: bool, order: str = "algorithm1") -> None:
        if not isinstance(data_step, DataStep):
            raise ValueError(f"data_step must be a DataStep, got {type(data_step).__name__}")
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(map(repr, ORDERS))}, got {order!r}")
        self.data_step = data_step
        self.dual = dual
        self.order = order

    def __repr__(self) -> str:
        rule = f"ADMM, {self.order} order" if self.dual else "HQS"
        return f"Splitting({rule}, {self.data_step!r})"

    def run(
        self,
        y: Tensor,
        operator: Operator,
        prior_step: PriorStep,
        x_init: Tensor,
        timeline: Timeline,
        generator: torch.Generator | None = None,
        callback: Callback | None = None,
        noise: Noise | NoiseSource | None = None,
    ) -> Tensor:
        """Iterate from ``x_init`` (x_T for diffusion priors) over ``timeline``; no autograd graph
        is kept. Draws come from ``noise`` (a hook, or a ``NoiseSource`` that a solver shares
        with its start) or else ``generator``; a callback returning ``False`` stops early.
        Returns ``prior_step.output`` of the last iteration run."""
        self.data_step.start(timeline)
        prior_step.start(timeline)
        source = noise if isinstance(noise, NoiseSource) else NoiseSource(generator, noise)
        admm_order = self.dual and self.order == "admm"
        x_t, u = x_init, torch.zeros_like(x_init)
        x, runaway = x_init, Runaway()
        with torch.no_grad():
            for k in range(len(timeline)):
                t, u_in = int(timeline.t[k]), u
                z = prior_step.denoise(x_t, k)                         # denoising step (Eq. 11 / Eq. 9)
                if admm_order and k > 0:
                    u = u + x - z                                      # dual update, new z (Eq. 6)
                x = self.data_step(z - u, y, operator, k)              # measurement step (Eq. 10 / Eq. 3)
                x_next = prior_step.advance(x_t, x, u, k, source)      # reverse diffusion (Eq. 12)
                if self.dual and not admm_order:
                    u = u + x - z                                      # dual update (Eq. 6)
                _check_finite(k, t, x=x, z=z, u=u, x_t=x_next)
                runaway.check(k, t, x)
                state = IterationState(k, t, x_t, z, x, u_in, u, x_next)
                x_t = x_next
                if callback is not None and callback(state) is False:
                    break
        return prior_step.output(x_t, x)


def ADMM(data_step: DataStep, order: str = "algorithm1") -> Splitting:
    """ADMM with the given data step (exact proximal step for classical PnP-ADMM); ``order`` as
    in ``Splitting``."""
    return Splitting(data_step, dual=True, order=order)


def HQS(data_step: DataStep) -> Splitting:
    """Half-quadratic splitting: no dual variable."""
    return Splitting(data_step, dual=False)


def LinearizedADMM(gamma: Schedule, normalized: bool = True, order: str = "algorithm1",
                   reference_numel: int | None = None) -> Splitting:
    """ADMM whose x-update is one (normalized) gradient step of size ``gamma`` (paper Eq. 10);
    ``reference_numel``: the image size ``gamma`` is given for (see ``GradientStep``)."""
    return Splitting(GradientStep(gamma, normalized, reference_numel=reference_numel), dual=True, order=order)


class Runaway:
    """Detects a data step that blows up while staying finite: ``max |x|`` above ``bound`` (images
    are nominally in [-1, 1]) and growing by more than ``rate`` at each of the last ``window``
    iterations (an unstable step grows geometrically; a large but settling iterate does not)."""

    def __init__(self, bound: float = 1e3, window: int = 5, rate: float = 1.1) -> None:
        self.bound, self.window, self.rate = bound, window, rate
        self.history: list[float] = []

    def check(self, k: int, t: int, x: Tensor) -> None:
        self.history = (self.history + [float(x.abs().max())])[-(self.window + 1):]
        h = self.history
        growing = len(h) > self.window and all(b > self.rate * a for a, b in zip(h, h[1:]))
        if growing and h[-1] > self.bound:
            raise DivergenceError(
                f"x is running away: max |x| grew from {h[0]:.3g} to {h[-1]:.3g} between iterations {k - self.window} "
                f"and {k} (timestep {t}); lower the step size (a plain gradient step on "
                "||y - A v||^2 is stable for gamma < 1 / ||A||^2) or check the operator and measurement"
            )


def _check_finite(k: int, t: int, **tensors: Tensor) -> None:
    for name, value in tensors.items():
        if not bool(torch.isfinite(value).all()):
            raise DivergenceError(
                f"{name} became NaN or Inf at iteration {k} (timestep {t}); "
                "lower the step size (gamma) or check the operator and measurement"
            )

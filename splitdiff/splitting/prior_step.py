"""Prior steps (z-updates) and how the next denoiser input is formed.

- ``ManifoldStep`` (DDiff, DiffPIR): keep a diffusion iterate ``x_t``; ``z = Tweedie(x_t, t)``
  (Eq. 11); after the data step re-noise to ``x_{t-1}`` (Eq. 12):
  ``x_{t-1} = sqrt(a_prev) (x + u) + sqrt(1 - a_prev - sigma_t^2) eps_hat + sigma_t eps``,
  ``eps_hat = (x_t - sqrt(a_t) x) / sqrt(1 - a_t)``, ``eps ~ N(0, I)`` only while ``t > t0``.
- ``DirectStep`` (Diff-PnP, classical PnP): denoise ``x + u`` itself (Eq. 5 / Eq. 9), by a
  diffusion model's Tweedie at decreasing t or by a denoiser at a noise-level schedule.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ..validation import DivergenceError
from ..priors.base import DiffusionPrior, Prior
from .noise import NoiseSource
from .timeline import Schedule, Timeline, schedule_values

#: sigma_t of Eq. 12 as a function of the timeline, (K,).
NoiseRule = Callable[[Timeline], Tensor]


@dataclass(frozen=True)
class DDIMSigma:
    """DDIM: ``eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))`` (DDiff default, eta = 1)."""

    eta: float = 1.0

    def __call__(self, tl: Timeline) -> Tensor:
        return self.eta * torch.sqrt((1 - tl.alpha_bar_prev) / (1 - tl.alpha_bar) * (1 - tl.alpha_bar / tl.alpha_bar_prev))


@dataclass(frozen=True)
class FullRenoise:
    """``sigma_t = sqrt(1 - a_prev)``: fresh noise only (DDiff for SR, inpainting, phase retrieval)."""

    def __call__(self, tl: Timeline) -> Tensor:
        return torch.sqrt(1 - tl.alpha_bar_prev)


@dataclass(frozen=True)
class ZetaSigma:
    """DiffPIR: ``x_{t-1} = sqrt(a_prev) x + sqrt(1 - a_prev) (sqrt(1 - zeta) eps_hat + sqrt(zeta) eps)``,
    i.e. ``sigma_t = sqrt(zeta (1 - a_prev))``."""

    zeta: float

    def __post_init__(self) -> None:
        if not 0 <= self.zeta <= 1:
            raise ValueError(f"zeta must be in [0, 1], got {self.zeta!r}")

    def __call__(self, tl: Timeline) -> Tensor:
        return torch.sqrt(self.zeta * (1 - tl.alpha_bar_prev))


def ddim_sigma(eta: float = 1.0) -> DDIMSigma:
    """DDIM's sigma_t with ``eta`` (DDiff default, eta = 1)."""
    return DDIMSigma(float(eta))


#: ``sigma_t = sqrt(1 - a_prev)`` (a ``NoiseRule``).
full_renoise = FullRenoise()


def zeta_sigma(zeta: float) -> ZetaSigma:
    """DiffPIR's sigma_t for ``zeta`` in [0, 1]."""
    return ZetaSigma(float(zeta))


def _finished(z: Tensor, clip: bool, k: int, t: int) -> Tensor:
    """Check the denoiser output before clamping (a clamp would hide an Inf), then clamp."""
    if not bool(torch.isfinite(z).all()):
        raise DivergenceError(f"the denoiser returned NaN or Inf at iteration {k} (timestep {t})")
    return z.clamp(-1, 1) if clip else z


class PriorStep(ABC):
    """Base: ``denoise`` gives z from the denoiser input; ``advance`` forms the next input;
    ``timeline`` says which iteration plan the step needs."""

    def timeline(self, steps: int, spacing: str = "uniform") -> Timeline:
        """The iteration plan for ``steps``: the respaced diffusion timesteps when the step holds
        a ``DiffusionPrior`` as ``prior`` (``steps`` timesteps, ``steps - 1`` iterations), else
        ``steps`` plain iterations. Override for another plan."""
        prior = getattr(self, "prior", None)
        if isinstance(prior, DiffusionPrior):
            return Timeline.diffusion(prior.schedule, prior.schedule.timesteps(steps, spacing))
        return Timeline.iterations(steps)

    def start(self, timeline: Timeline) -> None:
        """Evaluate schedules on the solve's timeline (default: nothing to do)."""

    @abstractmethod
    def denoise(self, x_t: Tensor, k: int) -> Tensor:
        """z of iteration ``k`` from the denoiser input ``x_t``."""

    @abstractmethod
    def advance(self, x_t: Tensor, x: Tensor, u: Tensor, k: int, source: NoiseSource) -> Tensor:
        """The next denoiser input from ``x + u``; Gaussian draws come from ``source.draw(k, t, like)``."""

    def output(self, x_t: Tensor, x: Tensor) -> Tensor:
        """What the solve returns after the last iteration."""
        return x


class ManifoldStep(PriorStep):
    """Denoise on the diffusion manifold and re-noise with ``renoise`` (a ``NoiseRule``: sigma_t of Eq. 12).

    ``t0``: fresh noise only while ``t > t0``. ``clip``: clamp Tweedie to [-1, 1] (DDiff).
    Returns the final re-noised iterate, as the authors' code does. Draws: one standard normal
    tensor shaped like x per iteration whose ``t > t0`` and ``sigma_t > 0``, requested as
    ``(k, t)`` after that iteration's data step.
    """

    def __init__(self, prior: DiffusionPrior, renoise: NoiseRule = ddim_sigma(1.0), t0: int = 0, clip: bool = True) -> None:
        if not isinstance(prior, DiffusionPrior):
            raise ValueError(f"a manifold prior step needs a DiffusionPrior, got {type(prior).__name__}")
        self.prior = prior
        self.renoise = renoise
        self.t0 = t0
        self.clip = clip

    def start(self, timeline: Timeline) -> None:
        sigma_t = schedule_values(self.renoise, timeline, "sigma_t")
        if bool((1 - timeline.alpha_bar_prev - sigma_t**2 < -1e-12).any()):
            raise ValueError("sigma_t must satisfy sigma_t^2 <= 1 - alpha_bar_prev at every iteration")
        self._t = timeline.t.tolist()
        self._alpha_bar = timeline.alpha_bar.tolist()
        self._alpha_bar_prev = timeline.alpha_bar_prev.tolist()
        self._sigma_t = sigma_t.tolist()

    def __repr__(self) -> str:
        return f"ManifoldStep(renoise={self.renoise!r}, t0={self.t0}, clip={self.clip})"

    def denoise(self, x_t: Tensor, k: int) -> Tensor:
        """Algorithm 1, line 3: Tweedie's estimate at t (clamped to [-1, 1] with ``clip``)."""
        return _finished(self.prior.tweedie(x_t, self._t[k]), self.clip, k, self._t[k])

    def advance(self, x_t: Tensor, x: Tensor, u: Tensor, k: int, source: NoiseSource) -> Tensor:
        """Algorithm 1, lines 7-9: ``x_{t-1}`` from the data-consistent x and the dual u."""
        t, alpha_bar_t, alpha_bar_prev, sigma_t = self._t[k], self._alpha_bar[k], self._alpha_bar_prev[k], self._sigma_t[k]
        eps_hat = (x_t - math.sqrt(alpha_bar_t) * x) / math.sqrt(1 - alpha_bar_t)        # line 7
        eps = source.draw(k, t, x) if t > self.t0 and sigma_t > 0 else None              # line 8
        x_prev = (math.sqrt(alpha_bar_prev) * (x + u)                                     # line 9
                  + math.sqrt(max(0.0, 1 - alpha_bar_prev - sigma_t**2)) * eps_hat)
        return x_prev if eps is None else x_prev + sigma_t * eps

    def output(self, x_t: Tensor, x: Tensor) -> Tensor:
        return x_t


class DirectStep(PriorStep):
    """Denoise ``x + u`` directly (plug-and-play).

    Without ``denoiser_sigma``, ``prior`` must be a DiffusionPrior and ``z = Tweedie(x + u, t_k)``
    (Diff-PnP, Eq. 9). With ``denoiser_sigma`` (a schedule of the denoiser's noise stds),
    ``z = prior.denoise(x + u, sigma_k)`` (classical PnP, Eq. 5). Returns the data-consistent ``x``.
    """

    def __init__(self, prior: Prior, denoiser_sigma: Schedule | None = None, clip: bool = True) -> None:
        if denoiser_sigma is None and not isinstance(prior, DiffusionPrior):
            raise ValueError(f"{type(prior).__name__} is not a diffusion prior: give a denoiser_sigma schedule for it")
        self.prior = prior
        self.denoiser_sigma = denoiser_sigma
        self.clip = clip

    def __repr__(self) -> str:
        what = "Tweedie of x + u" if self.denoiser_sigma is None else f"denoiser_sigma={self.denoiser_sigma!r}"
        return f"DirectStep({what}, clip={self.clip})"

    def timeline(self, steps: int, spacing: str = "uniform") -> Timeline:
        """Diffusion timesteps for Tweedie (no ``denoiser_sigma``), plain iterations for a denoiser schedule."""
        return Timeline.iterations(steps) if self.denoiser_sigma is not None else super().timeline(steps, spacing)

    def start(self, timeline: Timeline) -> None:
        self._t = timeline.t.tolist()
        if self.denoiser_sigma is not None:
            self._sigma = schedule_values(self.denoiser_sigma, timeline, "denoiser_sigma").tolist()
            if min(self._sigma) <= 0:
                raise ValueError("the denoiser's sigma must be > 0 at every iteration")

    def denoise(self, x_t: Tensor, k: int) -> Tensor:
        if self.denoiser_sigma is None:
            z = self.prior.tweedie(x_t, self._t[k])
        else:
            z = self.prior.denoise(x_t, self._sigma[k])
        return _finished(z, self.clip, k, self._t[k])

    def advance(self, x_t: Tensor, x: Tensor, u: Tensor, k: int, source: NoiseSource) -> Tensor:
        return x + u

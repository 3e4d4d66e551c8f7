"""Prior steps (z-updates) and how the next denoiser input is formed.

- ``ManifoldStep`` (DDiff, DiffPIR): keep a diffusion iterate ``x_t``; ``z = Tweedie(x_t, t)``
  (Eq. 11); after the data step re-noise to ``x_{t-1}`` (Eq. 12):
  ``x_{t-1} = sqrt(a_prev) (x + u) + sqrt(1 - a_prev - sigma_t^2) eps_hat + sigma_t eps``,
  ``eps_hat = (x_t - sqrt(a_t) x) / sqrt(1 - a_t)``, ``eps ~ N(0, I)`` only while ``t > t0``.
- ``DirectStep`` (Diff-PnP, classical PnP): denoise ``x + u`` itself (Eq. 5 / Eq. 9), by a
  diffusion model's Tweedie at decreasing t or by a denoiser at a noise-level schedule.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..checks import DivergenceError
from ..priors.base import DiffusionPrior, Prior
from .noise import NoiseSource
from .timeline import Schedule, Timeline, evaluate

#: sigma_t of Eq. 12 as a function of the timeline, (K,).
NoiseRule = Callable[[Timeline], Tensor]


def ddim_sigma(eta: float = 1.0) -> NoiseRule:
    """DDIM: ``eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))`` (DDiff default, eta = 1)."""
    return lambda tl: eta * torch.sqrt((1 - tl.alpha_bar_prev) / (1 - tl.alpha_bar) * (1 - tl.alpha_bar / tl.alpha_bar_prev))


def full_renoise(tl: Timeline) -> Tensor:
    """``sigma_t = sqrt(1 - a_prev)``: fresh noise only (DDiff for SR, inpainting, phase retrieval)."""
    return torch.sqrt(1 - tl.alpha_bar_prev)


def zeta_sigma(zeta: float) -> NoiseRule:
    """DiffPIR: ``x_{t-1} = sqrt(a_prev) x + sqrt(1 - a_prev) (sqrt(1 - zeta) eps_hat + sqrt(zeta) eps)``,
    i.e. ``sigma_t = sqrt(zeta (1 - a_prev))``."""
    if not 0 <= zeta <= 1:
        raise ValueError(f"zeta must be in [0, 1], got {zeta!r}")
    return lambda tl: torch.sqrt(zeta * (1 - tl.alpha_bar_prev))


def _finished(z: Tensor, clip: bool, k: int, t: int) -> Tensor:
    """Check the denoiser output before clamping (a clamp would hide an Inf), then clamp."""
    if not bool(torch.isfinite(z).all()):
        raise DivergenceError(f"the denoiser returned NaN or Inf at iteration {k} (timestep {t})")
    return z.clamp(-1, 1) if clip else z


class PriorStep:
    """Base: ``denoise`` gives z from the denoiser input; ``advance`` forms the next input."""

    def start(self, timeline: Timeline) -> None:
        pass

    def denoise(self, x_t: Tensor, k: int) -> Tensor:
        raise NotImplementedError  # abstractmethod

    def advance(self, x_t: Tensor, x: Tensor, u: Tensor, k: int, source: NoiseSource) -> Tensor:
        """The next denoiser input from ``x + u``; Gaussian draws come from ``source.draw(k, t, like)``."""
        raise NotImplementedError  # abstractmethod

    def output(self, x_t: Tensor, x: Tensor) -> Tensor:
        """What the solve returns after the last iteration."""
        return x


class ManifoldStep(PriorStep):
    """Denoise on the diffusion manifold and re-noise with ``sigma`` (a ``NoiseRule``).

    ``t0``: fresh noise only while ``t > t0``. ``clip``: clamp Tweedie to [-1, 1] (DDiff).
    Returns the final re-noised iterate, as the authors' code does. Draws: one standard normal
    tensor shaped like x per iteration whose ``t > t0`` and ``sigma_t > 0``, requested as
    ``(k, t)`` after that iteration's data step.
    """

    def __init__(self, prior: DiffusionPrior, sigma: NoiseRule = ddim_sigma(1.0), t0: int = 0, clip: bool = True) -> None:
        if not isinstance(prior, DiffusionPrior):
            raise ValueError(f"a manifold prior step needs a DiffusionPrior, got {type(prior).__name__}")
        self.prior = prior
        self.sigma = sigma
        self.t0 = t0
        self.clip = clip

    def start(self, timeline: Timeline) -> None:
        sigma = evaluate(self.sigma, timeline, "sigma_t")
        room = 1 - timeline.alpha_bar_prev - sigma**2
        if bool((room < -1e-12).any()):
            raise ValueError("sigma_t must satisfy sigma_t^2 <= 1 - alpha_bar_prev at every iteration")
        self._t = timeline.t.tolist()
        self._coef = list(zip(
            torch.sqrt(timeline.alpha_bar).tolist(),
            torch.sqrt(1 - timeline.alpha_bar).tolist(),
            torch.sqrt(timeline.alpha_bar_prev).tolist(),
            torch.sqrt(room.clamp_min(0)).tolist(),
            sigma.tolist(),
        ))

    def denoise(self, x_t: Tensor, k: int) -> Tensor:
        return _finished(self.prior.tweedie(x_t, self._t[k]), self.clip, k, self._t[k])

    def advance(self, x_t: Tensor, x: Tensor, u: Tensor, k: int, source: NoiseSource) -> Tensor:
        sqrt_a, sqrt_1ma, sqrt_a_prev, c_hat, sigma = self._coef[k]
        eps_hat = (x_t - sqrt_a * x) / sqrt_1ma
        x_prev = sqrt_a_prev * (x + u) + c_hat * eps_hat
        if self._t[k] > self.t0 and sigma > 0:
            x_prev = x_prev + sigma * source.draw(k, self._t[k], x)
        return x_prev

    def output(self, x_t: Tensor, x: Tensor) -> Tensor:
        return x_t


class DirectStep(PriorStep):
    """Denoise ``x + u`` directly (plug-and-play).

    Without ``sigma``, ``prior`` must be a DiffusionPrior and ``z = Tweedie(x + u, t_k)``
    (Diff-PnP, Eq. 9). With ``sigma`` (a schedule of noise stds), ``z = prior.denoise(x + u,
    sigma_k)`` (classical PnP, Eq. 5). Returns the data-consistent ``x``.
    """

    def __init__(self, prior: Prior, sigma: Schedule | None = None, clip: bool = True) -> None:
        if sigma is None and not isinstance(prior, DiffusionPrior):
            raise ValueError(f"{type(prior).__name__} is not a diffusion prior: give a sigma schedule for it")
        self.prior = prior
        self.sigma = sigma
        self.clip = clip

    def start(self, timeline: Timeline) -> None:
        self._t = timeline.t.tolist()
        if self.sigma is not None:
            self._sigma = evaluate(self.sigma, timeline, "sigma").tolist()
            if min(self._sigma) <= 0:
                raise ValueError("the denoiser's sigma must be > 0 at every iteration")

    def denoise(self, x_t: Tensor, k: int) -> Tensor:
        if self.sigma is None:
            z = self.prior.tweedie(x_t, self._t[k])
        else:
            z = self.prior.denoise(x_t, self._sigma[k])
        return _finished(z, self.clip, k, self._t[k])

    def advance(self, x_t: Tensor, x: Tensor, u: Tensor, k: int, source: NoiseSource) -> Tensor:
        return x + u

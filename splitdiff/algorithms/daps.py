"""DAPS: decoupled annealing posterior sampling (Zhang et al., CVPR 2025), on splitdiff's parts.

In the variance-exploding view ``x_t = x_0 + sigma_t * noise`` (sigma annealed from 100 to 0.1,
EDM's poly-7 spacing), each annealing step

1. solves the probability-flow ODE from ``sigma_t`` to 0.01 with ``ode_steps`` Euler steps,
   ``dx/dsigma = (x - D(x; sigma)) / sigma``, giving ``x0_hat`` (``D`` is ``prior.denoise``);
2. runs Langevin dynamics on ``x_0`` targeting
   ``exp(-||A(x_0) - y||^2 / tau^2 - ||x_0 - x0_hat||^2 / (2 sigma_t^2))`` (the un-halved
   data term of the authors' current code) for ``langevin_steps`` steps of size
   ``lr * (1 + r (lr_min_ratio - 1))``, ``r = k / (steps + 1)`` at annealing step k (their
   scheduler counts steps + 1 points);
3. re-noises: ``x_{t+1} = x_0 + sigma_{t+1} * noise`` (sigma after the last step is 0).

DAPS-1K is 200 annealing steps x 5 ODE steps = 1000 network calls. Defaults are the authors'
pixel-space Langevin settings (configs/task/*.yaml; docs/authors-code.md has the lines).
Differences: ``prior.denoise`` of a diffusion prior evaluates the network at the trained
timestep nearest to sigma (the authors' VP preconditioner feeds a fractional timestep); for
phase retrieval their operator is ``A(0.5 x + 0.5)`` where splitdiff's (and DDiff's, DPS's) is
``A(x)``, so tau is converted (``DAPS_TAU``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..validation import check_positive, check_positive_int
from ..operators.base import Operator
from ..operators.fidelity import L2
from ..priors.base import Prior
from ..splitting.loop import Callback
from ..splitting.noise import Noise, NoiseSource
from .defaults import paper_default
from .solver import BaseSolver

#: DAPS's pixel-space Langevin step size ``lr`` per task (tau = 0.01, 100 steps; nonlinear
#: deblurring 200 steps).
DAPS_LR = {
    "super_resolution": 1e-4,
    "gaussian_blur": 1e-4,
    "motion_blur": 5e-5,
    "box_inpainting": 5e-5,
    "random_inpainting": 1e-4,
    "phase_retrieval": 5e-5,
    "hdr": 2e-5,
    "nonlinear_blur": 1e-5,
}


#: DAPS's likelihood std ``tau`` per task where it is not 0.01. Phase retrieval: the authors'
#: operator maps ``0.5 x + 0.5`` before ``A`` (HEAD ``forward_operator/__init__.py:300-314``).
#: ``A`` is positively homogeneous, so without the offset their data term
#: ``||A(0.5 x) - y / 2||^2 / tau^2`` is ``||A(x) - y||^2 / (2 tau)^2``: their tau 0.01 is 0.02
#: for splitdiff's ``A(x)`` [derived]. The offset itself (a DC term in the spectrum) changes
#: the measurement and cannot be converted.
DAPS_TAU = {"phase_retrieval": 0.02}


def poly_sigmas(sigma_max: float, sigma_min: float, count: int, rho: int = 7) -> Tensor:
    """``count`` noise levels from ``sigma_max`` to ``sigma_min``, uniform in ``sigma^(1/rho)`` (EDM)."""
    r = torch.linspace(0, 1, count, dtype=torch.float64)
    return (sigma_max ** (1 / rho) + r * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


class DAPS(BaseSolver):
    """Decoupled annealing posterior sampling; ``steps`` annealing steps."""

    def __init__(self, prior: Prior, operator: Operator, lr: float, steps: int = 200, ode_steps: int = 5,
                 langevin_steps: int = 100, tau: float = 0.01, lr_min_ratio: float = 0.01,
                 sigma_max: float = 100.0, sigma_min: float = 0.1, ode_sigma_min: float = 0.01) -> None:
        if not isinstance(prior, Prior):
            raise ValueError(f"daps needs a splitdiff Prior, got {type(prior).__name__}")
        self._prior, self.operator, self.name = prior, operator, "daps"
        self.lr, self.tau = check_positive(lr, "lr"), check_positive(tau, "tau")
        self.lr_min_ratio = check_positive(lr_min_ratio, "lr_min_ratio")
        self.steps = check_positive_int(steps, "steps")
        self.ode_steps = check_positive_int(ode_steps, "ode_steps")
        self.langevin_steps = check_positive_int(langevin_steps, "langevin_steps")
        if not sigma_max > sigma_min > ode_sigma_min > 0:
            raise ValueError(f"need sigma_max > sigma_min > ode_sigma_min > 0, got {sigma_max}, {sigma_min}, "
                             f"{ode_sigma_min}")
        self.sigma_max, self.sigma_min, self.ode_sigma_min = sigma_max, sigma_min, ode_sigma_min

    @property
    def prior(self) -> Prior:
        return self._prior

    def nfe(self, steps: int | None = None) -> int:
        """``ode_steps`` denoiser calls per annealing step."""
        return (self.steps if steps is None else check_positive_int(steps, "steps")) * self.ode_steps

    def hparams(self) -> dict[str, object]:
        return {**super().hparams(), "lr": self.lr, "tau": self.tau, "lr_min_ratio": self.lr_min_ratio,
                "ode_steps": self.ode_steps, "langevin_steps": self.langevin_steps, "sigma_max": self.sigma_max,
                "sigma_min": self.sigma_min, "ode_sigma_min": self.ode_sigma_min}

    def sigmas(self, steps: int | None = None) -> Tensor:
        """The annealing noise levels, ``steps`` of them, then 0 (as the authors' scheduler)."""
        steps = self.steps if steps is None else check_positive_int(steps, "steps")
        return torch.cat([poly_sigmas(self.sigma_max, self.sigma_min, steps + 1)[:-1], torch.zeros(1, dtype=torch.float64)])

    def ode(self, x: Tensor, sigma: float) -> Tensor:
        """``x0_hat``: Euler steps of the probability-flow ODE from ``sigma`` to ``ode_sigma_min``."""
        levels = poly_sigmas(sigma, self.ode_sigma_min, self.ode_steps + 1).tolist()
        for s, s_next in zip(levels[:-1], levels[1:]):
            x = x + (s_next - s) * (x - self.prior.denoise(x, s)) / s
        return x

    def langevin(self, x0_hat: Tensor, y: Tensor, sigma: float, lr: float, source: NoiseSource, k: int) -> Tensor:
        """Langevin dynamics on ``p(x_0 | x0_hat, y)`` started at ``x0_hat`` (annealing step ``k``)."""
        x, data = x0_hat, L2(2 / self.tau**2)
        for _ in range(self.langevin_steps):
            # grad ||A(x) - y||^2 / tau^2, un-halved as HEAD mcmc.py:46-50
            score = -data.grad(x, y, self.operator) - (x - x0_hat) / sigma**2
            x = x + lr * score + math.sqrt(2 * lr) * source.draw(k, k, x)
        return x

    def lr_at(self, k: int, count: int) -> float:
        """The Langevin step of annealing step ``k`` of ``count``: ``lr (1 + r (lr_min_ratio - 1))``
        with ``r = k / (count + 1)``: the authors' scheduler counts ``count + 1`` points (HEAD
        ``cores/mcmc.py:174-180``, ``cores/scheduler.py:39``; their July-2024 release used
        ``k / count``)."""
        return self.lr * (1 + k / (count + 1) * (self.lr_min_ratio - 1))

    def solve(self, y: Tensor, x_T: Tensor | None = None, generator: torch.Generator | None = None,
              steps: int | None = None, callback: Callback | None = None, noise: Noise | None = None) -> Tensor:
        """Sample ``x_0`` given ``y``; (N, C, H, W), nominally in [-1, 1] (not clamped).

        Draws (``generator``, or the ``noise(k, t, shape)`` hook with ``t = k``, the annealing
        step): x_T as ``(-1, 0)`` unless given (scaled by sigma_max); then per annealing step
        ``langevin_steps`` Langevin draws followed by one re-noising draw.
        """
        sigmas = self.sigmas(steps).tolist()
        count = len(sigmas) - 1
        source = NoiseSource(generator, noise)
        y, x = self.initial_iterate(y, x_T, source, 0, scale=sigmas[0])
        with torch.no_grad():
            for k in range(count):
                x_t = x
                x0_hat = self.ode(x_t, sigmas[k])
                x0_y = self.langevin(x0_hat, y, sigmas[k], self.lr_at(k, count), source, k)
                x = x0_y + sigmas[k + 1] * source.draw(k, k, x0_y)
                if self.after_iteration(k, k, x_t, x0_hat, x0_y, x, callback,
                                        f"annealing step {k} (sigma = {sigmas[k]:.4g})"):
                    break
        return x

def daps(prior: Prior | str, operator: Operator | str, task: str | None = None, lr: float | None = None,
         steps: int = 200, ode_steps: int = 5, langevin_steps: int | None = None, tau: float | None = None,
         lr_min_ratio: float = 0.01, sigma_max: float = 100.0, sigma_min: float = 0.1) -> DAPS:
    """DAPS-1K with the authors' Langevin settings for ``task`` (default: the operator's); all
    overridable. ``tau`` defaults to 0.01, converted for phase retrieval (``DAPS_TAU``)."""
    from .compositions import resolve_parts

    prior, operator = resolve_parts(prior, operator)
    task = task or operator.task
    if lr is None:
        lr = paper_default(DAPS_LR, task, "DAPS Langevin step size", "lr")
    if tau is None:
        tau = DAPS_TAU.get(task, 0.01)
    if langevin_steps is None:
        langevin_steps = 200 if task == "nonlinear_blur" else 100
    return DAPS(prior, operator, lr, steps, ode_steps, langevin_steps, tau, lr_min_ratio, sigma_max, sigma_min)

"""DPS: diffusion posterior sampling (Chung et al., ICLR 2023), on splitdiff's Prior and Operator.

Per timestep t (ancestral DDPM sampling over the respaced schedule):

    x0_hat   = clamp(Tweedie(x_t, t), -1, 1)                    (gradient kept through the network;
                                                                  ``clip=False`` drops the clamp)
    x'_{t-1} = mu_t(x0_hat, x_t) + sigma_t * noise               (DDPM posterior, no noise at the end)
    x_{t-1}  = x'_{t-1} - zeta * grad_{x_t} ||y - A(x0_hat)||    (the norm, not its square)

as the authors' ``PosteriorSampling`` conditioning method does, with their step sizes ``zeta``
("scale" in their configs). Two documented differences: the norm is taken per image (the
authors' code takes one norm over the whole batch, which couples the images of a batch), and
the DDPM variance is the posterior variance ``beta_tilde`` (the ADM checkpoints' learned
variance is not read by splitdiff's eps-only priors).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..validation import check_positive, check_positive_int
from ..operators.base import Operator
from ..operators.fidelity import L2
from ..priors.base import DiffusionPrior
from ..splitting.loop import Callback
from ..splitting.noise import Noise, NoiseSource
from .defaults import paper_default
from .solver import BaseSolver

#: DPS's step size ``zeta`` per task (their configs/*_config.yaml "scale"); tasks DPS did not
#: run (HDR) take the deblurring value.
DPS_SCALES = {
    "super_resolution": 0.3,
    "gaussian_blur": 0.3,
    "motion_blur": 0.3,
    "nonlinear_blur": 0.3,
    "box_inpainting": 0.5,
    "random_inpainting": 0.5,
    "phase_retrieval": 1.0,
    "hdr": 0.3,
}


class DPS(BaseSolver):
    """Diffusion posterior sampling with step size ``zeta`` over ``steps`` respaced timesteps."""

    def __init__(self, prior: DiffusionPrior, operator: Operator, zeta: float, steps: int = 1000,
                 spacing: str = "uniform", clip: bool = True) -> None:
        if not isinstance(prior, DiffusionPrior):
            raise ValueError(f"dps needs a DiffusionPrior (eps network and schedule), got {type(prior).__name__}")
        self._prior, self.operator = prior, operator
        self.zeta = check_positive(zeta, "zeta")
        self.steps = check_positive_int(steps, "steps")
        self.spacing, self.clip, self.name = spacing, clip, "dps"

    @property
    def prior(self) -> DiffusionPrior:
        return self._prior

    def hparams(self) -> dict[str, object]:
        return {**super().hparams(), "zeta": self.zeta, "spacing": self.spacing, "clip": self.clip}

    def timesteps(self, steps: int | None = None) -> Tensor:
        return self.prior.schedule.timesteps(self.steps if steps is None else check_positive_int(steps, "steps"),
                                             self.spacing)

    def nfe(self, steps: int | None = None) -> int:
        """One network call (with its backward pass) per timestep."""
        return len(self.timesteps(steps))

    def solve(self, y: Tensor, x_T: Tensor | None = None, generator: torch.Generator | None = None,
              steps: int | None = None, callback: Callback | None = None, noise: Noise | None = None) -> Tensor:
        """Sample ``x_0`` given ``y``; (N, C, H, W), nominally in [-1, 1] (not clamped).

        Draws (``generator``, or the ``noise(k, t, shape)`` hook): x_T as ``(-1, first t)``
        unless given, then one per iteration ``(k, t)`` except the last.
        """
        ts = [int(t) for t in self.timesteps(steps)]
        source = NoiseSource(generator, noise)
        y, x = self.initial_iterate(y, x_T, source, ts[0])
        abar = self.prior.schedule.alphas_cumprod
        for k, t in enumerate(ts):
            a_t = float(abar[t])
            a_prev = float(abar[ts[k + 1]]) if k + 1 < len(ts) else 1.0
            with torch.enable_grad():
                x_t = x.detach().requires_grad_(True)
                x0 = self.prior.tweedie(x_t, t)
                x0 = x0.clamp(-1, 1) if self.clip else x0
                distance = L2().distance(x0, y, self.operator)
                (grad,) = torch.autograd.grad(distance.sum(), x_t)
            x0, x_t = x0.detach(), x_t.detach()
            alpha = a_t / a_prev
            mean = (a_prev**0.5 * (1 - alpha) * x0 + alpha**0.5 * (1 - a_prev) * x_t) / (1 - a_t)
            x = mean - self.zeta * grad
            if k + 1 < len(ts):
                variance = (1 - a_prev) / (1 - a_t) * (1 - alpha)
                x = x + variance**0.5 * source.draw(k, t, x)
            if self.after_iteration(k, t, x_t, x0, x0, x, callback, f"iteration {k} (t = {t})"):
                break
        return x

def dps(prior: DiffusionPrior | str, operator: Operator | str, task: str | None = None, zeta: float | None = None,
        steps: int = 1000, spacing: str = "uniform", clip: bool = True) -> DPS:
    """DPS with the authors' step size for ``task`` (default: the operator's task); any value overridable.
    ``clip=False`` keeps the Tweedie estimate unclamped (for data outside [-1, 1])."""
    from .compositions import resolve_parts

    prior, operator = resolve_parts(prior, operator)
    if zeta is None:
        zeta = paper_default(DPS_SCALES, task or operator.task, "DPS step size", "zeta")
    return DPS(prior, operator, zeta, steps, spacing, clip)

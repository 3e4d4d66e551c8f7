"""A cheap, monotone quality signal for a prior while it trains: the PSNR of its Tweedie
estimate when denoising held-out images at a few noise levels.

At noise std ``sigma`` (on the [-1, 1] scale) the variance-preserving diffusion's timestep is
the one whose ``sqrt((1 - a_t) / a_t)`` is nearest ``sigma``: ``x_t / sqrt(a_t) = x_0 + sigma_t
eps``. The denoiser is Tweedie's ``x0_hat(x_t, t)``, clamped to [-1, 1].
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ..priors.schedule import NoiseSchedule

#: The noise levels of the validation curve (std on the [-1, 1] scale).
VALIDATION_SIGMAS = (0.05, 0.1, 0.2, 0.4)


def timestep_for(sigma: float, schedule: NoiseSchedule) -> int:
    """The timestep whose ``sqrt((1 - a_t) / a_t)`` is nearest ``sigma``."""
    a = schedule.alphas_cumprod
    return int(((1 - a) / a).sqrt().sub(sigma).abs().argmin())


def psnr_per_image(x_hat: Tensor, x: Tensor) -> Tensor:
    """PSNR (dB) per image for images in [-1, 1] (peak-to-peak 2)."""
    mse = (x_hat - x).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * torch.log10(4.0 / mse)


@torch.no_grad()
def denoising_psnr(eps: Callable[[Tensor, Tensor], Tensor], x: Tensor, schedule: NoiseSchedule,
                   sigmas: tuple[float, ...] = VALIDATION_SIGMAS, seed: int = 0) -> dict[float, float]:
    """Mean PSNR of Tweedie's estimate from ``eps(x_t, t)`` (a noise-prediction network, t a
    (N,) long tensor) on images ``x`` (N, C, H, W) in [-1, 1], per noise level; the noise is
    drawn from ``seed`` (the same draws at every call)."""
    return {sigma: float(v.mean()) for sigma, v in denoising_psnr_per_image(eps, x, schedule, sigmas, seed).items()}


@torch.no_grad()
def denoising_psnr_per_image(eps: Callable[[Tensor, Tensor], Tensor], x: Tensor, schedule: NoiseSchedule,
                             sigmas: tuple[float, ...] = VALIDATION_SIGMAS, seed: int = 0) -> dict[float, Tensor]:
    """:func:`denoising_psnr` per image: {sigma: (N,) PSNR in dB}, for paired comparisons."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for sigma in sigmas:
        t = timestep_for(sigma, schedule)
        a = float(schedule.alphas_cumprod[t])
        noise = torch.randn(x.shape, generator=g).to(x)
        x_t = math.sqrt(a) * x + math.sqrt(1 - a) * noise
        e = eps(x_t, torch.full((x.shape[0],), t, device=x.device, dtype=torch.long))[:, : x.shape[1]]
        x0 = ((x_t - math.sqrt(1 - a) * e) / math.sqrt(a)).clamp(-1, 1)
        out[sigma] = psnr_per_image(x0, x)
    return out


@torch.no_grad()
def classical_psnr(denoise: Callable[[Tensor, float], Tensor], x: Tensor,
                   sigmas: tuple[float, ...] = VALIDATION_SIGMAS, seed: int = 0,
                   schedule: NoiseSchedule | None = None) -> dict[float, float]:
    """The same curve for a classical denoiser ``denoise(x + s n, s)`` (TV, Wiener, BM3D), with
    the same noise draws ``n`` as :func:`denoising_psnr`, keyed by the nominal ``sigmas``.

    Given the prior's ``schedule``, ``s`` is the noise std of the timestep nearest each sigma
    (``timestep_for``), so ``x + s n`` is exactly the prior's input ``x_t / sqrt(a_t)``: the two
    curves compare like with like. Without it ``s`` is the nominal sigma."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for sigma in sigmas:
        s = sigma
        if schedule is not None:
            a = float(schedule.alphas_cumprod[timestep_for(sigma, schedule)])
            s = math.sqrt((1 - a) / a)
        noise = torch.randn(x.shape, generator=g).to(x)
        out[sigma] = float(psnr_per_image(denoise(x + s * noise, s).clamp(-1, 1), x).mean())
    return out

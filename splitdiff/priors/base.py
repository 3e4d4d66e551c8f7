"""Prior interfaces: a denoiser, and a diffusion model with its schedule and Tweedie."""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod

import torch
from torch import Tensor, nn

from ..validation import check_image, check_positive
from .schedule import NoiseSchedule


class Prior(nn.Module, metaclass=ABCMeta):
    """Anything that answers "denoise this image at this noise level".

    ``denoise(x, sigma)``: x (N, C, H, W) is a clean image plus Gaussian noise of std
    ``sigma`` (on the [-1, 1] scale); returns an estimate of the clean image, same shape.
    """

    @abstractmethod
    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        """Each prior defines its denoiser."""

    def check_input(self, x: Tensor) -> Tensor:
        """Validate an image batch for this prior (raises ValueError naming what it expects)."""
        return check_image(x, "x")


class DiffusionPrior(Prior):
    """A variance-preserving diffusion model: ``eps(x_t, t)`` predicts the noise in ``x_t``.

    ``t`` is an integer timestep of ``schedule`` (a Python int or a LongTensor (N,)).
    """

    schedule: NoiseSchedule

    @abstractmethod
    def eps(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """Each diffusion prior predicts the noise."""

    @staticmethod
    def batch_timesteps(t: int | Tensor, like: Tensor) -> Tensor:
        """``t`` as a LongTensor (N,) for a batch shaped like ``like`` (a network's time input)."""
        return torch.as_tensor(t, device=like.device, dtype=torch.long).flatten().expand(like.shape[0])

    def alpha_bar(self, t: int | Tensor, like: Tensor) -> Tensor:
        """``alpha_bar_t`` shaped to broadcast against ``like`` (N, ...)."""
        a = self.schedule.alphas_cumprod.to(like.device)[torch.as_tensor(t, device=like.device)]
        return a.to(like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

    def score(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """``grad log p_t(x_t) = -eps / sqrt(1 - alpha_bar_t)``."""
        return -self.eps(x_t, t) / torch.sqrt(1 - self.alpha_bar(t, x_t))

    def tweedie(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        """Tweedie's estimate ``E[x_0 | x_t] = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t)`` (not clamped)."""
        a = self.alpha_bar(t, x_t)
        return (x_t - torch.sqrt(1 - a) * self.eps(x_t, t)) / torch.sqrt(a)

    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        """Tweedie at the timestep whose noise-to-signal ratio is closest to ``sigma``."""
        check_positive(sigma, "sigma")
        t = self.schedule.nearest_timestep(1.0 / (1.0 + sigma**2))
        a = float(self.schedule.alphas_cumprod[t])
        return self.tweedie(math.sqrt(a) * x, t)

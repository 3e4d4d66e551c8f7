"""A deepinv denoiser (DRUNet, BM3D, TV, wavelets, ...) as a classical splitdiff prior.

deepinv denoisers take images in [0, 1] and the noise std on that scale, ``model(x, sigma)``;
splitdiff's ``denoise(x, sigma)`` works in [-1, 1]: x -> (x + 1) / 2, sigma -> sigma / 2, and
back. Use it wherever a classical denoiser goes (``pnp-admm``, ``pnp-hqs``, or a custom
``DirectStep(prior, denoiser_sigma=...)``); ``diff-pnp-*`` take a diffusion prior (Tweedie at a
timestep), not a denoiser.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..validation import check_image, check_positive
from .base import Prior


class DeepinvDenoiserPrior(Prior):
    """``denoise(x, sigma) = 2 * model((x + 1) / 2, sigma / 2) - 1``; ``grad`` keeps an
    autograd graph (default: none)."""

    def __init__(self, model, grad: bool = False) -> None:
        super().__init__()
        if not callable(model):
            raise ValueError(f"expected a deepinv denoiser (callable model(x, sigma)), got {type(model).__name__}")
        self.model, self.grad = model, grad

    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        check_image(x, "x")
        check_positive(sigma, "sigma")
        with torch.set_grad_enabled(self.grad and torch.is_grad_enabled()):
            return self.model((x + 1) / 2, sigma / 2) * 2 - 1


def deepinv_denoiser(model) -> DeepinvDenoiserPrior:
    """Wrap a deepinv denoiser (an instance, e.g. ``deepinv.models.TVDenoiser()``)."""
    return DeepinvDenoiserPrior(model)

"""An image-space operator seen from a latent space: ``A_latent(z) = A(D(z))``."""

from __future__ import annotations

import torch
from torch import Tensor

from ..validation import check_finite, check_tensor_nchw
from .base import Operator, _shaped


class LatentOperator(Operator):
    """``A(decode(z))`` for a latent prior (anything with ``decode``, ``encode``,
    ``latent_shape`` and ``image_shape_of``). Same noise model as the image operator.

    ``quantize``: decode through the VQ codebook (straight-through gradient), as LDM does.
    Gradients flow through the decoder (DAPS's latent wrapper).
    """

    def __init__(self, operator: Operator, latent_prior, quantize: bool = True) -> None:
        super().__init__(operator.sigma)
        self.pixel_operator = operator
        self.latent_prior = latent_prior
        self.quantize = quantize
        self.task = operator.task

    def forward(self, z: Tensor) -> Tensor:
        return self.pixel_operator(self.latent_prior.decode(z, quantize=self.quantize))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.pixel_operator.output_shape(self.latent_prior.image_shape_of(tuple(input_shape)))

    def input_shape(self, output_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.latent_prior.latent_shape(self.pixel_operator.input_shape(tuple(output_shape)))

    def check_shape(self, z: Tensor) -> Tensor:
        """Structural check of latents ``z`` (N, c, h, w) and of the images they decode to (by
        shape only: no decoding)."""
        check_tensor_nchw(z, "latent")
        shape = self.latent_prior.image_shape_of(tuple(z.shape))
        self.pixel_operator.check_shape(_shaped(shape, z.dtype))
        return z

    def check_input(self, z: Tensor) -> Tensor:
        self.check_shape(z)
        check_finite(z, "latent")
        # the pixel operator's own check_input, too (it may be overridden with more than shapes)
        shape = self.latent_prior.image_shape_of(tuple(z.shape))
        self.pixel_operator.check_input(torch.zeros(shape, dtype=z.dtype, device=z.device))
        return z

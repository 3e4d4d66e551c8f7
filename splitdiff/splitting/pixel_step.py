"""Data consistency in pixel space for latent solvers (ReSample's 'hard' consistency):
decode the latent, take a data step on the image, encode back."""

from __future__ import annotations

import torch
from torch import Tensor

from ..operators.base import Operator
from .data_step import DataStep
from .timeline import Timeline


class PixelSpaceStep(DataStep):
    """Wrap an image-space ``DataStep`` for a ``LatentOperator``: ``E(step(D(v)))``."""

    def __init__(self, inner: DataStep) -> None:
        if not isinstance(inner, DataStep):
            raise ValueError(f"inner must be a DataStep, got {type(inner).__name__}")
        self.inner = inner

    def start(self, timeline: Timeline) -> None:
        self.inner.start(timeline)

    def __repr__(self) -> str:
        return f"PixelSpaceStep({self.inner!r})"

    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        prior = getattr(operator, "latent_prior", None)
        if prior is None:
            raise ValueError("a pixel-space data step needs a LatentOperator (operators.LatentOperator)")
        with torch.no_grad():
            image = prior.decode(v, quantize=operator.quantize)
        return prior.encode(self.inner(image, y, operator.pixel_operator, k))

"""Starting iterates other than pure noise: DiffPIR starts from the measurement diffused to t = T."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..operators.base import Operator
from ..operators.resize import SuperResolution
from ..priors.schedule import NoiseSchedule
from ..splitting.noise import NoiseSource


def measurement_image(operator: Operator, y: Tensor, shape: tuple[int, ...]) -> Tensor | None:
    """The measurement seen as an image of ``shape`` (N, C, H, W), as DiffPIR starts from it:
    super-resolution upsamples ``y`` bicubically (their ``cv2.resize(..., INTER_CUBIC)``,
    ``main_ddpir_sisr.py:243``; torch's bicubic uses the same a = -0.75 kernel), an operator
    whose output has the image's shape gives ``y`` itself (deblurring, inpainting: the masked
    y), any other operator ``None``."""
    if isinstance(operator, SuperResolution) and tuple(y.shape[-2:]) != tuple(shape[-2:]):
        return F.interpolate(y, size=tuple(shape[-2:]), mode="bicubic", align_corners=False)
    if tuple(y.shape) == tuple(shape):
        return y
    return None


class DiffusedMeasurement:
    """DiffPIR's start: ``x_T = sqrt(a_T / a_y) x_y + sqrt(1 - a_T / a_y) n`` (one draw).

    ``x_y`` is ``measurement_image(operator, y)``; ``a_y = alpha_bar`` at the timestep whose
    ``sqrt(1 - a) / sqrt(a)`` is nearest the operator's noise std when y has the image's shape
    (``main_ddpir_deblur.py:228-231``, ``main_ddpir_inpainting.py:190-193``: y is treated as
    an iterate already at that noise level), and ``a_y = 1`` for super-resolution
    (``main_ddpir_sisr.py:254``). Operators without an image view of y start from N(0, I).
    A ``Start`` for ``Solver(init=...)``.
    """

    def __init__(self, operator: Operator, schedule: NoiseSchedule) -> None:
        self.operator = operator
        self.schedule = schedule

    def alpha_bar_y(self, y: Tensor, shape: tuple[int, ...]) -> float:
        """``a_y``: 1 for super-resolution, else alpha_bar at the noise level of y."""
        if isinstance(self.operator, SuperResolution) and tuple(y.shape) != tuple(shape):
            return 1.0
        a = self.schedule.alphas_cumprod
        t_y = int(torch.argmin((torch.sqrt((1 - a) / a) - self.operator.sigma).abs()))
        return float(a[t_y])

    def __call__(self, y: Tensor, shape: tuple[int, ...], source: NoiseSource, t: int) -> Tensor:
        n = source.draw(-1, t, torch.empty(shape, device=y.device, dtype=y.dtype))
        x_y = measurement_image(self.operator, y, shape)
        if x_y is None:
            return n
        ratio = float(self.schedule.alphas_cumprod[t]) / self.alpha_bar_y(y, shape)
        return math.sqrt(ratio) * x_y + math.sqrt(max(0.0, 1 - ratio)) * n

    def __repr__(self) -> str:
        return f"DiffusedMeasurement({type(self.operator).__name__})"

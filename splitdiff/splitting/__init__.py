"""Splittings (ADMM, HQS, linearized ADMM), their data steps, prior steps and schedules.

Build a splitting by name::

    splitdiff.splitting.build("linearized_admm", gamma=18.0)
"""

from ..registry import Registry
from .data_step import DataStep, GradientStep, ProximalStep
from .loop import ADMM, HQS, Callback, IterationState, LinearizedADMM, Splitting
from .pixel_step import PixelSpaceStep
from .noise import Noise, NoiseSource
from .prior_step import (DDIMSigma, DirectStep, FullRenoise, ManifoldStep, NoiseRule, PriorStep, ZetaSigma, ddim_sigma,
                         full_renoise, zeta_sigma)
from .timeline import Geometric, Schedule, StepDown, Timeline, geometric, schedule_values, step_down

REGISTRY: Registry[Splitting] = Registry("splitting")
register, build, names, get = REGISTRY.functions()

register("admm", ADMM)
register("hqs", HQS)
register("linearized_admm", LinearizedADMM)

__all__ = [
    "Splitting", "ADMM", "HQS", "LinearizedADMM", "IterationState", "Callback",
    "DataStep", "GradientStep", "ProximalStep", "PixelSpaceStep",
    "PriorStep", "ManifoldStep", "DirectStep", "NoiseRule", "ddim_sigma", "full_renoise", "zeta_sigma",
    "DDIMSigma", "FullRenoise", "ZetaSigma", "Noise", "NoiseSource",
    "Timeline", "Schedule", "schedule_values", "step_down", "geometric", "StepDown", "Geometric",
    "REGISTRY", "register", "build", "names", "get",
]

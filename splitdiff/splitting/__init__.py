"""Splittings (ADMM, HQS, linearized ADMM), their data steps, prior steps and schedules.

Build a splitting by name::

    splitdiff.splitting.build("linearized_admm", gamma=18.0)
"""

from ..registry import Registry
from .data_step import DataStep, GradientStep, ProximalStep
from .loop import ADMM, HQS, Callback, IterationState, LinearizedADMM, Splitting
from .pixel_step import PixelSpaceStep
from .prior_step import DirectStep, ManifoldStep, NoiseRule, PriorStep, ddim_sigma, full_renoise, zeta_sigma
from .timeline import Schedule, Timeline, evaluate, geometric, step_down

REGISTRY: Registry[Splitting] = Registry("splitting")
register = REGISTRY.register
build = REGISTRY.build
names = REGISTRY.names
get = REGISTRY.get

register("admm", ADMM)
register("hqs", HQS)
register("linearized_admm", LinearizedADMM)

__all__ = [
    "Splitting", "ADMM", "HQS", "LinearizedADMM", "IterationState", "Callback",
    "DataStep", "GradientStep", "ProximalStep", "PixelSpaceStep",
    "PriorStep", "ManifoldStep", "DirectStep", "NoiseRule", "ddim_sigma", "full_renoise", "zeta_sigma",
    "Timeline", "Schedule", "evaluate", "step_down", "geometric",
    "REGISTRY", "register", "build", "names", "get",
]

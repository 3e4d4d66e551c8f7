"""Registered solver compositions. Build by name::

    solver = splitdiff.algorithms.build("ddiff", prior=prior, operator=op)
    x_hat = solver.solve(y, generator=g)
"""

from ..registry import Registry
from .daps import DAPS, DAPS_LR, DAPS_TAU, daps
from .dps import DPS, DPS_SCALES, dps
from .compositions import (ddiff, ddiff_hqs, diff_pnp_admm, diff_pnp_hqs, diffpir, diffpir_rho, latent_ddiff, pnp_admm,
                           pnp_hqs)
from .defaults import TASKS, DDiffDefaults, DiffPIRDefaults, ddiff_defaults, diffpir_defaults
from .solver import BaseSolver, Solver, Start
from .start import DiffusedMeasurement, measurement_image

REGISTRY: Registry[BaseSolver] = Registry("algorithm")
register, build, names, get = REGISTRY.functions()

register("ddiff", ddiff)
register("ddiff-hqs", ddiff_hqs)
register("diff-pnp-admm", diff_pnp_admm)
register("diff-pnp-hqs", diff_pnp_hqs)
register("diffpir", diffpir)
register("latent-ddiff", latent_ddiff)
register("pnp-admm", pnp_admm)
register("pnp-hqs", pnp_hqs)
register("dps", dps)
register("daps", daps)

__all__ = [
    "BaseSolver", "Solver", "Start", "DPS", "DAPS", "DPS_SCALES", "DAPS_LR", "DAPS_TAU", "dps", "daps", "TASKS", "DDiffDefaults",
    "DiffPIRDefaults", "ddiff_defaults", "diffpir_defaults", "DiffusedMeasurement", "measurement_image",
    "ddiff", "ddiff_hqs", "diff_pnp_admm", "diff_pnp_hqs", "diffpir", "diffpir_rho", "latent_ddiff", "pnp_admm",
    "pnp_hqs",
    "REGISTRY", "register", "build", "names", "get",
]

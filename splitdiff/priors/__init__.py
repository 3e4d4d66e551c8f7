"""Priors: denoisers, diffusion models (``eps``, Tweedie, schedule) and exact-score analytic priors.

Build by name::

    prior = splitdiff.priors.build("random_network", channels=3)
    tv = splitdiff.priors.build("tv", strength=20.0)
"""

from ..registry import Registry
from .adm import ADM_PRESETS, ADMPrior, adm, create_unet
from .autoencoder import VQModel
from .latent import LDM_PRESETS, LatentDiffusionPrior, ldm, save_ldm_checkpoint
from .unet import UNetModel
from .default import default_prior
from .checkpoint import CheckpointError, load_strict, read_state_dict
from .analytic import GaussianMixturePrior, GaussianPrior, linear_gaussian_posterior
from .base import DiffusionPrior, Prior
from .classical import TotalVariation, WaveletSoftThreshold, Wiener, haar_forward, haar_inverse, total_variation, tv_prox
from .network import EpsNetworkPrior, TinyUNet, random_network_prior
from .schedule import NoiseSchedule, quad_timesteps, space_timesteps
from .deepinv_adapter import DeepinvDenoiserPrior, deepinv_denoiser

REGISTRY: Registry[Prior] = Registry("prior")
register, build, names, get = REGISTRY.functions()

register("gaussian", GaussianPrior)
register("gaussian_mixture", GaussianMixturePrior)
register("tv", TotalVariation)
register("wavelet", WaveletSoftThreshold)
register("wiener", Wiener)
register("random_network", random_network_prior)
register("adm", adm)
register("ldm", ldm)
register("default", default_prior)
register("deepinv", deepinv_denoiser)


def _diffusers(path, device="cpu"):
    """A local diffusers pipeline directory (UNet2DModel, or LDMPipeline with a VQ model)."""
    from .diffusers_adapter import diffusers_prior

    return diffusers_prior(path, device)


register("diffusers", _diffusers)

__all__ = [
    "DeepinvDenoiserPrior", "deepinv_denoiser",
    "Prior", "DiffusionPrior", "NoiseSchedule", "space_timesteps", "quad_timesteps",
    "GaussianPrior", "GaussianMixturePrior", "linear_gaussian_posterior",
    "TotalVariation", "WaveletSoftThreshold", "Wiener", "tv_prox", "total_variation",
    "haar_forward", "haar_inverse", "EpsNetworkPrior", "TinyUNet", "random_network_prior",
    "ADMPrior", "ADM_PRESETS", "adm", "default_prior", "UNetModel", "VQModel", "LDM_PRESETS", "LatentDiffusionPrior", "ldm",
    "save_ldm_checkpoint", "create_unet", "CheckpointError", "read_state_dict", "load_strict",
    "REGISTRY", "register", "build", "names", "get",
]

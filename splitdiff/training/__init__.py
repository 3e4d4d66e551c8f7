"""Training small pixel diffusion priors with Lightning (DDPM objective, EMA weights)."""

from ..evaluation.images import TEST_IMAGES, TRAIN_IMAGES, load_skimage
from .crops import CropDataModule, RandomCrops
from .module import DiffusionTraining
from .train import export_prior, train_prior

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "CropDataModule", "RandomCrops", "load_skimage", "DiffusionTraining",
           "train_prior", "export_prior"]

"""Offline training data: photographs shipped inside scikit-image, as random multi-scale crops.

Only images whose scikit-image docstring states public domain, CC0 or no known copyright
restrictions (see docs/model-card.md for each); the test images are held out: never cropped
for training. The lists and the loader live in :mod:`splitdiff.evaluation.images` (so that
the demo and the evaluation load them without Lightning); they are re-exported here.
"""

from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..evaluation.images import TEST_IMAGES, TRAIN_IMAGES, load_skimage

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "load_skimage", "RandomCrops", "CropDataModule"]

class RandomCrops(Dataset):
    """``length`` random crops of side ``size`` per epoch, at a random scale in ``[min_scale, 1]``
    (a crop of ``size / scale`` pixels resized to ``size``, antialiased) with random flips."""

    def __init__(self, images: list[Tensor], size: int = 64, length: int = 4096, min_scale: float = 0.125,
                 seed: int = 0) -> None:
        if not images:
            raise ValueError("RandomCrops needs at least one image")
        small = [tuple(im.shape[-2:]) for im in images if min(im.shape[-2:]) < size]
        if small:
            raise ValueError(f"images smaller than the crop size {size}: {small}")
        self.images, self.size, self.length, self.min_scale, self.seed = images, size, length, min_scale, seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch + index)
        image = self.images[int(torch.randint(len(self.images), (1,), generator=g))]
        h, w = image.shape[-2:]
        largest = min(h, w) / self.size
        scale = math.exp(float(torch.empty(1).uniform_(math.log(self.min_scale), 0.0, generator=g)))
        side = int(round(self.size / max(scale, 1 / largest)))
        top = int(torch.randint(h - side + 1, (1,), generator=g))
        left = int(torch.randint(w - side + 1, (1,), generator=g))
        crop = image[:, top:top + side, left:left + side]
        if side != self.size:
            crop = F.interpolate(crop[None], size=(self.size, self.size), mode="bilinear", antialias=True,
                                 align_corners=False)[0]
        if bool(torch.rand(1, generator=g) < 0.5):
            crop = crop.flip(-1)
        return crop.clamp(-1, 1)


class CropDataModule(L.LightningDataModule):
    """Random crops of the training images (``TRAIN_IMAGES`` by default)."""

    def __init__(self, names: tuple[str, ...] = TRAIN_IMAGES, size: int = 64, batch_size: int = 16,
                 samples_per_epoch: int = 4096, seed: int = 0, num_workers: int = 0) -> None:
        super().__init__()
        overlap = set(names) & set(TEST_IMAGES)
        if overlap:
            raise ValueError(f"held-out test images cannot be used for training: {sorted(overlap)}")
        self.names, self.size, self.batch_size = names, size, batch_size
        self.samples_per_epoch, self.seed, self.num_workers = samples_per_epoch, seed, num_workers

    def setup(self, stage: str | None = None) -> None:
        self.dataset = RandomCrops([load_skimage(n) for n in self.names], self.size, self.samples_per_epoch,
                                   seed=self.seed)

    def train_dataloader(self) -> DataLoader:
        """This epoch's crops (the trainer must reload the data every epoch, as ``train_prior`` does)."""
        self.dataset.epoch = self.trainer.current_epoch if self.trainer is not None else 0
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=False)

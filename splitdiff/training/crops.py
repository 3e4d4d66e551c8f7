"""Offline training data: photographs shipped inside scikit-image, as random multi-scale crops.

Only images whose scikit-image docstring states public domain, CC0 or no known copyright
restrictions (see docs/model-card.md for each); the test images are held out: never cropped
for training. The lists and the loader live in :mod:`splitdiff.evaluation.images` (so that
the demo and the evaluation load them without Lightning); they are re-exported here.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..evaluation.images import TEST_IMAGES, TRAIN_IMAGES, load_skimage

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "load_skimage", "load_folder", "RandomCrops", "CropDataModule",
           "IMAGE_SUFFIXES", "SHORT_SIDE"]

#: Files ``load_folder`` reads.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Training photographs are resized so that their short side is this long: crops of 64 to 512
#: pixels then span 1/8 of a photograph to all of it, the scales of the held-out benchmark (a
#: whole photograph at 64x64 or 256x256).
SHORT_SIDE = 512


def _held_out_digests() -> tuple[set[str], dict[str, str]]:
    """SHA-256 digests of the held-out photographs (original files, decoded pixels of the
    scikit-image ones, the shipped 256x256 PNGs) and their ids."""
    import hashlib

    from ..photos import HELDOUT_DIR, photos

    test = photos("test")
    digests = {p.sha256 for p in test}
    digests |= {hashlib.sha256(f.read_bytes()).hexdigest() for f in HELDOUT_DIR.glob("*.png")}
    return digests, {p.id: p.id for p in test}


def load_folder(folder: str | Path, short_side: int = SHORT_SIDE) -> tuple[list[str], list[Tensor]]:
    """Every image file in ``folder`` (not its subfolders) as (names, (3, H, W) float32 tensors in
    [-1, 1]), resized (Lanczos) so the short side is at most ``short_side``; grayscale becomes RGB.

    A held-out test photograph (by file content, decoded pixels or its corpus id as file name)
    is an error: training never sees the benchmark."""
    import hashlib

    import numpy as np
    from PIL import Image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--images {folder} is not a folder")
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise ValueError(f"--images {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    digests, test_ids = _held_out_digests()
    names, images = [], []
    for f in files:
        data = f.read_bytes()
        try:
            with Image.open(f) as image:
                image.load()
                pixels = np.asarray(image)
                rgb = image.convert("RGB")
        except Exception as err:  # noqa: BLE001 - any unreadable file is one clear error
            raise ValueError(f"cannot read {f} as an image: {err}") from None
        if f.stem in test_ids or hashlib.sha256(data).hexdigest() in digests \
                or hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest() in digests:
            raise ValueError(f"{f} is a held-out test photograph (splitdiff.photos, split 'test'); "
                             "it cannot be used for training")
        w, h = rgb.size
        if min(w, h) > short_side:
            scale = short_side / min(w, h)
            rgb = rgb.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        names.append(f.name)
        images.append(torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1).contiguous())
    return names, images

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
    """Random crops of the training images: scikit-image's ``names`` (``TRAIN_IMAGES`` by
    default), or every image in ``folder`` (``load_folder``; e.g. a fetched corpus's ``train/``)."""

    def __init__(self, names: tuple[str, ...] = TRAIN_IMAGES, size: int = 64, batch_size: int = 16,
                 samples_per_epoch: int = 4096, seed: int = 0, num_workers: int = 0,
                 folder: str | Path | None = None) -> None:
        super().__init__()
        overlap = set(names) & set(TEST_IMAGES)
        if overlap:
            raise ValueError(f"held-out test images cannot be used for training: {sorted(overlap)}")
        self.names, self.size, self.batch_size, self.folder = names, size, batch_size, folder
        self.samples_per_epoch, self.seed, self.num_workers = samples_per_epoch, seed, num_workers
        if folder is not None:  # read (and check) the folder now: a bad one fails before training starts
            self.names, self._images = load_folder(folder)

    def setup(self, stage: str | None = None) -> None:
        images = self._images if self.folder is not None else [load_skimage(n) for n in self.names]
        self.dataset = RandomCrops(images, self.size, self.samples_per_epoch, seed=self.seed)

    def val_dataloader(self) -> DataLoader:
        """The held-out benchmark at the training size, one batch (``splitdiff.photos``): the
        validation curve (``validation.denoising_psnr``) monitors the prior; nothing trains on it."""
        from ..photos import heldout_images

        return DataLoader(heldout_images(self.size)[1], batch_size=64, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        """This epoch's crops (the trainer must reload the data every epoch, as ``train_prior`` does)."""
        self.dataset.epoch = self.trainer.current_epoch if self.trainer is not None else 0
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=False)

"""Training data, offline: random multi-scale crops of photographs.

By default the scikit-image photographs whose docstring states public domain, CC0 or no known
copyright restrictions (see docs/model-card.md; the lists and the loader live in
:mod:`splitdiff.evaluation.images`, so that the demo and the evaluation load them without
Lightning); or every image of a folder (``load_folder``, ``train-prior --images``), such as a
fetched corpus's ``train/``. The held-out test photographs are never cropped for training.
"""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..evaluation.ground_truth import IMAGE_SUFFIXES  # the image files a folder holds, as for evaluation
from ..evaluation.images import TEST_IMAGES, TRAIN_IMAGES, load_skimage

__all__ = ["TRAIN_IMAGES", "TEST_IMAGES", "load_skimage", "load_folder", "RandomCrops", "CropDataModule",
           "IMAGE_SUFFIXES", "SHORT_SIDE", "CROP_SCALES"]

#: Training photographs are resized so that their short side is this long: crops of 64 to 512
#: pixels then span 1/8 of a photograph to all of it, the scales of the held-out benchmark (a
#: whole photograph at 64x64 or 256x256).
SHORT_SIDE = 512
#: The crop scales (``RandomCrops``' min_scale, max_scale) of the shipped prior's recipe: from a
#: whole photograph to its native pixels (docs/model-card.md measures narrower ranges).
CROP_SCALES = (0.125, 1.0)


def _held_out_digests() -> tuple[set[str], set[str]]:
    """SHA-256 digests that identify a held-out photograph, and the held-out ids.

    Digests: the original files and the scikit-image pixel arrays (``manifest.csv``), the shipped
    256x256 PNGs' files and their decoded RGB pixels."""
    import hashlib

    import numpy as np
    from PIL import Image

    from ..photos import HELDOUT_DIR, photos

    test = photos("test")
    digests = {p.sha256 for p in test}
    for f in HELDOUT_DIR.glob("*.png"):
        digests.add(hashlib.sha256(f.read_bytes()).hexdigest())
        with Image.open(f) as image:
            digests.add(hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest())
    return digests, {p.id for p in test}


def load_folder(folder: str | Path, short_side: int = SHORT_SIDE) -> tuple[list[str], list[Tensor]]:
    """Every image file in ``folder`` (not its subfolders) as (names, (3, H, W) float32 tensors in
    [-1, 1]), read by ``evaluation.images.read_image`` (its pixel limit, 8- and 16-bit, grayscale
    as RGB) and resized (antialiased) so the short side is at most ``short_side``.

    A held-out test photograph is an error, recognised by its file's content (an original file
    or a shipped benchmark PNG), its decoded 8-bit pixels (the scikit-image photographs, the
    benchmark PNGs) or its corpus id as file name: training never sees the benchmark. A
    photograph re-encoded otherwise (another format, size or crop) is not recognised. A link is
    refused: the folder's files are read, not what they point to."""
    import hashlib

    from ..evaluation.images import read_image

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--images {folder} is not a folder")
    entries = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    links = [f.name for f in entries if f.is_symlink()]
    if links:
        raise ValueError(f"--images {folder} holds links ({', '.join(links[:3])}); copy the files in instead")
    files = [f for f in entries if f.is_file()]
    if not files:
        raise ValueError(f"--images {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    digests, test_ids = _held_out_digests()
    names, images = [], []
    for f in files:
        x = read_image(f)[0]
        pixels = ((x + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
        if f.stem in test_ids or hashlib.sha256(f.read_bytes()).hexdigest() in digests \
                or hashlib.sha256(pixels.tobytes()).hexdigest() in digests:
            raise ValueError(f"{f} is a held-out test photograph (splitdiff.photos, split 'test'); "
                             "it cannot be used for training")
        h, w = x.shape[-2:]
        if min(h, w) > short_side:
            scale = short_side / min(h, w)
            x = F.interpolate(x[None], size=(max(1, round(h * scale)), max(1, round(w * scale))), mode="bilinear",
                              antialias=True, align_corners=False)[0].clamp(-1, 1)
        names.append(f.name)
        images.append(x.contiguous())
    return names, images


def check_crop_scales(min_scale: float, max_scale: float) -> None:
    """A ``ValueError`` unless ``0 < min_scale <= max_scale <= 1`` (``RandomCrops``' scale range)."""
    if not 0 < min_scale <= max_scale <= 1:
        raise ValueError(f"crop scales need 0 < min_scale <= max_scale <= 1, got {min_scale}, {max_scale}")


class RandomCrops(Dataset):
    """``length`` random crops of side ``size`` per epoch, at a log-uniform random scale in
    ``[min_scale, max_scale]`` (a crop of ``size / scale`` pixels resized to ``size``, antialiased;
    at most the image's short side) with random flips. With training photographs resized to a
    512-pixel short side (``SHORT_SIDE``) and ``size`` 64, scale 1/8 is a whole photograph (the
    held-out benchmark's scale) and scale 1 its native pixels."""

    def __init__(self, images: list[Tensor], size: int = 64, length: int = 4096, min_scale: float = 0.125,
                 seed: int = 0, max_scale: float = 1.0) -> None:
        if not images:
            raise ValueError("RandomCrops needs at least one image")
        check_crop_scales(min_scale, max_scale)
        small = [tuple(im.shape[-2:]) for im in images if min(im.shape[-2:]) < size]
        if small:
            raise ValueError(f"images smaller than the crop size {size}: {small}")
        self.images, self.size, self.length, self.seed = images, size, length, seed
        self.min_scale, self.max_scale = min_scale, max_scale
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed + 1_000_003 * self.epoch + index)
        image = self.images[int(torch.randint(len(self.images), (1,), generator=g))]
        h, w = image.shape[-2:]
        largest = min(h, w) / self.size
        log_scale = torch.empty(1).uniform_(math.log(self.min_scale), math.log(self.max_scale), generator=g)
        scale = math.exp(float(log_scale))
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
                 folder: str | Path | None = None, crop_scales: tuple[float, float] = CROP_SCALES) -> None:
        super().__init__()
        overlap = set(names) & set(TEST_IMAGES)
        if overlap:
            raise ValueError(f"held-out test images cannot be used for training: {sorted(overlap)}")
        self.names, self.size, self.batch_size, self.folder = names, size, batch_size, folder
        self.samples_per_epoch, self.seed, self.num_workers = samples_per_epoch, seed, num_workers
        self.crop_scales = tuple(crop_scales)
        check_crop_scales(*self.crop_scales)  # bad scales fail here, not mid-run
        if folder is not None:  # read (and check) the folder now: a bad one fails before training starts
            self.names, self._images = load_folder(folder)

    def setup(self, stage: str | None = None) -> None:
        images = self._images if self.folder is not None else [load_skimage(n) for n in self.names]
        self.dataset = RandomCrops(images, self.size, self.samples_per_epoch, self.crop_scales[0], seed=self.seed,
                                   max_scale=self.crop_scales[1])

    def val_dataloader(self) -> DataLoader:
        """The held-out benchmark at the training size, one batch (``splitdiff.photos``): the
        validation curve (``validation.denoising_psnr``) monitors the prior; nothing trains on it."""
        from ..photos import heldout_images

        # the benchmark is stored at 256x256: larger priors are validated at 256 (the network is convolutional)
        return DataLoader(heldout_images(min(self.size, 256))[1], batch_size=64, shuffle=False)

    def train_dataloader(self) -> DataLoader:
        """This epoch's crops (the trainer must reload the data every epoch, as ``train_prior`` does)."""
        self.dataset.epoch = self.trainer.current_epoch if self.trainer is not None else 0
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=False)

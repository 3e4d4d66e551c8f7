"""Ground-truth images for an evaluation: listing, the test-set crop conventions, and the
per-rank shard of the work items (no padding, no duplicates)."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from .config import DataSpec, Item

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def list_images(data: DataSpec) -> list[str]:
    """The image names of ``data`` in a fixed order (file stems, sorted; or scikit-image names).

    Raises FileNotFoundError for a missing or empty folder, ValueError for an unknown
    scikit-image name, so that a run fails before any work starts.
    """
    if data.folder is None:
        import skimage.data

        unknown = [n for n in data.skimage if not callable(getattr(skimage.data, n, None))]
        if unknown or not data.skimage:
            raise ValueError(f"data.skimage: unknown scikit-image images {unknown or '(none given)'}")
        names = list(data.skimage)
    else:
        if not data.folder.is_dir():
            raise FileNotFoundError(f"data folder not found: {data.folder}")
        files = sorted(p for p in data.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FileNotFoundError(f"data folder {data.folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        stems = [p.stem for p in files]
        names = stems if len(set(stems)) == len(stems) else [p.name.replace(".", "_") for p in files]
    return names[: data.limit] if data.limit else names


@functools.lru_cache(maxsize=8)
def _folder_index(folder: Path) -> dict[str, Path]:
    """Image name (stem, and file name with dots as underscores) -> path, listed once per folder."""
    index = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            index.setdefault(p.stem, p)
            index[p.name.replace(".", "_")] = p
    return index


def _path(data: DataSpec, name: str) -> Path:
    path = _folder_index(data.folder).get(name)
    if path is None or not path.is_file():
        raise FileNotFoundError(f"image {name!r} is no longer in {data.folder}")
    return path


def crop(x: Tensor, convention: str, size: int) -> Tensor:
    """(1, 3, H, W) in [-1, 1] to (1, 3, size, size) by a test-set convention.

    ``ffhq``: center crop (DPS/DAPS feed 256x256 FFHQ images; a smaller image is an error);
    ``imagenet``: resize the shorter side to ``size`` (bicubic, antialiased), then center crop;
    ``resize``: center crop to a square, then resize (antialiased bilinear, as ``splitdiff demo``).
    """
    h, w = x.shape[-2:]
    if convention == "ffhq":
        if min(h, w) < size:
            raise ValueError(f"image is {h}x{w}, smaller than the {size}x{size} center crop")
    elif convention == "imagenet":
        scale = size / min(h, w)
        h, w = max(size, round(h * scale)), max(size, round(w * scale))
        x = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    else:
        from .images import square_resize

        return square_resize(x, size).contiguous()
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size].clamp(-1, 1).contiguous()


def load_ground_truth(data: DataSpec, name: str) -> Tensor:
    """The image ``name`` as (1, 3, size, size) in [-1, 1]; ValueError if unreadable or too small."""
    if data.folder is None:
        from ..training.data import load_skimage

        x = load_skimage(name)[None]
    else:
        path = _path(data, name)
        try:
            with Image.open(path) as image:
                array = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
                x = array.view(image.height, image.width, 3).permute(2, 0, 1)[None].float() / 127.5 - 1
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read {path} as an image: {err}") from None
    return crop(x, data.convention, data.size)


class ItemDataset(Dataset):
    """The work items; entry ``i`` is ``{"index": i, "image"}`` or ``{"index": i, "error"}`` or,
    for an item already finished, ``{"index": i, "done": True}`` (checked when it is fetched)."""

    def __init__(self, items: list[Item], data: DataSpec, is_done) -> None:
        self.items, self.data, self.is_done = items, data, is_done

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        item = self.items[i]
        if self.is_done(item):
            return {"index": i, "done": True}
        try:
            return {"index": i, "image": load_ground_truth(self.data, item.image)}
        except (ValueError, FileNotFoundError) as err:
            return {"index": i, "error": str(err)}


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + world, ...``: every index on exactly one rank, no padding.

    (Lightning's default DistributedSampler pads the last batch with repeats, which would score
    some images twice.)
    """

    def __init__(self, length: int, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self):
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))

"""Ground-truth images for an evaluation: listing, the test-set crop conventions, and the
per-rank shard of the work items (no padding, no duplicates)."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from .config import NAME_PATTERN, DataSpec, Item, safe_name

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: The 2-D images shipped inside scikit-image's wheel (``skimage/data/*.png|jpg``): the others
#: (``kidney``, ``cells3d``, ...) are downloaded on first use, which splitdiff never does.
BUNDLED_SKIMAGE = ("astronaut", "brick", "camera", "cell", "chelsea", "checkerboard", "clock", "coffee", "coins",
                   "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
                   "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "text")


def skimage_names() -> list[str]:
    """The scikit-image images ``data.skimage`` may name (those bundled with the package)."""
    import skimage.data

    return [n for n in BUNDLED_SKIMAGE if callable(getattr(skimage.data, n, None))]


def list_images(data: DataSpec) -> list[str]:
    """The image names of ``data`` in a fixed order (file stems, sorted; or scikit-image names).

    Raises FileNotFoundError for a missing or empty folder, ValueError for an unknown
    scikit-image name or an image file whose name cannot name a result, so that a run fails
    before any work starts.
    """
    if data.folder is None:
        known = skimage_names()
        unknown = [n for n in data.skimage if n not in known]
        if unknown or not data.skimage:
            raise ValueError(f"data.skimage: unknown scikit-image images {unknown or '(none given)'}; "
                             f"known: {', '.join(known)}")
        names = list(data.skimage)
    else:
        if not data.folder.is_dir():
            raise FileNotFoundError(f"data folder not found: {data.folder}")
        names = list(_folder_files(data.folder))
        if not names:
            raise FileNotFoundError(f"data folder {data.folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return names[: data.limit] if data.limit else names


def _folder_files(folder: Path) -> dict[str, Path]:
    """Image name -> file, in name order: the file stems, or where two files share a stem (a.png,
    a.jpg) the file names with dots as underscores. Hidden files (.DS_Store, macOS's ._a.png)
    are skipped. ValueError when two files give one name, or a name cannot be a path part."""
    files = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
    stems = [p.stem for p in files]
    names = stems if len(set(stems)) == len(stems) else [p.name.replace(".", "_") for p in files]
    index: dict[str, Path] = {}
    for name, path in zip(names, files):
        if name in index:
            raise ValueError(f"data.folder: {folder}: {index[name].name!r} and {path.name!r} both give the image "
                             f"name {name!r}; rename one")
        if not safe_name(name):
            raise ValueError(f"data.folder: {folder}: the image file {path.name!r} gives the name {name!r}, which "
                             f"cannot name a result file: expected a name matching {NAME_PATTERN} (no '..'); "
                             "rename the file")
        index[name] = path
    return index


#: name -> path, listed once per folder (each item looks its image up here)
_folder_index = functools.lru_cache(maxsize=8)(_folder_files)


def _path(data: DataSpec, name: str) -> Path:
    path = _folder_index(data.folder).get(name)
    if path is None or not path.is_file():
        raise FileNotFoundError(f"image {name!r} is no longer in {data.folder}")
    return path


def crop(x: Tensor, convention: str, size: int) -> Tensor:
    """(1, 3, H, W) in [-1, 1] to (1, 3, size, size) by a test-set convention.

    ``ffhq``: center crop (DPS/DAPS feed 256x256 FFHQ images; a smaller image is an error);
    ``imagenet``: resize the shorter side to ``size`` (bicubic, antialiased), then center crop;
    ``resize``: center crop to a square, then resize (antialiased bilinear). (The shipped held-out
    benchmark has its own: ``photos.heldout_image``.)
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
    if data.heldout:
        from ..photos import heldout_image

        return heldout_image(name, data.size, data.folder)
    if data.folder is None:
        from .images import load_skimage

        x = load_skimage(name)[None]
    else:
        from .images import read_image

        # read_image checks the header first: a decompression bomb is a ValueError (an item
        # error), not an allocation that kills the run
        x = read_image(_path(data, name))
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
        except (ValueError, OSError) as err:  # FileNotFoundError is an OSError
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

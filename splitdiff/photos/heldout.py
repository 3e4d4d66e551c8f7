"""The held-out benchmark shipped with splitdiff: the corpus's test photographs at 256x256.

Each test photograph (``manifest.csv``, split ``test``) is center-cropped to a square and
resized to 256x256 (Lanczos) once, by :func:`build_heldout` from a fetched corpus, and stored as
PNG in ``heldout/`` with its ``ATTRIBUTION.md``; :func:`heldout_images` loads them at any size
without a download. No test photograph is ever used for training (``photos.manifest``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..files import atomic_write, write_text
from .corpus import SKIMAGE, Photo, attribution, photos

HELDOUT_DIR = Path(__file__).with_name("heldout")
HELDOUT_SIZE = 256


def square_crop(image, size: int = HELDOUT_SIZE):
    """The centered largest square of a PIL image, resized to ``size`` x ``size`` (Lanczos), RGB."""
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)


def _open(photo: Photo, corpus: Path):
    from PIL import Image

    path = corpus / photo.split / photo.filename
    if not path.is_file():
        raise ValueError(f"{path} is missing: build the corpus first (splitdiff photos fetch {corpus})")
    with Image.open(path) as image:
        image.load()
        return image.copy()


def build_heldout(corpus: str | Path, out: str | Path = HELDOUT_DIR) -> Path:
    """Write ``out/<id>.png`` (256x256) for every test photograph of the fetched ``corpus`` folder,
    ``out/ATTRIBUTION.md`` and ``out/licenses/`` (the packages' copyright files). Returns ``out``
    (which must exist)."""
    corpus, out = Path(corpus), Path(out)
    if not out.is_dir():
        raise ValueError(f"{out} is not a folder")
    test = photos("test")
    for photo in test:
        square = square_crop(_open(photo, corpus))
        atomic_write(out / f"{photo.id}.png", lambda p, im=square: im.save(p, format="PNG", optimize=True))
    write_text(out / "ATTRIBUTION.md", attribution(test))
    (out / "licenses").mkdir(exist_ok=True)
    for package in sorted({p.source for p in test if p.source != SKIMAGE}):
        source = corpus / "licenses" / f"{package}.copyright"
        atomic_write(out / "licenses" / source.name, lambda p, s=source: p.write_bytes(s.read_bytes()))
    return out


def heldout_image(photo_id: str, size: int = HELDOUT_SIZE, folder: str | Path = HELDOUT_DIR) -> Tensor:
    """One held-out photograph (its manifest ``id``) as (1, 3, size, size) float32 in [-1, 1]:
    the shipped 256x256 PNG, resized to ``size`` <= 256 with Lanczos (as ``square_crop``), in 8 bits.

    The one definition of the benchmark's pixels at a size: ``heldout_images`` (demo, benchmarks)
    and ``splitdiff evaluate`` with ``data: {heldout: true}`` both read it."""
    from PIL import Image

    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= HELDOUT_SIZE:
        raise ValueError(f"size must be an int in [8, {HELDOUT_SIZE}], got {size!r}")
    from ..evaluation.images import as_image

    path = Path(folder) / f"{photo_id}.png"
    if not path.is_file():
        raise ValueError(f"the held-out image {path} is missing from the package; reinstall splitdiff")
    with Image.open(path) as image:
        image = image.convert("RGB")
        if size != HELDOUT_SIZE:
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        return as_image(image)


def heldout_images(size: int = HELDOUT_SIZE, folder: str | Path = HELDOUT_DIR) -> tuple[list[str], Tensor]:
    """The held-out benchmark: (ids, images (N, 3, size, size) float32 in [-1, 1]), N >= 24, in
    the manifest's order; each image is ``heldout_image(id, size)``."""
    ids = [photo.id for photo in photos("test")]
    return ids, torch.cat([heldout_image(i, size, folder) for i in ids])


__all__ = ["HELDOUT_DIR", "HELDOUT_SIZE", "square_crop", "build_heldout", "heldout_image", "heldout_images"]

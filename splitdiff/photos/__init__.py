"""Licensed photographs, offline: the corpus (``manifest.csv``, :func:`fetch`) and the held-out
benchmark shipped with the package (:func:`heldout_images`).

    ids, x = splitdiff.photos.heldout_images(64)   # (24, 3, 64, 64) in [-1, 1]
    splitdiff.photos.fetch("photos")                # train/, test/, licenses/, manifest, attribution
"""

from .corpus import MANIFEST, SPLITS, Photo, apt_download, attribution, fetch, manifest, packages, photos
from .heldout import HELDOUT_DIR, HELDOUT_SIZE, build_heldout, heldout_image, heldout_images, square_crop

__all__ = [
    "MANIFEST", "SPLITS", "Photo", "manifest", "photos", "packages", "fetch", "apt_download", "attribution",
    "HELDOUT_DIR", "HELDOUT_SIZE", "heldout_image", "heldout_images", "build_heldout", "square_crop",
]

"""The photo corpus: licensed photographs from Debian's wallpaper packages and scikit-image.

``manifest.csv`` (shipped beside this module) lists every photograph splitdiff trains or tests
on: its id, split (``train`` or ``test``: a photograph is one or the other, never both), source
(a Debian package, or ``scikit-image``), the package version it was taken from, its path in the
package, author and license from the package's ``debian/copyright``, size, the SHA-256 of the
file (of the pixel array for scikit-image), a few words on its subject, and notes.
:func:`fetch` rebuilds the corpus folder from the packages (``apt-get download``, then
``dpkg-deb -x``: nothing is installed); ``scripts/make_photo_manifest.py`` says how the
manifest and its split were made.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np

from ..files import atomic_write, write_text

MANIFEST = Path(__file__).with_name("manifest.csv")
SPLITS = ("train", "test")
SKIMAGE = "scikit-image"


@dataclass(frozen=True)
class Photo:
    """One photograph of the corpus (a row of ``manifest.csv``)."""

    id: str
    split: str
    source: str
    version: str
    path: str
    author: str
    license: str
    width: int
    height: int
    sha256: str
    subject: str
    notes: str

    @property
    def skimage_name(self) -> str | None:
        """The ``skimage.data`` function of a scikit-image photograph, else None."""
        return self.path.removeprefix("skimage.data.") if self.source == SKIMAGE else None

    @property
    def filename(self) -> str:
        """Its file name in a corpus folder: ``<id>`` plus the original extension (PNG for scikit-image)."""
        return self.id + (".png" if self.source == SKIMAGE else Path(self.path).suffix.lower())


@functools.lru_cache(maxsize=None)
def manifest() -> tuple[Photo, ...]:
    """Every photograph of the corpus, in manifest order."""
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    photos = tuple(Photo(**{f.name: (int(row[f.name]) if f.type in (int, "int") else row[f.name])
                            for f in fields(Photo)}) for row in rows)
    for photo in photos:
        if photo.split not in SPLITS:
            raise ValueError(f"{MANIFEST}: photo {photo.id!r} has split {photo.split!r}, expected one of {SPLITS}")
    return photos


def photos(split: str | None = None) -> list[Photo]:
    """The corpus's photographs, all of them or one split ('train' or 'test')."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
    return [p for p in manifest() if split is None or p.split == split]


def packages() -> dict[str, str]:
    """The Debian packages the corpus comes from, with the versions the manifest was made from."""
    return {p.source: p.version for p in manifest() if p.source != SKIMAGE}


Download = Callable[[str, Path], Path]


def apt_download(package: str, folder: Path) -> Path:
    """``apt-get download PACKAGE`` into ``folder``; returns the .deb (no installation, no root)."""
    before = set(folder.glob("*.deb"))
    result = subprocess.run(["apt-get", "download", package], cwd=folder, capture_output=True, text=True)
    new = sorted(set(folder.glob("*.deb")) - before)
    if result.returncode != 0 or len(new) != 1:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"apt-get download {package} failed ({tail[0]}); the corpus needs Debian's package "
                         f"{package} (reachable package registries and apt sources)")
    return new[0]


def _extract(deb: Path, folder: Path) -> str:
    """Unpack ``deb`` into ``folder`` with ``dpkg-deb -x``; returns its version."""
    for command in (["dpkg-deb", "-x", str(deb), str(folder)], ["dpkg-deb", "-f", str(deb), "Version"]):
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise ValueError(f"{' '.join(command[:2])} {deb.name} failed: {result.stderr.strip()[:200]}")
    return result.stdout.strip()


def _inside(root: Path, relative: str) -> Path:
    """``root / relative`` with links resolved, refused if it leaves ``root`` (a package's link)."""
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{relative} resolves outside its package ({path}); refusing to read it")
    return path


def _skimage_pixels(photo: Photo) -> np.ndarray:
    import skimage.data

    return np.ascontiguousarray(getattr(skimage.data, photo.skimage_name)())


def _check(photo: Photo, data: bytes, where: str) -> None:
    digest = hashlib.sha256(data).hexdigest()
    if digest != photo.sha256:
        raise ValueError(f"{photo.id}: {where} has SHA-256 {digest[:12]}..., the manifest {photo.sha256[:12]}... "
                         f"(made from version {photo.version}): the photograph changed; refusing to use it")


def attribution(items: list[Photo]) -> str:
    """A markdown attribution of ``items``: id, subject, author, license, source and version."""
    lines = ["# Attribution", "",
             "Each photograph, its author and license as its source states them (Debian: the package's",
             "`debian/copyright`; scikit-image: `skimage.data`'s docstring). Licenses: CC0-1.0 and",
             "public domain need no attribution; CC-BY-4.0 and CC-BY-SA-4.0 require it (and SA the same",
             "license for adaptations, such as the resized crops of the held-out benchmark); GPL-2+ images",
             "are redistributed under the GPL, their original files being in the named Debian package.",
             "Each package's `debian/copyright`, with its license texts, is in `licenses/`.", "",
             "| id | split | subject | author | license | source |", "|---|---|---|---|---|---|"]
    for p in items:
        note = f" ({p.notes})" if p.notes else ""
        lines.append(f"| {p.id} | {p.split} | {p.subject} | {p.author}{note} | {p.license} | "
                     f"{p.source} {p.version}: `{p.path}` |")
    return "\n".join(lines) + "\n"


def fetch(out: str | Path, force: bool = False, download: Download = apt_download) -> Path:
    """Build the corpus folder ``out``: ``train/`` and ``test/`` (one file per photograph, the
    original bytes; scikit-image's as PNG), ``licenses/`` (each package's ``copyright``),
    ``manifest.csv`` and ``ATTRIBUTION.md``. Returns ``out``.

    Every file is checked against the manifest's SHA-256 (a changed photograph is an error).
    ``out`` must be missing or empty unless ``force`` (then files are replaced, nothing else is
    removed). ``download(package, folder)`` fetches a .deb (default: ``apt-get download``).
    """
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ValueError(f"{out} exists and is not a folder; choose another corpus folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ValueError(f"{out} exists and is not empty; pass --force to write the corpus into it")
    for sub in ("train", "test", "licenses"):  # never write through a planted link
        if (out / sub).is_symlink() or ((out / sub).exists() and not (out / sub).is_dir()):
            raise ValueError(f"{out / sub} exists and is not a folder of its own (a link or a file); remove it")
        (out / sub).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="splitdiff-photos-") as tmp:
        roots, fetched = {}, {}
        for package in packages():
            deb = download(package, Path(tmp))
            roots[package] = Path(tmp) / package
            fetched[package] = _extract(deb, roots[package])
            copyright_file = _inside(roots[package], f"usr/share/doc/{package}/copyright")
            atomic_write(out / "licenses" / f"{package}.copyright", lambda p, c=copyright_file: shutil.copyfile(c, p))
        for photo in manifest():
            target = out / photo.split / photo.filename
            if photo.source == SKIMAGE:
                pixels = _skimage_pixels(photo)
                _check(photo, pixels.tobytes(), f"skimage.data.{photo.skimage_name}()")
                from PIL import Image

                atomic_write(target, lambda p, a=pixels: Image.fromarray(a).save(p, format="PNG"))
            else:
                data = _inside(roots[photo.source], photo.path).read_bytes()
                _check(photo, data, f"{photo.path} of {photo.source} {fetched[photo.source]}")
                atomic_write(target, lambda p, d=data: p.write_bytes(d))
    atomic_write(out / "manifest.csv", lambda p: shutil.copyfile(MANIFEST, p))
    write_text(out / "ATTRIBUTION.md", attribution(list(manifest())))
    return out

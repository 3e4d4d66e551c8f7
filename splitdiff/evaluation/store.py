"""The results folder of an evaluation: one record per item, written atomically.

Layout under ``OUT/NAME``::

    config.yaml, run.json            the config snapshot, splitdiff/torch versions
    results/TASK@SIGMA/METHOD/IMAGE.png   reconstruction
    results/TASK@SIGMA/METHOD/IMAGE.pt    measurement y (and the seed)
    results/TASK@SIGMA/METHOD/IMAGE.json  metrics row (written last: its presence marks the item done)
    errors/TASK@SIGMA/METHOD/IMAGE.json   why an item was skipped (retried by a rerun)
    locks/TASK@SIGMA/METHOD/IMAGE.lock    held (flock) by the process solving the item
    table.md, table.csv, table.json, figures/

Every file is written to a fresh temporary name and renamed (:func:`splitdiff.files.atomic_write`),
so a run killed at any moment leaves either a whole record or none, and a planted file or link
is never written through. Every item path is checked to resolve inside the results folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Iterator

import torch

from .. import files
from .config import Item


def _atomic(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return files.atomic_write(path, write)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically, creating its folder (see :func:`splitdiff.files.write_text`)."""
    return _atomic(Path(path), lambda p: p.write_text(text))


#: What the report reads from every metrics row.
_ROW_KEYS = ("key", "task", "sigma_y", "method", "image", "psnr", "ssim", "seconds", "nfe")


class ResultStore:
    """Paths and atomic reads/writes for one evaluation's results folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, folder: str, item: Item, suffix: str) -> Path:
        # the suffix is appended, not swapped: image names may hold dots ('img.v2' and 'img.v3'
        # must not both become 'img.json')
        path = self.root / folder / f"{item.key}{suffix}"
        # names are validated by the config; this is defence in depth against a crafted key or a
        # planted link (e.g. 'results' -> /elsewhere) that would lead out of the folder
        root = self.root.resolve()
        if not path.resolve().is_relative_to(root):
            raise ValueError(f"{path} resolves outside the results folder {root}; refusing to use it")
        return path

    def row_path(self, item: Item) -> Path:
        return self._path("results", item, ".json")

    def image_path(self, item: Item) -> Path:
        return self._path("results", item, ".png")

    def measurement_path(self, item: Item) -> Path:
        return self._path("results", item, ".pt")

    def error_path(self, item: Item) -> Path:
        return self._path("errors", item, ".json")

    def lock_path(self, item: Item) -> Path:
        return self._path("locks", item, ".lock")

    @contextlib.contextmanager
    def lock(self, item: Item) -> Iterator[bool]:
        """Hold the item's lock (``flock``, exclusive, non-blocking) for the ``with`` block; yields
        False when another process holds it (a second run into this folder is solving the item).

        The kernel releases a lock when its descriptor closes, also when the process is killed,
        so a dead run never leaves a stale lock. Lock files are kept: deleting one while another
        process waits to open it would let two processes lock two different files.
        """
        path = self.lock_path(item)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def read_row(self, item: Item) -> dict | None:
        """The item's metrics row; None if it has none; ``{}`` if it is unreadable."""
        path = self.row_path(item)
        if not path.is_file():
            return None
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return row if isinstance(row, dict) else {}

    def delete_result(self, item: Item) -> None:
        """Remove the item's record (row first: without it the item is not done)."""
        for path in (self.row_path(item), self.image_path(item), self.measurement_path(item)):
            path.unlink(missing_ok=True)

    def has_records(self) -> bool:
        """True when the folder holds at least one metrics row or error record."""
        return any(any((self.root / folder).rglob("*.json")) for folder in ("results", "errors")
                   if (self.root / folder).is_dir())

    def is_done(self, item: Item) -> bool:
        """True once the item's metrics row exists (it is written after its image and measurement)."""
        return self.row_path(item).is_file()

    def write_result(self, item: Item, reconstruction, measurement, row: dict) -> None:
        """Write the reconstruction PNG, the measurement and finally the metrics row."""
        from .images import save_image

        save_image(reconstruction, self.image_path(item))
        _atomic(self.measurement_path(item), lambda p: torch.save({"y": measurement.cpu(), "seed": row["seed"]}, p))
        write_text(self.row_path(item), json.dumps(row, indent=1))
        self.error_path(item).unlink(missing_ok=True)

    def write_error(self, item: Item, message: str) -> None:
        write_text(self.error_path(item), json.dumps({"key": item.key, "image": item.image, "error": message}))

    def rows(self) -> list[dict]:
        """Every metrics row, in a fixed order (by key); ValueError naming a file that is not one."""
        return self._records("results", _ROW_KEYS)

    def errors(self) -> list[dict]:
        """Every error record, in a fixed order; ValueError naming a file that is not one."""
        return self._records("errors", ("key", "image", "error"))

    def _records(self, folder: str, keys: tuple[str, ...]) -> list[dict]:
        base = self.root / folder
        records = []
        for path in sorted(base.rglob("*.json")) if base.is_dir() else []:
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise ValueError(f"{path} is not a readable record ({err}); remove it and rerun") from None
            if not isinstance(record, dict) or any(k not in record for k in keys):
                raise ValueError(f"{path} is not a splitdiff {folder[:-1]} record (expected an object with "
                                 f"{', '.join(keys)}); remove it and rerun")
            records.append(record)
        return records

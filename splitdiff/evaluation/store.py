"""The results folder of an evaluation: one record per item, written atomically.

Layout under ``OUT/NAME``::

    config.yaml, run.json            the config snapshot, splitdiff/torch versions
    results/TASK@SIGMA/METHOD/IMAGE.png   reconstruction
    results/TASK@SIGMA/METHOD/IMAGE.pt    measurement y (and the seed)
    results/TASK@SIGMA/METHOD/IMAGE.json  metrics row (written last: its presence marks the item done)
    errors/TASK@SIGMA/METHOD/IMAGE.json   why an item was skipped (retried by a rerun)
    table.md, table.csv, table.json, figures/

Every file is written to a temporary name and renamed, so a run killed at any moment leaves
either a whole record or none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .config import Item


def _atomic(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return _atomic(Path(path), lambda p: p.write_text(text))


class ResultStore:
    """Paths and atomic reads/writes for one evaluation's results folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _base(self, folder: str, item: Item) -> Path:
        return self.root / folder / item.key

    def row_path(self, item: Item) -> Path:
        return self._base("results", item).with_suffix(".json")

    def image_path(self, item: Item) -> Path:
        return self._base("results", item).with_suffix(".png")

    def measurement_path(self, item: Item) -> Path:
        return self._base("results", item).with_suffix(".pt")

    def error_path(self, item: Item) -> Path:
        return self._base("errors", item).with_suffix(".json")

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
        """Every metrics row, in a fixed order (by key)."""
        paths = sorted((self.root / "results").rglob("*.json")) if (self.root / "results").is_dir() else []
        return [json.loads(p.read_text()) for p in paths]

    def errors(self) -> list[dict]:
        paths = sorted((self.root / "errors").rglob("*.json")) if (self.root / "errors").is_dir() else []
        return [json.loads(p.read_text()) for p in paths]

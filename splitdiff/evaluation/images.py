"""Reading and writing images as NCHW tensors in [-1, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor


def load_image(path: str | Path, size: int | None = None) -> Tensor:
    """An image file as (1, 3, H, W) in [-1, 1]; with ``size``: center crop to a square, then
    resize to ``size`` x ``size`` (antialiased)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        image = Image.open(path).convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read {path} as an image: {err}") from None
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None] * 2 - 1
    return square_resize(x, size) if size else x


def square_resize(x: Tensor, size: int) -> Tensor:
    """Center crop (N, C, H, W) to a square, then resize to ``size`` (antialiased bilinear)."""
    h, w = x.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = x[..., top:top + side, left:left + side]
    if side != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1)


def to_uint8(x: Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) in [-1, 1] -> (H, W, 3) uint8 (clipped)."""
    if x.dim() == 4:
        x = x[0]
    return ((x.detach().cpu().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def save_image(x: Tensor, path: str | Path) -> Path:
    """Write (1, 3, H, W) / (3, H, W) in [-1, 1] as PNG, atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    Image.fromarray(to_uint8(x)).save(tmp, format="PNG")
    tmp.replace(path)
    return path

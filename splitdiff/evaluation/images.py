"""Images as NCHW tensors in [-1, 1]: reading and writing files, the scikit-image photographs
(training and held-out), showing a measurement, and scoring an estimate against the truth.

Reading checks the header before decoding: files of more than :data:`MAX_PIXELS` pixels
(decompression bombs) are refused, 16-bit images are scaled by 65535 (not clipped at 255),
and float or unknown modes are errors rather than silent conversions.

The demo (``splitdiff demo``) and the evaluation runner (``splitdiff evaluate``) score and show
results with the same :func:`score` and :func:`measurement_preview`. Nothing here needs
Lightning: training uses these photographs, they do not depend on training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ..files import atomic_write
from .metrics import LPIPSWeightsMissing, lpips_distance, psnr, residual, ssim

#: The largest image read (pixels): 64 megapixels, e.g. 8000 x 8000. A file whose header
#: declares more is refused before it is decoded.
MAX_PIXELS = 64_000_000

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def read_image(path: str | Path) -> Tensor:
    """An image file as (1, 3, H, W) float32 in [-1, 1]; grayscale is repeated over 3 channels.

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a folder, an
    unreadable or truncated file, more than ``MAX_PIXELS`` pixels, or a float-valued image.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; expected an image file")
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ValueError(f"{path} declares {width}x{height} pixels, more than the limit of {MAX_PIXELS:,} "
                                 "(a decompression bomb, or an image to downscale first)")
            if width < 1 or height < 1:
                raise ValueError(f"{path} has no pixels ({width}x{height})")
            mode = image.mode
            if mode in _SIXTEEN_BIT or mode == "I":
                values = np.asarray(image, dtype=np.int64)
                if values.min() < 0 or values.max() > 65535:
                    raise ValueError(f"{path} is a 32-bit integer image; expected 8- or 16-bit")
                pixels = values.astype(np.uint16)
            elif mode == "F":
                raise ValueError(f"{path} holds floating-point pixels of unknown range; save it as an 8- or "
                                 "16-bit image")
            else:
                pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError:  # PIL's own check at open, for headers far above MAX_PIXELS
        raise ValueError(f"{path} declares more pixels than the limit of {MAX_PIXELS:,} (a decompression bomb, or "
                         "an image to downscale first)") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"cannot read {path} as an image: {err}") from None
    return as_image(pixels)


def as_image(image, channels: int = 3) -> Tensor:
    """An in-memory image as (1, channels, H, W) float32 in [-1, 1].

    ``image``: a PIL image, or an array (numpy, or anything ``np.asarray`` takes: scikit-image's
    photographs) shaped (H, W) or (H, W, C) with C in 1, 3, 4 (alpha is dropped): ``uint8``
    (0..255), ``uint16`` (0..65535), ``bool``, or floats in [0, 1] (scikit-image's convention).
    Grayscale is repeated to ``channels`` (3) channels; ``channels=1`` keeps one (color is
    averaged). Raises ValueError for other shapes, dtypes or float values outside [0, 1].
    """
    if isinstance(image, Image.Image):
        image = image.convert("RGB") if image.mode not in ("L", "I;16", "I;16B", "I;16L", "1") else image
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3) or min(array.shape[:2]) < 1:
        raise ValueError(f"an image must be (H, W) or (H, W, C) with C in 1, 3, 4, got shape {np.shape(image)}")
    if array.dtype == np.uint8:
        values = array / 255.0
    elif array.dtype == np.uint16:
        values = array / 65535.0
    elif array.dtype == np.bool_:
        values = array.astype(np.float64)
    elif np.issubdtype(array.dtype, np.floating):
        values = array.astype(np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise ValueError("a float image must hold finite values in [0, 1] (scikit-image's convention), got "
                             f"[{np.nanmin(values):.3g}, {np.nanmax(values):.3g}]")
    else:
        raise ValueError(f"an image must be uint8, uint16, bool or float in [0, 1], got {array.dtype}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    if values.shape[2] != channels:
        values = values.mean(axis=2, keepdims=True) if channels == 1 else np.repeat(values, 3, axis=2)
    x = torch.from_numpy(values.astype(np.float32)).permute(2, 0, 1)[None].contiguous()
    return x * 2 - 1


def load_image(path: str | Path, size: int | None = None) -> Tensor:
    """An image file as (1, 3, H, W) in [-1, 1] (see :func:`read_image`); with ``size``: center
    crop to a square, then resize to ``size`` x ``size`` (antialiased; never upscaled)."""
    x = read_image(path)
    if size is None:
        return x
    try:
        return square_resize(x, size)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def square_resize(x: Tensor, size: int) -> Tensor:
    """Center crop (N, C, H, W) to a square, then resize to ``size`` (antialiased bilinear).

    An image smaller than ``size`` is an error: upscaling would invent the detail a solver is
    scored on.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    h, w = x.shape[-2:]
    side = min(h, w)
    if side < size:
        raise ValueError(f"image is {h}x{w}, smaller than {size}x{size}; use a larger image or a smaller size")
    top, left = (h - side) // 2, (w - side) // 2
    x = x[..., top:top + side, left:left + side]
    if side != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(-1, 1)


def to_uint8(x: Tensor) -> np.ndarray:
    """(C, H, W) or (1, C, H, W) in [-1, 1], C = 3 or 1 -> (H, W, 3) or (H, W) uint8 (clipped)."""
    if x.dim() == 4:
        x = x[0]
    if x.dim() != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"an image to save must have 1 or 3 channels, got shape {tuple(x.shape)}")
    array = ((x.detach().cpu().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return array[..., 0] if array.shape[-1] == 1 else array


def image_format(path: str | Path) -> str:
    """The PIL format of ``path``'s suffix (``.png`` -> PNG, ``.jpg`` -> JPEG, ...); ValueError if none."""
    suffix = Path(path).suffix.lower()
    formats = Image.registered_extensions()
    known = [s for s in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp") if s in formats]
    if suffix not in known:
        raise ValueError(f"cannot write an image as {Path(path).name!r}: use one of {', '.join(known)}")
    return formats[suffix]


def save_image(x: Tensor, path: str | Path) -> Path:
    """Write (1, 3, H, W) / (3, H, W) in [-1, 1] in the format of ``path``'s suffix, atomically
    (a new temporary file in the same folder, then a rename). The folder is created if missing."""
    path = Path(path)
    fmt = image_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: Image.fromarray(to_uint8(x)).save(tmp, format=fmt))


# -- the scikit-image photographs -----------------------------------------------------------
#: Training images (skimage.data names; licenses in docs/model-card.md). Grayscale ones are
#: repeated over 3 channels.
TRAIN_IMAGES = (
    "astronaut", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
    "camera", "grass", "gravel", "brick", "coins", "clock",
)
#: Held-out test images: never used for training.
TEST_IMAGES = ("chelsea", "coffee")


def load_skimage(name: str) -> Tensor:
    """A ``skimage.data`` image as a float32 (3, H, W) tensor in [-1, 1]."""
    import skimage.data

    if name in TEST_IMAGES and name in TRAIN_IMAGES:  # pragma: no cover - guarded by a test
        raise RuntimeError("an image is both a training and a test image")
    image = getattr(skimage.data, name)()
    if isinstance(image, tuple):
        image = image[0]
    image = np.asarray(image, dtype=np.float32)
    if image.max() > 1.5:
        image = image / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3]
    return torch.from_numpy(image).permute(2, 0, 1).contiguous() * 2 - 1


# -- showing and scoring results ------------------------------------------------------------
def measurement_preview(y: Tensor, size: int, magnitude: bool = False) -> Tensor:
    """A measurement (N, C, h, w) shown as an image (N, C, size, size) in [-1, 1]: resized by
    nearest neighbour, clipped; a Fourier ``magnitude`` (phase retrieval) on a log scale, each
    image's largest value shown as 1."""
    y = y.detach().float()
    if magnitude:
        y = torch.log1p(y.abs())
        y = y / y.flatten(1).amax(1).view(-1, 1, 1, 1).clamp_min(1e-8) * 2 - 1
    if tuple(y.shape[-2:]) != (size, size):
        y = torch.nn.functional.interpolate(y, size=(size, size), mode="nearest")
    return y.clamp(-1, 1)


def score(y: Tensor, operator, estimate: Tensor, truth: Tensor) -> dict[str, Tensor]:
    """The paper's metrics of ``estimate`` against ``truth`` (N, 3, H, W), per image (N,):
    ``psnr``, ``ssim``, ``lpips`` (NaN when its weights are missing: see
    :class:`~splitdiff.evaluation.metrics.LPIPSWeightsMissing`) and the ``residual`` of the
    measurement ``y`` under ``operator`` (see :mod:`splitdiff.evaluation.metrics`)."""
    scores = {"psnr": psnr(estimate, truth), "ssim": ssim(estimate, truth)}
    try:
        scores["lpips"] = lpips_distance(estimate, truth)
    except LPIPSWeightsMissing:
        scores["lpips"] = torch.full_like(scores["psnr"], float("nan"))
    scores["residual"] = residual(y, operator, estimate).cpu()
    return scores

"""Inpainting: ``A(x) = m * x`` for a binary mask ``m`` (1 = observed).

Box masks follow DPS / DAPS / DDiff (a square hole at a seeded random position inside a
margin; ``seed=0`` gives DDiff's rows 60:188, cols 63:191 at 256x256). Random masks drop a
fraction drawn from U(0.70, 0.71) of the pixels, the same pixels in every channel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..validation import check_int_range, check_positive_int, is_integer, is_real_number
from .base import LinearOperator, _as_rho, _broadcasts_to

#: numpy's ``RandomState`` takes seeds in [0, 2**32 - 1].
MAX_SEED = 2**32 - 1


def box_mask(
    height: int,
    width: int,
    box: int | None = None,
    margin: int | None = None,
    position: tuple[int, int] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A (height, width) float mask with a ``box`` x ``box`` hole of zeros.

    ``box`` defaults to half the height (128 at 256) and ``margin`` to 1/16 of it (16 at 256).
    Without ``position`` (top, left) the hole is placed like DPS's ``random_sq_bbox`` with
    ``numpy.random.RandomState(seed)``.
    """
    height, width = _check_size(height, "height"), _check_size(width, "width")
    box, margin, position = _check_box_options(box, margin, position)
    seed = _check_seed(seed)
    box = height // 2 if box is None else box
    margin = height // 16 if margin is None else margin
    if position is None:
        if height - margin - box <= margin or width - margin - box <= margin:
            raise ValueError(
                f"a {box}x{box} box with margin {margin} does not fit a {height}x{width} image; "
                "pass a smaller box or margin, or an explicit position"
            )
        rng = np.random.RandomState(seed)
        rng.randint(box, box + 1)  # DPS draws the side from [box, box + 1) first
        top = rng.randint(margin, height - margin - box)
        left = rng.randint(margin, width - margin - box)
    else:
        top, left = position
        if not (0 <= top and top + box <= height and 0 <= left and left + box <= width):
            raise ValueError(f"box at {position} of side {box} lies outside a {height}x{width} image")
    mask = np.ones((height, width))
    mask[top : top + box, left : left + box] = 0.0
    return mask


def random_mask(height: int, width: int, drop: tuple[float, float] = (0.70, 0.71), seed: int = 0) -> np.ndarray:
    """A (height, width) mask dropping ``int(p * H * W)`` pixels, ``p ~ U(drop)``, like DDiff (seed 0)."""
    height, width = _check_size(height, "height"), _check_size(width, "width")
    low, high = _check_drop(drop)
    rng = np.random.RandomState(_check_seed(seed))
    total = height * width
    count = int(rng.uniform(low, high) * total)
    mask = np.ones(total)
    mask[rng.choice(total, count, replace=False)] = 0.0
    return mask.reshape(height, width)


def _check_size(value: object, name: str) -> int:
    if not is_integer(value) or value < 1:  # type: ignore[operator]
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def _check_seed(seed: object) -> int:
    return check_int_range(seed, "seed", 0, MAX_SEED)


def _check_drop(drop: object) -> tuple[float, float]:
    """``drop`` as (low, high) with 0 <= low <= high < 1 (the fraction of pixels dropped)."""
    pair = tuple(drop) if isinstance(drop, (tuple, list)) else ()
    if not (len(pair) == 2 and all(is_real_number(p) for p in pair) and 0 <= pair[0] <= pair[1] < 1):
        raise ValueError(f"drop must be a range (low, high) with 0 <= low <= high < 1, got {drop!r}")
    return float(pair[0]), float(pair[1])


def _check_box_options(box: object, margin: object, position: object) -> tuple:
    """``box`` (int >= 1 or None), ``margin`` (int >= 0 or None), ``position`` ((top, left) or None)."""
    if box is not None:
        box = check_positive_int(int(box) if is_integer(box) else box, "box")
    if margin is not None and (not is_integer(margin) or margin < 0):
        raise ValueError(f"margin must be an integer >= 0, got {margin!r}")
    if position is not None:
        pair = tuple(position) if isinstance(position, (tuple, list)) else ()
        if len(pair) != 2 or not all(is_integer(p) for p in pair):
            raise ValueError(f"position must be a pair of integers (top, left), got {position!r}")
        position = (int(pair[0]), int(pair[1]))
    return box, None if margin is None else int(margin), position


def _check_mask(mask: object) -> Tensor:
    """A user mask as a tensor of the default dtype: 0/1 values, 2 to 4 non-empty dimensions."""
    try:
        m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, Tensor) else mask)
        m = m.detach().to(torch.get_default_dtype())
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"mask must be a 0/1 array of 2 to 4 dimensions, got {type(mask).__name__}") from None
    if m.dim() < 2 or m.dim() > 4 or m.numel() == 0 or not bool(((m == 0) | (m == 1)).all()):
        raise ValueError(f"mask must be a non-empty 0/1 array of 2 to 4 dimensions, got shape {tuple(m.shape)}")
    return m


class Inpainting(LinearOperator):
    """Masked observation ``m * x``; y has the image's shape (zeros where unobserved).

    ``mask_type`` is ``"box"`` or ``"random"`` (masks drawn per image size from ``seed``), or
    pass ``mask``: an array broadcastable to (N, C, H, W), e.g. (H, W). A given mask is no
    paper task (``task`` is None): solvers then need their settings, or ``task=`` to borrow a
    paper task's defaults.
    """

    def __init__(
        self,
        mask_type: str = "box",
        mask: np.ndarray | Tensor | None = None,
        box: int | None = None,
        margin: int | None = None,
        position: tuple[int, int] | None = None,
        drop: tuple[float, float] = (0.70, 0.71),
        seed: int = 0,
        sigma: float = 0.05,
    ) -> None:
        super().__init__(sigma)
        if mask_type not in ("box", "random"):
            raise ValueError(f"mask_type must be 'box' or 'random', got {mask_type!r}")
        self.mask_type = mask_type
        self.task = None if mask is not None else f"{mask_type}_inpainting"
        box, margin, position = _check_box_options(box, margin, position)
        self.options = dict(box=box, margin=margin, position=position, drop=_check_drop(drop), seed=_check_seed(seed))
        self._fixed = None if mask is None else _check_mask(mask)
        self._cache: dict = {}
        self._arrays: dict = {}

    def mask(self, x: Tensor) -> Tensor:
        """The mask for images shaped like ``x``, broadcastable to ``x``."""
        h, w = x.shape[-2:]
        if self._fixed is not None:
            self._check_fixed_fits(x)
            return self._fixed.to(device=x.device, dtype=x.dtype)
        key = (h, w, x.dtype, str(x.device))
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(self._array(h, w), dtype=x.dtype, device=x.device)
        return self._cache[key]

    def _array(self, h: int, w: int) -> np.ndarray:
        """The drawn (h, w) mask (cached): ValueError where a box does not fit."""
        if (h, w) not in self._arrays:
            o = self.options
            if self.mask_type == "box":
                self._arrays[h, w] = box_mask(h, w, o["box"], o["margin"], o["position"], o["seed"])
            else:
                self._arrays[h, w] = random_mask(h, w, o["drop"], o["seed"])
        return self._arrays[h, w]

    def _check_fixed_fits(self, x: Tensor) -> None:
        # the mask may broadcast over x, but not x over the mask: A(x) keeps x's shape
        if not _broadcasts_to(self._fixed.shape, x.shape):
            raise ValueError(f"mask of shape {tuple(self._fixed.shape)} does not fit images of shape {tuple(x.shape)}")

    def check_shape(self, x: Tensor) -> Tensor:
        super().check_shape(x)
        if self._fixed is not None:
            self._check_fixed_fits(x)
        else:
            self._array(x.shape[-2], x.shape[-1])
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.mask(x) * x

    def adjoint(self, y: Tensor) -> Tensor:
        self.check_measurement_shape(y)
        return self.mask(y) * y

    def proximal(self, v: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
        y = self.check_pair(v, y, "v")
        rho = _as_rho(rho, v)
        m = self.mask(v)
        return (m * y + rho * v) / (m + rho)

    def extra_repr(self) -> str:
        return f"mask_type={self.mask_type!r}, sigma={self.sigma}"


class BoxInpainting(Inpainting):
    """Box inpainting: a ``box`` x ``box`` hole (128 at 256x256) inside ``margin`` (16), placed
    from ``seed`` like DPS (seed 0: DDiff's rows 60:188, cols 63:191) or at ``position``."""

    def __init__(
        self,
        box: int | None = None,
        margin: int | None = None,
        position: tuple[int, int] | None = None,
        seed: int = 0,
        sigma: float = 0.05,
    ) -> None:
        super().__init__("box", box=box, margin=margin, position=position, seed=seed, sigma=sigma)


class RandomInpainting(Inpainting):
    """Random inpainting: drops ``int(p H W)`` pixels, ``p ~ U(drop)`` (70-71%), in every channel."""

    def __init__(self, drop: tuple[float, float] = (0.70, 0.71), seed: int = 0, sigma: float = 0.05) -> None:
        super().__init__("random", drop=drop, seed=seed, sigma=sigma)

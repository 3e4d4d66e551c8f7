"""Inpainting: ``A(x) = m * x`` for a binary mask ``m`` (1 = observed).

Box masks follow DPS / DAPS / DDiff (a square hole at a seeded random position inside a
margin; ``seed=0`` gives DDiff's rows 60:188, cols 63:191 at 256x256). Random masks drop a
fraction drawn from U(0.70, 0.71) of the pixels, the same pixels in every channel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..checks import check_positive_int
from .base import LinearOperator, _as_rho


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
    box = height // 2 if box is None else check_positive_int(box, "box")
    margin = height // 16 if margin is None else int(margin)
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
        top, left = (int(p) for p in position)
        if not (0 <= top and top + box <= height and 0 <= left and left + box <= width):
            raise ValueError(f"box at {position} of side {box} lies outside a {height}x{width} image")
    mask = np.ones((height, width))
    mask[top : top + box, left : left + box] = 0.0
    return mask


def random_mask(height: int, width: int, drop: tuple[float, float] = (0.70, 0.71), seed: int = 0) -> np.ndarray:
    """A (height, width) mask dropping ``int(p * H * W)`` pixels, ``p ~ U(drop)``, like DDiff (seed 0)."""
    low, high = drop
    if not 0 <= low <= high < 1:
        raise ValueError(f"drop must be a range (low, high) with 0 <= low <= high < 1, got {drop!r}")
    rng = np.random.RandomState(seed)
    total = height * width
    count = int(rng.uniform(low, high) * total)
    mask = np.ones(total)
    mask[rng.choice(total, count, replace=False)] = 0.0
    return mask.reshape(height, width)


class Inpainting(LinearOperator):
    """Masked observation ``m * x``; y has the image's shape (zeros where unobserved).

    ``mask_type`` is ``"box"`` or ``"random"`` (masks drawn per image size from ``seed``), or
    pass ``mask``: an array broadcastable to (N, C, H, W), e.g. (H, W).
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
        self.task = f"{mask_type}_inpainting"
        self.options = dict(box=box, margin=margin, position=position, drop=drop, seed=seed)
        self._fixed = None
        if mask is not None:
            m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, Tensor) else mask).to(torch.get_default_dtype())
            if m.dim() < 2 or m.dim() > 4 or not bool(((m == 0) | (m == 1)).all()):
                raise ValueError(f"mask must be a 0/1 array of 2 to 4 dimensions, got shape {tuple(m.shape)}")
            self._fixed = m
        self._cache: dict = {}

    def mask(self, x: Tensor) -> Tensor:
        """The mask for images shaped like ``x``, broadcastable to ``x``."""
        h, w = x.shape[-2:]
        if self._fixed is not None:
            m = self._fixed.to(device=x.device, dtype=x.dtype)
            try:
                torch.broadcast_shapes(m.shape, x.shape)
            except RuntimeError:
                raise ValueError(f"mask of shape {tuple(m.shape)} does not fit images of shape {tuple(x.shape)}") from None
            return m
        key = (h, w, x.dtype, str(x.device))
        if key not in self._cache:
            o = self.options
            if self.mask_type == "box":
                m = box_mask(h, w, o["box"], o["margin"], o["position"], o["seed"])
            else:
                m = random_mask(h, w, o["drop"], o["seed"])
            self._cache[key] = torch.as_tensor(m, dtype=x.dtype, device=x.device)
        return self._cache[key]

    def check_input(self, x: Tensor) -> Tensor:
        super().check_input(x)
        self.mask(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.mask(x) * x

    def adjoint(self, y: Tensor) -> Tensor:
        return self.mask(y) * y

    def proximal(self, v: Tensor, y: Tensor, rho: float | Tensor) -> Tensor:
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

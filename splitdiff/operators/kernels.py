"""Blur kernels of the paper's benchmarks: Gaussian (61, std 3) and motion (61, intensity 0.5)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from ..validation import check_int_range, is_real_number

#: Largest kernel side (pixels). Bounds the memory and time of building a kernel: scipy's Gaussian
#: filter works on (size, size) with a radius of 4 std, the motion path on a (2 size)^2 canvas.
MAX_KERNEL_SIZE = 1025


def check_kernel_size(size: object) -> int:
    """``size`` as an int in [1, MAX_KERNEL_SIZE] (raises ValueError naming ``kernel_size``)."""
    return check_int_range(size, "kernel_size", 1, MAX_KERNEL_SIZE)


def check_std(std: object, size: int) -> float:
    """A Gaussian std in (0, size]: wider kernels are flat boxes, and scipy's filter radius (4 std)
    would allocate without bound."""
    if not (is_real_number(std) and math.isfinite(std) and 0 < std <= size):
        raise ValueError(f"std must be a finite number in (0, kernel_size] = (0, {size}], got {std!r}")
    return float(std)


def gaussian_kernel_1d(size: int = 61, std: float = 3.0) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter1d`` of a centred delta of ``size`` taps (sums to 1).

    ``size``: 1..MAX_KERNEL_SIZE taps; ``std``: in (0, size].
    """
    size = check_kernel_size(size)
    std = check_std(std, size)
    delta = np.zeros(size)
    delta[size // 2] = 1.0
    return gaussian_filter1d(delta, std)


def gaussian_kernel(size: int = 61, std: float = 3.0) -> np.ndarray:
    """DPS's Gaussian kernel: ``scipy.ndimage.gaussian_filter`` of a centred delta, (size, size).

    ``size``: 1..MAX_KERNEL_SIZE; ``std``: in (0, size]. (The largest take seconds: the filter
    costs about 16 std size^2.)
    """
    size = check_kernel_size(size)
    std = check_std(std, size)
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    return gaussian_filter(delta, std)


def motion_kernel(size: int = 61, intensity: float = 0.5, seed: int | None = 0) -> np.ndarray:
    """A random motion-blur path kernel (size, size), float32, summing to 1.

    Follows the algorithm of LeviBorodenko's ``motionblur.Kernel``: a path of beta(1, 30)
    steps whose angles wander within ``U(0, intensity * pi)``, centred and randomly rotated,
    drawn on a 2x canvas, Gaussian-blurred, LANCZOS-resized to ``size``. The draws are made
    from ``numpy.random.RandomState(seed)`` in that package's order, so ``seed=0`` gives the
    kernel DPS / DDiff get after ``np.random.seed(0)``. ``size``: 1..MAX_KERNEL_SIZE.
    """
    size = check_kernel_size(size)
    if not (is_real_number(intensity) and 0 <= intensity <= 1):
        raise ValueError(f"intensity must be a number in [0, 1], got {intensity!r}")
    if seed is not None:
        check_int_range(seed, "seed", 0, 2**32 - 1)  # numpy's RandomState seeds
    rng = np.random.RandomState(seed)
    eps = 0.1
    canvas = 2 * size
    diagonal = math.sqrt(2 * canvas**2)

    max_length = 0.75 * diagonal * (rng.uniform() + rng.uniform(0, intensity**2))
    steps: list[float] = []
    while sum(steps) < max_length:
        step = rng.beta(1, 30) * (1 - intensity + eps) * diagonal
        if step < max_length:
            steps.append(step)

    max_angle = rng.uniform(0, intensity * math.pi)
    jitter = rng.beta(2, 20)
    angles = [rng.uniform(low=-max_angle, high=max_angle)]
    while len(angles) < len(steps):
        angle = rng.triangular(0, intensity * max_angle, max_angle + eps)
        flip = rng.uniform() < jitter
        angles.append(angle * (-np.sign(angles[-1]) if flip else np.sign(angles[-1])))

    path = np.cumsum(np.asarray(steps) * np.exp(1j * np.asarray(angles)))
    path = path - sum(path) / len(steps)
    path = path * np.exp(1j * rng.uniform(0, math.pi))
    path = path + (canvas + 1j * canvas) / 2

    image = Image.new("RGB", (canvas, canvas))
    # width >= 1: for kernels under 54 pixels the original's int(diagonal / 150) is 0 (an empty kernel)
    ImageDraw.Draw(image).line(xy=[(p.real, p.imag) for p in path], width=max(1, int(diagonal / 150)))
    image = image.filter(ImageFilter.GaussianBlur(radius=int(diagonal * 0.01)))
    image = image.resize((size, size), resample=Image.LANCZOS).convert("L")
    kernel = np.asarray(image, dtype=np.float32)
    if kernel.sum() <= 0:
        raise ValueError(f"the motion path left a {size}x{size} kernel empty; try another seed or a larger size")
    return kernel / kernel.sum()

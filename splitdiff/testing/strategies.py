"""Hypothesis strategies for splitdiff's parts: operators, noise levels, exact-score priors, seeds
and diffusion schedules. Everything is small (images of a few pixels) and float64 where it
matters, so that properties can be checked to tight tolerances.

    from hypothesis import given
    from splitdiff.testing import strategies as sds

    @given(sds.linear_operators())
    def test_my_property(case):
        op, shape, seed = case
        ...
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from .. import operators as _operators
from .. import priors as _priors
from ..priors.schedule import NoiseSchedule as _NoiseSchedule

__all__ = [
    "LINEAR_KINDS", "NONLINEAR_KINDS", "seeds", "noise_levels", "linear_operators", "nonlinear_operators",
    "operators", "gaussian_priors", "mixture_priors", "analytic_priors", "schedules",
]

LINEAR_KINDS = ("super_resolution", "gaussian_blur", "motion_blur", "blur", "box_inpainting", "random_inpainting")
NONLINEAR_KINDS = ("phase_retrieval", "hdr")


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``torch.Generator().manual_seed``."""
    return st.integers(0, 2**16)


def noise_levels(low: float = 0.01, high: float = 0.3) -> st.SearchStrategy[float]:
    """Measurement noise std sigma_y on the [-1, 1] scale."""
    return st.floats(low, high)


@st.composite
def linear_operators(draw, kinds: tuple[str, ...] = LINEAR_KINDS, sigma: float | None = None,
                     max_side: int = 20):
    """``(operator, image_shape, seed)``: a linear operator of one of ``kinds`` and an image
    shape (N, C, H, W) it accepts (H, W <= ``max_side`` + kernel margin). ``sigma``: its noise
    (default 0.05)."""
    kind = draw(st.sampled_from(kinds))
    n, c, seed = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(seeds())
    noise = {"sigma": 0.05 if sigma is None else sigma}
    side = lambda lo: draw(st.integers(lo, max(lo, max_side)))  # noqa: E731
    if kind == "super_resolution":
        scale = draw(st.integers(2, 4))
        h, w = scale * draw(st.integers(1, max(1, max_side // scale))), scale * draw(st.integers(1, max(1, max_side // scale)))
        op = _operators.SuperResolution(scale=scale, **noise)
    elif kind == "gaussian_blur":
        k = draw(st.sampled_from([3, 5, 7, 61]))
        h, w = side(k // 2 + 1), side(k // 2 + 1)
        op = _operators.GaussianBlur(kernel_size=k, std=draw(st.floats(0.3, 3.0)), **noise)
    elif kind == "motion_blur":
        k = draw(st.sampled_from([5, 9, 17]))
        h, w = side(k // 2 + 1), side(k // 2 + 1)
        op = _operators.MotionBlur(kernel_size=k, intensity=draw(st.floats(0.0, 1.0)), seed=seed, **noise)
    elif kind == "blur":
        k = 2 * draw(st.integers(1, 3)) + 1
        kernel = torch.rand(k, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        h, w = side(k // 2 + 1), side(k // 2 + 1)
        op = _operators.Blur(kernel, **noise)
    elif kind == "box_inpainting":
        h, w = side(8), side(8)
        op = _operators.Inpainting("box", box=3, margin=1, seed=seed, **noise)
    else:
        h, w = side(2), side(2)
        op = _operators.Inpainting("random", seed=seed, **noise)
    return op, (n, c, h, w), seed


@st.composite
def nonlinear_operators(draw, sigma: float | None = None, max_side: int = 16):
    """``(operator, image_shape, seed)`` for phase retrieval or HDR."""
    kind = draw(st.sampled_from(NONLINEAR_KINDS))
    noise = {"sigma": 0.05 if sigma is None else sigma}
    op = _operators.PhaseRetrieval(oversampling=draw(st.sampled_from([0.0, 1.0, 2.0])), **noise) if kind == "phase_retrieval" \
        else _operators.HighDynamicRange(scale=draw(st.floats(1.0, 3.0)), **noise)
    shape = (draw(st.integers(1, 2)), 3, draw(st.integers(4, max_side)), draw(st.integers(4, max_side)))
    return op, shape, draw(seeds())


def operators(sigma: float | None = None) -> st.SearchStrategy:
    """Linear or nonlinear ``(operator, image_shape, seed)``."""
    return st.one_of(linear_operators(sigma=sigma), nonlinear_operators(sigma=sigma))


@st.composite
def gaussian_priors(draw, image_shape: tuple[int, int, int] = (1, 4, 4)):
    """A Gaussian prior N(m, C) with a random full covariance on ``image_shape`` (C, H, W)."""
    d = math.prod(image_shape)
    g = torch.Generator().manual_seed(draw(seeds()))
    b = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    cov = draw(st.floats(0.1, 1.0)) * b @ b.T + draw(st.floats(0.01, 0.1)) * torch.eye(d, dtype=torch.float64)
    return _priors.GaussianPrior(0.3 * torch.randn(d, generator=g, dtype=torch.float64), cov, image_shape)


@st.composite
def mixture_priors(draw, image_shape: tuple[int, int, int] = (1, 4, 4), components: tuple[int, int] = (2, 3)):
    """A mixture of diagonal Gaussians (``components`` = (min, max) count) with exact scores."""
    d = math.prod(image_shape)
    k = draw(st.integers(*components))
    g = torch.Generator().manual_seed(draw(seeds()))
    means = 0.5 * torch.randn(k, d, generator=g, dtype=torch.float64)
    variances = 0.02 + 0.2 * torch.rand(k, d, generator=g, dtype=torch.float64)
    weights = 0.2 + torch.rand(k, generator=g, dtype=torch.float64)
    return _priors.GaussianMixturePrior(weights, means, variances, image_shape)


def analytic_priors(image_shape: tuple[int, int, int] = (1, 4, 4)) -> st.SearchStrategy:
    """A Gaussian or a Gaussian mixture: priors whose scores and posteriors are exact."""
    return st.one_of(gaussian_priors(image_shape), mixture_priors(image_shape))


def schedules() -> st.SearchStrategy[_NoiseSchedule]:
    """Linear (DDPM) or scaled-linear (LDM) noise schedules with perturbed end points."""
    return st.builds(
        lambda kind, start, end: getattr(_NoiseSchedule, kind)(beta_start=start, beta_end=end),
        st.sampled_from(["linear", "scaled_linear"]), st.floats(5e-5, 2e-3), st.floats(0.01, 0.03),
    )

"""Priors: exact scores and posterior means of analytic priors, schedules, classical denoisers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import splitdiff as sd
from splitdiff.priors import (
    GaussianMixturePrior, GaussianPrior, NoiseSchedule, TotalVariation, WaveletSoftThreshold, Wiener,
    haar_forward, haar_inverse, linear_gaussian_posterior, space_timesteps, total_variation, tv_prox,
)


@st.composite
def mixtures(draw):
    """A random Gaussian mixture over small images, diagonal or full covariances."""
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    c, h, w = draw(st.sampled_from([(1, 2, 2), (1, 3, 2), (2, 2, 2), (3, 1, 2)]))
    d = c * h * w
    k = draw(st.integers(1, 3))
    means = torch.randn(k, d, generator=g, dtype=torch.float64)
    if draw(st.booleans()):
        cov = torch.rand(k, d, generator=g, dtype=torch.float64) * 0.5 + 0.01
    else:
        b = torch.randn(k, d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
        cov = b @ b.transpose(-1, -2) * 0.5 + 0.01 * torch.eye(d, dtype=torch.float64)
    weights = torch.rand(k, generator=g, dtype=torch.float64) + 0.1
    return GaussianMixturePrior(weights, means, cov, (c, h, w)), seed


def _closed_form_log_pt(prior: GaussianMixturePrior, x: torch.Tensor, a: float) -> torch.Tensor:
    """log p_t from torch.distributions: an implementation independent of the prior's own."""
    cov = prior.covariance()
    comp = torch.distributions.MultivariateNormal(
        math.sqrt(a) * prior.means, covariance_matrix=a * cov + (1 - a) * torch.eye(prior.dim, dtype=torch.float64)
    )
    return torch.logsumexp(prior.log_weights + comp.log_prob(x.reshape(x.shape[0], 1, -1)), dim=1)


@given(mixtures(), st.integers(0, 999))
def test_score_is_gradient_of_log_density(case, t):
    prior, seed = case
    a = float(prior.schedule.alphas_cumprod[t])
    x = torch.randn(3, *prior.image_shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x.requires_grad_(True)
    (auto,) = torch.autograd.grad(_closed_form_log_pt(prior, x, a).sum(), x)
    assert torch.allclose(prior.score(x.detach(), t), auto, rtol=1e-7, atol=1e-9)
    assert torch.allclose(prior.log_prob_at(x.detach(), a), _closed_form_log_pt(prior, x.detach(), a))


@given(mixtures(), st.integers(0, 999))
def test_tweedie_is_the_posterior_mean(case, t):
    """E[x0 | x_t] equals the closed-form posterior of x_t = sqrt(a) x0 + sqrt(1 - a) n."""
    prior, seed = case
    a = float(prior.schedule.alphas_cumprod[t])
    x = torch.randn(2, *prior.image_shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    matrix = math.sqrt(a) * torch.eye(prior.dim, dtype=torch.float64)
    weights, means, _ = linear_gaussian_posterior(prior, matrix / math.sqrt(1 - a), x.reshape(2, -1) / math.sqrt(1 - a), 1.0)
    expected = (weights[..., None] * means).sum(1).reshape(x.shape)
    assert torch.allclose(prior.tweedie(x, t), expected, rtol=1e-7, atol=1e-9)
    # and the generic eps-based Tweedie of the base class agrees
    generic = sd.priors.DiffusionPrior.tweedie(prior, x, t)
    assert torch.allclose(generic, expected, rtol=1e-6, atol=1e-9)


@given(mixtures(), st.floats(0.01, 2.0))
def test_denoise_is_the_mmse_estimate(case, sigma):
    prior, seed = case
    x = torch.randn(2, *prior.image_shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    weights, means, _ = linear_gaussian_posterior(prior, torch.eye(prior.dim, dtype=torch.float64), x.reshape(2, -1), sigma)
    expected = (weights[..., None] * means).sum(1).reshape(x.shape)
    assert torch.allclose(prior.denoise(x, sigma), expected, rtol=1e-7, atol=1e-9)


def test_mixture_samples_have_the_prior_moments():
    mean = torch.tensor([0.5, -0.5, 0.0, 1.0], dtype=torch.float64)
    cov = torch.tensor([0.2, 0.1, 0.3, 0.05], dtype=torch.float64)
    prior = GaussianPrior(mean, cov, (1, 2, 2))
    s = prior.sample(20000, torch.Generator().manual_seed(0)).reshape(20000, -1)
    assert torch.allclose(s.mean(0), mean, atol=0.02)
    assert torch.allclose(s.var(0), cov, atol=0.02)


def test_analytic_prior_rejects_bad_parameters():
    with pytest.raises(ValueError, match="means"):
        GaussianMixturePrior([1.0], torch.zeros(1, 3), torch.ones(1, 4), (1, 2, 2))
    with pytest.raises(ValueError, match="weights"):
        GaussianMixturePrior([-1.0], torch.zeros(1, 4), torch.ones(1, 4), (1, 2, 2))
    with pytest.raises(ValueError, match="semi-definite"):
        GaussianPrior(torch.zeros(2), -torch.eye(2), (1, 1, 2))
    prior = GaussianPrior(torch.zeros(4), torch.ones(4), (1, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        prior.check_input(torch.zeros(1, 1, 3, 3))


def test_linear_schedule_matches_ddpm():
    s = NoiseSchedule.linear()
    betas = np.linspace(1e-4, 0.02, 1000)
    assert torch.allclose(s.alphas_cumprod, torch.from_numpy(np.cumprod(1 - betas)))
    assert s.num_timesteps == 1000


def test_space_timesteps_semantics():
    assert space_timesteps(1000, [10]) == [0, 111, 222, 333, 444, 555, 666, 777, 888, 999]
    assert space_timesteps(100, "ddim10") == list(range(0, 100, 10))
    assert space_timesteps(1000, "10,10") == sorted(
        [0, 55, 111, 166, 222, 277, 333, 388, 444, 499] + [500, 555, 611, 666, 722, 777, 833, 888, 944, 999]
    )
    s = NoiseSchedule.linear()
    assert s.timesteps() == list(range(999, -1, -1))
    quad = s.timesteps(100, "quad")
    assert quad[0] == 999 and quad[-1] == 0 and len(quad) == 100
    with pytest.raises(ValueError, match="spacing"):
        s.timesteps(10, "cosine")
    with pytest.raises(ValueError, match="steps"):
        s.timesteps(2000)


@settings(max_examples=8)
@given(st.integers(0, 1000), st.floats(0.02, 0.5))
def test_tv_prox_duality_gap(seed, lam):
    """Chambolle's dual certifies optimality: the primal-dual gap is small and |p| <= 1."""
    v = torch.rand(1, 2, 12, 10, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x, ph, pw = tv_prox(v, lam, iterations=2000, tol=1e-9)
    primal = 0.5 * (x - v).pow(2).sum() + lam * total_variation(x).sum()
    div = sd.priors.classical._div(ph, pw)
    dual = 0.5 * v.pow(2).sum() - 0.5 * (v - lam * div).pow(2).sum()
    assert float(torch.sqrt(ph**2 + pw**2).max()) <= 1 + 1e-9
    assert float(primal - dual) <= 1e-3 * float(primal)
    assert float(primal - dual) >= -1e-9


@settings(max_examples=20)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 1000))
def test_tv_divergence_is_the_negative_adjoint_of_the_gradient(h, w, seed):
    """<grad x, p> = -<x, div p> for every size (1-pixel sides included); the differences are
    forward ones with a zero last difference, written out on a 1x3 row."""
    g = torch.Generator().manual_seed(seed)
    x, ph, pw = (torch.randn(2, 3, h, w, generator=g, dtype=torch.float64) for _ in range(3))
    gh, gw = sd.priors.classical._grad(x)
    inner = float((gh * ph).sum() + (gw * pw).sum())
    assert inner == pytest.approx(-float((x * sd.priors.classical._div(ph, pw)).sum()), rel=1e-12, abs=1e-10)
    row = torch.tensor([[[[1.0, 4.0, 9.0]]]])
    assert sd.priors.classical._grad(row)[1].flatten().tolist() == [3.0, 5.0, 0.0]
    assert sd.priors.classical._div(torch.zeros(1, 1, 1, 3), row).flatten().tolist() == [1.0, 3.0, -4.0]


def test_tv_prox_is_differentiable():
    """A fixed number of Chambolle iterations is a smooth map of v: autograd's gradient matches
    finite differences (gradcheck), as a learned or unrolled PnP would need."""
    v = torch.rand(1, 2, 5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda v: tv_prox(v, 0.1, iterations=5, tol=0.0)[0], (v,))


def test_tv_denoiser_keeps_constants_and_reduces_tv():
    tv = TotalVariation(strength=20.0)
    const = torch.full((1, 3, 8, 8), 0.25, dtype=torch.float64)
    assert torch.allclose(tv.denoise(const, 0.1), const)
    noisy = const + 0.1 * torch.randn(const.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert total_variation(tv.denoise(noisy, 0.1)) < total_variation(noisy)


@given(st.integers(0, 1000), st.integers(1, 3))
def test_haar_is_orthonormal(seed, levels):
    x = torch.randn(2, 3, 16, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    coeffs = haar_forward(x, levels)
    assert torch.allclose(sum(c.pow(2).sum() for c in coeffs), x.pow(2).sum())
    assert torch.allclose(haar_inverse(coeffs), x)


@given(st.integers(0, 1000), st.floats(0.01, 0.5))
def test_wavelet_soft_threshold_is_a_prox(seed, sigma):
    """Subgradient optimality in the Haar domain: |c - d| = thr where c != 0, |d| <= thr where c = 0."""
    den = WaveletSoftThreshold(levels=2, factor=3.0)
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    out = haar_forward(den.denoise(x, sigma), 2)
    noisy = haar_forward(x, 2)
    thr = 3.0 * sigma
    assert torch.allclose(out[0], noisy[0])
    for c, d in zip(out[1:], noisy[1:]):
        nz = c.abs() > 1e-12  # exact zeros up to the round trip through the transform
        assert torch.allclose((d - c)[nz], thr * torch.sign(c[nz]))
        assert bool((d[~nz].abs() <= thr + 1e-12).all())


def test_wiener_denoises_smooth_images():
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    clean = (0.5 * torch.sin(3 * xx) * torch.cos(2 * yy))[None, None].double()
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = Wiener().denoise(noisy, 0.1)
    assert (out - clean).pow(2).mean() < 0.5 * (noisy - clean).pow(2).mean()


def test_network_prior_keeps_a_graph_only_for_inputs_that_need_one():
    prior = sd.priors.build("random_network")
    x = torch.randn(2, 3, 8, 8)
    eps = prior.eps(x, 500)
    assert eps.shape == x.shape and not eps.requires_grad  # parameters alone do not make a graph
    assert prior.eps(x.requires_grad_(), 500).requires_grad  # DPS differentiates through the network
    with torch.no_grad():
        assert not prior.eps(x, 500).requires_grad
    assert torch.isfinite(prior.tweedie(x, torch.tensor([10, 900]))).all()
    with pytest.raises(ValueError, match="channels"):
        prior.check_input(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="multiples of 2"):
        prior.check_input(torch.zeros(1, 3, 7, 8))


@pytest.mark.parametrize("prior", [TotalVariation(), WaveletSoftThreshold(), Wiener()])
def test_classical_priors_reject_bad_sigma(prior):
    with pytest.raises(ValueError, match="sigma"):
        prior.denoise(torch.zeros(1, 1, 8, 8), 0.0)


def test_quad_timesteps_are_diffpirs():
    """Against the authors' timesteps written out in tests/authors.py (DiffPIR main_ddpir_sisr.py:266-283)."""
    from authors import DIFFPIR_QUAD_20, DIFFPIR_QUAD_100

    s = NoiseSchedule.linear()
    assert s.timesteps(100, "quad") == DIFFPIR_QUAD_100
    assert s.timesteps(20, "quad") == DIFFPIR_QUAD_20

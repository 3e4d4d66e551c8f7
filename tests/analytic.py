"""Small analytic test cases shared by several test modules: exact-score priors on 1x4x4 images,
small linear operators, and the closed-form Gaussian posterior (used as oracles)."""

from __future__ import annotations

import math

import torch

import splitdiff as sd
from splitdiff.priors import GaussianPrior, linear_gaussian_posterior

IMAGE = (1, 4, 4)
D = math.prod(IMAGE)


def gaussian_prior(seed: int) -> GaussianPrior:
    g = torch.Generator().manual_seed(seed)
    b = torch.randn(D, D, generator=g, dtype=torch.float64) / 4
    cov = 0.5 * b @ b.T + 0.05 * torch.eye(D, dtype=torch.float64)
    mean = 0.2 * torch.randn(D, generator=g, dtype=torch.float64)
    return GaussianPrior(mean, cov, IMAGE)


def mixture_prior(seed: int, components: int) -> sd.priors.GaussianMixturePrior:
    g = torch.Generator().manual_seed(seed)
    means = 0.5 * torch.randn(components, D, generator=g, dtype=torch.float64)
    variances = 0.02 + 0.2 * torch.rand(components, D, generator=g, dtype=torch.float64)
    weights = 0.2 + torch.rand(components, generator=g, dtype=torch.float64)
    return sd.priors.GaussianMixturePrior(weights, means, variances, IMAGE)


def small_operator(kind: str, sigma: float, seed: int) -> sd.operators.LinearOperator:
    if kind == "random_inpainting":
        return sd.operators.build(kind, sigma=sigma, seed=seed)
    if kind == "gaussian_blur":
        return sd.operators.build(kind, sigma=sigma, kernel_size=3, std=1.0)
    return sd.operators.build(kind, sigma=sigma, scale=2)


def posterior_case(kind: str, seed: int, batch: int = 64):
    """A Gaussian prior, an operator, ``batch`` measurements of one draw x0, and the exact
    posterior's mean (batch, D) and precision (D, D)."""
    prior = gaussian_prior(seed)
    op = small_operator(kind, 0.05, seed)
    g = torch.Generator().manual_seed(seed)
    x0 = prior.sample(1, g).expand(batch, *IMAGE)
    y = op.measure(x0, generator=g)
    _, means, covs = linear_gaussian_posterior(prior, op.matrix(IMAGE), y.reshape(batch, -1), op.sigma)
    return prior, op, x0, y, means[:, 0], torch.linalg.inv(covs[0])


def mahalanobis_per_dim(x, mean, precision) -> float:
    """Mean squared Mahalanobis distance per dimension to the posterior (about 1 for exact samples)."""
    r = x.reshape(x.shape[0], -1) - mean
    return float(torch.einsum("nd,de,ne->n", r, precision, r).mean() / D)

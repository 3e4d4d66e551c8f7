"""Analytic priors with exact scores at every noise level: Gaussian and Gaussian mixture.

For ``x_0 ~ sum_k pi_k N(mu_k, Sigma_k)`` the diffused marginal is
``p_t = sum_k pi_k N(sqrt(a) mu_k, a Sigma_k + (1 - a) I)`` with ``a = alpha_bar_t``, so the
score, the noise prediction and Tweedie's posterior mean are closed-form. Images of shape
``image_shape`` (C, H, W) are treated as vectors of length D = C * H * W.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from ..validation import check_image, check_positive
from .base import DiffusionPrior
from .schedule import NoiseSchedule


class GaussianMixturePrior(DiffusionPrior):
    """``sum_k weights[k] N(means[k], covariances[k])`` over images of ``image_shape``.

    ``means``: (K, D). ``covariances``: (K, D) diagonal variances or (K, D, D) full,
    symmetric positive semi-definite. ``weights``: (K,), positive (normalised here).
    Computations run in float64; results are cast to the input's dtype.
    """

    def __init__(
        self,
        weights: Sequence[float] | Tensor,
        means: Tensor,
        covariances: Tensor,
        image_shape: Sequence[int],
        schedule: NoiseSchedule | None = None,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape!r}")
        d = math.prod(self.image_shape)
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        mu = torch.as_tensor(means, dtype=torch.float64)
        cov = torch.as_tensor(covariances, dtype=torch.float64)
        k = len(w)
        if not bool((w > 0).all()):
            raise ValueError("mixture weights must all be > 0")
        if mu.shape != (k, d):
            raise ValueError(f"means must have shape (K, D) = ({k}, {d}), got {tuple(mu.shape)}")
        if cov.shape == (k, d):
            if not bool((cov >= 0).all()):
                raise ValueError("diagonal covariances must be >= 0")
            evals, evecs = cov, None
        elif cov.shape == (k, d, d):
            if not torch.allclose(cov, cov.transpose(-1, -2), atol=1e-10):
                raise ValueError("full covariances must be symmetric")
            evals, evecs = torch.linalg.eigh(cov)
            if float(evals.min()) < -1e-8 * float(evals.abs().max()):
                raise ValueError("full covariances must be positive semi-definite")
            evals = evals.clamp_min(0.0)
        else:
            raise ValueError(f"covariances must have shape (K, D) or (K, D, D) with K={k}, D={d}; got {tuple(cov.shape)}")
        self.schedule = schedule or NoiseSchedule.linear()
        self.register_buffer("log_weights", torch.log(w / w.sum()))
        self.register_buffer("means", mu)
        self.register_buffer("evals", evals)
        self.register_buffer("evecs", evecs if evecs is not None else torch.empty(0, dtype=torch.float64))
        self._given = (w.clone(), mu.clone(), cov.clone())  # as given, for a repr that rebuilds this prior

    #: Largest number of parameters ``repr`` writes out in full (a larger prior shows shapes only).
    REPR_MAX_NUMEL = 4096

    def _arguments(self) -> list[tuple[str, object]]:
        """The constructor's arguments as given (``repr`` writes them)."""
        w, mu, cov = self._given
        return [("weights", w), ("means", mu), ("covariances", cov)]

    def __repr__(self) -> str:
        """Python that rebuilds this prior (float64 values written in full) where it has at most
        ``REPR_MAX_NUMEL`` parameters; otherwise the shapes."""
        args = self._arguments()
        small = sum(value.numel() for _, value in args) <= self.REPR_MAX_NUMEL
        parts = [f"{name}={value.tolist()!r}" if small else f"{name}=<{tuple(value.shape)} tensor>"
                 for name, value in args]
        parts.append(f"image_shape={self.image_shape!r}")
        if not torch.equal(self.schedule.alphas_cumprod, NoiseSchedule.linear().alphas_cumprod):
            parts.append(f"schedule=<NoiseSchedule, {self.schedule.num_timesteps} timesteps, not the default linear>")
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def num_components(self) -> int:
        return len(self.log_weights)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def covariance(self) -> Tensor:
        """Full covariances (K, D, D)."""
        if self.evecs.numel() == 0:
            return torch.diag_embed(self.evals)
        return self.evecs @ torch.diag_embed(self.evals) @ self.evecs.transpose(-1, -2)

    def check_input(self, x: Tensor) -> Tensor:
        check_image(x, "x")
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"this prior models images of shape {self.image_shape}, got {tuple(x.shape[1:])}")
        return x

    # -- closed forms in the eigenbasis of each component ----------------------------------
    def _rotate(self, r: Tensor) -> Tensor:
        """Coordinates of r (N, K, D) in each component's eigenbasis."""
        return r if self.evecs.numel() == 0 else torch.einsum("kde,nkd->nke", self.evecs, r)

    def _unrotate(self, c: Tensor) -> Tensor:
        return c if self.evecs.numel() == 0 else torch.einsum("kde,nke->nkd", self.evecs, c)

    def _components(self, x: Tensor, a: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-component (log N(x; sqrt(a) mu_k, C_k), rotated residual, C_k eigenvalues)."""
        a = a.view(-1, 1, 1)
        r = x[:, None, :] - torch.sqrt(a) * self.means[None]
        c = a * self.evals[None] + (1 - a)
        rr = self._rotate(r)
        log_n = -0.5 * ((rr**2 / c).sum(-1) + torch.log(2 * math.pi * c).sum(-1))
        return log_n, rr, c

    def _flat(self, x: Tensor, a: Tensor | float) -> tuple[Tensor, Tensor]:
        x64 = x.reshape(x.shape[0], -1).to(torch.float64)
        a = torch.as_tensor(a, dtype=torch.float64, device=x.device).flatten()
        return x64, a.expand(x.shape[0]) if a.numel() == 1 else a

    def log_prob_at(self, x: Tensor, a: Tensor | float) -> Tensor:
        """``log p_a(x)`` (N,) of the marginal at ``alpha_bar = a`` (a = 1: the prior itself)."""
        x64, a = self._flat(x, a)
        log_n, _, _ = self._components(x64, a)
        return torch.logsumexp(self.log_weights + log_n, dim=1)

    def responsibilities_at(self, x: Tensor, a: Tensor | float) -> Tensor:
        """Posterior component probabilities ``p(k | x_t)`` (N, K)."""
        x64, a = self._flat(x, a)
        log_n, _, _ = self._components(x64, a)
        return torch.softmax(self.log_weights + log_n, dim=1)

    def score_at(self, x: Tensor, a: Tensor | float) -> Tensor:
        """Exact ``grad log p_a(x)``, shape of x."""
        x64, a = self._flat(x, a)
        log_n, rr, c = self._components(x64, a)
        w = torch.softmax(self.log_weights + log_n, dim=1)
        per = self._unrotate(-rr / c)
        return (w[..., None] * per).sum(1).reshape(x.shape).to(x.dtype)

    def tweedie_at(self, x: Tensor, a: Tensor | float) -> Tensor:
        """Exact ``E[x_0 | x_t = x]`` at ``alpha_bar = a``: ``sum_k w_k (mu_k + sqrt(a) Sigma_k C_k^{-1} r_k)``."""
        x64, a = self._flat(x, a)
        log_n, rr, c = self._components(x64, a)
        w = torch.softmax(self.log_weights + log_n, dim=1)
        gain = torch.sqrt(a).view(-1, 1, 1) * self.evals[None] / c
        per = self.means[None] + self._unrotate(gain * rr)
        return (w[..., None] * per).sum(1).reshape(x.shape).to(x.dtype)

    # -- DiffusionPrior interface ----------------------------------------------------------
    def _alpha(self, t: int | Tensor, x: Tensor) -> Tensor:
        # float64 alpha_bar regardless of x's dtype: the closed forms run in float64
        return self.schedule.alphas_cumprod.to(x.device)[torch.as_tensor(t, device=x.device)].flatten()

    def eps(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        a = self._alpha(t, x_t)
        scale = torch.sqrt(1 - a).view(-1, 1, 1, 1).to(x_t.dtype)
        return -scale * self.score_at(x_t, a)

    def tweedie(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        return self.tweedie_at(x_t, self._alpha(t, x_t))

    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        """Exact MMSE denoiser for ``x = x_0 + sigma n`` (any sigma > 0, no timestep rounding)."""
        check_positive(sigma, "sigma")
        a = 1.0 / (1.0 + sigma**2)
        return self.tweedie_at(math.sqrt(a) * x, a)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws from the prior, (n, C, H, W) float64."""
        comp = torch.multinomial(self.log_weights.exp(), n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        c = torch.sqrt(self.evals[comp]) * z
        if self.evecs.numel():
            c = torch.einsum("nde,ne->nd", self.evecs[comp], c)
        return (self.means[comp] + c).reshape(n, *self.image_shape)


class GaussianPrior(GaussianMixturePrior):
    """``N(mean, covariance)`` over images of ``image_shape``; covariance (D,) diagonal or (D, D)."""

    def __init__(
        self, mean: Tensor, covariance: Tensor, image_shape: Sequence[int], schedule: NoiseSchedule | None = None
    ) -> None:
        super().__init__([1.0], torch.as_tensor(mean, dtype=torch.float64)[None],
                         torch.as_tensor(covariance, dtype=torch.float64)[None], image_shape, schedule)

    def _arguments(self) -> list[tuple[str, object]]:
        _, mu, cov = self._given
        return [("mean", mu[0]), ("covariance", cov[0])]


def linear_gaussian_posterior(
    prior: GaussianMixturePrior, matrix: Tensor, y: Tensor, sigma: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Exact posterior of ``y = A x + sigma n`` under a Gaussian-mixture prior.

    ``matrix``: A as (M, D); ``y``: (N, M). Returns (weights (N, K), means (N, K, D),
    covariances (K, D, D)) of the posterior mixture, float64.
    """
    a = torch.as_tensor(matrix, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(y.shape[0], -1)
    cov = prior.covariance()
    s = a @ cov @ a.T + sigma**2 * torch.eye(a.shape[0], dtype=torch.float64)  # (K, M, M)
    gain = cov @ a.T @ torch.linalg.inv(s)  # (K, D, M)
    resid = y[:, None, :] - prior.means @ a.T  # (N, K, M)
    means = prior.means[None] + torch.einsum("kdm,nkm->nkd", gain, resid)
    post_cov = cov - gain @ a @ cov
    log_ev = torch.distributions.MultivariateNormal(torch.zeros_like(resid), covariance_matrix=s).log_prob(resid)
    weights = torch.softmax(prior.log_weights + log_ev, dim=1)
    return weights, means, post_cov

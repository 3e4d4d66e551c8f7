"""Ground truth no image benchmark has: solvers against the exact posterior of a Gaussian mixture.

    python -m benchmarks.exact_posterior [--n 64] [--steps 1000] [--seed 0]

A mixture of 3 diagonal Gaussians on 1x4x4 "images" (D = 16) has exact scores at every noise
level, and for ``y = A x + 0.05 n`` (A: random inpainting, 2x super-resolution, 3x3 Gaussian
blur) its posterior is again a Gaussian mixture, in closed form. For ``--n`` draws x0 ~ prior
(their component is recorded) each algorithm reconstructs x from y; we report

- ``rmse MAP``: RMS distance to the posterior's mode (found by L-BFGS on the exact log posterior
  from every component's posterior mean, keeping the best);
- ``rmse mean``: RMS distance to the posterior mean;
- ``residual``: mean((A x - y)^2) - sigma_y^2 (0 at the noise floor);
- ``component``: how often x's most likely prior component is the one x0 came from;
- ``NFE``: denoiser calls per solve.

Reference rows: exact posterior samples, the posterior mean and the MAP themselves. A sampler
is judged against the posterior samples row (its RMS distance to the mean should match that
row), a point estimator against the MAP / mean rows. DDiff runs with gamma0 = 1 (Appendix H's
values are tuned for 3x256x256 images), also without any noise (DDIM eta = 0: a
deterministic map from x_T), DAPS with 200 annealing steps (1000 NFE) and the
authors' Langevin settings, DPS and DiffPIR with their defaults.
"""

from __future__ import annotations

import argparse
import math
import platform

import torch

import splitdiff as sd
from splitdiff.priors import GaussianMixturePrior, linear_gaussian_posterior
from splitdiff.splitting.prior_step import ddim_sigma

IMAGE = (1, 4, 4)
D = math.prod(IMAGE)
OPERATORS = {
    "random_inpainting": dict(seed=1),
    "super_resolution": dict(scale=2),
    "gaussian_blur": dict(kernel_size=3, std=1.0),
}


def mixture(seed: int) -> GaussianMixturePrior:
    """Three overlapping diagonal Gaussians with unequal weights (posteriors can be multimodal)."""
    g = torch.Generator().manual_seed(seed)
    means = 0.3 * torch.randn(3, D, generator=g, dtype=torch.float64)
    variances = 0.02 + 0.08 * torch.rand(3, D, generator=g, dtype=torch.float64)
    return GaussianMixturePrior(torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64), means, variances, IMAGE)


def draw(prior: GaussianMixturePrior, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` prior samples (n, *IMAGE) and their components (n,)."""
    labels = torch.multinomial(prior.log_weights.exp(), n, replacement=True, generator=g)
    std = prior.evals[labels].sqrt()
    x = prior.means[labels] + std * torch.randn(n, D, generator=g, dtype=torch.float64)
    return x.reshape(n, *IMAGE), labels


def log_posterior(prior, matrix, y, sigma, x):
    return prior.log_prob_at(x.reshape(-1, *IMAGE), 1.0) - ((x @ matrix.T - y) ** 2).sum(-1) / (2 * sigma**2)


def posterior_map(prior, matrix, y, sigma, starts) -> torch.Tensor:
    """The mode of the exact posterior, per measurement: L-BFGS from each start (N, K, D)."""
    best, best_value = None, None
    for k in range(starts.shape[1]):
        x = starts[:, k].clone().requires_grad_(True)
        opt = torch.optim.LBFGS([x], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = -log_posterior(prior, matrix, y, sigma, x).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            value = log_posterior(prior, matrix, y, sigma, x)
            if best is None:
                best, best_value = x.detach().clone(), value
            else:
                better = value > best_value
                best[better], best_value = x.detach()[better], torch.maximum(value, best_value)
    return best


def row(name, x, truth_labels, prior, op, y, x_map, x_mean, nfe) -> dict:
    flat = x.reshape(x.shape[0], -1).double()
    comp = prior.responsibilities_at(x.reshape(-1, *IMAGE).double(), 1.0).argmax(1)
    resid = ((op(x.reshape(-1, *IMAGE).to(y.dtype)) - y) ** 2).flatten(1).mean(1) - op.sigma**2
    return {
        "method": name,
        "rmse MAP": float(((flat - x_map) ** 2).mean().sqrt()),
        "rmse mean": float(((flat - x_mean) ** 2).mean().sqrt()),
        "residual": float(resid.mean()),
        "component": float((comp == truth_labels).double().mean()),
        "NFE": nfe,
    }


def solvers(prior, op, steps: int) -> dict:
    build = sd.algorithms.build
    return {
        "ddiff": build("ddiff", prior=prior, operator=op, gamma0=1.0, clip=False, steps=steps),
        "ddiff, no noise (DDIM eta 0)": build("ddiff", prior=prior, operator=op, gamma0=1.0, clip=False, steps=steps,
                                              renoise=ddim_sigma(0.0), t0=1000),
        "diffpir": build("diffpir", prior=prior, operator=op, clip=False, steps=max(2, steps // 10)),
        "dps": build("dps", prior=prior, operator=op, steps=steps, clip=False),
        "daps": build("daps", prior=prior, operator=op, steps=max(1, steps // 5)),
    }


def run(n: int, steps: int, seed: int, operators=tuple(OPERATORS)) -> list[tuple[str, list[dict]]]:
    prior = mixture(seed)
    out = []
    for name in operators:
        op = sd.operators.build(name, sigma=0.05, **OPERATORS[name]).double()
        g = torch.Generator().manual_seed(seed + 1)
        x0, labels = draw(prior, n, g)
        y = op.measure(x0, generator=g)
        matrix = op.matrix(IMAGE).double()
        weights, means, cov = linear_gaussian_posterior(prior, matrix, y.reshape(n, -1), op.sigma)
        x_mean = (weights[..., None] * means).sum(1)
        x_map = posterior_map(prior, matrix, y.reshape(n, -1).double(), op.sigma, means)
        pick = torch.multinomial(weights, 1, generator=g)[:, 0]
        chol = torch.linalg.cholesky(cov + 1e-12 * torch.eye(D, dtype=torch.float64))
        exact = means[torch.arange(n), pick] + torch.einsum(
            "nde,ne->nd", chol[pick], torch.randn(n, D, generator=g, dtype=torch.float64))
        rows = [row("exact posterior samples", exact, labels, prior, op, y, x_map, x_mean, "-"),
                row("posterior mean", x_mean, labels, prior, op, y, x_map, x_mean, "-"),
                row("MAP", x_map, labels, prior, op, y, x_map, x_mean, "-")]
        for method, solver in solvers(prior, op, steps).items():
            try:
                x_hat = solver.solve(y, generator=torch.Generator().manual_seed(seed + 2))
            except sd.DivergenceError as err:
                rows.append({"method": f"{method} (diverged: {err})", "NFE": solver.nfe(),
                             **{k: math.nan for k in ("rmse MAP", "rmse mean", "residual", "component")}})
                continue
            rows.append(row(method, x_hat, labels, prior, op, y, x_map, x_mean, solver.nfe()))
        out.append((name, rows))
    return out


def markdown(results) -> str:
    lines = []
    for name, rows in results:
        lines += [f"### {name}", "", "| method | rmse MAP | rmse mean | residual | component | NFE |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['method']} | {r['rmse MAP']:.4f} | {r['rmse mean']:.4f} | {r['residual']:.5f} | "
                  f"{r['component']:.2f} | {r['NFE']} |" for r in rows]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=64, help="measurements (one draw x0 ~ prior each)")
    parser.add_argument("--steps", type=int, default=1000, help="DDiff/DPS steps; DiffPIR steps/10, DAPS steps/5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--operators", nargs="+", default=list(OPERATORS), choices=list(OPERATORS))
    args = parser.parse_args(argv)
    print(f"D = {D}, 3-component Gaussian mixture, sigma_y = 0.05, n = {args.n}, seed {args.seed}; "
          f"{platform.machine()}, torch {torch.__version__}\n")
    print(markdown(run(args.n, args.steps, args.seed, args.operators)))


if __name__ == "__main__":
    main()

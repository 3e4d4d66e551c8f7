"""Calibration of k-sample uncertainty on an exact Gaussian posterior (the calibration figure).

    python -m benchmarks.calibration [--k 4 8 32] [--groups 200] [--out docs/figures]

For y = A x + sigma n with a Gaussian prior the posterior N(m, C) is exact
(``splitdiff.priors.analytic.linear_gaussian_posterior``). An exact-score DDPM sampler over
N(m, C), run through ``solver.sample``, draws ``groups`` independent sets of k samples; each
set's mean and Bessel-corrected std (``evaluation.summarize``) are checked against a fresh draw
from the posterior: the fraction of pixels within mean +- z std (``evaluation.calibration``),
for z from 0.25 to 3.

What to expect, exactly: for Gaussian samples the truth's standardized distance
``(x - mean) / (std sqrt(1 + 1/k))`` is Student-t with k - 1 degrees of freedom, so the coverage
of mean +- z std is ``P(|t_{k-1}| <= z / sqrt(1 + 1/k))``, below the nominal
``erf(z / sqrt 2)`` for small k (k = 4 covers 83% at z = 2, not 95.4%). Prints the table and
writes ``calibration.png``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from scipy import stats

import splitdiff as sd
from splitdiff.evaluation import calibration, summarize
from splitdiff.priors import GaussianPrior
from splitdiff.priors.analytic import linear_gaussian_posterior

Z = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


def student_t_coverage(z: float, k: int) -> float:
    """``P(|t_{k-1}| <= z / sqrt(1 + 1/k))``: the coverage of mean +- z std of k Gaussian samples."""
    return float(2 * stats.t.cdf(z / math.sqrt(1 + 1 / k), k - 1) - 1)


def posterior_case(seed: int = 0, sigma: float = 0.1):
    """A 16-pixel Gaussian prior, random inpainting, and its exact posterior as a prior to sample."""
    g = torch.Generator().manual_seed(seed)
    d, shape = 16, (1, 4, 4)
    root = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    prior = GaussianPrior(0.3 * torch.randn(d, generator=g, dtype=torch.float64),
                          0.2 * root @ root.T + 0.05 * torch.eye(d, dtype=torch.float64), shape)
    op = sd.operators.build("random_inpainting", sigma=sigma).double()
    y = op.measure(prior.sample(1, g), generator=g)
    _, means, cov = linear_gaussian_posterior(prior, op.matrix(shape), y, sigma)
    return GaussianPrior(means[0, 0], cov[0], shape), g


def coverage(k: int, groups: int, steps: int = 1000, seed: int = 0) -> dict[float, float]:
    """Mean over ``groups`` sets of k samples (each against its own posterior draw) of the
    fraction of pixels within mean +- z std, for every z in ``Z``."""
    post, g = posterior_case(seed)
    sampler = sd.algorithms.Solver(sd.splitting.HQS(sd.splitting.GradientStep(0.0, normalized=False)),
                                   sd.splitting.ManifoldStep(post, sd.splitting.ddim_sigma(1.0), clip=False),
                                   sd.operators.Inpainting(mask=torch.zeros(4, 4)).double(), steps=steps)
    samples = sampler.sample(torch.zeros(groups, 1, 4, 4, dtype=torch.float64), k, generator=g)  # (k, groups, ...)
    summary = summarize(samples)
    truths = post.sample(groups, g).reshape(groups, 1, 4, 4)
    return {z: float(calibration(summary, truths, z=z).mean()) for z in Z}


def figure(results: dict[int, dict[float, float]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    nominal = [math.erf(z / math.sqrt(2)) for z in Z]
    ax.plot(nominal, nominal, "k:", lw=1, label="nominal (k = infinity)")
    for i, (k, cover) in enumerate(results.items()):
        ax.plot(nominal, [student_t_coverage(z, k) for z in Z], "-", color=f"C{i}", lw=1)
        ax.plot(nominal, [cover[z] for z in Z], "o", color=f"C{i}", ms=4, label=f"k = {k} (line: Student-t)")
    ax.set_xlabel("nominal coverage erf(z / sqrt 2)")
    ax.set_ylabel("truth within mean +- z std")
    ax.set_title("k posterior samples, exact Gaussian case", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "calibration.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict[int, dict[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[4, 8, 32])
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args(argv)
    results = {k: coverage(k, args.groups, args.steps) for k in args.k}
    print("| k | z | measured | Student-t | nominal |")
    print("|---|---|---|---|---|")
    for k, cover in results.items():
        for z in (1.0, 2.0, 3.0):
            print(f"| {k} | {z:g} | {cover[z]:.3f} | {student_t_coverage(z, k):.3f} | {math.erf(z / math.sqrt(2)):.3f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(figure(results, out))
    return results


if __name__ == "__main__":
    main()

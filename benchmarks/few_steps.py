"""DDiff with Appendix H's step sizes at fewer steps than the authors' 1000.

    python -m benchmarks.few_steps [--steps 20 25 50 100 1000] [--images 2]

On the held-out images (64x64, the shipped prior), super-resolution x4, Gaussian deblurring
(kernel 15, std 0.75: the paper's std 3 at 256 pixels, scaled to 64) and random inpainting
(70%), sigma_y = 0.05, one seed. Two step policies per step count:

- ``paper``: ``build("ddiff", ...)``, Appendix H's gamma0 with ``t_gamma = 90`` counted in the
  model's timesteps (the small step once the noise level is that of t <= 90);
- ``x 100/steps``: the same schedule with every step multiplied by ``100 / steps`` (the total
  distance ``sum_k gamma_k`` of a 100-step run).

The mean PSNR (dB) per task and policy is printed as a markdown table.
"""

from __future__ import annotations

import argparse
import warnings

import torch

import splitdiff as sd
from splitdiff.algorithms import Solver, ddiff_defaults
from splitdiff.demo import held_out_images
from splitdiff.splitting import GradientStep, Splitting, step_down

TASKS = {
    "super_resolution": dict(scale=4),
    "gaussian_blur": dict(kernel_size=15, std=0.75),
    "random_inpainting": dict(),
}


def scaled(solver: Solver, task: str, factor: float) -> Solver:
    """``solver`` with its default step schedule multiplied by ``factor``."""
    g0 = ddiff_defaults(task).gamma0 * factor
    step = GradientStep(step_down(g0 * 3.3, g0 * 0.1, 90), reference_numel=3 * 256 * 256)
    return Solver(Splitting(step, dual=True), solver.prior_step, solver.operator, solver.steps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 25, 50, 100])
    parser.add_argument("--images", type=int, default=2, help="the first N held-out images")
    args = parser.parse_args(argv)
    prior = sd.priors.build("default")
    x = held_out_images(64)[1][: args.images]
    print("| task | steps | paper | x 100/steps |")
    print("|---|---|---|---|")
    for task, options in TASKS.items():
        op = sd.operators.build(task, sigma=0.05, **options)
        y = op.measure(x, generator=torch.Generator().manual_seed(0))
        for steps in args.steps:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the few-steps warning is what this measures
                paper = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=steps)
                cells = [float(sd.evaluation.psnr(s.solve(y, generator=torch.Generator().manual_seed(1)), x).mean())
                         for s in (paper, scaled(paper, task, 100 / steps))]
            print(f"| {task} | {steps} | {cells[0]:.2f} | {cells[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()

"""A custom splitting with a classical prior: HQS with an exact proximal data step and
total-variation denoising on a decreasing noise schedule, against its ADMM twin.

    python examples/classical_splitting.py [--size 64] [--steps 60]
"""

from __future__ import annotations

import argparse

import torch

import splitdiff as sd
from splitdiff.algorithms import Solver
from splitdiff.demo import held_out_images
from splitdiff.splitting import ADMM, HQS, DirectStep, ProximalStep, geometric


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    _, x = held_out_images(args.size)
    op = sd.operators.build("gaussian_blur", kernel_size=9, std=2.0)
    y = op.measure(x, generator=torch.Generator().manual_seed(0))
    sigmas = geometric(0.2, 0.02)
    tv = sd.priors.build("tv", strength=1.0)
    scores = {}
    for name, splitting in (("hqs", HQS), ("admm", ADMM)):
        solver = Solver(splitting(ProximalStep(lambda tl: 1 / sigmas(tl) ** 2)), DirectStep(tv, denoiser_sigma=sigmas),
                        op, steps=args.steps, init="zeros", name=f"tv-{name}")
        scores[name] = float(sd.evaluation.psnr(solver.solve(y), x).mean())
        print(f"TV-{name.upper()}: PSNR {scores[name]:.2f} dB")
    return scores


if __name__ == "__main__":
    main()

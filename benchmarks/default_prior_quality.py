"""The shipped prior with DDiff against plug-and-play ADMM with total variation.

    python -m benchmarks.default_prior_quality [--steps 100] [--seeds 0 1 2]

On the held-out images (64x64), for super-resolution x4, Gaussian deblurring (the paper's 61 / std 3 at 256 pixels, scaled to 64: 17 / std 0.75) and
random inpainting (70%), sigma_y = 0.05. TV gets an oracle: for each task its strength is the
best of a sweep, chosen by the mean PSNR on these very images (a favourable baseline). DDiff
runs with the Appendix H defaults (their step sizes scaled to 64x64 by ``ddiff`` itself), averaged over ``--seeds``.
"""

from __future__ import annotations

import argparse

import torch

import splitdiff as sd
from splitdiff.demo import demo_tasks, held_out_images
from splitdiff.evaluation import lpips_distance, psnr, ssim

TASKS = ("super_resolution", "gaussian_blur", "random_inpainting")
TV_STRENGTHS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0)


def evaluate(x_hat, x):
    return {"psnr": psnr(x_hat, x), "ssim": ssim(x_hat, x), "lpips": lpips_distance(x_hat, x)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weights", default=None, help="prior weights (default: the shipped ones)")
    args = parser.parse_args()
    prior = sd.priors.default_prior(weights=args.weights)
    names, x = held_out_images(64)
    print(f"held-out images: {', '.join(names)}; prior trained {prior.meta.get('steps')} steps; DDiff {args.steps} steps")
    print("| task | method | PSNR | SSIM | LPIPS |")
    print("|---|---|---|---|---|")
    for task in TASKS:
        op = sd.operators.build(task, **demo_tasks(64)[task])
        y = op.measure(x, generator=torch.Generator().manual_seed(100))
        runs = []
        for seed in args.seeds:
            solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=args.steps)
            runs.append(evaluate(solver.solve(y, generator=torch.Generator().manual_seed(seed)), x))
        ddiff = {k: torch.stack([r[k] for r in runs]).mean().item() for k in runs[0]}
        best = None
        for strength in TV_STRENGTHS:
            solver = sd.algorithms.build("pnp-admm", prior=sd.priors.build("tv", strength=strength), operator=op)
            scores = evaluate(solver.solve(y), x)
            mean = {k: v.mean().item() for k, v in scores.items()}
            if best is None or mean["psnr"] > best[1]["psnr"]:
                best = (strength, mean)
        print(f"| {task} | ddiff (mean of {len(args.seeds)} seeds) | {ddiff['psnr']:.2f} | {ddiff['ssim']:.3f} | {ddiff['lpips']:.3f} |")
        print(f"| {task} | pnp-admm TV (best strength {best[0]:g}) | {best[1]['psnr']:.2f} | {best[1]['ssim']:.3f} | {best[1]['lpips']:.3f} |")


if __name__ == "__main__":
    main()

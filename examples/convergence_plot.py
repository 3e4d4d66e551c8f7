"""Fig. 1 for your own run: ||x - z|| and ||u|| over DDiff's iterations, with the shipped
prior on random inpainting, for the authors' normalized step and a plain one.

    python examples/convergence_plot.py [--steps 100] [--out convergence.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import splitdiff as sd  # noqa: E402
from splitdiff.demo import held_out_images  # noqa: E402


def trace(solver, y) -> tuple[list[float], list[float]]:
    primal, dual = [], []
    solver.solve(y, generator=torch.Generator().manual_seed(1),
                 callback=lambda s: (primal.append(float((s.x - s.z).norm())), dual.append(float(s.u.norm()))))
    return primal, dual


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--out", default="convergence.png")
    args = parser.parse_args(argv)
    _, x = held_out_images(args.size)
    op = sd.operators.build("random_inpainting")
    y = op.measure(x, generator=torch.Generator().manual_seed(0))
    runs = {
        "normalized step (paper)": sd.algorithms.build("ddiff", prior="default", operator=op, steps=args.steps),
        "plain step 0.05, noise off below t = 100": sd.algorithms.build(
            "ddiff", prior="default", operator=op, normalized=False, gamma=0.05, t0=100, steps=args.steps),
    }
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    curves = {}
    for label, solver in runs.items():
        primal, dual = curves[label] = trace(solver, y)
        axes[0].semilogy(primal, label=label)
        axes[1].semilogy([max(d, 1e-12) for d in dual], label=label)
    axes[0].set_title("||x - z||")
    axes[1].set_title("||u||")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return curves


if __name__ == "__main__":
    main()

"""Figures of the model card: the training loss curve and unconditional samples.

    python -m benchmarks.model_card --logs /path/to/train/logs [--weights W] [--out docs/figures]

Samples are drawn with DDIM (eta = 1, 100 steps) composed from splitdiff's parts: HQS with a
zero data step is plain diffusion sampling.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

import splitdiff as sd


def loss_curve(logs: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, losses = [], []
    for version in sorted(logs.glob("version_*"), key=lambda p: int(p.name.split("_")[1])):
        with open(version / "metrics.csv") as f:
            for row in csv.DictReader(f):
                if row.get("loss"):
                    steps.append(int(row["step"]))
                    losses.append(float(row["loss"]))
    order = sorted(range(len(steps)), key=steps.__getitem__)
    steps, losses = [steps[i] for i in order], [losses[i] for i in order]
    k = 8
    smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1]) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(steps, losses, lw=0.6, alpha=0.4, label="loss (per 25 steps)")
    ax.plot(steps, smooth, lw=1.5, label="moving average")
    ax.set_yscale("log")
    ax.set_xlabel("training step (batch 16)")
    ax.set_ylabel("DDPM loss (MSE of eps)")
    ax.legend()
    fig.tight_layout()
    path = out / "default_prior_loss.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def samples(prior, out: Path, n: int = 16, size: int = 64, seed: int = 0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from splitdiff.evaluation.images import to_uint8
    from splitdiff.splitting import HQS, GradientStep, ManifoldStep, ddim_sigma

    op = sd.operators.build("hdr")  # any operator: the zero step ignores it
    sampler = sd.algorithms.Solver(HQS(GradientStep(0.0, normalized=False)), ManifoldStep(prior, ddim_sigma(1.0)),
                                   op, steps=100, name="ddim-sampler")
    x = sampler.solve(torch.zeros(n, 3, size, size), generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)
    cols = 8
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(cols * 1.1, 1.1 * ((n + cols - 1) // cols)))
    for ax, img in zip(axes.flat, x):
        ax.imshow(to_uint8(img))
        ax.axis("off")
    fig.tight_layout()
    path = out / "default_prior_samples.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", required=True, help="the training run's logs folder (logs/version_*/metrics.csv)")
    parser.add_argument("--weights", default=None)
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(loss_curve(Path(args.logs), out))
    print(samples(sd.priors.default_prior(weights=args.weights), out))


if __name__ == "__main__":
    main()

"""Training recipes compared on the denoising curve: the PSNR of each exported prior's Tweedie
estimate on the held-out benchmark (``splitdiff.training.validation``), and each prior's paired
difference to the first, image by image, with its 95% Student-t interval.

    python -m benchmarks.recipe NAME=WEIGHTS [NAME=WEIGHTS ...] [--size 64] [--seed 0]

Every prior denoises the same images with the same noise draws, so the differences are paired.
"""

from __future__ import annotations

import argparse

import splitdiff as sd
from splitdiff.evaluation.tables import mean_ci
from splitdiff.photos import heldout_images
from splitdiff.training.validation import VALIDATION_SIGMAS, denoising_psnr_per_image


def curves(weights: dict[str, str], size: int = 64, seed: int = 0) -> dict[str, dict[float, list[float]]]:
    """{name: {sigma: per-image PSNR}} for each exported prior on the held-out benchmark."""
    _, x = heldout_images(size)
    out = {}
    for name, path in weights.items():
        prior = sd.priors.default_prior(weights=path)
        per_image = denoising_psnr_per_image(prior.eps, x, prior.schedule, seed=seed)
        out[name] = {sigma: v.tolist() for sigma, v in per_image.items()}
    return out


def table(results: dict[str, dict[float, list[float]]]) -> str:
    """Markdown: mean PSNR per sigma, and the paired difference to the first prior."""
    names = list(results)
    base = results[names[0]]
    head = " | ".join(f"sigma {s:g}" for s in VALIDATION_SIGMAS)
    lines = [f"| prior | {head} | " + " | ".join(f"Δ {s:g} vs {names[0]}" for s in VALIDATION_SIGMAS) + " |",
             "|---|" + "---|" * (2 * len(VALIDATION_SIGMAS))]
    for name in names:
        means = " | ".join(f"{mean_ci(results[name][s])[0]:.2f}" for s in VALIDATION_SIGMAS)
        diffs = []
        for s in VALIDATION_SIGMAS:
            mean, half = mean_ci([a - b for a, b in zip(results[name][s], base[s])])
            diffs.append("–" if name == names[0] else f"{mean:+.2f} ± {half:.2f}")
        lines.append(f"| {name} | {means} | " + " | ".join(diffs) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("priors", nargs="+", metavar="NAME=WEIGHTS")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    weights = {}
    for item in args.priors:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"expected NAME=WEIGHTS, got {item!r}")
        weights[name] = path
    print(table(curves(weights, args.size, args.seed)))


if __name__ == "__main__":
    main()

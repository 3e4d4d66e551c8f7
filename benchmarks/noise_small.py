"""Noise robustness at small scale (Fig. 3): DDiff against DAPS over sigma_y, equal NFE (100).

    python -m benchmarks.noise_small [--out results]

Runs ``splitdiff evaluate noise-small`` (super-resolution, Gaussian deblurring and random
inpainting on the shipped held-out benchmark (24 photographs), shipped prior, sigma_y in {0.01, 0.05, 0.1, 0.2, 0.3}) and
prints PSNR / LPIPS per noise level; the figure is OUT/noise-small/figures/noise.png.
"""

from __future__ import annotations

import argparse

from benchmarks.table2_small import shrink
from splitdiff.evaluation.report import ordered_rows
from splitdiff.evaluation.runner import evaluate
from splitdiff.evaluation.tables import aggregate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results")
    parser.add_argument("--steps", type=int, help="quick check: DDiff's steps (DAPS gets steps / 5), results in noise-small-quick")
    parser.add_argument("--limit", type=int, help="use only the first N tasks (for a quick check)")
    parser.add_argument("--images", type=int, help="use only the first N held-out images (for a quick check)")
    args = parser.parse_args(argv)
    cfg = shrink("noise-small", args.steps, args.limit, args.images)
    store = evaluate(cfg, args.out, progress=False, accelerator="cpu")
    groups = aggregate(ordered_rows(cfg, store))
    methods = list(dict.fromkeys(g["method"] for g in groups))
    print("| task | σ_y | " + " | ".join(f"{m} PSNR | {m} LPIPS" for m in methods) + " |")
    print("|---|---|" + "---|---|" * len(methods))
    cell = {(g["task"], g["sigma_y"], g["method"]): g for g in groups}
    for task, sigma in dict.fromkeys((g["task"], g["sigma_y"]) for g in groups):
        values = " | ".join(f"{g['psnr']:.2f} ± {g['psnr_ci95']:.2f} | {g['lpips']:.3f} ± {g['lpips_ci95']:.3f}"
                            for g in (cell[(task, sigma, m)] for m in methods))  # mean ± 95% half-width
        print(f"| {task} | {sigma:g} | {values} |")


if __name__ == "__main__":
    main()

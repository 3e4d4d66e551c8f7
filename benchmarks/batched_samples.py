"""k posterior samples in one batch against k separate solves (time per sample).

    python -m benchmarks.batched_samples [--k 1 4 8 16] [--steps 20] [--images 2] [--device cpu]

DDiff with the shipped prior on super-resolution x4 of held-out photographs at 64x64:
``solver.sample(y, k)`` runs the k N images as one batch; the baseline solves the N images k
times. Both use the same number of network forwards (``steps`` - 1 per image); the ratio is
what batching the samples buys on this device. Times are medians of ``--repeats`` runs, after
one untimed solve (a GPU's first solve also pays its warm-up).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

import splitdiff as sd
from splitdiff.demo import held_out_images


def timed(fn, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)  # short solves of the paper's steps: cost only here
    prior = sd.priors.build("default", device=args.device)
    op = sd.operators.build("super_resolution", scale=4).to(args.device)
    x = held_out_images(64)[1][: args.images].to(args.device)
    y = op.measure(x, generator=torch.Generator(args.device).manual_seed(0))
    solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=args.steps)
    timed(lambda: solver.solve(y, generator=torch.Generator(args.device).manual_seed(2)), 1, args.device)  # warm-up
    rows = []
    print("| k | samples in one batch (s) | k separate solves (s) | batched / separate | samples / s (batched) |")
    print("|---|---|---|---|---|")
    for k in args.k:
        g = torch.Generator(args.device).manual_seed(1)
        batched = timed(lambda: solver.sample(y, k, generator=g), args.repeats, args.device)
        separate = timed(lambda: [solver.solve(y, generator=g) for _ in range(k)], args.repeats, args.device)
        rows.append({"k": k, "batched": batched, "separate": separate})
        print(f"| {k} | {batched:.2f} | {separate:.2f} | {batched / separate:.2f} | {k * len(x) / batched:.1f} |",
              flush=True)
    return rows


if __name__ == "__main__":
    main()

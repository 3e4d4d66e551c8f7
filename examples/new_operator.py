"""Register a new operator (a column-wise "line scan" that keeps every k-th column) and solve
it with DDiff and the shipped prior.

    python examples/new_operator.py [--size 64] [--steps 100] [--out line_scan.png]
"""

from __future__ import annotations

import argparse

import torch

import splitdiff as sd
from splitdiff.demo import held_out_images


@sd.operators.register("line_scan", overwrite=True)
class LineScan(sd.operators.LinearOperator):
    """Keep every ``k``-th column: (N, C, H, W) -> (N, C, H, W / k). Adjoint: autograd."""

    task = None  # no paper defaults of its own: borrow a paper task's (below) or pass gamma0, t0

    def __init__(self, k: int = 4, sigma: float = 0.05):
        super().__init__(sigma)
        self.k = k

    def forward(self, x):
        return x[..., :: self.k]

    def output_shape(self, shape):
        n, c, h, w = shape
        return (n, c, h, -(-w // self.k))

    def input_shape(self, shape):
        n, c, h, w = shape
        return (n, c, h, w * self.k)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--out", default=None, help="write the reconstruction here (PNG)")
    args = parser.parse_args(argv)
    _, x = held_out_images(args.size)
    op = sd.operators.build("line_scan", k=4)
    y = op.measure(x, generator=torch.Generator().manual_seed(0))
    # a line scan drops pixels like random inpainting: borrow that task's Appendix H defaults,
    # which the solver scales to the image size
    solver = sd.algorithms.build("ddiff", prior="default", operator=op, task="random_inpainting", steps=args.steps)
    x_hat = solver.solve(y, generator=torch.Generator().manual_seed(1))
    score = float(sd.evaluation.psnr(x_hat, x).mean())
    print(f"line scan (1 column in 4), DDiff {args.steps} steps: PSNR {score:.2f} dB")
    if args.out:
        sd.evaluation.save_image(x_hat[:1], args.out)
    return score


if __name__ == "__main__":
    main()

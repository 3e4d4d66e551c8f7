"""Training throughput of the default prior's architecture on this machine: crops per second of
one DDPM training step (forward, backward, AdamW), by batch size and memory format.

    python -m benchmarks.train_step [--batch 8 16 32] [--steps 5] [--compile]

Each setting: 2 warm-up steps, then the median of ``--steps`` timed steps, side by side in one
process. ``channels_last`` converts the network and the batch; ``--compile`` adds
``torch.compile`` (its compilation time is reported separately, not in the median).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from splitdiff.training.module import DiffusionTraining
from splitdiff.training.train import DEFAULT_FLAGS


def step_seconds(batch: int, steps: int, channels_last: bool, compiled: bool) -> tuple[float, float]:
    """(median seconds per step, seconds of the first step) for one setting."""
    torch.manual_seed(0)
    model = DiffusionTraining(dict(DEFAULT_FLAGS))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.net.to(memory_format=fmt)
    net = torch.compile(model.net) if compiled else model.net
    opt = torch.optim.AdamW(model.net.parameters(), lr=2e-4)
    a_bar = model.alphas_cumprod
    size = int(DEFAULT_FLAGS["image_size"])
    times = []
    for i in range(2 + steps):
        x0 = (torch.rand(batch, 3, size, size) * 2 - 1).contiguous(memory_format=fmt)
        start = time.perf_counter()
        t = torch.randint(0, len(a_bar), (batch,))
        a = a_bar[t].view(-1, 1, 1, 1)
        eps = torch.randn_like(x0)
        loss = torch.nn.functional.mse_loss(net(a.sqrt() * x0 + (1 - a).sqrt() * eps, t)[:, :3], eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:]), times[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; flags {DEFAULT_FLAGS}\n")
    print("| batch | memory format | compiled | s / step | crops / s | first step (s) |")
    print("|---|---|---|---|---|---|")
    for batch in args.batch:
        for channels_last in (False, True):
            for compiled in ((False, True) if args.compile else (False,)):
                seconds, first = step_seconds(batch, args.steps, channels_last, compiled)
                print(f"| {batch} | {'channels_last' if channels_last else 'contiguous'} | {compiled} | "
                      f"{seconds:.3f} | {batch / seconds:.1f} | {first:.1f} |", flush=True)


if __name__ == "__main__":
    main()

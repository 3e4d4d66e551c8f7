"""Training throughput of the default prior's architecture on this machine: crops per second of
one DDPM training step (forward, backward, AdamW), by batch size and memory format.

    python -m benchmarks.train_step [--batch 8 16 32] [--steps 5] [--compile]
                                    [--channels 32 64] [--formats contiguous channels_last]

Each setting: 2 warm-up steps, then the median of ``--steps`` timed steps, side by side in one
process. ``channels_last`` converts the network and the batch; ``--compile`` adds
``torch.compile`` (its compilation time is reported separately, not in the median).
``--channels``: the network's width (``num_channels``; the shipped prior has 32), to weigh
capacity against steps per hour.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from splitdiff.training.module import DiffusionTraining
from splitdiff.training.train import DEFAULT_FLAGS


def step_seconds(batch: int, steps: int, channels_last: bool, compiled: bool,
                 channels: int | None = None) -> tuple[float, float, int]:
    """(median seconds per step, seconds of the first step, parameters) for one setting."""
    torch.manual_seed(0)
    model = DiffusionTraining({**DEFAULT_FLAGS, **({"num_channels": channels} if channels else {})})
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
    return statistics.median(times[2:]), times[0], sum(p.numel() for p in model.net.parameters())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--channels", type=int, nargs="+", default=[int(DEFAULT_FLAGS["num_channels"])],
                        help="network widths (num_channels)")
    parser.add_argument("--formats", nargs="+", default=["contiguous", "channels_last"],
                        choices=["contiguous", "channels_last"])
    args = parser.parse_args(argv)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; flags {DEFAULT_FLAGS}\n")
    print("| channels | parameters | batch | memory format | compiled | s / step | crops / s | first step (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for channels in args.channels:
        for batch in args.batch:
            for fmt in args.formats:
                for compiled in ((False, True) if args.compile else (False,)):
                    seconds, first, params = step_seconds(batch, args.steps, fmt == "channels_last", compiled,
                                                          channels)
                    print(f"| {channels} | {params:,} | {batch} | {fmt} | {compiled} | {seconds:.3f} | "
                          f"{batch / seconds:.1f} | {first:.1f} |", flush=True)


if __name__ == "__main__":
    main()

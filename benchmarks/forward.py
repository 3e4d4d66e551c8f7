"""The ADM network forward with each option, side by side: time and peak memory per forward.

    python -m benchmarks.forward [--prior default ffhq] [--batch 1 8 16] [--repeats 3]
        [--options einsum sdpa channels_last sdpa+channels_last] [--device cpu] [--dtype float32]

Options (``UNetModel.configure``; the same numbers, ``tests/test_adm.py``): ``einsum`` is
today's forward (guided-diffusion's attention, contiguous memory); ``sdpa`` computes attention
with ``F.scaled_dot_product_attention``; ``channels_last`` runs the convolutions on NHWC memory;
``compile`` adds ``torch.compile`` to the best of them (opt-in: minutes of compiling on a CPU).
``--dtype bfloat16`` / ``float16`` keeps the network in that precision (GPU).

Priors: ``default`` (the shipped 64x64 prior) and ``ffhq`` (the DPS FFHQ architecture at
256x256, random weights: the cost does not depend on their values). Each (prior, option, batch)
runs in its own process, so that peak memory is its own (CPU: peak RSS above what the process
held before the timed forwards; CUDA: max_memory_allocated). Times are medians of ``repeats``
forwards after one warm-up, under no_grad.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

from benchmarks.ddiff_step import _peak_rss_bytes, _rss_bytes

OPTIONS = {
    "einsum": dict(attention="einsum", channels_last=False),
    "sdpa": dict(attention="sdpa", channels_last=False),
    "channels_last": dict(attention="einsum", channels_last=True),
    "sdpa+channels_last": dict(attention="sdpa", channels_last=True),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def build(prior: str, device: str, dtype: torch.dtype):
    import splitdiff as sd

    if prior == "default":
        return sd.priors.build("default", device=device).to(dtype)
    return sd.priors.build("adm", config=prior, random_init=True, device=device, dtype=dtype)


def run(prior: str, option: str, batch: int, repeats: int, device: str, dtype: str) -> dict:
    torch.manual_seed(0)
    dt = DTYPES[dtype]
    model = build(prior, device, dt)
    compile_ = option.endswith("+compile")
    net = model.net.configure(**OPTIONS[option.removesuffix("+compile")])
    forward = torch.compile(net) if compile_ else net
    size = net.image_size
    x = torch.randn(batch, 3, size, size, device=device, dtype=dt)
    t = torch.full((batch,), 500, device=device)
    cuda = device.startswith("cuda")
    with torch.no_grad():
        start = time.perf_counter()
        forward(x, t)  # warm-up (and compilation)
        warm = time.perf_counter() - start
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated() if cuda else _rss_bytes()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            forward(x, t)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated() if cuda else _peak_rss_bytes()
    return {"prior": prior, "option": option, "batch": batch, "seconds": statistics.median(times),
            "warmup": warm, "peak_mib": max(0, peak - base) / 2**20}


def child(args: argparse.Namespace, prior: str, option: str, batch: int) -> dict:
    code = ("import json, sys; from benchmarks.forward import run; "
            f"print(json.dumps(run({prior!r}, {option!r}, {batch}, {args.repeats}, {args.device!r}, {args.dtype!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", nargs="+", default=["default", "ffhq"], choices=["default", "ffhq", "imagenet"])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--options", nargs="+", default=list(OPTIONS),
                        choices=list(OPTIONS) + [f"{o}+compile" for o in OPTIONS])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES))
    parser.add_argument("--in-process", action="store_true", help="no child processes (memory is then shared)")
    args = parser.parse_args(argv)
    rows = []
    print(f"| prior | batch | option | s / forward | x today's | images / s | peak memory (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for prior in args.prior:
        for batch in args.batch:
            today = None
            for option in args.options:
                row = (run(prior, option, batch, args.repeats, args.device, args.dtype) if args.in_process
                       else child(args, prior, option, batch))
                today = today or row["seconds"]
                rows.append(row)
                print(f"| {prior} | {batch} | {option} | {row['seconds']:.3f} | {row['seconds'] / today:.2f} | "
                      f"{batch / row['seconds']:.1f} | {row['peak_mib']:.0f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()

"""Cost of one DDiff step against one bare network forward (time and peak memory).

    python -m benchmarks.ddiff_step [--config ffhq] [--steps 4] [--repeats 3] [--device cpu]

Modes, each measured in a fresh subprocess (so peak memory is its own):
  forward  : prior.eps(x_t, t) under no_grad, ``steps`` times (the physical limit: 1 NFE/step)
  ddiff    : splitdiff's ddiff for ``steps`` iterations (SR x4 at 256x256, ffhq preset)
  authors  : the authors' step: the network forward builds an autograd graph that is kept
             alive while the gradient through A is taken (ddiff_sample.py's admm_ddim)
Times are medians over repeats of the per-step time; memory is the peak above the memory
held before the timed loop (CUDA: max_memory_allocated; CPU: peak RSS from getrusage).
Random weights: the cost of a forward does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_mode(mode: str, config: str, steps: int, repeats: int, device: str, dtype: str) -> dict:
    import splitdiff as sd

    torch.manual_seed(0)
    dt = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    prior = sd.priors.build("adm", config=config, random_init=True, device=device, dtype=dt)
    size = prior.image_size
    op = sd.operators.build("super_resolution", scale=4).to(device)
    x = torch.rand(1, 3, size, size, device=device) * 2 - 1
    y = op.measure(x)
    x_t = torch.randn(1, 3, size, size, device=device)
    solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=steps + 1)
    a = prior.schedule.alphas_cumprod.to(device)

    def authors_step(img, u, t):
        img = img.requires_grad_()
        at = a[t].float()
        x0 = ((img - torch.sqrt(1 - at) * prior.net(img.to(dt), torch.tensor([t], device=device)).float()[:, :3])
              / torch.sqrt(at)).clamp(-1, 1)  # graph through the network is built here
        v = x0 - u
        nll = torch.linalg.norm(y - op(v)) ** 2
        (g,) = torch.autograd.grad(nll, v, retain_graph=True)  # graph kept alive, as in ddiff_sample.py
        return (v - g / g.norm()).detach()

    def once():
        if mode == "forward":
            for k in range(steps):
                prior.eps(x_t, 999 - k)
        elif mode == "ddiff":
            solver.solve(y, x_T=x_t)
        else:
            u = torch.zeros_like(x_t)
            img = x_t.clone()
            for k in range(steps):
                img = authors_step(img, u, 999 - k)

    times, peak = measure(once, repeats, device)
    times = [t / steps for t in times]
    return {"mode": mode, "step_s": statistics.median(times), "times": times, "peak_bytes": peak}


def measure(once, repeats: int, device: str) -> tuple[list[float], int]:
    """Run ``once`` for warm-up, then ``repeats`` timed times: (seconds per run, peak bytes above
    what was held before the timed runs; CUDA: max_memory_allocated, CPU: peak RSS)."""
    once()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        once()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device == "cuda" else _peak_rss_bytes()) - base
    return times, max(peak, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="ffhq")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # child process
        print(json.dumps(run_mode(args.mode, args.config, args.steps, args.repeats, args.device, args.dtype)))
        return
    rows = {}
    for mode in ("forward", "ddiff", "authors"):
        cmd = [sys.executable, "-m", "benchmarks.ddiff_step", "--mode", mode, "--config", args.config,
               "--steps", str(args.steps), "--repeats", str(args.repeats), "--device", args.device, "--dtype", args.dtype]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows[mode] = json.loads(out.strip().splitlines()[-1])
    f = rows["forward"]
    machine = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"ADM '{args.config}' 256x256, batch 1, {args.steps} steps x {args.repeats} repeats, {args.device} {args.dtype} ({machine}), torch {torch.__version__}")
    print("| mode | time / step (s) | time / forward | peak memory (MiB) | memory / forward |")
    print("|---|---|---|---|---|")
    for mode, r in rows.items():
        print(f"| {mode} | {r['step_s']:.3f} | {r['step_s'] / f['step_s']:.3f} | {r['peak_bytes'] / 2**20:.0f} | "
              f"{r['peak_bytes'] / max(f['peak_bytes'], 1):.2f} |")


if __name__ == "__main__":
    main()

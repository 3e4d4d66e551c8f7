"""Time and peak memory per solve at equal NFE: ddiff, dps, daps and the bare network.

    python -m benchmarks.speed [--prior default] [--nfe 100] [--repeats 3] [--batch 1 8]
                               [--dtype float32] [--modes forward ddiff dps daps]

One network, one operator (super-resolution x4), one seed, side by side. Modes, each in a
fresh subprocess so that peak memory is its own:

  forward : ``nfe`` bare network calls under no_grad (the physical limit of any solver)
  ddiff   : splitdiff's ddiff with ``nfe + 1`` timesteps (it makes steps - 1 calls)
  dps     : DPS with ``nfe`` timesteps (each call also back-propagates through the network)
  daps    : DAPS with ``nfe / 5`` annealing steps x 5 ODE steps (plus 100 Langevin steps each)

Times are medians over ``--repeats``; memory is the peak above what the process held before
the timed solves (CUDA: max_memory_allocated; CPU: peak RSS). ``--prior default`` is the
shipped 64x64 prior; ``--prior ffhq`` the DPS FFHQ architecture at 256x256 (random weights:
the cost of a forward does not depend on them). Throughput: ddiff images per second at each
``--batch`` size. ``--dtype bfloat16`` / ``float16`` runs the network in that precision (the
solver's own arithmetic stays float32; for GPUs).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys

import torch

from benchmarks.ddiff_step import measure
from benchmarks.forward import DTYPES

MODES = ("forward", "ddiff", "dps", "daps")


def _prior(name: str, device: str, dtype: str = "float32"):
    import splitdiff as sd

    if name == "default":
        return sd.priors.default_prior(device=device, dtype=DTYPES[dtype]), 64
    prior = sd.priors.build("adm", config=name, random_init=True, device=device, dtype=DTYPES[dtype])
    return prior, prior.image_size


def run_mode(mode: str, prior_name: str, nfe: int, repeats: int, batch: int, device: str,
             dtype: str = "float32") -> dict:
    import splitdiff as sd

    torch.manual_seed(0)
    prior, size = _prior(prior_name, device, dtype)
    op = sd.operators.build("super_resolution", scale=4).to(device)
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    y = op.measure(x, generator=torch.Generator(device).manual_seed(0))
    x_t = torch.randn(batch, 3, size, size, device=device)
    solver = {
        "ddiff": lambda: sd.algorithms.build("ddiff", prior=prior, operator=op, steps=nfe + 1),
        "dps": lambda: sd.algorithms.build("dps", prior=prior, operator=op, steps=nfe),
        "daps": lambda: sd.algorithms.build("daps", prior=prior, operator=op, steps=max(1, nfe // 5)),
        "forward": lambda: None,
    }[mode]()

    def once():
        if solver is None:
            with torch.no_grad():
                for k in range(nfe):
                    prior.eps(x_t, 999 - k * (1000 // nfe))
        else:
            solver.solve(y, generator=torch.Generator(device).manual_seed(1))

    times, peak = measure(once, repeats, device)
    return {"mode": mode, "batch": batch, "solve_s": statistics.median(times), "times": times,
            "peak_bytes": peak, "nfe": solver.nfe() if solver is not None else nfe}


def child(mode: str, args, batch: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.speed", "--mode", mode, "--prior", args.prior, "--nfe", str(args.nfe),
           "--repeats", str(args.repeats), "--batch", str(batch), "--device", args.device, "--dtype", args.dtype]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", default="default", help="default (shipped, 64x64) or an ADM preset (ffhq)")
    parser.add_argument("--nfe", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes for the throughput table")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=list(DTYPES), help="the network's precision")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES,
                        help="which solvers (ddiff is always measured: the table is relative to it)")
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode:  # child process
        print(json.dumps(run_mode(args.mode, args.prior, args.nfe, args.repeats, args.batch[0], args.device,
                                  args.dtype)))
        return
    rows = {mode: child(mode, args, 1) for mode in MODES if mode in args.modes or mode == "ddiff"}
    machine = (torch.cuda.get_device_name() if args.device == "cuda"
               else f"{platform.machine()}, {torch.get_num_threads()} threads")
    print(f"prior {args.prior} ({args.dtype}), SR x4, batch 1, NFE {args.nfe}, median of {args.repeats}; "
          f"{args.device} ({machine}), "
          f"torch {torch.__version__}\n")
    print("| mode | NFE | time / solve (s) | / ddiff | / (NFE x forward) | peak memory (MiB) | / ddiff |")
    print("|---|---|---|---|---|---|---|")
    fwd, dd = rows.get("forward"), rows["ddiff"]
    for mode, r in rows.items():
        per_forward = f"{r['solve_s'] / (r['nfe'] * fwd['solve_s'] / fwd['nfe']):.2f}" if fwd else "–"
        print(f"| {mode} | {r['nfe']} | {r['solve_s']:.3f} | {r['solve_s'] / dd['solve_s']:.2f} | "
              f"{per_forward} | {r['peak_bytes'] / 2**20:.0f} | "
              f"{r['peak_bytes'] / max(dd['peak_bytes'], 1):.2f} |")
    print("\n| ddiff batch | time / solve (s) | images / s | vs batch 1 |")
    print("|---|---|---|---|")
    first = None
    for batch in args.batch:
        r = dd if batch == 1 else child("ddiff", args, batch)
        rate = batch / r["solve_s"]
        first = first or rate
        print(f"| {batch} | {r['solve_s']:.3f} | {rate:.2f} | {rate / first:.2f} |")


if __name__ == "__main__":
    main()

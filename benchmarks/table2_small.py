"""Table 2 at small scale: the four variants on the shipped held-out benchmark (24 photographs) with the shipped prior.

    python -m benchmarks.table2_small [--out results] [--devices 1]

Runs ``splitdiff evaluate table2-small`` (7 tasks that need no external weights, 64x64,
100 steps) and then checks the paper's ordering per task: DDiff (dual variable + noising)
best in PSNR, and the dual variable without the noising step (Diff-PnP-ADMM) worse than
without either (Diff-PnP-HQS). Results and figures stay in OUT/table2-small.
"""

from __future__ import annotations

import argparse

from splitdiff.evaluation.config import load_config
from splitdiff.evaluation.report import ordered_rows
from splitdiff.evaluation.runner import evaluate
from splitdiff.evaluation.tables import aggregate, markdown


def shrink(config: str, steps: int | None = None, limit: int | None = None, images: int | None = None):
    """A shipped config, or a quick version of it (fewer steps, the first ``limit`` tasks, the
    first ``images`` images) that writes to its own folder (NAME-quick)."""
    cfg = load_config(config)
    if not (steps or limit or images):
        return cfg
    raw = dict(cfg.source, name=f"{cfg.name}-quick")
    if images:
        raw["data"] = {**raw["data"], "limit": images}
    tasks = list(raw["tasks"])[:limit] if limit else list(raw["tasks"])
    raw["tasks"] = {t: raw["tasks"][t] for t in tasks}
    methods = {}
    for name, spec in raw["methods"].items():
        spec = dict(spec)
        if steps:
            spec["options"] = {**spec.get("options", {}),
                               "steps": max(1, steps // 5) if spec.get("algorithm") == "daps" else steps}
        if "per_task" in spec:
            spec["per_task"] = {t: v for t, v in spec["per_task"].items() if t in tasks}
        methods[name] = spec
    raw["methods"] = methods
    return load_config(config, raw)


def ordering(groups: list[dict]) -> str:
    lines = ["| task | PSNR order (best first) | DDiff best | dual alone hurts (diff-pnp-admm < diff-pnp-hqs) |",
             "|---|---|---|---|"]
    for task in dict.fromkeys(g["task"] for g in groups):
        psnr = {g["method"]: g["psnr"] for g in groups if g["task"] == task}
        order = sorted(psnr, key=psnr.get, reverse=True)
        hurts = psnr.get("diff-pnp-admm", 0) < psnr.get("diff-pnp-hqs", 0)
        lines.append(f"| {task} | {' > '.join(order)} | {'yes' if order[0] == 'ddiff' else 'no'} | "
                     f"{'yes' if hurts else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None, config: str = "table2-small") -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="results")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--steps", type=int, help="quick check: every method's steps (DAPS: steps / 5)")
    parser.add_argument("--limit", type=int, help="use only the first N tasks (for a quick check)")
    parser.add_argument("--images", type=int, help="use only the first N held-out images (for a quick check)")
    args = parser.parse_args(argv)
    cfg = shrink(config, args.steps, args.limit, args.images)
    store = evaluate(cfg, args.out, progress=False, accelerator="cpu", devices=args.devices)
    groups = aggregate(ordered_rows(cfg, store))
    print(markdown(groups, "table2"))
    print(ordering(groups))


if __name__ == "__main__":
    main()

"""The ``splitdiff`` command: ``list``, ``demo``, ``solve``, ``train-prior``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_list(args) -> int:
    from . import algorithms, operators, priors, splitting

    for title, registry in (("algorithms", algorithms), ("operators", operators), ("priors", priors),
                            ("splittings", splitting)):
        print(f"{title}:")
        for name in registry.names():
            print(f"  {name:20s} {registry.REGISTRY.summary(name)}")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    result = run_demo(args.out, steps=args.steps, seed=args.seed, size=args.size, algorithm=args.algorithm,
                      prior=parse_prior(args.prior))
    print((Path(args.out) / "metrics.md").read_text())
    print(f"wrote {Path(args.out) / 'grid.png'} and metrics.md / metrics.csv in {result['seconds']:.1f} s")
    return 0


def parse_prior(spec: str, device: str = "cpu"):
    """'default[:WEIGHTS]' | 'tv' | 'wavelet' | 'wiener' | 'adm:PATH[:ffhq|imagenet]' | 'ldm:PATH' | 'diffusers:DIR'."""
    from . import priors

    kind, _, rest = spec.partition(":")
    if kind == "default":
        return priors.default_prior(device=device, weights=rest or None)
    if kind in ("tv", "wavelet", "wiener") and not rest:
        return priors.build(kind)
    if kind == "adm" and rest:
        path, _, config = rest.partition(":")
        return priors.build("adm", checkpoint=path, config=config or "ffhq", device=device)
    if kind == "ldm" and rest:
        return priors.build("ldm", checkpoint=rest, device=device, trusted=True)
    if kind == "diffusers" and rest:
        return priors.build("diffusers", path=rest, device=device)
    raise ValueError(f"unknown prior {spec!r}; use default[:WEIGHTS], tv, wavelet, wiener, adm:PATH[:ffhq|imagenet], "
                     "ldm:PATH or diffusers:DIR")


def _cmd_solve(args) -> int:
    import torch

    from . import algorithms, operators
    from .evaluation.images import load_image, save_image

    prior = parse_prior(args.prior, args.device)
    op = operators.build(args.task, sigma=args.sigma).to(args.device)
    size = args.size or getattr(prior, "image_size", None)
    if args.image:
        x = load_image(args.image, size=size).to(args.device)
        _check_size(prior, x)
        y = op.measure(x, generator=torch.Generator(args.device).manual_seed(args.seed))
    else:
        y = _load_tensor(args.measurement).to(args.device)
    solver = algorithms.build(args.algorithm, prior=prior, operator=op,
                              **({"steps": args.steps} if args.steps else {}))
    # solve() checks the measurement and the image size against the operator and the prior
    x_hat = solver.solve(y, generator=torch.Generator(args.device).manual_seed(args.seed + 1))
    save_image(x_hat, args.out)
    print(f"wrote {args.out}")
    return 0


def _check_size(prior, x) -> None:
    try:
        prior.check_input(x)
    except ValueError as err:
        raise ValueError(f"the prior cannot handle this image: {err}") from None


def _load_tensor(path: str):
    import numpy as np
    import torch

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"measurement not found: {p}")
    if p.suffix == ".npy":
        t = torch.from_numpy(np.load(p))
    elif p.suffix in (".pt", ".pth"):
        t = torch.load(p, map_location="cpu", weights_only=True)
    else:
        raise ValueError(f"measurements are read from .npy or .pt files, got {p.name}")
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{p} does not hold a tensor")
    return t.float()[None] if t.dim() == 3 else t.float()


def _cmd_train(args) -> int:
    from .training import export_prior, train_prior

    import ast

    flags = {}
    for item in args.flag or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--flag expects KEY=VALUE (an ADM flag, e.g. num_channels=64), got {item!r}")
        try:
            flags[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            flags[key] = value
    last = train_prior(args.out, max_steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, flags=flags,
                       accelerator=args.accelerator, init=args.init, num_workers=args.num_workers,
                       precision=args.precision)
    print(f"checkpoint: {last}")
    if args.export:
        print(f"exported EMA weights: {export_prior(last, args.export)}")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluation.config import load_config
    from .evaluation.report import write_report
    from .evaluation.runner import evaluate, prepare

    config = load_config(args.config)
    if args.report_only:
        _, store = prepare(config, args.out)
        written = write_report(config, store)
    else:
        trainer = {k: v for k, v in (("accelerator", args.accelerator), ("devices", args.devices),
                                     ("num_nodes", args.num_nodes), ("strategy", args.strategy)) if v is not None}
        store = evaluate(config, args.out, progress=not args.no_progress, **trainer)
        written = {p.name: p for p in (store.root / "table.md",) if p.is_file()}
    for path in written.values():
        print(f"wrote {path}")
    return 0


def _cmd_table(args) -> int:
    import json

    from .evaluation.tables import markdown

    groups, skipped = [], []
    for folder in args.results:
        path = Path(folder) / "table.json"
        if not path.is_file():
            raise FileNotFoundError(f"no table.json in {folder} (run splitdiff evaluate there first)")
        data = json.loads(path.read_text())
        groups += [{k: float("nan") if v is None else v for k, v in g.items()} for g in data["groups"]]
        skipped += data["skipped"]
    text = markdown(groups, args.layout, skipped)
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _devices(value: str):
    return value if value == "auto" or "," in value else int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="splitdiff", description="Diffusion-prior inverse-problem solvers.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered algorithms, operators, priors and splittings")
    p.set_defaults(run=_cmd_list)

    p = sub.add_parser("demo", help="DDiff with the shipped prior on the held-out images (grid + metrics)")
    p.add_argument("--out", default="splitdiff-demo", help="output folder (default: splitdiff-demo)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--algorithm", default="ddiff")
    p.add_argument("--prior", default="default", help="as for solve (default: the shipped prior)")
    p.set_defaults(run=_cmd_demo)

    p = sub.add_parser("solve", help="solve for your own image or measurement")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="a ground-truth image: it is measured with --task, then reconstructed")
    src.add_argument("--measurement", help="a measurement tensor (.npy / .pt) shaped as the operator's output")
    p.add_argument("--task", required=True, help="operator name (see `splitdiff list`)")
    p.add_argument("--algorithm", default="ddiff")
    p.add_argument("--prior", default="default", help="default | tv | wavelet | wiener | adm:PATH[:config] | ldm:PATH | diffusers:DIR")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sigma", type=float, default=0.05, help="measurement noise std on the [-1, 1] scale")
    p.add_argument("--size", type=int, default=None, help="resize images to SIZE x SIZE (center crop)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output PNG")
    p.set_defaults(run=_cmd_solve)

    p = sub.add_parser("evaluate", help="solve and score a config's tasks x methods x images (Lightning, DDP)")
    p.add_argument("config", help="a YAML config, or the name of a shipped one (see docs/evaluation.md)")
    p.add_argument("--out", default="results", help="results go to OUT/<config name> (default: results)")
    p.add_argument("--accelerator", help="cpu | gpu | auto (default: the config's trainer section, else auto)")
    p.add_argument("--devices", type=_devices, help="devices per node: a count, 'auto' or a list like 0,1")
    p.add_argument("--num-nodes", type=int, help="nodes (multi-node DDP, e.g. under SLURM)")
    p.add_argument("--strategy", help="Lightning strategy (default: ddp when more than one device)")
    p.add_argument("--report-only", action="store_true", help="rebuild tables and figures from finished results")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_evaluate)

    p = sub.add_parser("table", help="one table from several evaluations (e.g. Table 1: FFHQ and ImageNet)")
    p.add_argument("results", nargs="+", help="results folders of splitdiff evaluate (OUT/NAME)")
    p.add_argument("--layout", default="table1", choices=["table1", "table2"])
    p.add_argument("--out", help="write the Markdown here (default: print it)")
    p.set_defaults(run=_cmd_table)

    p = sub.add_parser("train-prior", help="train a small ADM prior on the scikit-image photographs")
    p.add_argument("--out", required=True, help="folder for checkpoints and logs (resumes from last.ckpt)")
    p.add_argument("--steps", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--export", help="write the EMA weights here (.safetensors, with a .json beside)")
    p.add_argument("--init", help="start from exported weights (e.g. splitdiff/weights/default_prior.safetensors)")
    p.add_argument("--num-workers", type=int, default=0, help="data-loading processes (use several on a GPU)")
    p.add_argument("--precision", help="Lightning precision, e.g. bf16-mixed on a GPU (default: 32-true)")
    p.add_argument("--flag", action="append", metavar="KEY=VALUE",
                   help="override an ADM architecture flag (repeatable), e.g. --flag num_channels=64")
    p.set_defaults(run=_cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"splitdiff {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

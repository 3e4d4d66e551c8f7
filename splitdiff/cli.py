"""The ``splitdiff`` command: ``list``, ``demo``, ``solve``, ``evaluate``, ``table``, ``photos``, ``train-prior``.

Bad input is one line on stderr and exit code 2; no file is overwritten without ``--force``.
"""

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
    from .demo import demo_outputs, run_demo
    from .files import check_output
    from .priors.spec import parse_prior

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    if out.is_dir():
        for path in demo_outputs(out, args.samples):
            check_output(path, args.force)
    prior = parse_prior(args.prior, trust_checkpoint=_trust(args))
    result = run_demo(out, steps=args.steps, seed=args.seed, size=args.size, algorithm=args.algorithm, prior=prior,
                      samples=args.samples)
    print((out / "metrics.md").read_text())
    figures = "grid.png" + (", posterior.png" if args.samples > 1 else "")
    print(f"wrote {figures} and metrics.md / metrics.csv in {out} in {result['seconds']:.1f} s")
    return 0


def _trust(args) -> bool:
    """``--trust-checkpoint``, said out loud: full unpickling runs whatever code a file holds."""
    if getattr(args, "trust_checkpoint", False):
        print("splitdiff: warning: --trust-checkpoint: checkpoints are fully unpickled and can run any code they "
              "hold; use it only for files whose origin you trust", file=sys.stderr)
        return True
    return False


def _cmd_solve(args) -> int:
    import torch

    from . import algorithms, operators
    from .evaluation.images import image_format, load_image, save_image
    from .evaluation.posterior import summarize
    from .files import check_output
    from .priors.spec import parse_prior

    # everything that can be checked without solving is checked first: inputs, outputs, device
    source = args.image or args.measurement
    image_format(args.out)
    y = None if args.image else load_measurement(args.measurement)
    if y is not None and y.shape[1] not in (1, 3):
        raise ValueError(f"{args.measurement} has {y.shape[1]} channels; splitdiff solves images of 1 or 3 channels")
    if y is not None and min(y.shape[-2:]) < 2:
        raise ValueError(f"{args.measurement} is {y.shape[-2]}x{y.shape[-1]} pixels; expected at least 2x2")
    outputs = _batch_outputs(Path(args.out), 1 if y is None else y.shape[0])
    std_outputs = [path.with_name(f"{path.stem}_std{path.suffix}") for path in outputs] if args.samples > 1 else []
    for path in outputs + std_outputs:
        check_output(path, args.force, inputs=[source])
    prior = parse_prior(args.prior, args.device, trust_checkpoint=_trust(args))
    op = operators.build(args.task, sigma=args.sigma).to(args.device)
    if y is None:
        size = args.size if args.size is not None else getattr(prior, "image_size", None)
        x = load_image(args.image, size=size).to(args.device)
        _check_size(prior, x)
        y = op.measure(x, generator=torch.Generator(args.device).manual_seed(args.seed))
    y = y.to(args.device)
    solver = algorithms.build(args.algorithm, prior=prior, operator=op,
                              **({} if args.steps is None else {"steps": args.steps}))
    # solve() checks the measurement and the image size against the operator and the prior
    generator = torch.Generator(args.device).manual_seed(args.seed + 1)
    if args.samples > 1:  # the posterior mean (MMSE) and the per-pixel std of k samples
        summary = summarize(solver.sample(y, args.samples, generator=generator))
        x_hat, std = summary.mean, summary.std
    else:
        x_hat = solver.solve(y, generator=generator)
    for i, path in enumerate(outputs):
        save_image(x_hat[i:i + 1], path)
        print(f"wrote {path}")
    for i, path in enumerate(std_outputs):  # intensity = std on the [-1, 1] scale, white = 1 or more
        save_image(std[i:i + 1].clamp(0, 1) * 2 - 1, path)
        print(f"wrote {path} (per-pixel std of {args.samples} samples)")
    return 0


def _batch_outputs(out: Path, n: int) -> list[Path]:
    """``OUT`` for one image; ``OUT_STEM_0.SUFFIX`` ... for a batch of ``n`` measurements."""
    return [out] if n == 1 else [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(n)]


def _check_size(prior, x) -> None:
    try:
        prior.check_input(x)
    except ValueError as err:
        raise ValueError(f"the prior cannot handle this image: {err}") from None


#: The most values a measurement file may hold (1 GiB of float32): a batch of 32 phase-retrieval
#: measurements of 1024 x 1024 images is well below it.
_MAX_MEASUREMENT = 2**28


def _npy_size(path: Path) -> int:
    """The number of values a ``.npy`` header declares."""
    import math

    import numpy as np

    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = read(f)
    return math.prod(shape)


def load_measurement(path: str | Path):
    """A measurement file (``.npy``, or a ``.pt`` holding one tensor) as float32 (N, C, H, W);
    a (C, H, W) array is one measurement. Read without running code from the file."""
    import numpy as np
    import torch

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"measurement {p} is a folder; expected a .npy or .pt file")
    if not p.is_file():
        raise FileNotFoundError(f"measurement not found: {p}")
    if p.suffix == ".npy":
        try:
            size = _npy_size(p)  # from the header: nothing is allocated before the check
            if size > _MAX_MEASUREMENT:
                raise ValueError(f"it declares {size:,} values, more than the limit of {_MAX_MEASUREMENT:,}")
            array = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"cannot read {p} as a .npy array: {str(err).splitlines()[0] if str(err) else err!r}") from None
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{p} holds {type(array).__name__}; expected one array")
        if array.dtype.kind not in "fiu":
            raise ValueError(f"{p} holds {array.dtype} values; expected real numbers (a complex or text array "
                             "is not a measurement: phase retrieval measures magnitudes)")
        t = torch.from_numpy(array.astype(np.float32))
    elif p.suffix in (".pt", ".pth"):
        from .priors.checkpoint import safe_load

        t = safe_load(p)
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{p} holds {type(t).__name__}; expected one tensor saved with torch.save(y, path)")
        if t.is_nested or t.layout != torch.strided or t.is_meta:
            raise ValueError(f"{p} holds a {'meta' if t.is_meta else str(t.layout).replace('torch.', '')} tensor; "
                             "expected a dense one")
        if t.is_complex() or not (t.is_floating_point() or t.dtype in (torch.uint8, torch.int16, torch.int32,
                                                                         torch.int64, torch.int8)):
            raise ValueError(f"{p} holds {t.dtype} values; expected real numbers")
        t = t.float()
    else:
        raise ValueError(f"measurements are read from .npy or .pt files, got {p.name}")
    if t.numel() > _MAX_MEASUREMENT:
        raise ValueError(f"{p} holds {t.numel():,} values, more than the limit of {_MAX_MEASUREMENT:,}")
    if t.dim() not in (3, 4) or t.numel() == 0:
        raise ValueError(f"{p} has shape {tuple(t.shape)}; expected (C, H, W) or (N, C, H, W) with no empty "
                         "dimension, shaped as the operator's output")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{p} contains NaN or Inf values; expected finite numbers")
    return t[None] if t.dim() == 3 else t


def _cmd_photos(args) -> int:
    from .photos import fetch, photos

    out = fetch(args.dir, force=args.force)
    print(f"{out}: {len(photos('train'))} training and {len(photos('test'))} test photographs "
          f"(train/, test/), licenses/, manifest.csv, ATTRIBUTION.md")
    return 0


def _cmd_train(args) -> int:
    import ast

    from .files import check_output
    from .training import export_prior, train_prior

    flags = {}
    for item in args.flag or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--flag expects KEY=VALUE (an ADM flag, e.g. num_channels=64), got {item!r}")
        try:
            flags[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            flags[key] = value
    if args.export:  # before hours of training, not after
        export = Path(args.export)
        if export.suffix != ".safetensors":
            raise ValueError(f"--export writes a .safetensors file, got {export.name}")
        check_output(export, args.force, inputs=[args.init], what="--export")
        check_output(export.with_suffix(".json"), args.force, what="--export metadata")
    if args.init and not Path(args.init).is_file():
        raise FileNotFoundError(f"--init weights not found: {args.init}")
    steps = {} if args.steps is None else {"max_steps": args.steps}  # none given: train_prior's TRAIN_STEPS
    last = train_prior(args.out, **steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, flags=flags,
                       accelerator=args.accelerator, init=args.init, num_workers=args.num_workers,
                       precision=args.precision, trust_checkpoint=_trust(args), images=args.images,
                       crop_scales=tuple(args.crop_scales), focus=args.focus, focus_below=args.focus_below)
    print(f"checkpoint: {last}")
    if args.export:
        print(f"exported EMA weights: {export_prior(last, args.export, trust_checkpoint=args.trust_checkpoint)}")
    return 0


def _cmd_evaluate(args) -> int:
    from .evaluation.config import load_config
    from .evaluation.runner import evaluate, report_only

    # checked here, not by argparse: a bad value is one error line, not usage and a traceback
    devices = None if args.devices is None else _devices(args.devices)
    if args.num_nodes is not None and args.num_nodes < 1:
        raise ValueError(f"--num-nodes: expected an integer >= 1, got {args.num_nodes}")
    config = load_config(args.config)
    if args.report_only:
        written = report_only(config, args.out)
    else:
        trainer = {k: v for k, v in (("accelerator", args.accelerator), ("devices", devices),
                                     ("num_nodes", args.num_nodes), ("strategy", args.strategy)) if v is not None}
        store = evaluate(config, args.out, progress=not args.no_progress, recompute_changed=args.recompute_changed,
                         **trainer)
        written = {p.name: p for p in (store.root / "table.md",) if p.is_file()}
    for path in written.values():
        print(f"wrote {path}")
    return 0


def _cmd_table(args) -> int:
    from .evaluation.tables import markdown, read_table_json
    from .files import check_output, write_text

    inputs = [Path(folder) / "table.json" for folder in args.results]
    if args.out:  # before any work: never over an input, over an existing file only with --force
        check_output(args.out, args.force, inputs, what="table")
    groups, skipped = [], []
    for folder, path in zip(args.results, inputs):
        if not path.is_file():
            raise FileNotFoundError(f"no table.json in {folder} (run splitdiff evaluate there first)")
        more_groups, more_skipped = read_table_json(path)
        groups += more_groups
        skipped += more_skipped
    text = markdown(groups, args.layout, skipped)
    if args.out:
        write_text(args.out, text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _devices(value: str):
    """``--devices``: a count >= 1, 'auto' or device indices like 0,1; ValueError otherwise."""
    from .evaluation.config import device_setting

    try:
        return device_setting(value)
    except ValueError as err:
        raise ValueError(f"--devices: {err}") from None


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``splitdiff CMD: error: ...``, exit 2), no usage dump."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _integer(low: int, high: int = 2**63 - 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected an integer in [{low}, {high}], got {value}")
        return value

    return parse


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _device(text: str) -> str:
    """A torch device that exists here: cpu, cuda[:i] with a GPU, mps with Apple silicon."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; expected cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text}: no CUDA GPU is available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise argparse.ArgumentTypeError(f"{text}: MPS is not available here; use --device cpu")
    elif device.type != "cpu":
        raise argparse.ArgumentTypeError(f"unsupported device {text!r}; expected cpu, cuda, cuda:N or mps")
    return str(device)


_SEED = _integer(0, 2**63 - 2)  # the solve's second generator is seeded with seed + 1


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="splitdiff", description="Diffusion-prior inverse-problem solvers.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="registered algorithms, operators, priors and splittings")
    p.set_defaults(run=_cmd_list)

    trust = dict(action="store_true",
                 help="fully unpickle PyTorch checkpoints (runs any code they hold): only for files you trust")

    p = sub.add_parser("demo", help="DDiff with the shipped prior on the held-out images (grid + metrics)")
    p.add_argument("--out", default="splitdiff-demo", help="output folder (default: splitdiff-demo)")
    p.add_argument("--steps", type=_integer(1, 100_000), default=100, help="solver steps (default: %(default)s)")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the measurement noise and the solver "
                                                         "(default: %(default)s)")
    p.add_argument("--size", type=_integer(8, 1024), default=64, help="image side (default: %(default)s)")
    p.add_argument("--algorithm", default="ddiff", help="see `splitdiff list` (default: %(default)s)")
    p.add_argument("--prior", default="default", help="as for solve (default: the shipped prior)")
    p.add_argument("--samples", type=_integer(1, 64), default=3,
                   help="samples per image for the posterior figure (mean and std) of super-resolution, deblurring "
                        "and inpainting; 1 skips it (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="overwrite an earlier demo's files in --out")
    p.add_argument("--trust-checkpoint", **trust)
    p.set_defaults(run=_cmd_demo)

    p = sub.add_parser("solve", help="solve for your own image or measurement")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="a ground-truth image: it is measured with --task, then reconstructed")
    src.add_argument("--measurement", help="a measurement tensor (.npy / .pt) shaped as the operator's output")
    p.add_argument("--task", required=True, help="operator name (see `splitdiff list`)")
    p.add_argument("--algorithm", default="ddiff", help="see `splitdiff list` (default: %(default)s)")
    p.add_argument("--prior", default="default", help="default[:WEIGHTS] | tv[:STRENGTH] | wavelet | wiener | "
                                                      "adm:PATH[:ffhq|imagenet] | ldm:PATH | diffusers:DIR")
    p.add_argument("--steps", type=_integer(1, 100_000), default=None, help="solver steps (default: the algorithm's)")
    p.add_argument("--seed", type=_SEED, default=0, help="seed of the measurement noise and the solver "
                                                         "(default: %(default)s)")
    p.add_argument("--sigma", type=_positive_float, default=0.05,
                   help="measurement noise std on the [-1, 1] scale (default: %(default)s)")
    p.add_argument("--size", type=_integer(8, 8192), default=None,
                   help="resize images to SIZE x SIZE (center crop; default: the prior's image size, if it has one)")
    p.add_argument("--device", type=_device, default="cpu", help="cpu | cuda[:N] | mps (default: %(default)s)")
    p.add_argument("--out", required=True, help="output image (.png, .jpg, .tif, ...); a batch of N measurements "
                                                "writes OUT_0 ... OUT_N-1")
    p.add_argument("--samples", type=_integer(1, 4096), default=1,
                   help="draw K samples in one batch and write their mean to --out and their per-pixel std to "
                        "OUT_std (default: 1, one sample)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--trust-checkpoint", **trust)
    p.set_defaults(run=_cmd_solve)

    p = sub.add_parser("evaluate", help="solve and score a config's tasks x methods x images (Lightning, DDP)")
    p.add_argument("config", help="a YAML config, or the name of a shipped one (see docs/evaluation.md)")
    p.add_argument("--out", default="results", help="results go to OUT/<config name> (default: results)")
    p.add_argument("--accelerator", help="cpu | gpu | auto (default: the config's trainer section, else auto)")
    p.add_argument("--devices", help="devices per node: a count, 'auto' or a list like 0,1")
    p.add_argument("--num-nodes", type=int, help="nodes (multi-node DDP, e.g. under SLURM)")
    p.add_argument("--strategy", help="Lightning strategy (default: ddp when more than one device)")
    p.add_argument("--report-only", action="store_true", help="rebuild tables and figures from finished results")
    p.add_argument("--recompute-changed", action="store_true",
                   help="delete and recompute finished rows whose settings changed (default: refuse to run)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_cmd_evaluate)

    p = sub.add_parser("table", help="one table from several evaluations (e.g. Table 1: FFHQ and ImageNet)")
    p.add_argument("results", nargs="+", help="results folders of splitdiff evaluate (OUT/NAME)")
    p.add_argument("--layout", default="table1", choices=["table1", "table2"])
    p.add_argument("--out", help="write the Markdown here (default: print it)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(run=_cmd_table)

    p = sub.add_parser("photos", help="the licensed photo corpus (Debian wallpapers, scikit-image)")
    photos_sub = p.add_subparsers(dest="photos_command", required=True, metavar="fetch")
    f = photos_sub.add_parser("fetch", help="build the corpus folder: apt-get download + dpkg-deb -x (nothing installed)")
    f.add_argument("dir", help="the corpus folder (missing or empty, or --force)")
    f.add_argument("--force", action="store_true", help="write into a non-empty folder (replaces the corpus's files)")
    f.set_defaults(run=_cmd_photos)

    p = sub.add_parser("train-prior", help="train a small ADM prior on photographs (scikit-image's, or --images)")
    p.add_argument("--out", required=True, help="folder for checkpoints and logs (resumes from last.ckpt)")
    p.add_argument("--images", help="train on every image in this folder (e.g. a corpus's train/); "
                                    "held-out test photographs are refused (default: scikit-image's)")
    # default None: train_prior's own (TRAIN_STEPS), not imported here: it would load Lightning for --help
    p.add_argument("--steps", type=_integer(1), default=None, help="training steps (default: 8000)")
    p.add_argument("--batch-size", type=_integer(1, 65536), default=16)
    p.add_argument("--lr", type=_positive_float, default=2e-4)
    p.add_argument("--seed", type=_integer(0, 2**32 - 1), default=0)
    p.add_argument("--accelerator", default="auto")
    p.add_argument("--export", help="write the EMA weights here (.safetensors, with a .json beside)")
    p.add_argument("--force", action="store_true", help="overwrite --export if it exists")
    p.add_argument("--init", help="start from exported weights (e.g. splitdiff/weights/default_prior.safetensors)")
    p.add_argument("--num-workers", type=_integer(0, 256), default=0, help="data-loading processes (use several on a GPU)")
    p.add_argument("--precision", help="Lightning precision, e.g. bf16-mixed on a GPU (default: 32-true)")
    p.add_argument("--crop-scales", nargs=2, type=_positive_float, default=[0.125, 1.0], metavar=("MIN", "MAX"),
                   help="crop scales (0 < MIN <= MAX <= 1): 1/8 is a whole photograph at 64x64, 1 its native "
                        "pixels (default: 0.125 1)")
    p.add_argument("--focus", type=float, default=0.0,
                   help="share of each batch's timesteps drawn below --focus-below, the rest uniform (default: 0)")
    p.add_argument("--focus-below", type=_integer(1, 1000), default=250,
                   help="the low-noise timesteps --focus draws from (default: 250, noise std 0.95)")
    p.add_argument("--flag", action="append", metavar="KEY=VALUE",
                   help="override an ADM architecture flag (repeatable), e.g. --flag num_channels=64")
    p.add_argument("--trust-checkpoint", **trust)
    p.set_defaults(run=_cmd_train)
    return parser


def _user_error(err: Exception) -> bool:
    """Errors that describe the user's input or machine, not a bug: bad values, files, a divergence."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from .validation import DivergenceError
    from .evaluation.metrics import LPIPSWeightsMissing

    # MisconfigurationException: Lightning's word on trainer settings (a GPU that is not there)
    return isinstance(err, (ValueError, OSError, DivergenceError, LPIPSWeightsMissing, MisconfigurationException))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input is one line on stderr and exit code 2, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except Exception as err:
        if not _user_error(err):
            raise  # a bug in splitdiff: the traceback is for its developers
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"splitdiff {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"splitdiff {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

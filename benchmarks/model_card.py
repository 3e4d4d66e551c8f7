"""Figures of the model card: the training loss curve, unconditional samples, and the denoising
PSNR curve on the held-out benchmark beside classical denoisers.

    python -m benchmarks.model_card [--logs LOGS] [--weights W] [--out docs/figures]
    python -m benchmarks.model_card --validation LOGS [--point 0=W0 --point STEP=W] [--tune-images DIR] [--out docs/figures]
    python -m benchmarks.model_card --validation-csv docs/figures/default_prior_validation.csv [--tune-images DIR]

Samples are drawn with DDIM (eta = 1, 100 steps) composed from splitdiff's parts: HQS with a
zero data step is plain diffusion sampling.

``--validation``: the ``val_psnr_sigma_*`` values that ``train-prior`` logs after every epoch
(``LOGS/version_*/metrics.csv``), and of exported weights at given steps (``--point``; step 0:
the weights the run started from), written to ``default_prior_validation.csv`` and plotted against
Wiener, TV and (with the optional ``bm3d`` package) BM3D per channel and colour BM3D (CBM3D),
written to ``classical_denoising.csv``. The classical denoisers see exactly the prior's noisy
images (``splitdiff.training.validation.classical_psnr`` with the prior's schedule: the same draws,
the timestep's sigma_t). TV's strength is chosen per noise level on training photographs
(``--tune-images``: a corpus's ``train/``; default: scikit-image's). ``--validation-csv``: the
prior's curve from an earlier run's ``default_prior_validation.csv`` (the training logs need not
survive; ``--point`` adds or replaces steps); the classical curves are measured again.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

import splitdiff as sd


def loss_curve(logs: Path, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, losses = [], []
    for version in sorted(logs.glob("version_*"), key=lambda p: int(p.name.split("_")[1])):
        with open(version / "metrics.csv") as f:
            for row in csv.DictReader(f):
                if row.get("loss"):
                    steps.append(int(row["step"]))
                    losses.append(float(row["loss"]))
    order = sorted(range(len(steps)), key=steps.__getitem__)
    steps, losses = [steps[i] for i in order], [losses[i] for i in order]
    k = 8
    smooth = [sum(losses[max(0, i - k):i + 1]) / len(losses[max(0, i - k):i + 1]) for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(steps, losses, lw=0.6, alpha=0.4, label="loss (per 25 steps)")
    ax.plot(steps, smooth, lw=1.5, label="moving average")
    ax.set_yscale("log")
    ax.set_xlabel("training step (batch 16)")
    ax.set_ylabel("DDPM loss (MSE of eps)")
    ax.legend()
    fig.tight_layout()
    path = out / "default_prior_loss.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def samples(prior, out: Path, n: int = 16, size: int = 64, seed: int = 0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from splitdiff.evaluation.images import to_uint8
    from splitdiff.splitting import HQS, GradientStep, ManifoldStep, ddim_sigma

    op = sd.operators.build("hdr")  # any operator: the zero step ignores it
    sampler = sd.algorithms.Solver(HQS(GradientStep(0.0, normalized=False)), ManifoldStep(prior, ddim_sigma(1.0)),
                                   op, steps=100, name="ddim-sampler")
    x = sampler.solve(torch.zeros(n, 3, size, size), generator=torch.Generator().manual_seed(seed)).clamp(-1, 1)
    cols = 8
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(cols * 1.1, 1.1 * ((n + cols - 1) // cols)))
    for ax, img in zip(axes.flat, x):
        ax.imshow(to_uint8(img))
        ax.axis("off")
    fig.tight_layout()
    path = out / "default_prior_samples.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


SIZE = 64
TV_STRENGTHS = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0)


def point_rows(points: dict[int, str]) -> list[dict]:
    """(step, sigma, psnr) of exported weights, for each ``points`` step (0: the weights the run
    started from)."""
    from splitdiff.photos import heldout_images
    from splitdiff.priors.schedule import NoiseSchedule
    from splitdiff.training.validation import denoising_psnr

    rows = []
    _, x = heldout_images(SIZE)
    for step, weights in points.items():
        prior = sd.priors.default_prior(weights=weights)
        curve = denoising_psnr(lambda x_t, t: prior.net(x_t, t), x, NoiseSchedule.linear())
        rows += [{"step": step, "sigma": s, "psnr": v} for s, v in curve.items()]
    return rows


def validation_rows(logs: Path, points: dict[int, str]) -> list[dict]:
    """(step, sigma, psnr) of the EMA prior's denoising curve: from the run's Lightning logs, and
    for each ``points`` step from exported weights (``point_rows``)."""
    rows = point_rows(points)
    for version in sorted(logs.glob("version_*"), key=lambda p: int(p.name.split("_")[1])):
        if not (version / "metrics.csv").is_file():  # a run stopped before its first log
            continue
        with open(version / "metrics.csv") as f:
            for row in csv.DictReader(f):
                for key, value in row.items():
                    if key.startswith("val_psnr_sigma_") and value:
                        rows.append({"step": int(row["step"]) + 1, "sigma": float(key.rsplit("_", 1)[1]),
                                     "psnr": float(value)})
    return rows


def classical_rows(tune_images: str | None) -> list[dict]:
    """Wiener, TV (strength per sigma chosen on training photographs) and BM3D when installed."""
    from functools import partial

    from benchmarks.default_prior_quality import tuning_images
    from splitdiff.photos import heldout_images
    from splitdiff.priors.schedule import NoiseSchedule
    from splitdiff.training import validation

    # the prior's own noisy images and draws: x + sigma_t n at the timestep nearest each sigma,
    # the levels in the order the prior's curve draws them
    classical_psnr = partial(validation.classical_psnr, sigmas=validation.VALIDATION_SIGMAS,
                             schedule=NoiseSchedule.linear())
    _, x = heldout_images(SIZE)
    _, x_tune = tuning_images(SIZE, tune_images)
    rows = [{"method": "Wiener", "sigma": s, "psnr": v, "setting": ""}
            for s, v in classical_psnr(sd.priors.build("wiener").denoise, x).items()]
    sweep = {k: classical_psnr(sd.priors.build("tv", strength=k).denoise, x_tune) for k in TV_STRENGTHS}
    best = {sigma: max(TV_STRENGTHS, key=lambda k: sweep[k][sigma]) for sigma in validation.VALIDATION_SIGMAS}

    def tv(noisy, s):  # TV at the strength chosen for the level s belongs to (s is within 2% of it)
        sigma = min(best, key=lambda level: abs(level - s))
        return sd.priors.build("tv", strength=best[sigma]).denoise(noisy, s)

    rows += [{"method": "TV", "sigma": s, "psnr": v, "setting": f"strength {best[s]:g}"}
             for s, v in classical_psnr(tv, x).items()]
    try:
        import bm3d
    except ImportError:
        print("bm3d is not installed (pip install 'splitdiff[bm3d]'): no BM3D curve")
        return rows

    def cbm3d(noisy, sigma):  # colour BM3D (bm3d_rgb) on [0, 1]: the noise std halves
        out = [bm3d.bm3d_rgb(((img.permute(1, 2, 0).double().numpy() + 1) / 2), sigma_psd=sigma / 2) for img in noisy]
        return torch.stack([torch.from_numpy(o.copy()).permute(2, 0, 1).float() * 2 - 1 for o in out])

    def bm3d_per_channel(noisy, sigma):  # grayscale BM3D on each channel, on [0, 1]
        out = [[bm3d.bm3d((c.double().numpy() + 1) / 2, sigma_psd=sigma / 2) for c in img] for img in noisy]
        return torch.stack([torch.stack([torch.from_numpy(c.copy()).float() for c in o]) * 2 - 1 for o in out])

    rows += [{"method": "BM3D per channel", "sigma": s, "psnr": v, "setting": "bm3d"}
             for s, v in classical_psnr(bm3d_per_channel, x).items()]
    rows += [{"method": "CBM3D", "sigma": s, "psnr": v, "setting": "bm3d_rgb"}
             for s, v in classical_psnr(cbm3d, x).items()]
    return rows


def validation_figure(prior_rows: list[dict], classical: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sigmas = sorted({r["sigma"] for r in prior_rows})
    fig, axes = plt.subplots(1, len(sigmas), figsize=(3.0 * len(sigmas), 3.0))
    for ax, sigma in zip(axes, sigmas):
        mine = sorted((r["step"], r["psnr"]) for r in prior_rows if r["sigma"] == sigma)
        ax.plot([s for s, _ in mine], [v for _, v in mine], "o-", label="default prior (Tweedie)")
        for i, method in enumerate(dict.fromkeys(r["method"] for r in classical)):
            value = next(r["psnr"] for r in classical if r["method"] == method and r["sigma"] == sigma)
            ax.axhline(value, ls="--", color=f"C{i + 1}", label=method)
        ax.set_title(f"sigma = {sigma:g}")
        ax.set_xlabel("fine-tuning step on the corpus")
    axes[0].set_ylabel("denoising PSNR (dB)")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    path = out / "default_prior_validation.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_csv(rows: list[dict], path: Path) -> Path:
    from splitdiff.evaluation.tables import to_csv

    path.write_text(to_csv(rows))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logs", default=None, help="the training run's logs folder (logs/version_*/metrics.csv)")
    parser.add_argument("--weights", default=None)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--validation", default=None, help="a train-prior logs folder with val_psnr_sigma_* columns")
    source.add_argument("--validation-csv", default=None,
                        help="the prior's curve from an earlier default_prior_validation.csv instead of logs")
    parser.add_argument("--point", action="append", default=[], metavar="STEP=WEIGHTS",
                        help="exported weights at a step of that run (0: the weights it started from)")
    parser.add_argument("--tune-images", default=None, help="training photographs for TV's strength")
    parser.add_argument("--out", default="docs/figures")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.validation or args.validation_csv:
        pairs = [p.partition("=")[::2] for p in args.point]
        if any(not step.isdigit() or not weights for step, weights in pairs):
            parser.error(f"--point takes STEP=WEIGHTS, got {args.point}")
        points = {int(step): weights for step, weights in pairs}
        if args.validation_csv:
            with open(args.validation_csv) as f:
                prior_rows = [{"step": int(r["step"]), "sigma": float(r["sigma"]), "psnr": float(r["psnr"])}
                              for r in csv.DictReader(f)]
            prior_rows = [r for r in prior_rows if r["step"] not in points] + point_rows(points)
        else:
            prior_rows = validation_rows(Path(args.validation), points)
        prior_rows = sorted(prior_rows, key=lambda r: (r["step"], r["sigma"]))
        classical = classical_rows(args.tune_images)
        print(write_csv(prior_rows, out / "default_prior_validation.csv"))
        print(write_csv(classical, out / "classical_denoising.csv"))
        print(validation_figure(prior_rows, classical, out))
        return
    if args.logs:
        print(loss_curve(Path(args.logs), out))
    print(samples(sd.priors.default_prior(weights=args.weights), out))


if __name__ == "__main__":
    main()

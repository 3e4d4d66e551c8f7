"""``splitdiff train-prior``: train, checkpoint, resume, and export EMA weights as safetensors."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from ..evaluation.images import TEST_IMAGES, TRAIN_IMAGES
from .crops import CROP_SCALES, CropDataModule, check_crop_scales
from .module import DiffusionTraining, draw_timesteps

#: The shipped default prior: ADM layout, 64x64, 2,776,707 parameters (docs/model-card.md).
DEFAULT_FLAGS = dict(image_size=64, num_channels=32, num_res_blocks=2, channel_mult=(1, 2, 2, 2),
                     attention_resolutions="16,8", num_head_channels=32, learn_sigma=False,
                     use_scale_shift_norm=True, resblock_updown=True, dropout=0.0)
#: Training steps when none are given (``train_prior`` and ``splitdiff train-prior``): the
#: shipped prior's run was started with this many (and stopped at 5,500; docs/model-card.md).
TRAIN_STEPS = 8000


def train_prior(out: str | Path, max_steps: int = TRAIN_STEPS, batch_size: int = 16, lr: float = 2e-4,
                flags: dict | None = None, seed: int = 0, accelerator: str = "auto", devices: int | str = "auto",
                checkpoint_every: int = 250, progress: bool = True, init: str | Path | None = None,
                samples_per_epoch: int = 4096, num_workers: int = 0, precision: str | None = None,
                callbacks: list | None = None, trust_checkpoint: bool = False,
                images: str | Path | None = None, validation: bool = True,
                crop_scales: tuple[float, float] = CROP_SCALES, focus: float = 0.0, focus_below: int = 250) -> Path:
    """Train a pixel prior on random crops of ``TRAIN_IMAGES`` (or of every image in the folder
    ``images``, e.g. a fetched corpus's ``train/``); resumes from ``out/checkpoints/last.ckpt``.

    ``init``: start a new run from exported weights (e.g. the shipped prior), for the network and
    its EMA copy; ``max_steps`` then counts from zero, and the export records what the init was
    trained on (``init`` in its JSON: weights, steps, train_images). Every epoch draws ``samples_per_epoch``
    fresh crops. On a GPU, ``num_workers`` data-loading processes and ``precision="bf16-mixed"``
    keep it busy. ``callbacks``: extra Lightning callbacks. ``last.ckpt`` is resumed with
    ``weights_only=True`` (a planted file cannot run code); ``trust_checkpoint=True`` lifts that.
    ``validation``: after every epoch, log the EMA prior's denoising PSNR on the held-out
    benchmark at sigma = 0.05, 0.1, 0.2, 0.4 (``val_psnr_sigma_*`` in ``metrics.csv``).
    The recipe: ``crop_scales`` (``RandomCrops``' scale range; 1/8 is a whole photograph at 64x64)
    and the timestep ``focus`` (a share of each batch drawn below ``focus_below``;
    ``module.draw_timesteps``), recorded in the export with the batch size and learning rate.

    Writes Lightning checkpoints and ``logs/version_N/metrics.csv`` (the loss curve; one version per
    run, so a resumed run keeps the earlier curve) and returns the last checkpoint.
    """
    from ..priors.checkpoint import load_strict, read_state_dict

    out = Path(out)
    flags = {**DEFAULT_FLAGS, **(flags or {})}
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    check_crop_scales(*crop_scales)  # the recipe's values fail now, not after the data is read
    draw_timesteps(1, 1000, focus, focus_below)
    last = out / "checkpoints" / "last.ckpt"
    for folder in (out / "checkpoints", out / "logs"):  # never write through a planted link
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise ValueError(f"{folder} exists and is not a folder of its own (a link or a file); remove it")
    # files are checked before Lightning starts (and logs), so a bad one is a single clear error
    run_recipe = {"focus": focus, "focus_below": focus_below, "crop_scales": list(crop_scales)}
    if last.exists() and not trust_checkpoint:
        _check_resumable(last, flags, run_recipe)
    weights = read_state_dict(init) if init is not None and not last.exists() else None
    lineage = _lineage(init) if init is not None else None
    L.seed_everything(seed, workers=True)
    data = CropDataModule(TRAIN_IMAGES, size=int(flags["image_size"]), batch_size=batch_size,
                          samples_per_epoch=samples_per_epoch, seed=seed, num_workers=num_workers, folder=images,
                          crop_scales=crop_scales)
    recipe = {"batch_size": batch_size, "crop_scales": list(data.crop_scales)}
    model = DiffusionTraining(flags, lr=lr, train_images=list(data.names), init=lineage, focus=focus,
                              focus_below=focus_below, recipe=recipe)
    if weights is not None:
        load_strict(model.net, weights, str(init))
        load_strict(model.ema, weights, str(init))
    ckpt = ModelCheckpoint(dirpath=out / "checkpoints", save_last=True, every_n_train_steps=checkpoint_every,
                           save_top_k=-1 if checkpoint_every <= 0 else 1, monitor=None)
    # the data module draws each epoch's crops from the epoch number: reload it every epoch
    trainer = L.Trainer(max_steps=max_steps, accelerator=accelerator, devices=devices,
                        callbacks=[ckpt, *(callbacks or [])], reload_dataloaders_every_n_epochs=1,
                        limit_val_batches=1.0 if validation else 0, num_sanity_val_steps=0,
                        **({"precision": precision} if precision else {}),
                        logger=CSVLogger(out, name="logs"), log_every_n_steps=25,
                        enable_progress_bar=progress, enable_model_summary=False, deterministic=False)
    trainer.fit(model, datamodule=data, ckpt_path=str(last) if last.exists() else None,
                weights_only=not trust_checkpoint)
    # writes (never reads) the checkpoint; weights_only=False here means "with the optimizer state",
    # so that the run can resume (said explicitly, so Lightning does not log it)
    trainer.save_checkpoint(last, weights_only=False)
    return last


def _lineage(init: str | Path) -> dict:
    """What the ``init`` weights were trained on, from the JSON beside them (as ``export_prior``
    writes it): recorded in the new run's export, so that its model card can list every image."""
    init = Path(init)
    meta_path = init.with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {meta_path} (the JSON beside --init): {err}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path} (the JSON beside --init) is not a JSON object")
    out = {"weights": init.name, "steps": meta.get("steps"), "train_images": meta.get("train_images")}
    if meta.get("init") is not None:
        out["init"] = meta["init"]
    return out


def _check_resumable(last: Path, flags: dict, recipe: dict | None = None) -> None:
    """A checkpoint to resume holds only what train-prior writes (tensors and plain values):
    anything else was not written by it, and is refused before Lightning reads the file. A run
    resumes with its own recipe (``recipe``: focus, focus_below, crop_scales; a checkpoint from
    before they were recorded had the defaults), so an export never records one it half used."""
    from ..priors.checkpoint import CheckpointError, check_state, safe_load

    try:
        foreign = torch.serialization.get_unsafe_globals_in_checkpoint(str(last))
    except Exception:  # noqa: BLE001 - not a zip checkpoint
        raise CheckpointError(f"{last} is not a checkpoint of splitdiff train-prior; remove it to start afresh") from None
    if foreign:
        raise CheckpointError(f"{last} refers to {', '.join(foreign[:3])}, which splitdiff train-prior never "
                              "writes; remove it, or pass --trust-checkpoint if you trust the file")
    state = safe_load(last)
    if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict) \
            or "pytorch-lightning_version" not in state:
        raise CheckpointError(f"{last} is not a Lightning checkpoint of splitdiff train-prior; remove it to start afresh")
    hparams = state.get("hyper_parameters") or {}
    before = {"focus": hparams.get("focus", 0.0), "focus_below": hparams.get("focus_below", 250),
              "crop_scales": list((hparams.get("recipe") or {}).get("crop_scales", CROP_SCALES))}
    changed = [k for k in before if recipe is not None and before[k] != recipe[k]]
    if changed:
        raise ValueError(f"{last} was trained with {', '.join(f'{k}={before[k]}' for k in changed)}; resume it with "
                         "the same settings, or start a new --out")
    with torch.device("meta"):  # the run's layout, without weights
        model = DiffusionTraining(flags)
    check_state(model, state["state_dict"], f"{last} (resumed with these --flag settings)")


def export_prior(checkpoint: str | Path, weights: str | Path, trust_checkpoint: bool = False) -> Path:
    """Write the EMA weights of a training checkpoint as ``weights`` (.safetensors, ADM key
    layout) and the architecture flags, train/test images and step count beside it (.json).

    The checkpoint is read without running code from it (see
    :func:`splitdiff.priors.checkpoint.safe_load`); ``trust_checkpoint=True`` unpickles it fully.
    """
    from safetensors.torch import save_file

    from ..files import atomic_write, write_text
    from ..photos import photos
    from ..priors.checkpoint import CheckpointError, load_checkpoint

    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint, trusted=trust_checkpoint)
    try:
        ema = {k[len("ema."):]: v.contiguous() for k, v in state["state_dict"].items() if k.startswith("ema.")}
        flags = dict(state["hyper_parameters"]["flags"])
        steps = int(state["global_step"])
    except (KeyError, TypeError, AttributeError, ValueError):
        raise CheckpointError(f"{checkpoint} is not a checkpoint of splitdiff train-prior (it needs state_dict with "
                              "ema.* tensors, hyper_parameters.flags and global_step)") from None
    if not ema or not all(isinstance(v, torch.Tensor) for v in ema.values()):
        raise CheckpointError(f"{checkpoint} holds no EMA weights (ema.* tensors)")
    weights = Path(weights)
    weights.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(weights, lambda tmp: save_file(ema, str(tmp)))
    flags["channel_mult"] = list(flags["channel_mult"])
    train_images = state["hyper_parameters"].get("train_images") or list(TRAIN_IMAGES)
    test_images = [p.id for p in photos("test")] if train_images != list(TRAIN_IMAGES) else list(TEST_IMAGES)
    meta = {"flags": flags, "train_images": list(train_images), "test_images": test_images,
            "steps": steps, "schedule": "linear 1e-4..0.02, 1000 steps", "weights": "EMA"}
    hparams = state["hyper_parameters"]
    if hparams.get("recipe") is not None:  # how it was trained (older checkpoints did not record it)
        meta["recipe"] = {**hparams["recipe"], "lr": hparams.get("lr"), "focus": hparams.get("focus", 0.0),
                          "focus_below": hparams.get("focus_below", 250)}
    if state["hyper_parameters"].get("init") is not None:  # started from these weights (--init)
        meta["init"] = state["hyper_parameters"]["init"]
    write_text(weights.with_suffix(".json"), json.dumps(meta, indent=2))
    return weights

"""guided-diffusion ADM priors: DPS's FFHQ ``ffhq_10m.pt`` and OpenAI's ImageNet
``256x256_diffusion_uncond.pt``, built from guided-diffusion's flags and loaded strictly."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import torch

from .checkpoint import load_strict, read_state_dict
from .network import EpsNetworkPrior
from .schedule import NoiseSchedule
from .unet import UNetModel

#: guided-diffusion's ``model_and_diffusion_defaults()`` (``guided_diffusion/script_util.py``):
#: every flag its scripts pass, which includes every parameter of its ``create_model``. A flag
#: that :func:`create_unet` is not given takes its value here, as in the authors' scripts.
ADM_DEFAULTS: dict[str, Any] = dict(
    image_size=64, num_channels=128, num_res_blocks=2, num_heads=4, num_heads_upsample=-1, num_head_channels=-1,
    attention_resolutions="16,8", channel_mult="", dropout=0.0, class_cond=False, use_checkpoint=False,
    use_scale_shift_norm=True, resblock_updown=False, use_fp16=False, use_new_attention_order=False,
    learn_sigma=False, diffusion_steps=1000, noise_schedule="linear", timestep_respacing="", use_kl=False,
    predict_xstart=False, rescale_timesteps=False, rescale_learned_sigmas=False,
)

#: The flags that determine the network. The first nine fix the state-dict layout (its keys and
#: shapes); the four attention flags change no shape, so a strict load cannot catch a wrong value,
#: but they change eps. ``adm(config=None)`` needs all of them.
ADM_LAYOUT_FLAGS: tuple[str, ...] = (
    "image_size", "num_channels", "num_res_blocks", "channel_mult", "learn_sigma", "class_cond",
    "attention_resolutions", "use_scale_shift_norm", "resblock_updown",
    "num_heads", "num_head_channels", "num_heads_upsample", "use_new_attention_order",
)

#: Flags that are accepted, checked and ignored, and why: they change neither the weights nor eps.
ADM_IGNORED_FLAGS: dict[str, str] = {
    "use_checkpoint": "gradient checkpointing, which saves training memory",
    "use_fp16": "the authors' half-precision conversion; pass dtype=torch.float16 instead",
    "timestep_respacing": "the sampler's steps; splitdiff's solvers choose their own timesteps",
    "use_kl": "a training loss",
    "rescale_learned_sigmas": "a training loss",
    "rescale_timesteps": "scales t by 1000 / diffusion_steps, which is 1 on the 1000-step schedule",
}

#: The only values of the diffusion flags splitdiff honours; any other is an error.
ADM_DIFFUSION: dict[str, Any] = dict(diffusion_steps=1000, noise_schedule="linear", predict_xstart=False)

#: Published configurations of the paper's checkpoints: every layout flag.
ADM_PRESETS: dict[str, dict[str, Any]] = {
    # DPS FFHQ 256 (ffhq_10m.pt): 93.56M parameters, 362 state-dict keys
    "ffhq": dict(image_size=256, num_channels=128, num_res_blocks=1, channel_mult="", learn_sigma=True,
                 class_cond=False, attention_resolutions="16", use_scale_shift_norm=True, resblock_updown=True,
                 num_heads=4, num_head_channels=64, num_heads_upsample=-1, use_new_attention_order=False),
    # OpenAI ADM ImageNet 256 unconditional (256x256_diffusion_uncond.pt): 552.8M parameters, 566 keys
    "imagenet": dict(image_size=256, num_channels=256, num_res_blocks=2, channel_mult="", learn_sigma=True,
                     class_cond=False, attention_resolutions="32,16,8", use_scale_shift_norm=True,
                     resblock_updown=True, num_heads=4, num_head_channels=64, num_heads_upsample=-1,
                     use_new_attention_order=False),
}

_DEFAULT_MULT = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4)}
_HEAD_FLAGS = ("num_heads", "num_head_channels", "num_heads_upsample")
_RESPACING = re.compile(r"(ddim\d+|\d+(\s*,\s*\d+)*)?")
_SCHEDULE = "splitdiff's ADM prior is eps-prediction on the linear 1000-step schedule"


def _as_tuple(value: str | int | Sequence, cast) -> tuple:
    if isinstance(value, int) and not isinstance(value, bool):  # one value, as YAML reads ``16``
        return (cast(value),)
    if isinstance(value, str):
        return tuple(cast(v) for v in value.split(",") if v.strip())
    return tuple(cast(v) for v in value)


def _flag(f: dict, key: str, cast):
    value = f[key]
    try:
        if cast is int and (isinstance(value, bool) or float(value) != int(value)):
            raise ValueError
        return cast(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"ADM flag {key} must be {cast.__name__}, got {value!r}") from None


def _flag_bool(f: dict, key: str) -> bool:
    value = f[key]
    if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"ADM flag {key} must be True or False, got {value!r}")


def _flag_tuple(f: dict, key: str, cast) -> tuple:
    try:
        return _as_tuple(f[key], cast)
    except (TypeError, ValueError):
        raise ValueError(f"ADM flag {key} must be a number, a comma-separated string or a list of numbers, "
                         f"got {f[key]!r}") from None


def _check_known(flags: dict) -> None:
    unknown = set(flags) - set(ADM_DEFAULTS)
    if unknown:
        hint = "; pass the file as checkpoint=PATH, not as model_path (DPS's flag)" if "model_path" in unknown else ""
        raise ValueError(f"unknown ADM flags {sorted(unknown)}; known: {sorted(ADM_DEFAULTS)}{hint}")


def _layout(f: dict) -> dict[str, Any]:
    """The checked values of the layout flags of a complete flag dict (channel_mult resolved)."""
    size = _flag(f, "image_size", int)
    layout = dict(image_size=size, num_channels=_flag(f, "num_channels", int),
                  num_res_blocks=_flag(f, "num_res_blocks", int), num_heads=_flag(f, "num_heads", int))
    for key, (low, high) in dict(image_size=(8, 8192), num_channels=(1, 4096), num_res_blocks=(0, 16),
                                 num_heads=(1, 256)).items():
        if not low <= layout[key] <= high:  # the published models use 64..256 channels, 1..3 blocks
            raise ValueError(f"ADM flag {key} must be in [{low}, {high}], got {layout[key]}")
    for key in ("num_head_channels", "num_heads_upsample"):
        layout[key] = _flag(f, key, int)
        if not (layout[key] == -1 or 1 <= layout[key] <= 4096):
            raise ValueError(f"ADM flag {key} must be -1 (unused) or in [1, 4096], got {f[key]!r}")
    layout["channel_mult"] = _channel_mult(f, size)
    layout["attention_resolutions"] = _flag_tuple(f, "attention_resolutions", int)
    if any(r < 1 for r in layout["attention_resolutions"]):
        raise ValueError(f"ADM flag attention_resolutions must be positive, got {f['attention_resolutions']!r}")
    for key in ("learn_sigma", "class_cond", "use_scale_shift_norm", "resblock_updown", "use_new_attention_order"):
        layout[key] = _flag_bool(f, key)
    return layout


def _channel_mult(f: dict, size: int) -> tuple:
    mult = _flag_tuple(f, "channel_mult", float) or _DEFAULT_MULT.get(size)
    if not mult:
        raise ValueError(f"no default channel_mult for image_size {size}; pass channel_mult")
    if len(mult) > 8 or not all(0 < m <= 16 for m in mult):
        raise ValueError(f"ADM flag channel_mult must be 1 to 8 numbers in (0, 16], got {f['channel_mult']!r}")
    return tuple(int(m) if float(m).is_integer() else m for m in mult)


def _check_non_layout_flags(f: dict) -> None:
    """Check the flags that are not layout: values, and the diffusion splitdiff cannot honour."""
    if not 0.0 <= _flag(f, "dropout", float) < 1.0:
        raise ValueError(f"ADM flag dropout must be in [0, 1), got {f['dropout']!r}")
    for key in ("use_checkpoint", "use_fp16", "use_kl", "rescale_timesteps", "rescale_learned_sigmas"):
        _flag_bool(f, key)
    _check_respacing(f["timestep_respacing"])
    if not isinstance(f["noise_schedule"], str):
        raise ValueError(f"ADM flag noise_schedule must be a string such as 'linear', got {f['noise_schedule']!r}")
    given = dict(diffusion_steps=_flag(f, "diffusion_steps", int), noise_schedule=f["noise_schedule"],
                 predict_xstart=_flag_bool(f, "predict_xstart"))
    for key, value in given.items():
        if value != ADM_DIFFUSION[key]:
            raise ValueError(f"ADM flag {key}={value!r} is not supported: {_SCHEDULE} (diffusion_steps=1000, "
                             "noise_schedule='linear', predict_xstart=False)")


def _check_respacing(value: Any) -> None:
    if isinstance(value, str) and _RESPACING.fullmatch(value.strip()):
        return
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                                for v in value):
        return
    raise ValueError(f"ADM flag timestep_respacing must be '', a count such as '250' or 'ddim50', "
                     f"comma-separated counts, or a list of counts, got {value!r}")


def create_unet(**flags: Any) -> UNetModel:
    """guided-diffusion's ``create_model``, from the flags of its ``model_and_diffusion_defaults()``.

    Every flag of both is accepted; one not given takes its value in ``ADM_DEFAULTS``, as the
    authors' scripts do. Unknown flags and values of the wrong type are errors, and so are
    diffusion flags splitdiff cannot honour (see :func:`adm`); the flags in
    ``ADM_IGNORED_FLAGS`` are checked and ignored. Build it inside
    ``with torch.device("meta"):`` to get the layout without allocating weights.
    """
    _check_known(flags)
    f = {**ADM_DEFAULTS, **flags}
    _check_non_layout_flags(f)
    layout = _layout(f)
    try:
        return _build_unet(layout, _flag(f, "dropout", float))
    except (AssertionError, ZeroDivisionError, RuntimeError, TypeError) as err:  # e.g. heads that do not divide
        raise ValueError(f"these ADM flags do not describe a network: {err or type(err).__name__}") from None


def _build_unet(layout: dict, dropout: float) -> UNetModel:
    size = layout["image_size"]
    return UNetModel(
        image_size=size, in_channels=3, model_channels=layout["num_channels"],
        out_channels=6 if layout["learn_sigma"] else 3, num_res_blocks=layout["num_res_blocks"],
        attention_resolutions=tuple(size // r for r in layout["attention_resolutions"]), dropout=dropout,
        channel_mult=layout["channel_mult"], num_classes=1000 if layout["class_cond"] else None,
        num_heads=layout["num_heads"], num_head_channels=layout["num_head_channels"],
        num_heads_upsample=layout["num_heads_upsample"], use_scale_shift_norm=layout["use_scale_shift_norm"],
        resblock_updown=layout["resblock_updown"], use_new_attention_order=layout["use_new_attention_order"],
    )


def _heads(layout: dict) -> tuple:
    """What the attention blocks use: channels per head, or heads down and up (guided-diffusion's rule)."""
    if layout["num_head_channels"] != -1:
        return ("channels per head", layout["num_head_channels"])
    up = layout["num_heads_upsample"]
    return ("heads", layout["num_heads"], layout["num_heads"] if up == -1 else up)


def _differs(key: str, a: dict, b: dict) -> bool:
    return _heads(a) != _heads(b) if key in _HEAD_FLAGS else a[key] != b[key]


def _resolve_flags(config: str | None, flags: dict[str, Any]) -> dict[str, Any]:
    """The flags :func:`adm` builds from ``config`` and ``flags``, or a ValueError (rules in :func:`adm`)."""
    _check_known(flags)
    given = [key for key in ADM_LAYOUT_FLAGS if key in flags]
    if config is None and not given:
        config = "ffhq"
    if config is None:
        missing = [key for key in ADM_LAYOUT_FLAGS if key not in flags]
        if missing:
            raise ValueError(
                f"ADM layout flags missing: {', '.join(missing)}. Without a preset (config=None) the flags must "
                "describe the whole network (every flag of ADM_LAYOUT_FLAGS, as the checkpoint was trained); or "
                "use config='ffhq' or 'imagenet' without layout flags"
            )
        return dict(flags)
    if config not in ADM_PRESETS:
        raise ValueError(f"unknown ADM config {config!r}; known: {', '.join(ADM_PRESETS)} or None")
    preset = ADM_PRESETS[config]
    ours, theirs = _layout(preset), _layout({**ADM_DEFAULTS, **preset, **flags})
    conflicts = [f"{key}={flags[key]!r} ({config}: {_shown(preset, ours, key)})"
                 for key in given if _differs(key, ours, theirs)]
    if conflicts:
        raise ValueError(
            f"ADM config {config!r} fixes the network, and these flags differ from it: {'; '.join(conflicts)}. "
            f"Drop them to load {config!r}, or pass config=None with every layout flag"
        )
    return {**preset, **flags}


def _shown(preset: dict, layout: dict, key: str) -> str:
    if key == "channel_mult" and preset[key] == "":
        return f"'' = {layout[key]}"
    return repr(preset[key])


#: The forward every ADM prior runs with (``UNetModel.configure``; the same numbers to float32
#: rounding, ``tests/test_adm.py``), by device type. On a CPU, convolutions on channels_last
#: memory and einsum attention: 0.85x the time of a contiguous forward for the default prior at
#: batch 16 (0.96x at 8), 0.72-0.91x for the 256x256 FFHQ network (SDPA: 0.94-1.04x there). On
#: a GPU, SDPA attention too (flash / memory-efficient kernels; not yet measured here).
#: ``python -m benchmarks.forward``, ``docs/benchmarks.md``.
FORWARD = {"cpu": dict(attention="einsum", channels_last=True), "cuda": dict(attention="sdpa", channels_last=True)}


class ADMPrior(EpsNetworkPrior):
    """An ADM UNet as a diffusion prior: linear 1000-step schedule, eps = first 3 channels."""

    def __init__(self, net: UNetModel, learn_sigma: bool, dtype: torch.dtype | None = None,
                 any_size: bool = False) -> None:
        super().__init__(net, NoiseSchedule.linear(1000), channels=3, learn_sigma=learn_sigma,
                         multiple=net.downsampling)
        self.image_size = net.image_size
        self.net_dtype = dtype
        self.any_size = any_size

    def check_input(self, x):
        super().check_input(x)
        if not self.any_size and x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"this ADM prior was trained on {self.image_size}x{self.image_size} images, got "
                f"{x.shape[-2]}x{x.shape[-1]}; resize or crop to {self.image_size}x{self.image_size}"
            )
        return x

    def eps(self, x_t, t):
        if self.net_dtype is None:
            return super().eps(x_t, t)
        return super().eps(x_t.to(self.net_dtype), t).to(x_t.dtype)


def adm(
    checkpoint: str | Path | None = None,
    config: str | None = None,
    random_init: bool = False,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    trusted: bool = False,
    **flags: Any,
) -> ADMPrior:
    """An ADM prior from a guided-diffusion checkpoint (``.pt`` or ``.safetensors``).

    The network is named in one of two ways, never a mix:

    - a preset, ``config='ffhq'`` (DPS ``ffhq_10m.pt``) or ``'imagenet'``
      (``256x256_diffusion_uncond.pt``); ``config=None`` with no layout flag also means 'ffhq'.
      Layout flags may be given too when they equal the preset's; one that differs is an error
      naming it.
    - every flag of ``ADM_LAYOUT_FLAGS`` (``config`` left out or None), as the checkpoint was
      trained; ``channel_mult=""`` means guided-diffusion's default for ``image_size``. A missing
      one is an error naming it: nothing is filled in from a preset or from defaults.

    Any flag of guided-diffusion's ``create_model`` and ``model_and_diffusion_defaults()`` may
    also be passed, so the authors' flag dict loads as it is; unknown flags and values of the
    wrong type are errors. ``use_checkpoint``, ``use_fp16``, ``timestep_respacing``, ``use_kl``,
    ``rescale_learned_sigmas`` and ``rescale_timesteps`` are checked and ignored: they change
    neither the weights nor eps (why, for each: ``ADM_IGNORED_FLAGS``); half precision is
    ``dtype=``, and the solvers choose their own timesteps. ``dropout`` does nothing in
    evaluation. This prior is eps-prediction on the linear 1000-step schedule, for unconditional
    models: ``diffusion_steps`` other than 1000, a ``noise_schedule`` other than 'linear',
    ``predict_xstart=True`` and ``class_cond=True`` are errors.

    Keys and shapes must match the file exactly, and are checked before any weight is allocated.
    Without a checkpoint the weights would be random: that needs ``random_init=True`` (tests,
    training). ``dtype=torch.float16`` / ``bfloat16`` runs the network in half precision (GPU).
    The network runs the fastest equivalent forward for ``device`` (:data:`FORWARD`);
    ``prior.net.configure(attention="einsum", channels_last=False)`` restores guided-diffusion's.
    The file is read without running code from it (``trusted=True`` unpickles it fully; see
    :func:`splitdiff.priors.read_state_dict`).
    """
    options = _resolve_flags(config, flags)
    f = {**ADM_DEFAULTS, **options}
    if _flag_bool(f, "class_cond"):
        raise ValueError("ADM flag class_cond=True is not supported: splitdiff's ADM prior is unconditional (the "
                         "solvers pass no class labels); use an unconditional checkpoint such as "
                         "256x256_diffusion_uncond.pt")
    if checkpoint is not None:
        # the layout is built without weights, so flags that do not fit the file never allocate
        with torch.device("meta"):
            net = create_unet(**options)
        load_strict(net, read_state_dict(checkpoint, trusted=trusted), source=str(checkpoint))
    elif random_init:
        net = create_unet(**options)
    else:
        raise ValueError("adm needs checkpoint=PATH (e.g. ffhq_10m.pt); pass random_init=True for random weights")
    net = net.to(device=device, dtype=dtype or torch.float32).eval().requires_grad_(False)
    net.configure(**FORWARD.get(torch.device(device).type, FORWARD["cpu"]))
    return ADMPrior(net, _flag_bool(f, "learn_sigma"), dtype)

"""guided-diffusion ADM priors: DPS's FFHQ ``ffhq_10m.pt`` and OpenAI's ImageNet
``256x256_diffusion_uncond.pt``, built from guided-diffusion's flags and loaded strictly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from .checkpoint import load_strict, read_state_dict
from .network import EpsNetworkPrior
from .schedule import NoiseSchedule
from .unet import UNetModel

#: guided-diffusion ``model_and_diffusion_defaults`` (the unet part).
ADM_DEFAULTS: dict[str, Any] = dict(
    image_size=64, num_channels=128, num_res_blocks=2, channel_mult="", learn_sigma=False,
    class_cond=False, attention_resolutions="16,8", num_heads=4, num_head_channels=-1,
    num_heads_upsample=-1, use_scale_shift_norm=True, dropout=0.0, resblock_updown=False,
    use_fp16=False, use_new_attention_order=False,
)

#: Published configurations of the paper's checkpoints.
ADM_PRESETS: dict[str, dict[str, Any]] = {
    # DPS FFHQ 256 (ffhq_10m.pt): 93.56M parameters, 362 state-dict keys
    "ffhq": dict(image_size=256, num_channels=128, num_res_blocks=1, channel_mult="", learn_sigma=True,
                 class_cond=False, attention_resolutions="16", num_heads=4, num_head_channels=64,
                 use_scale_shift_norm=True, resblock_updown=True, dropout=0.0, use_fp16=False),
    # OpenAI ADM ImageNet 256 unconditional (256x256_diffusion_uncond.pt): 552.8M parameters, 566 keys
    "imagenet": dict(image_size=256, num_channels=256, num_res_blocks=2, channel_mult="", learn_sigma=True,
                     class_cond=False, attention_resolutions="32,16,8", num_heads=4, num_head_channels=64,
                     use_scale_shift_norm=True, resblock_updown=True, dropout=0.0, use_fp16=False),
}

_DEFAULT_MULT = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4)}


def _as_tuple(value: str | Sequence, cast) -> tuple:
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


def _flag_tuple(f: dict, key: str, cast) -> tuple:
    try:
        return _as_tuple(f[key], cast)
    except (TypeError, ValueError):
        raise ValueError(f"ADM flag {key} must be a comma-separated string or a list of numbers, got {f[key]!r}") from None


def create_unet(**flags: Any) -> UNetModel:
    """guided-diffusion's ``create_model`` with its flag names (unknown flags and values of the
    wrong type are errors). Build it inside ``with torch.device("meta"):`` to get the layout
    without allocating weights."""
    unknown = set(flags) - set(ADM_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown ADM flags {sorted(unknown)}; known: {sorted(ADM_DEFAULTS)}")
    f = {**ADM_DEFAULTS, **flags}
    size = _flag(f, "image_size", int)
    channels = _flag(f, "num_channels", int)
    for key, value, low, high in (("image_size", size, 8, 8192), ("num_channels", channels, 1, 4096),
                                  ("num_res_blocks", _flag(f, "num_res_blocks", int), 0, 16),
                                  ("num_heads", _flag(f, "num_heads", int), 1, 256)):
        if not low <= value <= high:  # the published models use 64..256 channels, 1..3 blocks
            raise ValueError(f"ADM flag {key} must be in [{low}, {high}], got {value}")
    for key in ("num_head_channels", "num_heads_upsample"):
        if not (_flag(f, key, int) == -1 or 1 <= _flag(f, key, int) <= 4096):
            raise ValueError(f"ADM flag {key} must be -1 (unused) or in [1, 4096], got {f[key]!r}")
    if not 0.0 <= _flag(f, "dropout", float) < 1.0:
        raise ValueError(f"ADM flag dropout must be in [0, 1), got {f['dropout']!r}")
    mult = _flag_tuple(f, "channel_mult", float) or _DEFAULT_MULT.get(size)
    if not mult:
        raise ValueError(f"no default channel_mult for image_size {size}; pass channel_mult")
    if len(mult) > 8 or not all(0 < m <= 16 for m in mult):
        raise ValueError(f"ADM flag channel_mult must be 1 to 8 numbers in (0, 16], got {f['channel_mult']!r}")
    mult = tuple(int(m) if float(m).is_integer() else m for m in mult)
    resolutions = _flag_tuple(f, "attention_resolutions", int)
    if any(r < 1 for r in resolutions):
        raise ValueError(f"ADM flag attention_resolutions must be positive, got {f['attention_resolutions']!r}")
    try:
        return _build_unet(f, size, channels, mult, resolutions)
    except (AssertionError, ZeroDivisionError, RuntimeError, TypeError) as err:  # e.g. heads that do not divide
        raise ValueError(f"these ADM flags do not describe a network: {err or type(err).__name__}") from None


def _build_unet(f: dict, size: int, channels: int, mult: tuple, resolutions: tuple) -> UNetModel:
    return UNetModel(
        image_size=size, in_channels=3, model_channels=channels,
        out_channels=6 if f["learn_sigma"] else 3, num_res_blocks=_flag(f, "num_res_blocks", int),
        attention_resolutions=tuple(size // r for r in resolutions), dropout=_flag(f, "dropout", float),
        channel_mult=mult, num_classes=1000 if f["class_cond"] else None, num_heads=_flag(f, "num_heads", int),
        num_head_channels=_flag(f, "num_head_channels", int), num_heads_upsample=_flag(f, "num_heads_upsample", int),
        use_scale_shift_norm=bool(f["use_scale_shift_norm"]), resblock_updown=bool(f["resblock_updown"]),
        use_new_attention_order=bool(f["use_new_attention_order"]),
    )


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
    config: str | None = "ffhq",
    random_init: bool = False,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    trusted: bool = False,
    **flags: Any,
) -> ADMPrior:
    """An ADM prior from a guided-diffusion checkpoint (``.pt`` or ``.safetensors``).

    ``config``: 'ffhq' (DPS ``ffhq_10m.pt``), 'imagenet' (``256x256_diffusion_uncond.pt``) or
    None (guided-diffusion's defaults); ``flags`` override guided-diffusion flags. Keys and shapes must match exactly. Without a
    checkpoint the weights would be random: that needs ``random_init=True`` (tests, training).
    ``dtype=torch.float16`` / ``bfloat16`` runs the network in half precision (GPU).
    The file is read without running code from it (``trusted=True`` unpickles it fully; see
    :func:`splitdiff.priors.read_state_dict`), and its keys and shapes are checked against the
    flags before any weight is allocated.
    """
    if config is not None and config not in ADM_PRESETS:
        raise ValueError(f"unknown ADM config {config!r}; known: {', '.join(ADM_PRESETS)} or None")
    options = {**(ADM_PRESETS[config] if config else {}), **flags}
    if checkpoint is not None:
        state = read_state_dict(checkpoint, trusted=trusted)
        # the layout is built without weights, so flags that do not fit the file never allocate
        with torch.device("meta"):
            net = create_unet(**options)
        load_strict(net, state, source=str(checkpoint))
    elif random_init:
        net = create_unet(**options)
    else:
        raise ValueError("adm needs checkpoint=PATH (e.g. ffhq_10m.pt); pass random_init=True for random weights")
    net = net.to(device=device, dtype=dtype or torch.float32).eval().requires_grad_(False)
    return ADMPrior(net, bool(options["learn_sigma"]), dtype)

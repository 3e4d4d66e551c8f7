"""Latent diffusion priors: CompVis LDM (``ffhq-ldm-vq-4``) = VQ autoencoder + latent UNet.

A ``LatentDiffusionPrior`` is a ``DiffusionPrior`` on latents (``eps``, Tweedie, schedule in
latent space) that also ``encode``s images to latents and ``decode``s latents to images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..validation import check_image
from .autoencoder import VQModel
from .base import DiffusionPrior
from .checkpoint import CheckpointError, load_strict, read_state_dict
from .schedule import NoiseSchedule
from .unet import UNetModel

#: CompVis ``configs/latent-diffusion/ffhq-ldm-vq-4.yaml`` (and ``first_stage_models/vq-f4``).
LDM_PRESETS: dict[str, dict[str, Any]] = {
    "ffhq": dict(
        unet=dict(image_size=64, in_channels=3, out_channels=3, model_channels=224, attention_resolutions=(8, 4, 2),
                  num_res_blocks=2, channel_mult=(1, 2, 3, 4), num_head_channels=32),
        vq=dict(embed_dim=3, n_embed=8192, ddconfig=dict(double_z=False, z_channels=3, resolution=256, in_channels=3,
                                                          out_ch=3, ch=128, ch_mult=(1, 2, 4), num_res_blocks=2,
                                                          attn_resolutions=(), dropout=0.0)),
        linear_start=0.0015, linear_end=0.0195, timesteps=1000, scale_factor=1.0,
    ),
}


class LatentDiffusionPrior(DiffusionPrior):
    """Diffusion in the latent space of an autoencoder.

    ``unet(z_t, t) -> eps`` with ``in_channels`` and ``downsampling``; ``autoencoder`` with
    ``encode(x)``, ``decode(h, quantize)`` and ``downsampling`` (``VQModel`` here, or adapters).
    ``eps(z_t, t)``: latents (N, c, h, w). ``encode(x)``: images (N, 3, H, W) in [-1, 1] ->
    latents ``scale_factor * E(x)`` (not quantized). ``decode(z, quantize=True)``: latents ->
    images; quantization (the VQ codebook) is straight-through for gradients.
    """

    def __init__(self, unet: nn.Module, autoencoder: nn.Module, schedule: NoiseSchedule, scale_factor: float = 1.0) -> None:
        super().__init__()
        self.unet = unet
        self.autoencoder = autoencoder
        self.schedule = schedule
        self.scale_factor = float(scale_factor)
        self.factor = autoencoder.downsampling
        self.latent_channels = unet.in_channels

    def latent_shape(self, image_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, _, h, w = image_shape
        if h % self.factor or w % self.factor:
            raise ValueError(f"image sides must be multiples of {self.factor} for this autoencoder, got {h}x{w}")
        return (n, self.latent_channels, h // self.factor, w // self.factor)

    def image_shape_of(self, latent_shape: tuple[int, ...]) -> tuple[int, ...]:
        n, _, h, w = latent_shape
        return (n, 3, h * self.factor, w * self.factor)

    def check_input(self, z: Tensor) -> Tensor:
        check_image(z, "latent", channels=self.latent_channels)
        if z.shape[-1] % self.unet.downsampling or z.shape[-2] % self.unet.downsampling:
            raise ValueError(f"latent sides must be multiples of {self.unet.downsampling}, got {tuple(z.shape[-2:])}")
        return z

    def eps(self, z_t: Tensor, t: int | Tensor) -> Tensor:
        t = self.batch_timesteps(t, z_t)
        with torch.set_grad_enabled(torch.is_grad_enabled() and z_t.requires_grad):  # a graph only for DPS-like use
            return self.unet(z_t, t)

    def encode(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.scale_factor * self.autoencoder.encode(x)

    def decode(self, z: Tensor, quantize: bool = True) -> Tensor:
        """Differentiable in ``z`` (callers choose whether to track gradients)."""
        return self.autoencoder.decode(z / self.scale_factor, quantize=quantize)


def ldm(
    checkpoint: str | Path | None = None,
    config: str = "ffhq",
    autoencoder_checkpoint: str | Path | None = None,
    random_init: bool = False,
    trusted: bool = False,
    unet: dict | None = None,
    vq: dict | None = None,
    device: str | torch.device = "cpu",
) -> LatentDiffusionPrior:
    """A latent diffusion prior from a CompVis LDM ``model.ckpt`` (UNet and first stage together:
    keys ``model.diffusion_model.*`` and ``first_stage_model.*``).

    ``autoencoder_checkpoint``: a separate VQ checkpoint (``vq-f4/model.ckpt``, keys without
    prefix) when the LDM file lacks the first stage. ``unet`` / ``vq`` override preset
    parameters. The files are read without running code from them: Lightning's extra objects
    become inert placeholders and only tensors are kept (see
    :func:`splitdiff.priors.read_state_dict`); ``trusted=True`` unpickles them fully, for files
    whose origin you trust.
    """
    if config not in LDM_PRESETS:
        raise ValueError(f"unknown LDM config {config!r}; known: {', '.join(LDM_PRESETS)}")
    preset = LDM_PRESETS[config]
    if checkpoint is None and not random_init:
        raise ValueError("ldm needs checkpoint=PATH (e.g. ffhq-ldm-vq-4 model.ckpt); pass random_init=True for random weights")
    # with a checkpoint the networks are laid out without weights: the file's tensors are checked, then assigned
    with torch.device("meta" if checkpoint is not None else "cpu"):
        unet_net = UNetModel(**{**preset["unet"], **(unet or {})})
        vq_net = VQModel(**{**preset["vq"], **(vq or {})})
    schedule = NoiseSchedule.scaled_linear(preset["timesteps"], preset["linear_start"], preset["linear_end"])
    if checkpoint is not None:
        state = read_state_dict(checkpoint, trusted=trusted)
        if "alphas_cumprod" in state:
            stored = state["alphas_cumprod"].double()
            if stored.shape != schedule.alphas_cumprod.shape or (stored - schedule.alphas_cumprod).abs().max() > 1e-5:
                raise CheckpointError(f"{checkpoint} was trained with another noise schedule than the {config!r} preset")
        load_strict(unet_net, _strip(state, "model.diffusion_model.", checkpoint), f"{checkpoint} (UNet)")
        first = _strip(state, "first_stage_model.", checkpoint, required=autoencoder_checkpoint is None)
        if autoencoder_checkpoint is not None:
            first = read_state_dict(autoencoder_checkpoint, trusted=trusted)
            first = {k: v for k, v in first.items() if not k.startswith("loss.")}
        load_strict(vq_net, first, f"{autoencoder_checkpoint or checkpoint} (autoencoder)")
        unet_net, vq_net = unet_net.float(), vq_net.float()  # half-precision files run in float32
    prior = LatentDiffusionPrior(unet_net, vq_net, schedule, preset["scale_factor"])
    return prior.to(device).eval().requires_grad_(False)


def _strip(state: dict, prefix: str, source, required: bool = True) -> dict:
    out = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if required and not out:
        raise CheckpointError(f"{source} has no keys starting with {prefix!r}: is it a latent-diffusion checkpoint?")
    return out


def save_ldm_checkpoint(prior: LatentDiffusionPrior, path: str | Path) -> None:
    """Write ``prior`` in the CompVis layout (``{"state_dict": {...}}``) — for tests and exports."""
    state = {f"model.diffusion_model.{k}": v for k, v in prior.unet.state_dict().items()}
    state.update({f"first_stage_model.{k}": v for k, v in prior.autoencoder.state_dict().items()})
    state["alphas_cumprod"] = prior.schedule.alphas_cumprod.float()
    torch.save({"state_dict": state}, Path(path))



"""Local diffusers models as splitdiff priors (optional extra ``diffusers``).

A directory saved with ``save_pretrained``: a ``UNet2DModel`` (``unet/``) with a DDPM/DDIM
scheduler (``scheduler/``) becomes a pixel ``DiffusionPrior``; an ``LDMPipeline`` directory
(``unet/``, ``vqvae/``, ``scheduler/``) becomes a ``LatentDiffusionPrior``. Nothing is
downloaded: paths must be local.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from .checkpoint import CheckpointError, first_line
from .latent import LatentDiffusionPrior
from .network import EpsNetworkPrior
from .schedule import NoiseSchedule


def _import():
    try:
        import diffusers
    except ImportError:
        raise ImportError("the diffusers adapter needs the optional extra: pip install 'splitdiff[diffusers]'") from None
    return diffusers


class DiffusersUNet(nn.Module):
    """``UNet2DModel`` as ``(x_t, t) -> eps``: v-prediction is converted, learned variance dropped."""

    def __init__(self, unet: nn.Module, prediction_type: str, alphas_cumprod: Tensor) -> None:
        super().__init__()
        if prediction_type not in ("epsilon", "v_prediction"):
            raise ValueError(f"only 'epsilon' and 'v_prediction' models are supported, got {prediction_type!r}")
        self.unet = unet
        self.prediction_type = prediction_type
        self.in_channels = unet.config.in_channels
        self.downsampling = 2 ** (len(unet.config.block_out_channels) - 1)
        self.register_buffer("alphas_cumprod", alphas_cumprod.float(), persistent=False)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        out = self.unet(x, t).sample[:, : x.shape[1]]
        if self.prediction_type == "v_prediction":  # eps = sqrt(a) v + sqrt(1 - a) x_t
            a = self.alphas_cumprod[t].view(-1, 1, 1, 1).to(x.dtype)
            out = torch.sqrt(a) * out + torch.sqrt(1 - a) * x
        return out


class DiffusersVQ(nn.Module):
    """diffusers ``VQModel`` with splitdiff's autoencoder interface."""

    def __init__(self, vq: nn.Module) -> None:
        super().__init__()
        self.vq = vq
        self.downsampling = 2 ** (len(vq.config.block_out_channels) - 1)

    def encode(self, x: Tensor) -> Tensor:
        return self.vq.encode(x).latents

    def decode(self, h: Tensor, quantize: bool = True) -> Tensor:
        return self.vq.decode(h, force_not_quantize=not quantize).sample


def _schedule(path: Path, subfolder: str):
    diffusers = _import()
    try:
        config = diffusers.DDPMScheduler.load_config(str(path), subfolder=subfolder, local_files_only=True)
        scheduler = diffusers.DDPMScheduler.from_config(config)
    except (OSError, ValueError, TypeError) as err:  # diffusers reports a bad JSON file as an OSError
        raise CheckpointError(f"cannot read the scheduler of {path}/{subfolder}: {first_line(err)}") from None
    return NoiseSchedule(scheduler.alphas_cumprod.double()), config.get("prediction_type", "epsilon")


def _load_strict(cls, path: Path, subfolder: str) -> nn.Module:
    """``cls.from_pretrained`` from a local folder, refusing weights that do not fit the config
    (diffusers would initialize missing ones at random and go on)."""
    try:
        model, info = cls.from_pretrained(str(path), subfolder=subfolder, local_files_only=True,
                                          output_loading_info=True)
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as err:
        mismatch = [line.strip() for line in str(err).splitlines() if "size mismatch for" in line]
        if mismatch:  # diffusers raises on shapes before it reports keys
            raise CheckpointError(f"{path}/{subfolder} does not fit its config: wrong shape: "
                                  f"{mismatch[0].replace('size mismatch for ', '')}") from None
        raise CheckpointError(f"cannot load {path}/{subfolder}: {first_line(err)}") from None
    problems = [f"{len(info[key])} {label}: {', '.join(map(str, info[key][:5]))}"
                for key, label in (("missing_keys", "missing"), ("unexpected_keys", "unexpected"),
                                   ("mismatched_keys", "wrong shape")) if info.get(key)]
    if problems:
        raise CheckpointError(f"{path}/{subfolder} does not fit its config: " + "; ".join(problems))
    return model


def diffusers_prior(path: str | Path, device: str | torch.device = "cpu"):
    """A prior from a local diffusers directory (a UNet2DModel pipeline or an LDMPipeline).

    Weights must match the saved configs exactly: a missing, unexpected or mis-shaped key is a
    :class:`~splitdiff.priors.CheckpointError` (never random weights). ``.bin`` weights are read
    by diffusers with ``torch.load(weights_only=True)``.
    """
    diffusers = _import()
    path = Path(path).expanduser()
    if not (path / "unet").is_dir() or not (path / "scheduler").is_dir():
        raise FileNotFoundError(f"{path} is not a diffusers pipeline directory with unet/ and scheduler/ folders")
    schedule, prediction = _schedule(path, "scheduler")
    unet = _load_strict(diffusers.UNet2DModel, path, "unet")
    net = DiffusersUNet(unet, prediction, schedule.alphas_cumprod)
    if (path / "vqvae").is_dir():
        vq = DiffusersVQ(_load_strict(diffusers.VQModel, path, "vqvae"))
        prior = LatentDiffusionPrior(net, vq, schedule, 1.0)
    else:
        prior = EpsNetworkPrior(net, schedule, channels=unet.config.in_channels, multiple=net.downsampling)
    return prior.to(device).eval().requires_grad_(False)

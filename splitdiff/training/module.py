"""The DDPM training objective for an ADM UNet, with EMA weights (LightningModule)."""

from __future__ import annotations

import copy

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from ..priors.adm import create_unet
from ..priors.schedule import NoiseSchedule
from .validation import denoising_psnr


def draw_timesteps(n: int, steps: int, focus: float = 0.0, focus_below: int = 250,
                   generator: torch.Generator | None = None, device: torch.device | str | None = None) -> Tensor:
    """``n`` training timesteps in ``[0, steps)``: a share ``focus`` of them uniform below
    ``focus_below`` (the low noise levels that restoration's last iterations and the validation
    curve use: t = 250 is noise std 0.95 on the [-1, 1] scale), the rest uniform over all steps.
    ``focus = 0`` is DDPM's uniform draw; a focus reweights the loss over noise levels by
    ``p(t) / (1 / steps)``. Returns (n,) int64."""
    if not 0.0 <= focus <= 1.0:
        raise ValueError(f"the timestep focus is a share in [0, 1], got {focus}")
    if not 1 <= focus_below <= steps:
        raise ValueError(f"focus_below must be a timestep in [1, {steps}], got {focus_below}")
    uniform = torch.randint(0, steps, (n,), generator=generator, device=device)
    if focus == 0.0:
        return uniform
    low = torch.randint(0, focus_below, (n,), generator=generator, device=device)
    pick = torch.rand(n, generator=generator, device=device) < focus
    return torch.where(pick, low, uniform)


class DiffusionTraining(L.LightningModule):
    """``||eps - eps_theta(sqrt(a_t) x0 + sqrt(1 - a_t) eps, t)||^2`` over 1000 linear-schedule
    timesteps, t drawn by :func:`draw_timesteps` (uniform unless ``focus`` > 0); ``ema`` holds
    the exponential moving average of the weights.
    ``train_images``: the names of the training images, recorded with the checkpoint (and the export);
    ``init``: what the weights it started from were trained on (``train._lineage``), recorded too;
    ``recipe``: the data settings (crop scales), recorded for the export."""

    def __init__(self, flags: dict, lr: float = 2e-4, ema_decay: float = 0.999, warmup: int = 200,
                 train_images: list[str] | None = None, init: dict | None = None, focus: float = 0.0,
                 focus_below: int = 250, recipe: dict | None = None) -> None:
        super().__init__()
        draw_timesteps(1, 1000, focus, focus_below)  # bad values fail here, before training
        self.save_hyperparameters()
        self.net = create_unet(**flags)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.register_buffer("alphas_cumprod", NoiseSchedule.linear().alphas_cumprod.float(), persistent=False)

    def training_step(self, x0: Tensor, batch_idx: int) -> Tensor:
        t = draw_timesteps(x0.shape[0], len(self.alphas_cumprod), self.hparams.focus, self.hparams.focus_below,
                           device=x0.device)
        a = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        eps = torch.randn_like(x0)
        pred = self.net(torch.sqrt(a) * x0 + torch.sqrt(1 - a) * eps, t)[:, : x0.shape[1]]
        loss = F.mse_loss(pred, eps)
        self.log("loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, x0: Tensor, batch_idx: int) -> None:
        """The EMA prior's denoising PSNR on held-out images (``validation.denoising_psnr``)."""
        schedule = NoiseSchedule(self.alphas_cumprod.double().cpu())
        for sigma, value in denoising_psnr(lambda x, t: self.ema(x, t), x0, schedule).items():
            self.log(f"val_psnr_sigma_{sigma:g}", value, on_step=False, on_epoch=True, batch_size=x0.shape[0],
                     sync_dist=True)

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        decay = min(self.hparams.ema_decay, (1 + self.global_step) / (10 + self.global_step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(p, 1 - decay)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.hparams.lr, weight_decay=0.0)
        warmup = max(1, self.hparams.warmup)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

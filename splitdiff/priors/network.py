"""Network diffusion priors: wrap any ``eps``-prediction network, and a tiny UNet for tests."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import check_image
from .base import DiffusionPrior
from .schedule import NoiseSchedule


class EpsNetworkPrior(DiffusionPrior):
    """A diffusion prior from ``net(x_t, t) -> eps`` (N, C, H, W), t a LongTensor (N,).

    With ``learn_sigma=True`` the network returns 2C channels (guided-diffusion): the first C
    are eps. The network keeps an autograd graph only when its input requires a gradient (as
    DPS's does); otherwise it runs without one, whatever the caller's grad mode.
    ``channels`` and ``multiple`` (image sides must be multiples of it) validate inputs.
    """

    def __init__(
        self,
        net: nn.Module | Callable[[Tensor, Tensor], Tensor],
        schedule: NoiseSchedule | None = None,
        channels: int = 3,
        learn_sigma: bool = False,
        multiple: int = 1,
    ) -> None:
        super().__init__()
        self.net = net
        self.schedule = schedule or NoiseSchedule.linear()
        self.channels = channels
        self.learn_sigma = learn_sigma
        self.multiple = multiple

    def check_input(self, x: Tensor) -> Tensor:
        check_image(x, "x")
        if x.shape[1] != self.channels:
            raise ValueError(
                f"this prior's network was trained on {self.channels}-channel images, got {x.shape[1]} channel(s) "
                f"(shape {tuple(x.shape)}, the image shape implied by y or x_T); solve {self.channels}-channel "
                f"images (e.g. repeat a grayscale y over {self.channels} channels) or use a prior trained on "
                f"{x.shape[1]}-channel images"
            )
        h, w = x.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"this prior needs image sides that are multiples of {self.multiple}, got {h}x{w}")
        return x

    def eps(self, x_t: Tensor, t: int | Tensor) -> Tensor:
        t = self.batch_timesteps(t, x_t)
        with torch.set_grad_enabled(torch.is_grad_enabled() and x_t.requires_grad):
            out = self.net(x_t, t)
        return out[:, : x_t.shape[1]] if self.learn_sigma else out


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """Sinusoidal embedding (N, dim) of integer timesteps (N,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1) if dim % 2 else emb


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = F.silu(self.conv1(x)) + self.emb(e)[:, :, None, None]
        return self.skip(x) + self.conv2(F.silu(h))


class TinyUNet(nn.Module):
    """A two-level UNet ``(x_t, t) -> eps`` with ``width`` base channels; sides must be even."""

    def __init__(self, channels: int = 3, width: int = 16) -> None:
        super().__init__()
        emb = 4 * width
        self.width = width
        self.time = nn.Sequential(nn.Linear(width, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.inp = nn.Conv2d(channels, width, 3, padding=1)
        self.down = _Block(width, 2 * width, emb)
        self.mid = _Block(2 * width, 2 * width, emb)
        self.up = _Block(3 * width, width, emb)
        self.out = nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        e = self.time(timestep_embedding(t, self.width).to(x.dtype))
        h0 = self.inp(x)
        h1 = self.mid(self.down(F.avg_pool2d(h0, 2), e), e)
        h = torch.cat([h0, F.interpolate(h1, scale_factor=2.0, mode="nearest")], dim=1)
        return self.out(F.silu(self.up(h, e)))


def random_network_prior(channels: int = 3, width: int = 8, seed: int = 0) -> EpsNetworkPrior:
    """A ``TinyUNet`` with random weights drawn from ``seed``: fast tests of the full code path.

    Its samples are not images: use it to test plumbing, never to judge quality.
    """
    g = torch.Generator().manual_seed(seed)
    net = TinyUNet(channels, width)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 / math.sqrt(max(p[0].numel(), 1))))
    return EpsNetworkPrior(net.eval(), channels=channels, multiple=2)

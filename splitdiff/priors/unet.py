"""The ADM UNet of guided-diffusion (``UNetModel``), with its exact state-dict layout.

The same class, with other flags, is the denoiser of CompVis latent diffusion (its
``openaimodel.UNetModel`` without the spatial transformer). Key layout: ``time_embed.{0,2}``,
``input_blocks.N...``, ``middle_block.{0,1,2}``, ``output_blocks.N...``, ``out.{0,2}``;
ResBlock ``in_layers.{0,2}``, ``emb_layers.1``, ``out_layers.{0,3}``, ``skip_connection``;
attention ``norm``, ``qkv`` (1-D conv, 3C), ``proj_out``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .network import timestep_embedding


class GroupNorm32(nn.GroupNorm):
    """GroupNorm(32) computed in float32 (as guided-diffusion does under fp16)."""

    def forward(self, x: Tensor) -> Tensor:
        out = F.group_norm(x.float(), self.num_groups, self.weight.float(), self.bias.float(), self.eps)
        return out.type(x.dtype)


def _zero(module: nn.Module) -> nn.Module:
    """guided-diffusion's zero_module: residual branches and the output start at zero."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def _norm(channels: int) -> nn.GroupNorm:
    return GroupNorm32(32, channels)


class _Up(nn.Module):
    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None) -> None:
        super().__init__()
        self.use_conv = use_conv
        if use_conv:
            self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.conv(x) if self.use_conv else x


class _Down(nn.Module):
    def __init__(self, channels: int, use_conv: bool, out_channels: int | None = None) -> None:
        super().__init__()
        self.op = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=1) if use_conv else nn.AvgPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class ResBlock(nn.Module):
    def __init__(
        self, channels: int, emb_channels: int, dropout: float, out_channels: int | None = None,
        use_scale_shift_norm: bool = False, up: bool = False, down: bool = False,
    ) -> None:
        super().__init__()
        out_channels = out_channels or channels
        self.use_scale_shift_norm = use_scale_shift_norm
        self.in_layers = nn.Sequential(_norm(channels), nn.SiLU(), nn.Conv2d(channels, out_channels, 3, padding=1))
        self.updown = up or down
        if up:
            self.h_upd, self.x_upd = _Up(channels, False), _Up(channels, False)
        elif down:
            self.h_upd, self.x_upd = _Down(channels, False), _Down(channels, False)
        else:
            self.h_upd = self.x_upd = nn.Identity()
        self.emb_layers = nn.Sequential(
            nn.SiLU(), nn.Linear(emb_channels, 2 * out_channels if use_scale_shift_norm else out_channels)
        )
        self.out_layers = nn.Sequential(
            _norm(out_channels), nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        )
        self.skip_connection = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)
        _zero(self.out_layers[3])

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        if self.updown:
            h = self.in_layers[:-1](x)
            h = self.in_layers[-1](self.h_upd(h))
            x = self.x_upd(x)
        else:
            h = self.in_layers(x)
        e = self.emb_layers(emb).type(h.dtype)[..., None, None]
        if self.use_scale_shift_norm:
            scale, shift = e.chunk(2, dim=1)
            h = self.out_layers[1:](self.out_layers[0](h) * (1 + scale) + shift)
        else:
            h = self.out_layers(h + e)
        return self.skip_connection(x) + h


#: Attention kernels of :class:`AttentionBlock`: ``einsum`` (guided-diffusion's two batched
#: matmuls around a float32 softmax) and ``sdpa`` (``F.scaled_dot_product_attention``: flash and
#: memory-efficient kernels on a GPU). The same numbers up to float32 rounding.
ATTENTION_KERNELS = ("einsum", "sdpa")


class AttentionBlock(nn.Module):
    """Self-attention over positions; ``legacy`` selects guided-diffusion's QKVAttentionLegacy
    order; ``kernel`` one of :data:`ATTENTION_KERNELS` (``UNetModel.configure`` sets it)."""

    def __init__(self, channels: int, num_heads: int = 1, num_head_channels: int = -1, legacy: bool = True,
                 kernel: str = "einsum") -> None:
        super().__init__()
        self.kernel = kernel
        if num_head_channels == -1:
            self.num_heads = num_heads
        else:
            if channels % num_head_channels:
                raise ValueError(f"{channels} channels do not split into heads of {num_head_channels}")
            self.num_heads = channels // num_head_channels
        self.legacy = legacy
        self.norm = _norm(channels)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = _zero(nn.Conv1d(channels, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, *spatial = x.shape
        x = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(x))
        length, heads = qkv.shape[-1], self.num_heads
        ch = c // heads
        if self.legacy:  # heads interleaved as (head, [q k v], ch)
            q, k, v = qkv.reshape(b * heads, 3 * ch, length).split(ch, dim=1)
        else:  # [q k v] first, then heads
            q, k, v = (t.reshape(b * heads, ch, length) for t in qkv.chunk(3, dim=1))
        if self.kernel == "sdpa":  # (batch x heads, positions, ch); scale 1 / sqrt(ch), as below
            h = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
            h = h.transpose(1, 2).reshape(b, c, length)
        else:
            scale = 1 / math.sqrt(math.sqrt(ch))
            weight = torch.einsum("bct,bcs->bts", q * scale, k * scale)
            weight = torch.softmax(weight.float(), dim=-1).type(weight.dtype)
            h = torch.einsum("bts,bcs->bct", weight, v).reshape(b, c, length)
        return (x + self.proj_out(h)).reshape(b, c, *spatial)


class _Sequential(nn.Sequential):
    """guided-diffusion's TimestepEmbedSequential: passes the embedding to ResBlocks."""

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x


class UNetModel(nn.Module):
    """guided-diffusion's ``UNetModel(x, t, y=None) -> (N, out_channels, H, W)``.

    ``attention_resolutions`` are downsampling factors (guided-diffusion's ``create_model``
    converts "16" at 256 to 16 = 256 // 16); ``channel_mult`` multiplies ``model_channels``.
    """

    def __init__(
        self,
        image_size: int,
        in_channels: int,
        model_channels: int,
        out_channels: int,
        num_res_blocks: int,
        attention_resolutions: Sequence[int],
        dropout: float = 0.0,
        channel_mult: Sequence[float] = (1, 2, 4, 8),
        conv_resample: bool = True,
        num_classes: int | None = None,
        num_heads: int = 1,
        num_head_channels: int = -1,
        num_heads_upsample: int = -1,
        use_scale_shift_norm: bool = False,
        resblock_updown: bool = False,
        use_new_attention_order: bool = False,
    ) -> None:
        super().__init__()
        if num_heads_upsample == -1:
            num_heads_upsample = num_heads
        self.image_size = image_size
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.model_channels = model_channels
        self.num_classes = num_classes
        self.downsampling = 2 ** (len(channel_mult) - 1)
        emb = 4 * model_channels
        self.time_embed = nn.Sequential(nn.Linear(model_channels, emb), nn.SiLU(), nn.Linear(emb, emb))
        if num_classes is not None:
            self.label_emb = nn.Embedding(num_classes, emb)
        attn = dict(num_head_channels=num_head_channels, legacy=not use_new_attention_order)
        res = dict(emb_channels=emb, dropout=dropout, use_scale_shift_norm=use_scale_shift_norm)

        ch = input_ch = int(channel_mult[0] * model_channels)
        self.input_blocks = nn.ModuleList([_Sequential(nn.Conv2d(in_channels, ch, 3, padding=1))])
        skip_channels = [ch]
        ds = 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers: list[nn.Module] = [ResBlock(ch, out_channels=int(mult * model_channels), **res)]
                ch = int(mult * model_channels)
                if ds in attention_resolutions:
                    layers.append(AttentionBlock(ch, num_heads=num_heads, **attn))
                self.input_blocks.append(_Sequential(*layers))
                skip_channels.append(ch)
            if level != len(channel_mult) - 1:
                down = ResBlock(ch, out_channels=ch, down=True, **res) if resblock_updown else _Down(ch, conv_resample)
                self.input_blocks.append(_Sequential(down))
                skip_channels.append(ch)
                ds *= 2

        self.middle_block = _Sequential(
            ResBlock(ch, **res), AttentionBlock(ch, num_heads=num_heads, **attn), ResBlock(ch, **res)
        )

        self.output_blocks = nn.ModuleList([])
        for level, mult in list(enumerate(channel_mult))[::-1]:
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skip_channels.pop(), out_channels=int(model_channels * mult), **res)]
                ch = int(model_channels * mult)
                if ds in attention_resolutions:
                    layers.append(AttentionBlock(ch, num_heads=num_heads_upsample, **attn))
                if level and i == num_res_blocks:
                    layers.append(ResBlock(ch, out_channels=ch, up=True, **res) if resblock_updown else _Up(ch, conv_resample))
                    ds //= 2
                self.output_blocks.append(_Sequential(*layers))

        self.out = nn.Sequential(_norm(ch), nn.SiLU(), _zero(nn.Conv2d(input_ch, out_channels, 3, padding=1)))
        self.channels_last = False

    def configure(self, attention: str | None = None, channels_last: bool | None = None) -> "UNetModel":
        """Forward options that keep the numbers (to float32 rounding) and the state dict:
        ``attention``, one of :data:`ATTENTION_KERNELS`; ``channels_last``, convolutions on NHWC
        memory (inputs are converted, the output is returned contiguous). None keeps a setting."""
        if attention is not None:
            if attention not in ATTENTION_KERNELS:
                raise ValueError(f"attention must be one of {', '.join(ATTENTION_KERNELS)}, got {attention!r}")
            for module in self.modules():
                if isinstance(module, AttentionBlock):
                    module.kernel = attention
        if channels_last is not None:
            self.channels_last = bool(channels_last)
            self.to(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        return self

    def forward(self, x: Tensor, timesteps: Tensor, y: Tensor | None = None) -> Tensor:
        if (y is not None) != (self.num_classes is not None):
            raise ValueError("pass class labels y exactly when the model is class-conditional")
        dtype = self.out[2].weight.dtype
        emb = self.time_embed(timestep_embedding(timesteps, self.model_channels).to(dtype))
        if y is not None:
            emb = emb + self.label_emb(y)
        h, skips = x.type(dtype), []
        if self.channels_last:
            h = h.contiguous(memory_format=torch.channels_last)
        for block in self.input_blocks:
            h = block(h, emb)
            skips.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(torch.cat([h, skips.pop()], dim=1), emb)
        return self.out(h).type(x.dtype).contiguous()

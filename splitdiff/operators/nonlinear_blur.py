"""Nonlinear (camera-shake) blur through bkse's ``KernelWizard`` (Tran et al., CVPR 2021), as
DPS / DDiff use it with ``GOPRO_wVAE.pth``. The network is rebuilt here with the checkpoint's
exact key layout (``feature_extractor``, ``kernel_extractor``, ``adapter``, ``recon_trunk``);
weights come only from a file the user gives."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..validation import check_int_range, check_number_range, check_tensor_nchw
from .base import Operator

#: bkse ``options/generate_blur/default.yml`` (the GOPRO_wVAE model).
KERNEL_WIZARD_DEFAULTS = dict(input_nc=3, nf=64, front_RBs=10, back_RBs=20, kernel_dim=512, use_vae=True,
                              extractor_blocks=4, use_sharp=True)


class ResidualBlockNoBN(nn.Module):
    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class _ReflectResnetBlock(nn.Module):
    """pix2pix ResnetBlock (reflect padding, no norm, no dropout): keys conv_block.{1,5}."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.Identity(), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.Identity(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


class KernelExtractor(nn.Module):
    """bkse's F: (sharp, blurred) features -> kernel code (mean, log-variance with the VAE)."""

    def __init__(self, nf: int, kernel_dim: int, use_vae: bool, use_sharp: bool, n_blocks: int) -> None:
        super().__init__()
        out = 2 * kernel_dim if use_vae else kernel_dim
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(2 * nf if use_sharp else nf, nf, 7, bias=False),
                                   nn.Identity(), nn.ReLU(True)]
        for i in range(5):
            layers += [nn.Conv2d(min(nf * 2**i, out), min(nf * 2 ** (i + 1), out), 3, stride=2, padding=1, bias=False),
                       nn.Identity(), nn.ReLU(True)]
        layers += [_ReflectResnetBlock(out) for _ in range(n_blocks)]
        self.model = nn.Sequential(*layers)
        self.kernel_dim, self.use_vae = kernel_dim, use_vae

    def forward(self, sharp: Tensor, blur: Tensor) -> tuple[Tensor, Tensor]:
        out = self.model(torch.cat([sharp, blur], dim=1))
        if self.use_vae:
            return out[:, : self.kernel_dim], out[:, self.kernel_dim:]
        return out, torch.zeros_like(out)


class _UnetBlock(nn.Module):
    """pix2pix UnetSkipConnectionBlock without norm; the kernel code enters at the innermost level."""

    def __init__(self, outer: int, inner: int, input_nc: int | None = None, submodule: "_UnetBlock | None" = None,
                 outermost: bool = False, innermost: bool = False) -> None:
        super().__init__()
        self.outermost, self.innermost = outermost, innermost
        down_conv = nn.Conv2d(input_nc or outer, inner, 4, 2, 1, bias=False)
        if outermost:
            self.down = nn.Sequential(down_conv)
            self.up = nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1), nn.Tanh())
        elif innermost:
            self.down = nn.Sequential(nn.LeakyReLU(0.2, True), down_conv)
            self.up = nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=False), nn.Identity())
        else:
            self.down = nn.Sequential(nn.LeakyReLU(0.2, True), down_conv, nn.Identity())
            self.up = nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=False), nn.Identity())
        if submodule is not None:
            self.submodule = submodule

    def forward(self, x: Tensor, code: Tensor) -> Tensor:
        if self.outermost:
            return self.up(self.submodule(self.down(x), code))
        if self.innermost:
            return torch.cat([self.up(torch.cat([self.down(x), code], dim=1)), x], dim=1)
        return torch.cat([self.up(self.submodule(self.down(x), code)), x], dim=1)


class KernelAdapter(nn.Module):
    """bkse's G: features and a kernel code -> blurred features (a 5-level UNet)."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        block = _UnetBlock(nf * 8, nf * 8, innermost=True)
        block = _UnetBlock(nf * 4, nf * 8, submodule=block)
        block = _UnetBlock(nf * 2, nf * 4, submodule=block)
        block = _UnetBlock(nf, nf * 2, submodule=block)
        self.model = _UnetBlock(nf, nf, input_nc=nf, submodule=block, outermost=True)

    def forward(self, x: Tensor, code: Tensor) -> Tensor:
        return self.model(x, code)


class KernelWizard(nn.Module):
    """bkse's KernelWizard; ``adapt_kernel(x, code)`` blurs images x in [0, 1] with a kernel code."""

    def __init__(self, input_nc: int = 3, nf: int = 64, front_RBs: int = 10, back_RBs: int = 20, kernel_dim: int = 512,
                 use_vae: bool = True, extractor_blocks: int = 4, use_sharp: bool = True) -> None:
        super().__init__()
        if kernel_dim != 8 * nf:
            raise ValueError(f"the adapter concatenates the kernel code at nf * 8 channels: kernel_dim must be {8 * nf}")
        lrelu = nn.LeakyReLU(0.1)
        self.feature_extractor = nn.Sequential(
            nn.Conv2d(input_nc, nf, 3, 1, 1), lrelu, nn.Conv2d(nf, nf, 3, 2, 1), lrelu, nn.Conv2d(nf, nf, 3, 2, 1), lrelu,
            *[ResidualBlockNoBN(nf) for _ in range(front_RBs)],
        )
        self.kernel_extractor = KernelExtractor(nf, kernel_dim, use_vae, use_sharp, extractor_blocks)
        self.adapter = KernelAdapter(nf)
        self.recon_trunk = nn.Sequential(
            *[ResidualBlockNoBN(nf) for _ in range(back_RBs)],
            nn.Conv2d(nf, nf * 4, 3, 1, 1), nn.PixelShuffle(2), lrelu,
            nn.Conv2d(nf, 64 * 4, 3, 1, 1), nn.PixelShuffle(2), lrelu,
            nn.Conv2d(64, 64, 3, 1, 1), lrelu, nn.Conv2d(64, input_nc, 3, 1, 1),
        )
        self.kernel_dim = kernel_dim

    def adapt_kernel(self, x: Tensor, code: Tensor) -> Tensor:
        return x + self.recon_trunk(self.adapter(self.feature_extractor(x), code))

    def forward(self, sharp: Tensor, blur: Tensor) -> tuple[Tensor, Tensor]:
        return self.kernel_extractor(self.feature_extractor(sharp), self.feature_extractor(blur))


class NonlinearBlur(Operator):
    """``y = clamp(2 KW((x + 1) / 2, k) - 1, -1, 1)`` with bkse's KernelWizard and a kernel code
    ``k = 1.2 * randn(1, kernel_dim, H/128, W/128)`` from ``torch.Generator().manual_seed(seed)``
    (at 256x256 and seed 0: DDiff's kernel). Image sides must be multiples of 128.

    ``checkpoint``: the bkse weights (``GOPRO_wVAE.pth``), required. ``network`` overrides
    KernelWizard's options (``nf``, ``front_RBs``, ...); ``code`` passes an explicit kernel code.
    """

    task = "nonlinear_blur"

    def __init__(self, checkpoint: str | Path | None = None, seed: int = 0, code_scale: float = 1.2,
                 code: Tensor | None = None, network: dict | None = None, sigma: float = 0.05) -> None:
        super().__init__(sigma)
        if checkpoint is None:
            raise ValueError(
                "nonlinear_blur needs checkpoint=PATH to bkse's KernelWizard weights (GOPRO_wVAE.pth from "
                "VinAIResearch/blur-kernel-space-exploring); see docs/checkpoints.md"
            )
        from ..priors.checkpoint import load_strict, read_state_dict

        options = {**KERNEL_WIZARD_DEFAULTS, **(network or {})}
        self.wizard = load_strict(KernelWizard(**options), read_state_dict(checkpoint), str(checkpoint))
        self.wizard.eval().requires_grad_(False)
        self.channels = int(options["input_nc"])
        self.seed = check_int_range(seed, "seed", 0, 2**63 - 1)  # torch.Generator.manual_seed
        self.code_scale = check_number_range(code_scale, "code_scale", 0.0, 1e3, low_open=False)
        self.register_buffer("code", None if code is None else self._check_code(code))
        self._codes: dict = {}

    def _check_code(self, code: object) -> Tensor:
        """An explicit kernel code: a finite float tensor (1, kernel_dim, h, w)."""
        if not isinstance(code, Tensor) or not code.is_floating_point():
            raise ValueError(f"code must be a float tensor (1, {self.wizard.kernel_dim}, H/128, W/128), "
                             f"got {type(code).__name__}")
        if code.dim() != 4 or code.shape[0] != 1 or code.shape[1] != self.wizard.kernel_dim or min(code.shape) < 1:
            raise ValueError(f"code must have shape (1, {self.wizard.kernel_dim}, H/128, W/128), got {tuple(code.shape)}")
        if not bool(torch.isfinite(code).all()):
            raise ValueError("code contains NaN or Inf values; expected finite numbers")
        return code

    def kernel_code(self, h: int, w: int, like: Tensor) -> Tensor:
        if self.code is not None:
            return self.code.to(like)
        key = (h, w)
        if key not in self._codes:
            g = torch.Generator().manual_seed(self.seed)
            self._codes[key] = torch.randn(1, self.wizard.kernel_dim, h // 128, w // 128, generator=g) * self.code_scale
        return self._codes[key].to(like)

    def check_shape(self, x: Tensor) -> Tensor:
        check_tensor_nchw(x, "x", channels=self.channels)
        if x.shape[-1] % 128 or x.shape[-2] % 128:
            raise ValueError(f"nonlinear_blur needs image sides that are multiples of 128, got {tuple(x.shape[-2:])}")
        if self.code is not None and tuple(self.code.shape[-2:]) != (x.shape[-2] // 128, x.shape[-1] // 128):
            raise ValueError(f"the kernel code of shape {tuple(self.code.shape)} fits images of "
                             f"{128 * self.code.shape[-2]}x{128 * self.code.shape[-1]} pixels, got {tuple(x.shape[-2:])}")
        return x

    def forward(self, x: Tensor) -> Tensor:
        # the network runs in its own dtype (float32 weights take float64 images, and back)
        net_dtype = next(self.wizard.parameters()).dtype
        image = ((x + 1) / 2).to(net_dtype)
        code = self.kernel_code(x.shape[-2], x.shape[-1], image).expand(x.shape[0], -1, -1, -1)
        blurred = self.wizard.adapt_kernel(image, code).to(x.dtype)
        return (blurred * 2 - 1).clamp(-1, 1)

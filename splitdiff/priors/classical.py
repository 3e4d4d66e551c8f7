"""Classical denoisers usable as plug-and-play priors: total variation, Haar wavelet
soft-thresholding, and an empirical Wiener filter. All take (N, C, H, W) and a noise std."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..validation import check_positive, check_positive_int
from .base import Prior


def _grad(x: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences with a zero last difference (Neumann boundary)."""
    gh = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    gw = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1))
    return gh, gw


def _div(ph: Tensor, pw: Tensor) -> Tensor:
    """Discrete divergence, the negative adjoint of ``_grad``: ``d_i = p_i - p_{i-1}`` along each
    axis with ``p_{-1} = p_{last} = 0``."""
    h, w = ph[..., :-1, :], pw[..., :, :-1]
    return F.pad(h, (0, 0, 0, 1)) - F.pad(h, (0, 0, 1, 0)) + (F.pad(w, (0, 1)) - F.pad(w, (1, 0)))


def total_variation(x: Tensor) -> Tensor:
    """Isotropic TV per image (N,): sum over channels and pixels of ``|grad x|``."""
    gh, gw = _grad(x)
    return torch.sqrt(gh**2 + gw**2).flatten(1).sum(1)


def tv_prox(v: Tensor, lam: float | Tensor, iterations: int = 200, tol: float = 1e-5) -> tuple[Tensor, Tensor, Tensor]:
    """``argmin_x 1/2 ||x - v||^2 + lam TV(x)`` by Chambolle's dual projection (2004).

    Returns (x, ph, pw): the solution and the dual field (|p| <= 1), whose duality gap
    ``1/2||x - v||^2 + lam TV(x) - (1/2||v||^2 - 1/2||v - lam div p||^2)`` certifies optimality.
    Stops when the largest change of p is below ``tol``.
    """
    lam_t = torch.as_tensor(lam, dtype=v.dtype, device=v.device).reshape(-1, *([1] * (v.dim() - 1)))
    ph = torch.zeros_like(v)
    pw = torch.zeros_like(v)
    tau = 0.125
    scaled = v / lam_t
    for _ in range(iterations):
        gh, gw = _grad(_div(ph, pw) - scaled)
        norm = torch.hypot(gh, gw).mul(tau).add_(1)  # hypot's output stays intact for autograd
        new_h, new_w = torch.add(ph, gh, alpha=tau).div_(norm), torch.add(pw, gw, alpha=tau).div_(norm)
        change = torch.maximum((new_h - ph).abs().amax(), (new_w - pw).abs().amax())
        ph, pw = new_h, new_w
        if change.item() < tol:
            break
    return v - lam_t * _div(ph, pw), ph, pw


class TotalVariation(Prior):
    """MAP denoiser of ``p(x) ~ exp(-strength TV(x))``: ``prox`` of ``strength * sigma^2 * TV``."""

    def __init__(self, strength: float = 20.0, iterations: int = 200) -> None:
        super().__init__()
        self.strength = check_positive(strength, "strength")
        self.iterations = check_positive_int(iterations, "iterations")

    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        check_positive(sigma, "sigma")
        return tv_prox(x, self.strength * sigma**2, self.iterations)[0]


def haar_forward(x: Tensor, levels: int) -> list[Tensor]:
    """Orthonormal 2-D Haar transform: [approx, (LH, HL, HH) level 1..levels stacked on dim 2]."""
    out = []
    for _ in range(levels):
        a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
        c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
        x = (a + b + c + d) / 2
        out.append(torch.stack([(a - b + c - d) / 2, (a + b - c - d) / 2, (a - b - c + d) / 2], dim=2))
    return [x] + out[::-1]


def haar_inverse(coeffs: list[Tensor]) -> Tensor:
    """Inverse of ``haar_forward``."""
    x = coeffs[0]
    for det in coeffs[1:]:
        lh, hl, hh = det.unbind(2)
        n, c, h, w = x.shape
        out = x.new_empty(n, c, 2 * h, 2 * w)
        out[..., 0::2, 0::2] = (x + lh + hl + hh) / 2
        out[..., 0::2, 1::2] = (x - lh + hl - hh) / 2
        out[..., 1::2, 0::2] = (x + lh - hl - hh) / 2
        out[..., 1::2, 1::2] = (x - lh - hl + hh) / 2
        x = out
    return x


class WaveletSoftThreshold(Prior):
    """Soft-thresholding of orthonormal Haar detail coefficients at ``factor * sigma``.

    This is the exact prox of ``factor * sigma * ||W_detail x||_1``. Uses up to ``levels``
    levels, as many as the image sides allow (each level halves them).
    """

    def __init__(self, levels: int = 3, factor: float = 3.0) -> None:
        super().__init__()
        self.levels = check_positive_int(levels, "levels")
        self.factor = check_positive(factor, "factor")

    def usable_levels(self, h: int, w: int) -> int:
        levels = 0
        while levels < self.levels and h % 2 == 0 and w % 2 == 0 and h > 1 and w > 1:
            h, w, levels = h // 2, w // 2, levels + 1
        return levels

    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        check_positive(sigma, "sigma")
        levels = self.usable_levels(*x.shape[-2:])
        if levels == 0:
            raise ValueError(f"Haar wavelets need even image sides, got {tuple(x.shape[-2:])}")
        coeffs = haar_forward(x, levels)
        thr = self.factor * sigma
        coeffs = [coeffs[0]] + [torch.sign(c) * (c.abs() - thr).clamp_min(0) for c in coeffs[1:]]
        return haar_inverse(coeffs)


class Wiener(Prior):
    """Empirical Wiener filter: per-frequency gain ``S / (S + sigma^2)``, ``S = max(|X|^2 - sigma^2, 0)``.

    The Gaussian (MMSE) denoiser for a stationary Gaussian prior whose power spectrum is
    estimated from the noisy image itself (orthonormal DFT, so white noise has power sigma^2).
    """

    def denoise(self, x: Tensor, sigma: float) -> Tensor:
        check_positive(sigma, "sigma")
        spec = torch.fft.fft2(x, norm="ortho")
        power = (spec.abs() ** 2 - sigma**2).clamp_min(0)
        return torch.fft.ifft2(spec * power / (power + sigma**2), norm="ortho").real

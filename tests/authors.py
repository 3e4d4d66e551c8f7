"""The authors' loops and constants, transcribed for the tests from their public code (not from
splitdiff): each is the reference a test compares splitdiff with. Written with the authors'
variable names where that helps a reader put the two side by side.

- DDiff: ``SoniaMinseoKim/ddiff-cvpr`` ``ddiff_sample.py`` (admm_ddim loop).
- DiffPIR: ``yuanzhi-zhu/DiffPIR`` at 111d26e (``main_ddpir_deblur.py``, ``main_ddpir.py``).

Noise: every loop takes ``draw(shape) -> Tensor`` and calls it where the authors call
``torch.randn_like``, in their order, so a test can feed both sides one recorded stream.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

Draw = Callable[[tuple], Tensor]

#: DiffPIR's denoising timesteps, T = 1000, 'quad': iteration i runs at t_i = T - 1 - seq[i] with
#: seq = [int(s) for s in sqrt(linspace(0, T^2, n))], seq[-1] -= 1 (main_ddpir_sisr.py:266-277
#: and :281-283), written out from the authors' formula: dense near t = 0, not near t = 999.
DIFFPIR_QUAD_100 = [
    999, 899, 857, 825, 798, 775, 753, 734, 715, 698, 682, 666, 651, 637, 623, 610, 597, 585, 573, 561,
    550, 539, 528, 518, 507, 497, 487, 477, 468, 458, 449, 440, 431, 422, 413, 405, 396, 388, 380, 372,
    364, 356, 348, 340, 333, 325, 318, 310, 303, 296, 289, 282, 275, 268, 261, 254, 247, 241, 234, 228,
    221, 215, 208, 202, 195, 189, 183, 177, 171, 165, 159, 153, 147, 141, 135, 129, 123, 118, 112, 106,
    101, 95, 89, 84, 78, 73, 67, 62, 57, 51, 46, 41, 36, 30, 25, 20, 15, 10, 5, 0,
]
#: main_ddpir_inpainting.py:219-228 (20 iterations).
DIFFPIR_QUAD_20 = [999, 770, 675, 602, 541, 487, 438, 393, 351, 311, 274, 239, 205, 172, 141, 111, 82, 54, 26, 0]


def ddiff_loop(prior, op, y: Tensor, x_T: Tensor, gamma0: float, t0: int, full: bool, draw: Draw) -> Tensor:
    """DDiff as the authors' ddiff_sample.py runs it (admm_ddim, 1000 steps, a = 3.3, b = 0.1
    below t = 90): Tweedie clamped, one normalized gradient step of ||y - A v||^2 / (2 sigma^2)
    at v = x0 - u, DDIM (or full) re-noising of x + u with eps_hat from x, then u += x - x0."""
    a = prior.schedule.alphas_cumprod
    img, u = x_T.clone(), torch.zeros_like(x_T)
    seq = list(range(1000))[::-1]
    for i, idx in enumerate(seq):
        at = a[idx]
        x0_pred = ((img - torch.sqrt(1 - at) * prior.eps(img, idx)) / torch.sqrt(at)).clamp(-1, 1)
        anneal = 3.3 if idx > 90 else 0.1
        v = (x0_pred - u).requires_grad_(True)
        nll = torch.linalg.norm(y - op(v)) ** 2 / (2 * op.sigma**2)
        (grad,) = torch.autograd.grad(nll, v)
        x = (v - grad * (gamma0 / torch.linalg.norm(grad)) * anneal).detach()
        eps_hat = (img - torch.sqrt(at) * x) / torch.sqrt(1 - at)
        if idx > 0:
            ap = a[seq[i + 1]]
            sigma_t = torch.sqrt((1 - ap) / (1 - at) * (1 - at / ap))
            noise = draw(tuple(img.shape)) if idx > t0 else 0
            if full:
                img = torch.sqrt(ap) * (x + u) + torch.sqrt(1 - ap) * noise
            else:
                img = torch.sqrt(ap) * (x + u) + torch.sqrt(1 - ap - sigma_t**2) * eps_hat + sigma_t * noise
            u = u + x - x0_pred
    return img


def diffpir_loop(prior, op, y: Tensor, lam: float, zeta: float, timesteps: list[int], draw: Draw,
                 mode: str = "exact", x_T: Tensor | None = None) -> Tensor:
    """DiffPIR for an image-shaped linear measurement (deblurring), eta = 0, one sub-step.

    - Start (main_ddpir_deblur.py:228-231): ``t_y = find_nearest(reduced_alpha_cumprod,
      2 noise_level_img)`` (2 noise_level_img is the std on the [-1, 1] scale, ``op.sigma``),
      ``x = sqrt(a_T / a_ty) (2 y01 - 1) + sqrt((1 - a_T) - a_T / a_ty (1 - a_ty)) n``.
    - ``rhos[t] = lambda * sigma^2 / sigma_ks[t]^2`` with ``sigma = max(0.001, noise_level_img)``
      on the [0, 1] scale and ``sigma_ks = sqrt(1 - a) / sqrt(a)`` (L206-216).
    - ``mode="exact"`` (L286-295, ``noise_model_t = 0`` (L92) so L290 always holds): on the [0, 1] scale, ``x0_p = argmin ||y01 - A x||^2 + rho
      ||x - (x0 / 2 + 0.5)||^2`` (their FFT ``data_solution``; here a dense solve), ``x0 = 2 x0_p - 1``.
      ``mode="gradient"`` (main_ddpir.py:421-427, the SR first-order solver on the [-1, 1]
      scale): ``x0 -= grad(||y - A x0||) ||y - A x0|| / rho``.
    - Skipped at the last timestep (L284 ``if seq[i] != seq[-1]``); the re-noising (L339-347,
      eta = 0): ``x = sqrt(a_prev) x0 + sqrt(1 - zeta) sqrt(1 - a_prev) eps + sqrt(zeta)
      sqrt(1 - a_prev) n`` with ``eps = (x - sqrt(a_t) x0) / sqrt(1 - a_t)``; the eta-weighted
      draw is multiplied by 0 and not taken here. The output is ``x`` at t = 0.

    ``x_T`` replaces the start (a test of the loop alone).
    """
    a = prior.schedule.alphas_cumprod
    reduced = torch.sqrt(1 - a) / torch.sqrt(a)
    noise_level_img = op.sigma / 2
    sigma = max(0.001, noise_level_img)
    y01 = y / 2 + 0.5
    shape = tuple(y.shape)
    x = diffpir_start(prior, op, y, timesteps[0], draw) if x_T is None else x_T.clone()
    A = op.matrix(shape[1:], dtype=y.dtype) if mode == "exact" else None  # (M, D) for one image
    for i, t in enumerate(timesteps):
        x0 = prior.tweedie(x, t).clamp(-1, 1)
        if i == len(timesteps) - 1:
            break
        rho = lam * sigma**2 / reduced[t] ** 2
        if mode == "exact":
            v = (x0 / 2 + 0.5).reshape(shape[0], -1).T
            rhs = A.T @ y01.reshape(shape[0], -1).T + rho * v
            x0_p = torch.linalg.solve(A.T @ A + rho * torch.eye(A.shape[1], dtype=y.dtype), rhs)
            x0 = x0_p.T.reshape(shape) * 2 - 1
        else:
            x0 = x0.detach().requires_grad_(True)
            norm = torch.linalg.norm(y - op(x0))
            (norm_grad,) = torch.autograd.grad(norm, x0)
            x0 = (x0 - norm_grad * norm / rho).detach()
        at, ap = a[t], a[timesteps[i + 1]]
        eps = (x - torch.sqrt(at) * x0) / torch.sqrt(1 - at)
        x = (torch.sqrt(ap) * x0 + math.sqrt(1 - zeta) * torch.sqrt(1 - ap) * eps
             + math.sqrt(zeta) * torch.sqrt(1 - ap) * draw(shape))
    return x


def diffpir_start(prior, op, y: Tensor, t_start: int, draw: Draw) -> Tensor:
    """DiffPIR's start for an image-shaped measurement (main_ddpir_deblur.py:228-231)."""
    a = prior.schedule.alphas_cumprod
    reduced = torch.sqrt(1 - a) / torch.sqrt(a)
    noise_level_img = op.sigma / 2
    y01 = y / 2 + 0.5
    t_y = int(torch.argmin((reduced - 2 * noise_level_img).abs()))
    effective = torch.sqrt(a[t_start] / a[t_y])
    return effective * (2 * y01 - 1) + torch.sqrt((1 - a[t_start]) - effective**2 * (1 - a[t_y])) * draw(tuple(y.shape))


def standard_admm_loop(prior, op, y: Tensor, x_T: Tensor, timesteps: list[int], gammas: list[float]) -> tuple[Tensor, Tensor]:
    """Diff-PnP-ADMM as the paper's Sec. 3.1 defines it, standard ADMM: initial ``z = D(x_T, t_0)``,
    ``u = 0``; then per iteration ``x = z - u - gamma_k g / ||g||`` (Eq. 10 at ``v = z - u``, the
    normalized step of ||y - A v||^2), ``z = D(x + u, t_{k+1})`` (Eq. 9, Tweedie clamped),
    ``u = u + x - z`` (Eq. 6, with the new z). Returns the last x (the data-consistent iterate)
    and the dual entering the last x-update."""
    z = prior.tweedie(x_T, timesteps[0]).clamp(-1, 1)
    u = torch.zeros_like(x_T)
    for k, gamma in enumerate(gammas):
        v = (z - u).requires_grad_(True)
        (g,) = torch.autograd.grad((y - op(v)).pow(2).sum(), v)
        norm = g.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        x = (v - gamma * g / norm).detach()
        if k == len(gammas) - 1:
            return x, u
        z = prior.tweedie(x + u, timesteps[k + 1]).clamp(-1, 1)
        u = u + x - z
    raise ValueError("no iterations")


def recorded(draws: list[Tensor]) -> Draw:
    """A ``draw`` that hands out ``draws`` in order (and fails when they run out)."""
    stream = iter(draws)
    return lambda shape: next(stream)

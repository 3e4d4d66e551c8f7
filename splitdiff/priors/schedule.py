"""Diffusion noise schedules and timestep respacing (guided-diffusion semantics).

``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps`` for integer t in [0, T).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..validation import check_positive_int


def space_timesteps(num_timesteps: int, section_counts: str | list[int] | int) -> list[int]:
    """The timesteps kept by guided-diffusion's ``space_timesteps``, sorted ascending.

    ``section_counts`` is an int (one section), a list of per-section counts, a comma string
    ("10,15,20"), or "ddimN" (a stride that gives exactly N steps).
    """
    if isinstance(section_counts, int):
        section_counts = [section_counts]
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            desired = int(section_counts[len("ddim"):])
            for stride in range(1, num_timesteps):
                if len(range(0, num_timesteps, stride)) == desired:
                    return list(range(0, num_timesteps, stride))
            raise ValueError(f"cannot take exactly {desired} steps with an integer stride from {num_timesteps}")
        section_counts = [int(x) for x in section_counts.split(",")]
    size_per, extra = divmod(num_timesteps, len(section_counts))
    start, steps = 0, []
    for i, count in enumerate(section_counts):
        size = size_per + (1 if i < extra else 0)
        if size < count or count < 1:
            raise ValueError(f"cannot take {count} steps from a section of {size} timesteps")
        stride = 1 if count <= 1 else (size - 1) / (count - 1)
        position = 0.0
        for _ in range(count):  # accumulate like guided-diffusion, so rounding agrees exactly
            steps.append(start + round(position))
            position += stride
        start += size
    return sorted(set(steps))


def quad_timesteps(num_timesteps: int, count: int) -> list[int]:
    """DiffPIR's 'quad' spacing, sorted ascending: dense near t = 0.

    DiffPIR builds ``seq = int(sqrt(linspace(0, T^2, count)))`` with ``seq[-1] -= 1`` and
    denoises at ``t_i = T - 1 - seq[i]`` (yuanzhi-zhu/DiffPIR ``main_ddpir_sisr.py`` L266-283):
    999, 899, 857, ..., 10, 5, 0 for T = 1000 and 100 steps.
    """
    seq = [int(s) for s in np.sqrt(np.linspace(0, num_timesteps**2, count))]
    seq[-1] = seq[-1] - 1
    return sorted({num_timesteps - 1 - s for s in seq})


@dataclass(frozen=True)
class NoiseSchedule:
    """``alpha_bar`` over the model's training timesteps (float64 tensor of length T)."""

    alphas_cumprod: Tensor

    def __post_init__(self) -> None:
        a = self.alphas_cumprod
        if a.dim() != 1 or len(a) < 2 or not bool(((a > 0) & (a < 1)).all()):
            raise ValueError("alphas_cumprod must be a 1-D tensor of values in (0, 1) with at least 2 entries")
        if not bool((a[1:] <= a[:-1]).all()):
            raise ValueError("alphas_cumprod must be non-increasing")

    @classmethod
    def linear(cls, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        """DDPM's linear betas (guided-diffusion ``linear``; its 1000-step values by default)."""
        scale = 1000 / num_timesteps
        betas = np.linspace(scale * beta_start, scale * beta_end, num_timesteps, dtype=np.float64)
        return cls(torch.from_numpy(np.cumprod(1.0 - betas)))

    @classmethod
    def scaled_linear(cls, num_timesteps: int = 1000, beta_start: float = 0.0015, beta_end: float = 0.0195) -> "NoiseSchedule":
        """Latent diffusion's schedule: ``linspace(sqrt(start), sqrt(end), T) ** 2``."""
        betas = np.linspace(math.sqrt(beta_start), math.sqrt(beta_end), num_timesteps, dtype=np.float64) ** 2
        return cls(torch.from_numpy(np.cumprod(1.0 - betas)))

    @property
    def num_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    def timesteps(self, steps: int | None = None, spacing: str = "uniform") -> list[int]:
        """``steps`` kept timesteps in decreasing order (all T when ``steps`` is None).

        ``spacing``: ``"uniform"`` (guided-diffusion ``space_timesteps``), ``"ddim"`` (integer
        stride) or ``"quad"`` (DiffPIR).
        """
        steps = self.num_timesteps if steps is None else check_positive_int(steps, "steps")
        if steps > self.num_timesteps:
            raise ValueError(f"steps must be <= {self.num_timesteps} (the model's timesteps), got {steps}")
        if spacing == "uniform":
            kept = space_timesteps(self.num_timesteps, [steps])
        elif spacing == "ddim":
            kept = space_timesteps(self.num_timesteps, f"ddim{steps}")
        elif spacing == "quad":
            kept = quad_timesteps(self.num_timesteps, steps)
        else:
            raise ValueError(f"spacing must be 'uniform', 'ddim' or 'quad', got {spacing!r}")
        return kept[::-1]

    def nearest_timestep(self, alpha_bar: float) -> int:
        """The timestep whose ``alpha_bar`` is closest to ``alpha_bar``."""
        return int(torch.argmin((self.alphas_cumprod - alpha_bar).abs()))

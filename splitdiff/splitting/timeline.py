"""The iteration plan of a solve: which timestep each iteration uses, and schedules over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import Tensor

from ..priors.schedule import NoiseSchedule


@dataclass(frozen=True)
class Timeline:
    """K iterations. Iteration k denoises at ``t[k]`` and re-noises to ``t_prev[k]``.

    ``alpha_bar`` / ``alpha_bar_prev`` are float64 (K,); ``t_prev = -1`` means ``alpha_bar = 1``.
    Loops without a diffusion schedule (classical plug-and-play) use ``t = K-1 .. 0`` and
    ``alpha_bar = 1``.
    """

    t: Tensor
    t_prev: Tensor
    alpha_bar: Tensor
    alpha_bar_prev: Tensor

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def diffusion(cls, schedule: NoiseSchedule, timesteps: list[int]) -> "Timeline":
        """Transitions between consecutive ``timesteps`` (decreasing): K = len(timesteps) - 1.

        As in the authors' code, the last transition lands on ``timesteps[-1]`` (t = 0 for
        every spacing here) and no network call is spent at that final timestep.
        """
        if len(timesteps) < 2:
            raise ValueError(f"a diffusion solve needs at least 2 timesteps, got {len(timesteps)}")
        ts = torch.as_tensor(timesteps, dtype=torch.long)
        a = schedule.alphas_cumprod
        return cls(ts[:-1], ts[1:], a[ts[:-1]], a[ts[1:]])

    @classmethod
    def iterations(cls, count: int) -> "Timeline":
        """``count`` plain iterations (no diffusion schedule)."""
        t = torch.arange(count - 1, -1, -1)
        ones = torch.ones(count, dtype=torch.float64)
        return cls(t, t - 1, ones, ones)

    @property
    def sigma_bar(self) -> Tensor:
        """DiffPIR's noise-to-signal ratio ``sqrt(1 - a_t) / sqrt(a_t)`` (K,)."""
        return torch.sqrt(1 - self.alpha_bar) / torch.sqrt(self.alpha_bar)


#: A per-iteration schedule: a constant, or a function of the timeline returning a (K,) tensor.
Schedule = Union[float, Callable[[Timeline], Tensor]]


def schedule_values(schedule: Schedule, timeline: Timeline, name: str = "schedule") -> Tensor:
    """The (K,) float64 values of ``schedule`` on ``timeline``."""
    values = schedule(timeline) if callable(schedule) else torch.full((len(timeline),), float(schedule))
    values = torch.as_tensor(values, dtype=torch.float64).flatten()
    if values.shape != (len(timeline),):
        raise ValueError(f"{name} must give {len(timeline)} values (one per iteration), got {tuple(values.shape)}")
    if not bool(torch.isfinite(values).all()):
        raise ValueError(f"{name} has non-finite values")
    return values


@dataclass(frozen=True)
class StepDown:
    """``high`` while ``t > t_switch``, else ``low`` (DDiff's a/b step policy, t_gamma = 90)."""

    high: float
    low: float
    t_switch: int

    def __call__(self, tl: Timeline) -> Tensor:
        high = torch.full(tl.t.shape, float(self.high), dtype=torch.float64)
        return torch.where(tl.t > self.t_switch, high, torch.full_like(high, float(self.low)))


@dataclass(frozen=True)
class Geometric:
    """Geometric interpolation from ``start`` (first iteration) to ``end`` (last)."""

    start: float
    end: float

    def __call__(self, tl: Timeline) -> Tensor:
        k = len(tl)
        w = torch.linspace(0, 1, k, dtype=torch.float64) if k > 1 else torch.zeros(1, dtype=torch.float64)
        return self.start * (self.end / self.start) ** w


def step_down(high: float, low: float, t_switch: int) -> StepDown:
    """``high`` while ``t > t_switch``, else ``low`` (DDiff's a/b step policy, t_gamma = 90)."""
    return StepDown(float(high), float(low), int(t_switch))


def geometric(start: float, end: float) -> Geometric:
    """Geometric interpolation from ``start`` (first iteration) to ``end`` (last)."""
    return Geometric(float(start), float(end))

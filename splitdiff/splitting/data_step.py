"""Data steps (x-updates): pull ``v = z - u`` toward the measurement ``y``.

- ``GradientStep``: one step ``x = v - gamma_k grad_v ||y - A(v)||^2`` (paper Eq. 10), or its
  normalized form ``x = v - gamma_k g / ||g||`` per image (the authors' code).
- ``ProximalStep``: ``x = argmin 1/(2 sigma_y^2) ||y - A x||^2 + rho_k / 2 ||x - v||^2``
  (paper Eq. 3), exactly for linear operators, or by one gradient step of that objective.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..operators.base import Operator
from .timeline import Schedule, Timeline, evaluate


class DataStep:
    """Base: ``start(timeline)`` evaluates schedules; ``__call__(v, y, operator, k)`` steps."""

    def start(self, timeline: Timeline) -> None:
        pass

    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        raise NotImplementedError  # abstractmethod


class GradientStep(DataStep):
    """Linearized x-update with step ``gamma`` (constant or schedule); ``normalized`` divides
    the gradient by its norm per image, making ``gamma_k`` the step length.

    ``clamp``: clamp each element of ``g = grad ||y - A(v)||^2`` to ``[-clamp, clamp]`` first
    (DAPS's latent wrapper does this with 1.0, HEAD ``forward_operator/__init__.py:396-406``).
    """

    def __init__(self, gamma: Schedule, normalized: bool = True, clamp: float | None = None) -> None:
        if clamp is not None and not (isinstance(clamp, (int, float)) and clamp > 0):
            raise ValueError(f"clamp must be a positive number or None, got {clamp!r}")
        self.gamma = gamma
        self.normalized = normalized
        self.clamp = clamp

    def start(self, timeline: Timeline) -> None:
        self._gamma = evaluate(self.gamma, timeline, "gamma").tolist()
        if min(self._gamma) < 0:
            raise ValueError("gamma must be >= 0 at every iteration")

    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        g = 2 * operator.data_gradient(v, y)  # grad_v ||y - A(v)||^2
        if self.clamp is not None:
            g = g.clamp(-self.clamp, self.clamp)
        if self.normalized:
            norm = g.flatten(1).norm(dim=1).clamp_min(torch.finfo(g.dtype).tiny)
            g = g / norm.view(-1, *([1] * (g.dim() - 1)))
        return v - self._gamma[k] * g


class ProximalStep(DataStep):
    """Proximal x-update with weight ``rho`` (constant or schedule, > 0).

    ``mode="exact"`` calls ``operator.proximal`` (linear operators); ``"gradient"`` takes one
    gradient step of the proximal objective from v: ``x = v - grad f(v) / rho_k`` with
    ``f = 1/(2 sigma_y^2) ||y - A(.)||^2`` (DiffPIR's one-step form); ``"auto"`` picks exact
    for linear operators and gradient otherwise.
    """

    def __init__(self, rho: Schedule, mode: str = "auto") -> None:
        if mode not in ("auto", "exact", "gradient"):
            raise ValueError(f"mode must be 'auto', 'exact' or 'gradient', got {mode!r}")
        self.rho = rho
        self.mode = mode

    def start(self, timeline: Timeline) -> None:
        self._rho = evaluate(self.rho, timeline, "rho").tolist()
        if min(self._rho) <= 0:
            raise ValueError("rho must be > 0 at every iteration")

    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        mode = self.mode if self.mode != "auto" else ("exact" if operator.linear else "gradient")
        if mode == "exact":
            if not operator.linear:
                raise ValueError(f"an exact proximal step needs a linear operator; {type(operator).__name__} is not")
            return operator.proximal(v, y, self._rho[k] * operator.sigma**2)
        return v - operator.data_gradient(v, y) / (operator.sigma**2 * self._rho[k])

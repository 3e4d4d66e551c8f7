"""Data steps (x-updates): pull ``v = z - u`` toward the measurement ``y``.

- ``GradientStep``: one step ``x = v - gamma_k grad_v ||y - A(v)||^2`` (paper Eq. 10), or its
  normalized form ``x = v - gamma_k g / ||g||`` per image (the authors' code).
- ``ProximalStep``: ``x = argmin 1/(2 sigma_y^2) ||y - A x||^2 + rho_k / 2 ||x - v||^2``
  (paper Eq. 3), exactly for linear operators, or by one gradient step of that objective.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ..operators.base import Operator
from ..operators.fidelity import L2, SQUARED_ERROR
from .timeline import Schedule, Timeline, schedule_values


class DataStep(ABC):
    """Base: ``start(timeline)`` evaluates schedules; ``__call__(v, y, operator, k)`` steps."""

    def start(self, timeline: Timeline) -> None:
        """Evaluate schedules on the solve's timeline (default: nothing to do)."""

    @abstractmethod
    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        """The x-update of iteration ``k`` from ``v = z - u``."""


class GradientStep(DataStep):
    """Linearized x-update with step ``gamma`` (constant or schedule); ``normalized`` divides
    the gradient by its norm per image, making ``gamma_k`` the step length.

    ``clamp``: clamp each element of ``g = grad ||y - A(v)||^2`` to ``[-clamp, clamp]`` first
    (DAPS's latent wrapper does this with 1.0, HEAD ``forward_operator/__init__.py:396-406``).
    ``reference_numel``: the number of elements per image ``gamma`` was tuned for (DDiff's
    Appendix H: 3 x 256 x 256); the normalized step length is then ``gamma_k sqrt(D /
    reference_numel)`` for images of D elements, which keeps the step per element the same at
    any size. None: ``gamma_k`` is the length itself.

    ``tuned_iterations``: the number of iterations ``gamma`` was tuned for (Appendix H: 999, the
    authors' 1000 timesteps; a solve over ``steps`` timesteps runs ``steps - 1``). A normalized
    step of fixed length moves x by ``sum_k gamma_k`` in all, so a solve with fewer than a tenth
    of them (``tuned_iterations // 10``) under-fits the data term: it warns (``UserWarning``).
    Measured with the shipped prior at 64x64 (``python -m benchmarks.few_steps``): Gaussian
    deblurring 25.2 dB at 100 steps, 18.2 at 50, 12.9 at 25. None: no warning.

    Safe range: the plain step (``normalized=False``) on ``||y - A v||^2`` (gradient
    ``2 A^T (A v - y)``) decreases the data term for ``gamma < 1 / ||A||^2`` (1 for the blurs,
    inpainting and a downsampling with ``||A|| <= 1``); a normalized step moves ``gamma_k`` per
    iteration whatever the gradient's size.
    """

    def __init__(self, gamma: Schedule, normalized: bool = True, clamp: float | None = None,
                 reference_numel: int | None = None, tuned_iterations: int | None = None) -> None:
        if clamp is not None and not (isinstance(clamp, (int, float)) and clamp > 0):
            raise ValueError(f"clamp must be a positive number or None, got {clamp!r}")
        if reference_numel is not None:
            if not normalized:
                raise ValueError("reference_numel scales a normalized step's length: it needs normalized=True")
            if isinstance(reference_numel, bool) or not isinstance(reference_numel, int) or reference_numel < 1:
                raise ValueError(f"reference_numel must be a positive int (elements per image), got {reference_numel!r}")
        if tuned_iterations is not None and (isinstance(tuned_iterations, bool) or not isinstance(tuned_iterations, int)
                                        or tuned_iterations < 1):
            raise ValueError(f"tuned_iterations must be a positive int (iterations) or None, got {tuned_iterations!r}")
        self.gamma = gamma
        self.normalized = normalized
        self.clamp = clamp
        self.reference_numel = reference_numel
        self.tuned_iterations = tuned_iterations

    def start(self, timeline: Timeline) -> None:
        self._gamma = schedule_values(self.gamma, timeline, "gamma").tolist()
        if min(self._gamma) < 0:
            raise ValueError("gamma must be >= 0 at every iteration")
        if self.tuned_iterations is not None and len(self._gamma) < self.tuned_iterations // 10:
            warnings.warn(
                f"these step sizes were tuned for {self.tuned_iterations} iterations and this solve has "
                f"{len(self._gamma)}: fewer than {self.tuned_iterations // 10} under-fit the data term (measured, "
                "Gaussian deblurring at 64x64: 25.2 dB at 100 steps, 12.9 at 25; benchmarks.few_steps). "
                "Use more steps or pass gamma0 tuned for this many", UserWarning, stacklevel=4)

    def length(self, k: int, v: Tensor) -> float:
        """The step of iteration ``k`` for images shaped like ``v`` (N, ...)."""
        if self.reference_numel is None:
            return self._gamma[k]
        return self._gamma[k] * math.sqrt(v[0].numel() / self.reference_numel)

    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        g = SQUARED_ERROR.grad(v, y, operator)  # grad_v ||y - A(v)||^2
        if self.clamp is not None:
            g = g.clamp(-self.clamp, self.clamp)
        if self.normalized:
            norm = g.flatten(1).norm(dim=1).clamp_min(torch.finfo(g.dtype).tiny)
            g = g / norm.view(-1, *([1] * (g.dim() - 1)))
        return v - self.length(k, v) * g

    def __repr__(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value in (("clamp", self.clamp),
                        ("reference_numel", self.reference_numel), ("tuned_iterations", self.tuned_iterations))
                        if value is not None)
        return f"GradientStep(gamma={self.gamma!r}, normalized={self.normalized}{extra})"


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
        self._rho = schedule_values(self.rho, timeline, "rho").tolist()
        if min(self._rho) <= 0:
            raise ValueError("rho must be > 0 at every iteration")

    def __repr__(self) -> str:
        return f"ProximalStep(rho={self.rho!r}, mode={self.mode!r})"

    def __call__(self, v: Tensor, y: Tensor, operator: Operator, k: int) -> Tensor:
        mode = self.mode if self.mode != "auto" else ("exact" if operator.linear else "gradient")
        fidelity = L2.likelihood(operator.sigma)
        if mode == "exact":
            return fidelity.prox(v, y, operator, self._rho[k])
        return fidelity.gradient_prox(v, y, operator, self._rho[k])

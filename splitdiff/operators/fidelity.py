"""The data-fidelity term ``f(x) = weight / 2 ||A(x) - y||^2``: its value, gradient and proximal map.

Every solver's data term is this one object with its own ``weight``, so the factors 2, 1/2 and
sigma^2 are written once, here:

| user                                   | data term                          | ``L2``               |
|----------------------------------------|------------------------------------|----------------------|
| ``GradientStep`` (paper Eq. 10)        | ``||y - A v||^2``                  | ``SQUARED_ERROR``    |
| ``ProximalStep`` (paper Eq. 3)         | ``1 / (2 sigma_y^2) ||y - A x||^2`` | ``likelihood(sigma)`` |
| DAPS's Langevin step                   | ``||A(x) - y||^2 / tau^2``         | ``L2(2 / tau^2)``    |
| DPS's guidance                         | ``||y - A(x0_hat)||`` (the norm)   | ``L2().distance``    |

``operator.data_gradient`` and ``operator.proximal`` are the ``weight = 1`` forms; an operator
implements them (and may make them cheaper), ``L2`` scales them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from .base import LinearOperator, Operator


@dataclass(frozen=True)
class L2:
    """``f(x) = weight / 2 ||A(x) - y||^2`` (summed per image); ``weight`` > 0.

    ``x`` / ``v``: images (N, C, H, W); ``y``: measurements of shape ``operator.output_shape``.
    """

    weight: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) \
                or not math.isfinite(self.weight) or self.weight <= 0:
            raise ValueError(f"weight must be a finite number > 0, got {self.weight!r}")

    @classmethod
    def likelihood(cls, sigma: float) -> "L2":
        """The negative log-likelihood of ``y = A(x) + sigma n``, ``n ~ N(0, I)``: weight ``1 / sigma^2``."""
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
            raise ValueError(f"sigma must be a number > 0, got {sigma!r}")
        return cls(1.0 / sigma**2)

    def value(self, x: Tensor, y: Tensor, operator: Operator) -> Tensor:
        """``f(x)`` per image, shape (N,)."""
        return 0.5 * self.weight * self.distance(x, y, operator) ** 2

    def distance(self, x: Tensor, y: Tensor, operator: Operator) -> Tensor:
        """``||A(x) - y||`` per image, shape (N,) (differentiable in ``x``; no weight)."""
        y = operator.check_pair(x, y)
        return (operator(x) - y).flatten(1).norm(dim=1)

    def grad(self, x: Tensor, y: Tensor, operator: Operator) -> Tensor:
        """``grad f(x) = weight A'(x)^T (A(x) - y)``, shaped like ``x``."""
        return self.weight * operator.data_gradient(x, y)

    def prox(self, v: Tensor, y: Tensor, operator: Operator, rho: float | Tensor) -> Tensor:
        """``argmin_x f(x) + rho / 2 ||x - v||^2`` for a linear operator (exactly, by its ``proximal``).

        ``rho``: a number > 0, or a tensor of them (one per image or broadcastable to ``v``).
        """
        if not isinstance(operator, LinearOperator):
            raise ValueError(f"an exact proximal map needs a linear operator; {type(operator).__name__} is not")
        return operator.proximal(v, y, rho / self.weight)

    def gradient_prox(self, v: Tensor, y: Tensor, operator: Operator, rho: float) -> Tensor:
        """One gradient step of the proximal objective from ``v``: ``v - grad f(v) / rho``
        (DiffPIR's one-step form for operators without an exact proximal map)."""
        return v - self.grad(v, y, operator) / rho


#: ``||y - A(x)||^2``, the data term of the paper's Eq. 10 (gradient ``2 A^T (A x - y)``).
SQUARED_ERROR = L2(2.0)

"""A solver: a splitting, a prior step and an operator, run over a timeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import torch
from torch import Tensor

from ..checks import DivergenceError, check_positive_int
from ..operators.base import Operator
from ..splitting.loop import Callback, IterationState, Splitting
from ..splitting.prior_step import DirectStep, ManifoldStep, PriorStep
from ..splitting.timeline import Timeline


class BaseSolver(ABC):
    """What every solver offers: ``solve(y, x_T=None, generator=None, steps=None, callback=None)``,
    its ``prior``, ``operator``, ``steps`` and ``nfe`` (network calls per solve).

    Subclasses set ``name``, ``operator``, ``steps`` and implement ``prior``, ``nfe`` and ``solve``;
    ``start`` does the input checks they share.
    """

    name: str
    operator: Operator
    steps: int

    @property
    @abstractmethod
    def prior(self):
        """The solver's prior (a ``splitdiff.priors.Prior``)."""

    @abstractmethod
    def nfe(self, steps: int | None = None) -> int:
        """Denoiser (network) calls in one solve with ``steps`` (default: the solver's)."""

    def image_shape(self, y: Tensor, x_T: Tensor | None) -> tuple[int, ...]:
        if x_T is not None:
            return tuple(x_T.shape)
        shape = getattr(self.prior, "image_shape", None)
        if shape is not None:
            return (y.shape[0], *shape)
        return self.operator.input_shape(tuple(y.shape))

    def start(self, y: Tensor, x_T: Tensor | None, generator: torch.Generator | None,
              scale: float = 1.0, gaussian: bool = True) -> tuple[Tensor, Tensor]:
        """Check ``y`` (and ``x_T``) against the operator and the prior; draw ``x_T`` as
        ``scale * N(0, I)`` from ``generator`` (zeros when not ``gaussian``) unless given."""
        if not isinstance(y, Tensor) or y.dim() < 1:
            raise ValueError(f"measurement y must be a batched torch.Tensor, got {type(y).__name__}")
        if x_T is not None:
            self.operator.check_input(x_T)
        shape = self.image_shape(y, x_T)
        y = self.operator.check_measurement(y, shape)
        if x_T is None:
            if gaussian:
                x_T = scale * torch.randn(shape, generator=generator, device=y.device, dtype=y.dtype)
            else:
                x_T = torch.zeros(shape, device=y.device, dtype=y.dtype)
        self.prior.check_input(x_T)
        self.operator.check_input(x_T)
        return y, x_T

    @abstractmethod
    def solve(self, y: Tensor, x_T: Tensor | None = None, generator: torch.Generator | None = None,
              steps: int | None = None, callback: Callback | None = None) -> Tensor:
        """Reconstruct images (N, C, H, W) from measurements ``y``."""

    def after_iteration(self, k: int, t: int, x: Tensor, z: Tensor, x_t: Tensor, callback: Callback | None,
                        where: str) -> None:
        """Stop with ``DivergenceError`` (naming ``where``) on NaN / Inf in ``x_t``; then hand the
        iteration to ``callback`` as an ``IterationState`` with ``u = 0`` (no dual variable)."""
        if not bool(torch.isfinite(x_t).all()):
            raise DivergenceError(f"{self.name} diverged at {where}: NaN or Inf in the iterate")
        if callback is not None:
            callback(IterationState(k, t, x, z, torch.zeros_like(x), x_t))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, steps={self.steps}, operator={self.operator!r})"


class Solver(BaseSolver):
    """A composed inverse-problem solver.

    ``steps``: timesteps of the respaced diffusion schedule (the loop makes ``steps - 1``
    network calls, landing on t = 0) or, for classical priors, iterations. ``spacing``:
    'uniform' | 'ddim' | 'quad'. ``init``: 'gaussian' (x_T ~ N(0, I)) or 'zeros'.
    ``finish``: applied to the result (latent solvers decode their latent here).
    """

    def __init__(
        self,
        splitting: Splitting,
        prior_step: PriorStep,
        operator: Operator,
        steps: int,
        spacing: str = "uniform",
        init: str = "gaussian",
        name: str = "custom",
        finish: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if not isinstance(operator, Operator):
            raise ValueError(f"operator must be a splitdiff Operator, got {type(operator).__name__}")
        if init not in ("gaussian", "zeros"):
            raise ValueError(f"init must be 'gaussian' or 'zeros', got {init!r}")
        self.splitting = splitting
        self.prior_step = prior_step
        self.operator = operator
        self.steps = check_positive_int(steps, "steps")
        self.spacing = spacing
        self.init = init
        self.name = name
        self.finish = finish

    @property
    def prior(self):
        return self.prior_step.prior

    def timeline(self, steps: int | None = None) -> Timeline:
        """The iteration plan for ``steps`` (default: the solver's)."""
        steps = self.steps if steps is None else check_positive_int(steps, "steps")
        uses_schedule = isinstance(self.prior_step, ManifoldStep) or (
            isinstance(self.prior_step, DirectStep) and self.prior_step.sigma is None
        )
        if uses_schedule:
            schedule = self.prior.schedule
            return Timeline.diffusion(schedule, schedule.timesteps(steps, self.spacing))
        return Timeline.iterations(steps)

    def nfe(self, steps: int | None = None) -> int:
        """One denoiser call per iteration of the timeline."""
        return len(self.timeline(steps))

    def solve(
        self,
        y: Tensor,
        x_T: Tensor | None = None,
        generator: torch.Generator | None = None,
        steps: int | None = None,
        callback: Callback | None = None,
    ) -> Tensor:
        """Reconstruct images from measurements ``y`` (a batch, shaped as ``operator`` outputs).

        ``x_T``: explicit initial iterate (N, C, H, W); otherwise drawn from ``generator``.
        ``callback`` sees an ``IterationState`` (k, t, x, z, u, x_t) after every iteration.
        Returns (N, C, H, W); images are nominally in [-1, 1] (not clamped).
        """
        y, x_T = self.start(y, x_T, generator, gaussian=self.init == "gaussian")
        out = self.splitting.run(y, self.operator, self.prior_step, x_T, self.timeline(steps), generator, callback)
        if self.finish is not None:
            with torch.no_grad():
                out = self.finish(out)
        return out

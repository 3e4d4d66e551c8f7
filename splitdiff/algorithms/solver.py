"""A solver: a splitting, a prior step and an operator, run over a timeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import torch
from torch import Tensor

from ..validation import DivergenceError, check_positive_int
from ..operators.base import Operator
from ..splitting.loop import Callback, IterationState, Splitting
from ..splitting.noise import Noise, NoiseSource
from ..splitting.prior_step import PriorStep
from ..splitting.timeline import Timeline

#: ``init(y, shape, source, t) -> x_T``: a solver's starting iterate from the checked
#: measurement ``y``, the image shape, the solve's ``NoiseSource`` and the first timestep ``t``.
Start = Callable[[Tensor, tuple, NoiseSource, int], Tensor]


class BaseSolver(ABC):
    """What every solver offers: ``solve(y, x_T=None, generator=None, steps=None, callback=None,
    noise=None)``, ``sample(y, k, generator)`` (k samples per measurement in one batch),
    its ``prior``, ``operator``, ``steps`` and ``nfe`` (network calls per solve).

    Subclasses set ``name``, ``operator``, ``steps`` and implement ``prior``, ``nfe`` and ``solve``;
    ``initial_iterate`` does the input checks they share and makes x_T.
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

    def initial_iterate(self, y: Tensor, x_T: Tensor | None, source: NoiseSource, t: int,
              scale: float = 1.0, init: "str | Start" = "gaussian") -> tuple[Tensor, Tensor]:
        """Check ``y`` (and ``x_T``) against the operator and the prior; unless given, make
        ``x_T`` by ``init``: ``"gaussian"`` draws ``scale * N(0, I)`` from ``source`` (one draw,
        requested as ``(k, t) = (-1, t)``), ``"zeros"`` draws nothing, and a ``Start`` callable
        ``init(y, shape, source, t)`` makes its own."""
        if not isinstance(y, Tensor) or y.dim() < 1:
            raise ValueError(f"measurement y must be a batched torch.Tensor, got {type(y).__name__}")
        if x_T is not None:
            self.operator.check_input(x_T)
        shape = self.image_shape(y, x_T)
        y = self.operator.check_measurement(y, shape)
        if x_T is None:
            if callable(init):
                x_T = init(y, shape, source, t)
            elif init == "gaussian":
                x_T = scale * source.draw(-1, t, torch.empty(shape, device=y.device, dtype=y.dtype))
            else:
                x_T = torch.zeros(shape, device=y.device, dtype=y.dtype)
        self.prior.check_input(x_T)
        self.operator.check_input(x_T)
        return y, x_T

    @abstractmethod
    def solve(self, y: Tensor, x_T: Tensor | None = None, generator: torch.Generator | None = None,
              steps: int | None = None, callback: Callback | None = None, noise: Noise | None = None) -> Tensor:
        """Reconstruct images (N, C, H, W) from measurements ``y``. ``noise``: a hook replacing
        ``generator`` (see ``splitdiff.splitting.noise``); ``callback`` returning ``False`` stops."""

    def sample(self, y: Tensor, k: int, generator: torch.Generator | None = None, steps: int | None = None,
               noise: Noise | None = None, chunk: int | None = None, callback: Callback | None = None) -> Tensor:
        """``k`` samples for each measurement, drawn in one batched loop: (k, N, C, H, W).

        ``y`` (N, ...) is repeated k times into one batch of k N measurements (sample j of
        measurement i is batch row ``j N + i``) and solved once, or in solves of at most ``chunk``
        rows when memory is short (the draws then differ from one batch's, not their
        distribution). The same ``generator`` seed gives the same samples; ``callback`` sees each
        iteration of each solve (on the whole batch). The mean over the
        first dimension estimates the posterior mean (MMSE), the std the posterior spread: see
        ``splitdiff.evaluation.posterior``.
        """
        k = check_positive_int(k, "k")
        if chunk is not None:
            chunk = check_positive_int(chunk, "chunk")
        if not isinstance(y, Tensor) or y.dim() < 1:
            raise ValueError(f"measurement y must be a batched torch.Tensor, got {type(y).__name__}")
        n = y.shape[0]
        batch = y.repeat(k, *([1] * (y.dim() - 1)))
        size = k * n if chunk is None else chunk
        parts = [self.solve(batch[i:i + size], generator=generator, steps=steps, noise=noise, callback=callback)
                 for i in range(0, k * n, size)]
        out = torch.cat(parts) if len(parts) > 1 else parts[0]
        return out.reshape(k, n, *out.shape[1:])

    def after_iteration(self, k: int, t: int, x_t: Tensor, z: Tensor, x: Tensor, x_next: Tensor,
                        callback: Callback | None, where: str) -> bool:
        """Stop with ``DivergenceError`` (naming ``where``) on NaN / Inf in ``x_next``; then hand the
        iteration to ``callback`` as an ``IterationState`` with ``u = 0`` (no dual variable).
        Returns True when the callback asks to stop (returns ``False``)."""
        if not bool(torch.isfinite(x_next).all()):
            raise DivergenceError(f"{self.name} diverged at {where}: NaN or Inf in the iterate")
        if callback is None:
            return False
        zero = torch.zeros_like(x)
        return callback(IterationState(k, t, x_t, z, x, zero, zero, x_next)) is False

    def hparams(self) -> dict[str, object]:
        """The resolved hyperparameters, as readable values (recorded in evaluation rows)."""
        return {"algorithm": self.name, "steps": self.steps, "nfe": self.nfe()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, steps={self.steps}, operator={self.operator!r})"


class Solver(BaseSolver):
    """A composed inverse-problem solver.

    ``steps``: timesteps of the respaced diffusion schedule (the loop makes ``steps - 1``
    network calls, landing on t = 0) or, for classical priors, iterations. ``spacing``:
    'uniform' | 'ddim' | 'quad'. ``init``: 'gaussian' (x_T ~ N(0, I)), 'zeros', or a ``Start``
    callable (e.g. DiffPIR's measurement diffused to t = T, ``algorithms.DiffusedMeasurement``).
    ``finish``: applied to the result (latent solvers decode their latent here).
    """

    def __init__(
        self,
        splitting: Splitting,
        prior_step: PriorStep,
        operator: Operator,
        steps: int,
        spacing: str = "uniform",
        init: "str | Start" = "gaussian",
        name: str = "custom",
        finish: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if not isinstance(operator, Operator):
            raise ValueError(f"operator must be a splitdiff Operator, got {type(operator).__name__}")
        if not callable(init) and init not in ("gaussian", "zeros"):
            raise ValueError(f"init must be 'gaussian', 'zeros' or a callable init(y, shape, source, t), got {init!r}")
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

    def hparams(self) -> dict[str, object]:
        """Name, steps, spacing, start and the parts with their resolved schedules, e.g.
        ``data_step: GradientStep(gamma=StepDown(high=59.4, low=1.8, t_switch=90), ...)``."""
        init = self.init if isinstance(self.init, str) else repr(self.init)
        return {**super().hparams(), "spacing": self.spacing, "init": init,
                "splitting": "HQS" if not self.splitting.dual else f"ADMM ({self.splitting.order} order)",
                "data_step": repr(self.splitting.data_step), "prior_step": repr(self.prior_step)}

    def __repr__(self) -> str:
        parts = ", ".join(f"{key}={value}" for key, value in self.hparams().items() if key not in ("algorithm", "nfe"))
        return f"Solver({self.name!r}, {parts})"

    def timeline(self, steps: int | None = None) -> Timeline:
        """The iteration plan for ``steps`` (default: the solver's), as the prior step needs it."""
        steps = self.steps if steps is None else check_positive_int(steps, "steps")
        return self.prior_step.timeline(steps, self.spacing)

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
        noise: Noise | None = None,
    ) -> Tensor:
        """Reconstruct images from measurements ``y`` (a batch, shaped as ``operator`` outputs).

        ``x_T``: explicit initial iterate (N, C, H, W); otherwise made by ``init``.
        Draws (from ``generator``, or the ``noise(k, t, shape)`` hook instead): the start's
        (``k = -1``, t = the first timestep) unless ``x_T`` is given or ``init="zeros"``, then
        those of the prior step (``ManifoldStep``: one per iteration with ``t > t0``).
        ``callback`` sees an ``IterationState`` after every iteration; returning ``False`` stops
        the solve, which returns its current result.
        Returns (N, C, H, W); images are nominally in [-1, 1] (not clamped).
        """
        timeline = self.timeline(steps)
        source = NoiseSource(generator, noise)
        y, x_T = self.initial_iterate(y, x_T, source, int(timeline.t[0]), init=self.init)
        out = self.splitting.run(y, self.operator, self.prior_step, x_T, timeline, callback=callback,
                                 noise=source)
        if self.finish is not None:
            with torch.no_grad():
                out = self.finish(out)
        return out

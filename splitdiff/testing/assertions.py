"""Checks a user runs on their own operators and compositions. Each measures, returns what it
measured, and raises ``AssertionError`` with a message that says what failed and by how much.

    import splitdiff as sd
    from splitdiff.testing import assert_adjoint, assert_fixed_point

    assert_adjoint(MyOperator(), (1, 3, 16, 16))                # <A x, y> = <x, A^T y>
    solver = sd.algorithms.build("ddiff", prior=prior, operator=op, normalized=False, gamma=0.05, t0=100)
    report = assert_fixed_point(solver, y, torch.Generator().manual_seed(0))
    print(report.primal[-1], report.dual_increment)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..validation import DivergenceError
from ..operators.base import LinearOperator, Operator


def _randn(shape, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def adjoint_error(op: LinearOperator, image_shape: tuple[int, ...], seed: int = 0,
                  dtype: torch.dtype = torch.float64) -> float:
    """``|<A x, y> - <x, A^T y>| / (|<A x, y>| + |<x, A^T y>| + 1e-30)`` for random x, y of ``dtype``
    (float64: on a float64 copy of ``op``; float32 for operators that cannot be converted)."""
    if dtype == torch.float64:
        op = copy.deepcopy(op).double()  # the caller's operator keeps its dtype
    x = _randn(image_shape, seed, dtype)
    y = _randn(op.output_shape(tuple(image_shape)), seed + 1, dtype)
    lhs, rhs = float((op(x) * y).sum()), float((x * op.adjoint(y)).sum())
    return abs(lhs - rhs) / (abs(lhs) + abs(rhs) + 1e-30)


def assert_adjoint(op: LinearOperator, image_shape: tuple[int, ...], seed: int = 0, rtol: float = 1e-9,
                   dtype: torch.dtype = torch.float64) -> float:
    """Assert that ``op.adjoint`` is the adjoint of ``op`` on ``image_shape``; returns the relative
    error (use ``dtype=torch.float32`` and ``rtol`` about 1e-5 for float32-only operators)."""
    if not isinstance(op, LinearOperator):
        raise TypeError(f"adjointness needs a LinearOperator, got {type(op).__name__}")
    err = adjoint_error(op, image_shape, seed, dtype)
    assert err <= rtol, (f"{type(op).__name__} on {tuple(image_shape)}: <A x, y> and <x, A^T y> differ by a "
                         f"relative {err:.3g} (tolerance {rtol:g}); the adjoint is wrong")
    return err


@dataclass
class FixedPointReport:
    """What a run measured, per iteration, relative to the final ``||x||`` (worst image of the batch).

    ``primal``: ``||x_k - z_k||``; ``dual_increments``: ``||u_k - u_{k-1}||``;
    ``x_increments``: ``||x_k - x_{k-1}||``.
    """

    primal: list[float] = field(default_factory=list)
    dual_increments: list[float] = field(default_factory=list)
    x_increments: list[float] = field(default_factory=list)
    #: The final ``||x||`` (worst image) the relative values are divided by: a blow-up shows here.
    x_norm: float = float("nan")

    def __repr__(self) -> str:
        """A one-line summary: iterations, the final ``||x||`` and the last relative values."""
        if not self.primal:
            return "FixedPointReport(empty)"
        def last(values: list[float]) -> str:
            return f"{values[-1]:.3g}" if values else "-"

        return (f"FixedPointReport({len(self.primal)} iterations, final ||x|| = {self.x_norm:.3g}; relative to it: "
                f"||x - z|| {self.primal[0]:.3g} -> {last(self.primal)} (max {max(self.primal):.3g}), "
                f"last dual increment {last(self.dual_increments)}, last x increment {last(self.x_increments)})")

    @property
    def dual_increment(self) -> float:
        """Largest dual increment over the last 10 iterations."""
        return max(self.dual_increments[-10:])

    def increment_ratio(self, lag: int = 90) -> float:
        """Largest of the last 10 x increments over the largest of the 10 taken ``lag`` iterations earlier."""
        late = max(self.x_increments[-10:])
        earlier = max(self.x_increments[-10 - lag:-lag] or [float("inf")])
        return late / earlier if earlier > 0 else float("inf")


def fixed_point(solver, y: Tensor, generator: torch.Generator | None = None) -> FixedPointReport:
    """Run ``solver`` on ``y`` and measure the Theorem 1 quantities (see ``FixedPointReport``)."""
    states = []
    solver.solve(y, generator=generator, callback=lambda s: states.append((s.x.clone(), s.z.clone(), s.u.clone())))
    if len(states) < 2:
        raise ValueError("a fixed-point check needs at least 2 iterations")
    scale = states[-1][0].flatten(1).norm(dim=1).clamp_min(1e-12)

    def rel(v: Tensor) -> float:
        return float((v.flatten(1).norm(dim=1) / scale).max())

    report = FixedPointReport(x_norm=float(states[-1][0].flatten(1).norm(dim=1).max()))
    for k, (x, z, u) in enumerate(states):
        report.primal.append(rel(x - z))
        if k:
            report.dual_increments.append(rel(u - states[k - 1][2]))
            report.x_increments.append(rel(x - states[k - 1][0]))
    return report


def assert_fixed_point(solver, y: Tensor, generator: torch.Generator | None = None, primal_tol: float = 1e-2,
                       decay: float = 0.1, dual_tol: float = 1e-2, increment_tol: float = 5e-2,
                       shrink: float = 0.5) -> FixedPointReport:
    """Assert Theorem 1's convergence on a finite schedule, and return the report:

    - the final ``||x - z||`` is <= ``primal_tol`` and <= ``decay`` times its largest value;
    - the dual increments of the last 10 iterations are <= ``dual_tol``;
    - the last 10 x increments are <= ``increment_tol`` and <= ``shrink`` times those 90
      iterations earlier (Cauchy: small and shrinking).

    All relative to the final ``||x||``. The theorem assumes a bounded denoiser and bounded
    gradient steps (e.g. a plain step gamma <= 0.12 with ||A|| <= 1, noise off for t <= t0).
    """
    try:
        r = fixed_point(solver, y, generator)
    except DivergenceError as err:
        raise AssertionError(f"no fixed point: the iterates diverged ({err})") from None
    problems = []
    if r.primal[-1] > primal_tol or r.primal[-1] > decay * max(r.primal):
        problems.append(f"final ||x - z|| = {r.primal[-1]:.3g} (tolerance {primal_tol:g}, and <= {decay:g} x its "
                        f"largest value {max(r.primal):.3g})")
    if r.dual_increment > dual_tol:
        problems.append(f"dual increments {r.dual_increment:.3g} over the last 10 iterations (tolerance {dual_tol:g})")
    late = max(r.x_increments[-10:])
    if late > increment_tol or (len(r.x_increments) > 100 and r.increment_ratio() > shrink):
        problems.append(f"x increments {late:.3g} (tolerance {increment_tol:g}), {r.increment_ratio():.3g} x those "
                        f"90 iterations earlier (tolerance {shrink:g})")
    assert not problems, "no fixed point: " + "; ".join(problems)
    return r


def assert_measurement_consistency(solver, x: Tensor, operator: Operator | None = None, seed: int = 0,
                                   factor: float = 3.0) -> float:
    """Measure ``x``, solve, and assert that the residual ``mean((y - A(x_hat))^2)`` is at most
    ``factor`` times the noise floor ``sigma_y^2``; returns the residual over the floor."""
    op = operator or solver.operator
    g = torch.Generator(x.device).manual_seed(seed)
    y = op.measure(x, generator=g)
    x_hat = solver.solve(y, generator=g)
    with torch.no_grad():
        ratio = float(((y - op(x_hat)) ** 2).mean() / op.sigma**2)
    assert ratio <= factor, (f"residual mean((y - A(x_hat))^2) is {ratio:.3g} x sigma_y^2 (tolerance {factor:g} x): "
                             "the solution does not explain the measurement")
    return ratio


def assert_deterministic(solver, y: Tensor, seed: int = 0) -> Tensor:
    """Assert that two solves with generators seeded alike agree exactly; returns the solution."""
    device = y.device
    a = solver.solve(y, generator=torch.Generator(device).manual_seed(seed))
    b = solver.solve(y, generator=torch.Generator(device).manual_seed(seed))
    diff = float((a - b).abs().max())
    assert diff == 0.0, f"two solves with the same seed differ by up to {diff:.3g}: the solver draws unseeded noise"
    return a

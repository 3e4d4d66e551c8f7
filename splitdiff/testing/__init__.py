"""Testing toolkit for compositions built on splitdiff: hypothesis strategies (``strategies``)
and checks (adjointness, Theorem 1 fixed-point convergence, measurement consistency,
determinism). Needs ``hypothesis`` (``pip install splitdiff[test]``).

A 1000-step solve takes about a second on a tiny problem, so a property over whole solves
needs its own settings: ``deadline=None`` (a solve is slower than hypothesis's 200 ms),
``max_examples`` of 5-25 in the default run (a slow-marked variant can draw hundreds), and,
while iterating, no ``Phase.shrink``: shrinking a failure of a 200-step property replays it
dozens of times (about a minute); the falsifying example's parameters are printed either way
(the analytic priors' ``repr`` rebuilds them).

A user's property test in a few lines::

    import torch
    from hypothesis import Phase, given, settings, strategies as st
    import splitdiff as sd
    from splitdiff.testing import assert_adjoint, assert_fixed_point, strategies as sds

    @given(sds.linear_operators())
    def test_adjoint(case):
        op, shape, seed = case
        assert_adjoint(op, shape, seed)

    @settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(sds.analytic_priors(), sds.linear_operators(kinds=("random_inpainting",), max_side=4),
           st.floats(0.02, 0.12))
    def test_my_solver_converges(prior, case, gamma):
        op, _, seed = case
        g = torch.Generator().manual_seed(seed)
        y = op.measure(prior.sample(2, g), generator=g)
        solver = sd.algorithms.build("ddiff", prior=prior, operator=op, normalized=False, gamma=gamma,
                                     t0=100, clip=False)
        assert_fixed_point(solver, y, g)
"""

try:
    import hypothesis  # noqa: F401
except ImportError as err:  # pragma: no cover - the test extra installs it
    raise ImportError("splitdiff.testing needs hypothesis: pip install 'splitdiff[test]' (or hypothesis)") from err

from . import strategies
from .assertions import (
    FixedPointReport, adjoint_error, assert_adjoint, assert_deterministic, assert_fixed_point,
    assert_measurement_consistency, fixed_point,
)

__all__ = [
    "strategies", "FixedPointReport", "adjoint_error", "assert_adjoint", "assert_deterministic",
    "assert_fixed_point", "assert_measurement_consistency", "fixed_point",
]

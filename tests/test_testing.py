"""splitdiff.testing: its checks pass on correct compositions and fail, with a message, on broken ones."""

from __future__ import annotations

import pytest
import torch
from analytic import mixture_prior, small_operator

import splitdiff as sd
import splitdiff.testing as sdt
from hypothesis import given
from splitdiff.testing import strategies as sds
from splitdiff.algorithms.solver import BaseSolver


def _case(gamma: float, seed: int = 3, kind: str = "random_inpainting"):
    prior = mixture_prior(seed, 2)
    op = small_operator(kind, 0.05, seed)
    g = torch.Generator().manual_seed(seed)
    y = op.measure(prior.sample(2, g), generator=g)
    solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=1000, normalized=False, gamma=gamma,
                                 t0=100, clip=False)
    return solver, y, g


def test_fixed_point_check_reports_what_it_measured():
    solver, y, g = _case(gamma=0.05)
    report = sdt.assert_fixed_point(solver, y, g)
    assert len(report.primal) == 999 and report.primal[-1] <= 1e-2 and report.dual_increment <= 1e-2


def test_fixed_point_check_fails_outside_the_theorem():
    """A plain step of 0.3 on a blur leaves the bounded-step assumption: the iterates wander
    (final ||x - z|| 6.1 of ||x||, measured) where 0.2 settles to 2.6e-5."""
    solver, y, g = _case(gamma=0.3, seed=0, kind="gaussian_blur")
    with pytest.raises(AssertionError, match="no fixed point"):
        sdt.assert_fixed_point(solver, y, g)


def test_measurement_consistency_check():
    prior = mixture_prior(0, 2)
    op = small_operator("super_resolution", 0.05, 0)
    x = prior.sample(2, torch.Generator().manual_seed(0))
    good = sd.algorithms.build("ddiff", prior=prior, operator=op, gamma0=1.0, clip=False)
    assert sdt.assert_measurement_consistency(good, x) <= 3
    ignores_data = sd.algorithms.build("ddiff", prior=prior, operator=op, gamma0=1e-9, clip=False, steps=50)
    with pytest.raises(AssertionError, match="does not explain the measurement"):
        sdt.assert_measurement_consistency(ignores_data, x)


def test_determinism_check_catches_unseeded_noise():
    prior = sd.priors.build("random_network")
    op = sd.operators.build("hdr")
    y = op.measure(torch.zeros(1, 3, 8, 8))
    sdt.assert_deterministic(sd.algorithms.build("ddiff", prior=prior, operator=op, steps=3), y)

    network = prior

    class Unseeded(BaseSolver):
        name, operator, steps = "unseeded", op, 1
        prior = network

        def nfe(self, steps=None):
            return 0

        def solve(self, y, x_T=None, generator=None, steps=None, callback=None):
            return torch.randn(1, 3, 8, 8)  # ignores the generator

    with pytest.raises(AssertionError, match="unseeded noise"):
        sdt.assert_deterministic(Unseeded(), y)


def test_the_module_docstring_example_runs():
    code = sdt.__doc__.split("::\n", 1)[1]
    code = "\n".join(line[4:] for line in code.splitlines())
    namespace: dict = {}
    exec(compile(code, "splitdiff.testing docstring", "exec"), namespace)
    namespace["test_adjoint"]()
    namespace["test_my_solver_converges"]()


def test_fixed_point_report_repr_is_a_short_summary_with_the_absolute_norm():
    from splitdiff.testing.assertions import FixedPointReport

    report = FixedPointReport([0.5] + [0.01] * 500, [0.2] * 500, [0.3] * 500, x_norm=3e8)
    text = repr(report)
    assert len(text) < 250 and "501 iterations" in text and "final ||x|| = 3e+08" in text


@given(sds.analytic_priors(image_shape=(1, 2, 3)))
def test_analytic_prior_repr_rebuilds_the_prior(prior):
    """A falsifying example prints a prior that can be pasted back: eval(repr(p)) is p."""
    from splitdiff.priors import GaussianMixturePrior, GaussianPrior

    again = eval(repr(prior), {"GaussianMixturePrior": GaussianMixturePrior, "GaussianPrior": GaussianPrior})
    assert type(again) is type(prior)
    for name in ("log_weights", "means", "evals"):
        assert torch.equal(getattr(again, name), getattr(prior, name))
    assert torch.allclose(again.covariance(), prior.covariance(), rtol=0, atol=1e-15)


def test_a_large_prior_repr_shows_shapes():
    from splitdiff.priors import GaussianPrior

    d = 3 * 8 * 8
    text = repr(GaussianPrior(torch.zeros(d), torch.eye(d), (3, 8, 8)))
    assert text == "GaussianPrior(mean=<(192,) tensor>, covariance=<(192, 192) tensor>, image_shape=(3, 8, 8))"


def test_strategies_namespace_holds_strategies_only():
    public = [name for name in dir(sds) if not name.startswith("_")]
    assert sorted(sds.__all__) == sorted(n for n in public if n not in ("annotations", "math", "st", "torch"))
    assert not any(isinstance(getattr(sds, n), type) for n in public), "strategies re-exports a class"

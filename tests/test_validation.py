"""Bad input fails early with a ValueError that says what was wrong and what is expected."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff import DivergenceError


@pytest.fixture(scope="module")
def network():
    return sd.priors.build("random_network")


def _solver(network, operator="gaussian_blur", **kw):
    return sd.algorithms.build("ddiff", prior=network, operator=sd.operators.build(operator, **kw), steps=4)


def test_wrong_rank(network):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        sd.operators.build("hdr").measure(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="4 dimensions"):
        _solver(network, "hdr").solve(torch.zeros(1, 3, 8, 8), x_T=torch.zeros(3, 8, 8))


def test_wrong_channel_count(network):
    y = torch.zeros(1, 1, 32, 32)
    with pytest.raises(ValueError, match="3 channels"):
        _solver(network).solve(y)


def test_non_finite_measurement(network):
    y = torch.zeros(1, 3, 32, 32)
    y[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        _solver(network).solve(y)
    with pytest.raises(ValueError, match="NaN or Inf"):
        sd.operators.build("hdr").measure(torch.full((1, 3, 4, 4), float("inf")))


def test_operator_image_size_mismatch(network):
    solver = _solver(network, "super_resolution")
    with pytest.raises(ValueError, match=r"maps images of shape \(1, 3, 32, 32\) to \(1, 3, 8, 8\)"):
        solver.solve(torch.zeros(1, 3, 16, 16), x_T=torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="needs images larger than"):
        sd.operators.build("motion_blur").check_input(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="reflection padding"):
        sd.operators.build("gaussian_blur")(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="does not fit"):
        sd.operators.build("box_inpainting", box=12, margin=4).check_input(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="multiples of 2"):
        _solver(network, "hdr").solve(torch.zeros(1, 3, 9, 9))


@pytest.mark.parametrize("value", [0.0, -0.1, float("nan"), float("inf")])
def test_non_positive_noise_levels(value):
    with pytest.raises(ValueError, match="sigma"):
        sd.operators.build("super_resolution", sigma=value)
    with pytest.raises(ValueError, match="sigma"):
        sd.priors.build("tv").denoise(torch.zeros(1, 1, 4, 4), value)


def test_bad_steps_and_schedules(network):
    with pytest.raises(ValueError, match="steps"):
        _solver(network).solve(torch.zeros(1, 3, 32, 32), steps=0)
    with pytest.raises(ValueError, match="steps must be <= 1000"):
        _solver(network).solve(torch.zeros(1, 3, 32, 32), steps=5000)
    with pytest.raises(ValueError, match="one per iteration"):
        sd.algorithms.build("ddiff", prior=network, operator="hdr", gamma=lambda tl: torch.ones(3)).solve(
            torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="zeta"):
        sd.algorithms.build("diffpir", prior=network, operator="hdr", zeta=1.5)


def test_unknown_task_needs_explicit_values(network):
    op = sd.operators.Blur(torch.ones(3, 3) / 9)
    with pytest.raises(ValueError, match=r"no paper defaults for task None \(Blur\); pass gamma0=\.\.\., t0=\.\.\., "
                                         r"full_renoise_step=\.\.\., or task="):
        sd.algorithms.build("ddiff", prior=network, operator=op)
    solver = sd.algorithms.build("ddiff", prior=network, operator=op, gamma0=1.0, t0=10, full_renoise_step=False)
    assert torch.isfinite(solver.solve(torch.zeros(1, 3, 8, 8), steps=4)).all()


def test_wrong_component_types(network):
    with pytest.raises(ValueError, match="DiffusionPrior"):
        sd.algorithms.build("ddiff", prior=sd.priors.build("tv"), operator="hdr")
    with pytest.raises(ValueError, match="sigma schedule"):
        sd.algorithms.build("diff-pnp-admm", prior=sd.priors.build("wiener"), operator="hdr")
    with pytest.raises(ValueError, match="Operator"):
        sd.algorithms.build("ddiff", prior=network, operator=object())
    with pytest.raises(ValueError, match="linear operator"):
        sd.algorithms.build("pnp-admm", prior="tv", operator="hdr", mode="exact").solve(torch.zeros(1, 3, 8, 8))


def test_divergence_names_the_step(network):
    """An iterate that turns NaN/Inf stops the run with the iteration and timestep."""

    class Exploding(sd.priors.EpsNetworkPrior):
        def eps(self, x_t, t):
            out = super().eps(x_t, t)
            return out * float("inf") if int(torch.as_tensor(t).flatten()[0]) < 500 else out

    prior = Exploding(network.net, channels=3, multiple=2)
    solver = sd.algorithms.build("ddiff", prior=prior, operator="hdr", steps=5)
    with pytest.raises(DivergenceError, match=r"iteration 2 \(timestep 500\)|iteration 3 \(timestep 250\)"):
        solver.solve(torch.zeros(1, 3, 8, 8), generator=torch.Generator().manual_seed(0))

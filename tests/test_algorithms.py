"""Registered compositions: every algorithm x operator runs; DDiff is the authors' loop; the
Table 2 / Sec. 3.4 relations hold."""

from __future__ import annotations

import math

import warnings

import pytest
import torch

import authors
import splitdiff as sd
from splitdiff.splitting import IterationState

#: Every registered operator, with the options that make a small 32x32 case; the exclusions are
#: asserted below and each is covered elsewhere.
OPERATORS = {
    "super_resolution": {},
    "gaussian_blur": {"kernel_size": 9, "std": 2.0},
    "motion_blur": {"kernel_size": 9},
    "blur": {"kernel": torch.ones(5, 5) / 25},
    "inpainting": {},
    "box_inpainting": {},
    "random_inpainting": {},
    "phase_retrieval": {},
    "hdr": {},
}
EXCLUDED_OPERATORS = {
    "nonlinear_blur": "needs bkse weights: tests/test_nonlinear_blur.py",
    "deepinv": "needs a deepinv physics object: tests/test_deepinv_adapter.py",
}
DIFFUSION_ALGORITHMS = ["ddiff", "ddiff-hqs", "diff-pnp-admm", "diff-pnp-hqs", "diffpir", "dps", "daps"]
CLASSICAL_ALGORITHMS = ["pnp-admm", "pnp-hqs"]
EXCLUDED_ALGORITHMS = {"latent-ddiff": "needs a latent diffusion prior: tests/test_latent.py"}
SMALL = {"daps": dict(steps=2, ode_steps=1, langevin_steps=2)}


@pytest.fixture(scope="module")
def network():
    return sd.priors.build("random_network")


def test_the_matrix_covers_every_registered_name():
    assert set(sd.operators.names()) == set(OPERATORS) | set(EXCLUDED_OPERATORS)
    assert set(sd.algorithms.names()) == set(DIFFUSION_ALGORITHMS + CLASSICAL_ALGORITHMS) | set(EXCLUDED_ALGORITHMS)


@pytest.mark.parametrize("operator", list(OPERATORS))
@pytest.mark.parametrize("algorithm", DIFFUSION_ALGORITHMS + CLASSICAL_ALGORITHMS)
def test_every_algorithm_runs_on_every_operator(algorithm, operator, network, device):
    op = sd.operators.build(operator, **OPERATORS[operator]).to(device)
    prior = sd.priors.build("tv", iterations=20) if algorithm in CLASSICAL_ALGORITHMS else network.to(device)
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device) * 2 - 1
    y = op.measure(x, generator=torch.Generator(device).manual_seed(1))
    borrow = {"task": "gaussian_blur"} if op.task is None and algorithm not in CLASSICAL_ALGORITHMS else {}
    solver = sd.algorithms.build(algorithm, prior=prior, operator=op, **SMALL.get(algorithm, dict(steps=6)), **borrow)
    seen = []
    out = solver.solve(y, generator=torch.Generator(device).manual_seed(2), callback=lambda s: seen.append(s.k))
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert torch.isfinite(out).all()
    assert len(seen) == (solver.nfe() if algorithm != "daps" else solver.steps)


@pytest.mark.parametrize("task,operator", [
    ("super_resolution", sd.operators.SuperResolution(scale=4)),
    ("gaussian_blur", sd.operators.GaussianBlur(kernel_size=5, std=1.0)),
])
def test_ddiff_is_the_authors_loop(task, operator, device):
    """Same prior, operator, x_T and noise stream (fed through the noise hook): splitdiff's
    ddiff returns the output of the authors' loop (tests/authors.py::ddiff_loop), on the CPU
    and on a GPU."""
    prior = sd.priors.build("random_network").double().to(device)
    op = operator.double().to(device)
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(device) * 2 - 1
    y = op.measure(x, generator=torch.Generator(device).manual_seed(1))
    x_T = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64).to(device)
    d = sd.algorithms.ddiff_defaults(task)
    # one per step with t > t0 (Algorithm 1, line 8)
    draws = [draw.to(device) for draw in _stream(999 - d.t0, (1, 3, 8, 8), 3)]
    ref = authors.ddiff_loop(prior, op, y, x_T, d.gamma0, d.t0, d.full_renoise, authors.recorded(draws))
    seen = []
    # at 8x8 the default step would be scaled to the image (8/256 of Appendix H's): pass the
    # authors' value itself; test_ddiff_defaults_at_256_are_the_authors_values covers 256x256
    ours = sd.algorithms.build("ddiff", prior=prior, operator=op, gamma0=d.gamma0).solve(
        y, x_T=x_T, noise=_hook(draws, seen))
    assert seen == [(k, 999 - k) for k in range(999 - d.t0)]  # asked after step k, at its timestep
    # float64: the two loops order their multiplications differently, and the first steps
    # amplify those last-bit differences by 1/sqrt(alpha_bar_999) ~ 158 each (measured
    # 1.3e-7 (SR) and 1.3e-6 (blur) at the end); any algorithmic difference is >= 1e-2.
    assert torch.allclose(ours, ref, rtol=0, atol=1e-5)


def test_generator_and_noise_hook_give_the_same_draws(network):
    """The default source is torch.randn on the generator: a hook replaying those draws (start
    first, then one per step) gives the same result."""
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    y = op.measure(torch.zeros(1, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    solver = sd.algorithms.build("ddiff", prior=network, operator=op, steps=20, t0=0)
    a = solver.solve(y, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    b = solver.solve(y, noise=lambda k, t, shape: torch.randn(shape, generator=g))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="either generator= or noise="):
        solver.solve(y, generator=torch.Generator(), noise=lambda k, t, shape: torch.zeros(shape))
    with pytest.raises(ValueError, match=r"shape \(1, 3, 16, 16\)"):
        solver.solve(y, noise=lambda k, t, shape: torch.zeros(2, 2))


def _stream(count: int, shape: tuple, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(count)]


def _hook(draws: list[torch.Tensor], seen: list | None = None):
    """A noise hook handing out ``draws`` in order (recording the (k, t) it was asked for)."""
    stream = iter(draws)

    def noise(k, t, shape):
        if seen is not None:
            seen.append((k, t))
        return next(stream)

    return noise


def test_dual_is_minus_the_last_step():
    """With one normalized gradient step, u after step t equals -(gamma0 lam_t g/||g||): ||u|| = gamma0 lam_t."""
    prior = sd.priors.build("random_network")
    op = sd.operators.build("super_resolution", scale=2)
    y = op.measure(torch.zeros(2, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    norms, lams = [], []
    solver = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=200, gamma0=2.0)
    timeline = solver.timeline()
    solver.solve(y, generator=torch.Generator().manual_seed(1), callback=lambda s: norms.append(s.u.flatten(1).norm(dim=1)))
    lams = torch.where(timeline.t > 90, 3.3, 0.1) * 2.0
    for n, lam in zip(norms, lams.tolist()):
        assert torch.allclose(n, torch.full_like(n, lam), rtol=1e-4)


@pytest.mark.parametrize("mode,lam,zeta,seed", [
    ("exact", 7.0, 0.3, 0), ("exact", 1.0, 1.0, 1), ("gradient", 7.0, 0.5, 0), ("gradient", 2.0, 1.0, 1),
])
def test_diffpir_is_the_authors_loop(mode, lam, zeta, seed):
    """splitdiff's diffpir (quad timesteps, rho with the [0, 1]-scale noise std, start from y
    diffused to t = 999) is the authors' deblurring loop transcribed in tests/authors.py
    (main_ddpir_deblur.py:206-347, main_ddpir.py:421-427), fed the same noise stream."""
    prior = sd.priors.build("random_network").double()
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    g = torch.Generator().manual_seed(seed)
    y = op.measure(torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1, generator=g)
    draws = _stream(100, (2, 3, 8, 8), seed + 10)
    ref = authors.diffpir_loop(prior, op, y, lam, zeta, authors.DIFFPIR_QUAD_100, authors.recorded(draws), mode)
    seen, states = [], []
    solver = sd.algorithms.build("diffpir", prior=prior, operator=op, lam=lam, zeta=zeta, mode=mode)
    out = solver.solve(y, noise=_hook(draws, seen), callback=states.append)
    assert solver.nfe() == 99 and len(seen) == 100  # the authors' 100th call (t = 0) is discarded
    assert seen[0] == (-1, 999) and [t for _, t in seen[1:]] == authors.DIFFPIR_QUAD_100[:-1]
    start = authors.diffpir_start(prior, op, y, 999, authors.recorded(draws[:1]))
    assert torch.allclose(states[0].x_t, start, rtol=0, atol=1e-12)
    # Measured: 1e-13 (exact) and 2e-11 (gradient). The old rho (4x) differs by ~1, the
    # reversed 'quad' order by 1.7-49, a Gaussian start by 3e-7 (exact) to 1e-5 (gradient).
    assert torch.allclose(out, ref, rtol=0, atol=1e-8)


@pytest.mark.parametrize("lam,zeta", [(7.0, 0.5), (2.0, 1.0), (4.0, 0.6)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ddiff_without_dual_is_diffpir(lam, zeta, seed):
    """Sec. 3.4: DDiff with the dual update removed, sigma_t = sqrt(zeta (1 - a_prev)) and
    gamma_t = sigma_bar_t^2 / (2 lam sigma_n^2) (one plain gradient step; sigma_n DiffPIR's
    [0, 1]-scale noise std, half splitdiff's sigma) is DiffPIR, i.e. the authors' loop."""
    prior = sd.priors.build("random_network").double()
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    g = torch.Generator().manual_seed(seed)
    y = op.measure(torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64) * 2 - 1, generator=g)
    x_T = torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64)
    draws = _stream(99, (2, 3, 8, 8), seed + 20)
    ref = authors.diffpir_loop(prior, op, y, lam, zeta, authors.DIFFPIR_QUAD_100, authors.recorded(draws),
                               "gradient", x_T=x_T)
    sigma_n = op.sigma / 2
    no_dual = sd.algorithms.build(
        "ddiff", prior=prior, operator=op, dual=False, normalized=False, t0=0, steps=100, spacing="quad",
        gamma=lambda tl: tl.sigma_bar**2 / (2 * lam * sigma_n**2),
        renoise=lambda tl: torch.sqrt(zeta * (1 - tl.alpha_bar_prev)),
    )
    out = no_dual.solve(y, x_T=x_T, noise=_hook(draws))
    # DiffPIR's first data steps have length sigma_bar^2 / (2 lam sigma_n^2) ~ 1e6 and
    # amplify last-bit differences of arithmetic order. Small zeta makes trajectories chaotic
    # (0.3: one seed in 8 reached 1e-4; 0.05: 1-ulp changes of x_T move the output by 4e-3),
    # so we avoid it. A wrong gamma_t or sigma_t changes the output by >= 1e-2.
    assert torch.allclose(out, ref, rtol=0, atol=1e-6)


def test_table2_variants_differ_only_in_composition(network):
    """ddiff / diff-pnp-admm share the data step; the HQS variants drop the dual update."""
    op = sd.operators.build("gaussian_blur")
    solvers = {n: sd.algorithms.build(n, prior=network, operator=op) for n in DIFFUSION_ALGORITHMS[:4]}
    assert solvers["ddiff"].splitting.dual and solvers["diff-pnp-admm"].splitting.dual
    assert not solvers["ddiff-hqs"].splitting.dual and not solvers["diff-pnp-hqs"].splitting.dual
    assert type(solvers["ddiff"].prior_step) is sd.splitting.ManifoldStep
    assert type(solvers["diff-pnp-admm"].prior_step) is sd.splitting.DirectStep
    tl = solvers["ddiff"].timeline()
    for name in ("ddiff", "diff-pnp-admm", "diff-pnp-hqs"):
        step = solvers[name].splitting.data_step
        step.start(tl)
        assert step._gamma == solvers["ddiff"].splitting.data_step._gamma


def test_appendix_h_defaults_are_used_and_overridable(network):
    op = sd.operators.build("motion_blur")
    solver = sd.algorithms.build("ddiff", prior=network, operator=op, dataset="imagenet")
    assert solver.prior_step.t0 == 80
    step = solver.splitting.data_step
    step.start(solver.timeline())
    assert step._gamma[0] == pytest.approx(1.5 * 3.3) and step._gamma[-1] == pytest.approx(1.5 * 0.1)
    solver = sd.algorithms.build("ddiff", prior=network, operator=op, gamma0=5.0, t0=3)
    solver.splitting.data_step.start(solver.timeline())
    assert solver.prior_step.t0 == 3 and solver.splitting.data_step._gamma[0] == pytest.approx(16.5)
    assert sd.algorithms.ddiff_defaults("hdr", "imagenet").t0 == 100


def test_solver_is_reproducible_and_uses_x_T(network):
    op = sd.operators.build("random_inpainting")
    y = op.measure(torch.zeros(1, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    solver = sd.algorithms.build("ddiff", prior=network, operator=op, steps=20)
    a = solver.solve(y, generator=torch.Generator().manual_seed(1))
    b = solver.solve(y, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(1)  # the solver draws x_T first, then the noise
    x_T = torch.randn(1, 3, 16, 16, generator=g)
    assert torch.equal(solver.solve(y, x_T=x_T, generator=g), a)


def test_no_autograd_graph_through_the_network(network):
    calls = []

    class Spy(sd.priors.EpsNetworkPrior):
        def eps(self, x_t, t):
            calls.append((torch.is_grad_enabled(), x_t.requires_grad))
            return super().eps(x_t, t)

    prior = Spy(network.net, channels=3, multiple=2)
    op = sd.operators.build("phase_retrieval")
    y = op.measure(torch.zeros(1, 3, 16, 16), generator=torch.Generator().manual_seed(0))
    out = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=10).solve(y)
    assert calls and not any(grad or req for grad, req in calls)
    assert not out.requires_grad


def test_callback_sees_the_state(network):
    op = sd.operators.build("hdr")
    y = op.measure(torch.zeros(1, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    states: list[IterationState] = []
    sd.algorithms.build("ddiff", prior=network, operator=op, steps=5).solve(y, callback=states.append)
    assert [s.t for s in states] == [999, 749, 500, 250]  # 5 respaced timesteps, 4 transitions
    assert all(s.x.shape == s.z.shape == s.u.shape == s.x_t.shape == (1, 3, 8, 8) for s in states)
    for before, after in zip(states, states[1:]):  # one iteration's outputs are the next one's inputs
        assert torch.equal(after.x_t, before.x_next) and torch.equal(after.u_in, before.u)
    first = states[0]
    assert torch.equal(first.u_in, torch.zeros_like(first.u))
    assert torch.equal(first.u, first.x - first.z)  # Algorithm 1: u += x - z after the data step


@pytest.mark.parametrize("name", ["ddiff", "diffpir", "diff-pnp-admm", "dps", "daps"])
def test_a_callback_returning_false_stops_with_the_current_state(name, network):
    """A callback returning False ends the solve after that iteration; the result is the one a
    solve of that many iterations would give (for a Solver: its prior step's output)."""
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    y = op.measure(torch.zeros(1, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    options = {"daps": dict(steps=6, langevin_steps=2, ode_steps=1)}.get(name, dict(steps=6))
    solver = sd.algorithms.build(name, prior=network, operator=op, **options)
    states: list[IterationState] = []

    def stop_after_two(state):
        states.append(state)
        return state.k < 2

    out = solver.solve(y, generator=torch.Generator().manual_seed(1), callback=stop_after_two)
    assert [s.k for s in states] == [0, 1, 2]
    last = states[-1]
    expected = last.x if name == "diff-pnp-admm" else last.x_next
    assert torch.equal(out, expected)


def _residual_sum_holds(states) -> bool:
    """Standard ADMM: u entering iteration k is the sum over j < k of (x_j - z_{j+1})."""
    total = torch.zeros_like(states[0].u)
    for before, after in zip(states, states[1:]):
        total = total + before.x - after.z
        if not torch.allclose(after.u, total, rtol=0, atol=1e-9):
            return False
    return True


def test_diff_pnp_admm_dual_accumulates_the_residuals():
    """Sec. 3.1: Diff-PnP-ADMM is standard ADMM (x-update, z = D(x + u), u += x - z with the new
    z), so u is the running sum of residuals; in Algorithm 1's order (the old one), with one
    gradient step, u would only be minus the last step."""
    prior = sd.priors.build("random_network").double()
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    y = op.measure(torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1,
                   generator=torch.Generator().manual_seed(1))
    states: list[IterationState] = []
    solver = sd.algorithms.build("diff-pnp-admm", prior=prior, operator=op, steps=30)
    solver.solve(y, generator=torch.Generator().manual_seed(2), callback=states.append)
    assert solver.splitting.order == "admm" and _residual_sum_holds(states)
    alg1: list[IterationState] = []
    sd.algorithms.build("diff-pnp-admm", prior=prior, operator=op, steps=30, order="algorithm1").solve(
        y, generator=torch.Generator().manual_seed(2), callback=alg1.append)
    assert not _residual_sum_holds(alg1)


def test_diff_pnp_admm_is_standard_admm():
    """Against the paper's standard ADMM transcribed in tests/authors.py::standard_admm_loop."""
    prior = sd.priors.build("random_network").double()
    op = sd.operators.SuperResolution(scale=2).double()
    y = op.measure(torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1,
                   generator=torch.Generator().manual_seed(1))
    x_T = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    # guided-diffusion's space_timesteps(1000, [11]): round(k * 99.9), k = 0..10 (Python rounds 499.5 to 500)
    timesteps = [999, 899, 799, 699, 599, 500, 400, 300, 200, 100, 0]
    gammas = [2.0 * 3.3 if t > 90 else 2.0 * 0.1 for t in timesteps[:-1]]  # gamma0 * (a | b), t_gamma = 90
    ref_x, ref_u = authors.standard_admm_loop(prior, op, y, x_T, timesteps, gammas)
    states: list[IterationState] = []
    solver = sd.algorithms.build("diff-pnp-admm", prior=prior, operator=op, steps=11, gamma0=2.0)
    out = solver.solve(y, x_T=x_T, callback=states.append)
    assert [s.t for s in states] == timesteps[:-1]
    # float64; Tweedie at t = 999 amplifies last-bit differences ~158x (measured 6.5e-8);
    # Algorithm 1's order instead differs by 0.89
    assert torch.allclose(out, ref_x, rtol=0, atol=1e-6)
    assert torch.allclose(states[-1].u, ref_u, rtol=0, atol=1e-6)


@pytest.mark.slow  # 27 s; the fast suite checks the 256x256 step lengths and the 8x8 loop
def test_ddiff_defaults_at_256_are_the_authors_values():
    """At 3x256x256, the default solver is the authors' loop with Appendix H's gamma0 itself
    (tests/authors.py::ddiff_loop, which knows nothing of image sizes); a diagonal Gaussian
    prior keeps the 1000 steps at this size cheap."""
    shape = (3, 256, 256)
    g = torch.Generator().manual_seed(0)
    prior = sd.priors.build("gaussian", mean=torch.zeros(3 * 256 * 256, dtype=torch.float64),
                            covariance=0.2 + 0.1 * torch.rand(3 * 256 * 256, generator=g, dtype=torch.float64),
                            image_shape=shape)
    op = sd.operators.SuperResolution(scale=4).double()
    y = op.measure(prior.sample(1, g), generator=g)
    x_T = torch.randn(1, *shape, generator=g, dtype=torch.float64)
    draws = _stream(998, (1, *shape), 4)
    ref = authors.ddiff_loop(prior, op, y, x_T, 18.0, 1, True, authors.recorded(draws))
    out = sd.algorithms.build("ddiff", prior=prior, operator=op, clip=True).solve(y, x_T=x_T, noise=_hook(draws))
    assert torch.allclose(out, ref, rtol=0, atol=1e-6)


def test_default_steps_scale_with_the_image_and_given_steps_do_not(network):
    """Appendix H's gamma0 is for 3x256x256: the default step at 3x64x64 is 18 * 64/256 = 4.5
    (written out), the README's hand-built solver; a given gamma0 / gamma is the length itself."""
    op = sd.operators.build("super_resolution", scale=4)
    prior = sd.priors.build("default")
    x = sd.demo.held_out_images(64)[1][:1]
    y = op.measure(x, generator=torch.Generator().manual_seed(0))
    readme = sd.algorithms.Solver(
        sd.splitting.LinearizedADMM(gamma=sd.splitting.step_down(4.5 * 3.3, 4.5 * 0.1, 90)),
        sd.splitting.ManifoldStep(prior, renoise=sd.splitting.full_renoise, t0=1), op, steps=20)
    built = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=20)
    a = readme.solve(y, generator=torch.Generator().manual_seed(1))
    b = built.solve(y, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a, b, rtol=0, atol=1e-6)
    step = built.splitting.data_step
    step.start(built.timeline())
    assert step.length(0, torch.zeros(1, 3, 256, 256)) == pytest.approx(18 * 3.3, rel=1e-12)
    assert step.length(0, torch.zeros(1, 3, 64, 64)) == pytest.approx(4.5 * 3.3, rel=1e-12)
    hqs = sd.algorithms.build("ddiff-hqs", prior=prior, operator=op, steps=20).splitting.data_step
    hqs.start(built.timeline())
    assert hqs.length(0, torch.zeros(1, 3, 64, 64)) == pytest.approx(22.5, rel=1e-12)  # 90 * 64/256
    given = sd.algorithms.build("ddiff", prior=prior, operator=op, gamma0=2.0, steps=20).splitting.data_step
    given.start(built.timeline())
    assert given.length(0, torch.zeros(1, 3, 64, 64)) == pytest.approx(2.0 * 3.3, rel=1e-12)


def test_conflicting_step_options_raise(network):
    op = sd.operators.build("super_resolution", scale=4)
    with pytest.raises(ValueError, match="gamma0 .* or a whole gamma schedule, not both"):
        sd.algorithms.build("ddiff", prior=network, operator=op, gamma0=2.0, gamma=1.0)
    with pytest.raises(ValueError, match="reference_numel .* normalized=True"):
        sd.splitting.GradientStep(1.0, normalized=False, reference_numel=100)
    with pytest.raises(ValueError, match="renoise .* or full_renoise_step, not both"):
        sd.algorithms.build("ddiff", prior=network, operator=op, renoise=sd.splitting.full_renoise,
                            full_renoise_step=True)


def test_missing_defaults_are_named_exactly(network):
    """A custom mask is no paper task; the error names exactly the settings still missing."""
    op = sd.operators.Inpainting(mask=torch.ones(8, 8))
    assert op.task is None and sd.operators.build("box_inpainting").task == "box_inpainting"
    with pytest.raises(ValueError, match=r"pass full_renoise_step=\.\.\., or task="):
        sd.algorithms.build("ddiff", prior=network, operator=op, gamma0=1.0, t0=1)
    with pytest.raises(ValueError, match=r"pass gamma0=\.\.\., or task="):
        sd.algorithms.build("diff-pnp-admm", prior=network, operator=op)
    borrowed = sd.algorithms.build("ddiff", prior=network, operator=op, task="random_inpainting")
    assert borrowed.prior_step.t0 == 1


def test_no_hand_scaled_step_sizes_remain():
    """The solver scales Appendix H's steps to the image: configs, docs and examples state no
    hand-scaled gamma0 (no per-task gamma0 literals in the shipped configs, no size arithmetic)."""
    import pathlib
    import re

    root = pathlib.Path(sd.__file__).resolve().parent.parent
    files = [*root.joinpath("splitdiff", "configs").glob("*.yaml"), root / "README.md",
             *root.joinpath("docs").rglob("*.md"), *root.joinpath("examples").glob("*.py"),
             *root.joinpath("benchmarks").glob("*.py"), root / "splitdiff" / "demo.py"]
    pattern = re.compile(r"size_scaled_gamma0|gamma0: \d|gamma: 22\.5|gamma0\s*=\s*[\d.]+\s*\*\s*\w*\.?size"
                         r"|gamma0 = \d+ \* \d+ / 256")
    offenders = [f"{f.name}: {m.group(0)}" for f in files for m in pattern.finditer(f.read_text())]
    assert not offenders, offenders


def test_a_user_prior_step_around_a_diffusion_prior_gets_the_diffusion_timeline(network):
    """The prior step says which plan it needs: a PriorStep subclass holding a DiffusionPrior
    runs on the respaced timesteps (alpha_bar < 1), not on plain iterations."""

    class Denoise(sd.splitting.PriorStep):
        def __init__(self, prior):
            self.prior = prior

        def denoise(self, x_t, k):
            return self.prior.tweedie(x_t, self.t[k]).clamp(-1, 1)

        def start(self, timeline):
            self.t = timeline.t.tolist()

        def advance(self, x_t, x, u, k, source):
            return x + u

    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    solver = sd.algorithms.Solver(sd.splitting.HQS(sd.splitting.GradientStep(0.1)), Denoise(network), op, steps=10)
    timeline = solver.timeline()
    assert timeline.t.tolist() == [999, 888, 777, 666, 555, 444, 333, 222, 111]  # guided-diffusion spacing of 10
    assert bool((timeline.alpha_bar < 1).all())
    with pytest.raises(TypeError, match="abstract"):
        type("Incomplete", (sd.splitting.PriorStep,), {"denoise": lambda self, x_t, k: x_t})()


@pytest.mark.parametrize("name", ["ddiff", "ddiff-hqs", "diff-pnp-admm", "diff-pnp-hqs", "diffpir", "pnp-admm",
                                  "pnp-hqs", "dps", "daps"])
def test_solvers_show_their_resolved_hyperparameters(name, network):
    """repr and hparams() name every resolved setting readably (no '<function ... <lambda>>')."""
    prior = sd.priors.build("tv") if name.startswith("pnp") else network
    solver = sd.algorithms.build(name, prior=prior, operator=sd.operators.build("super_resolution", scale=4))
    hparams = solver.hparams()
    assert hparams["algorithm"] == name and hparams["nfe"] == solver.nfe()
    text = repr(solver) + repr(hparams)
    assert "lambda" not in text and "<function" not in text, text
    if name == "ddiff":
        assert "StepDown(high=59.4, low=1.8, t_switch=90)" in hparams["data_step"]  # 18 x (3.3 | 0.1)
        assert "FullRenoise()" in hparams["prior_step"] and "t0=1" in hparams["prior_step"]
    if name == "diffpir":
        assert "DiffPIRRho(lam=6.0, sigma=0.05)" in hparams["data_step"] and "ZetaSigma(zeta=0.25)" in hparams["prior_step"]


def test_a_finite_blow_up_is_a_divergence_error():
    """A plain step of 1 on a 5x5 box blur with TV grows x geometrically (to ~5e10 at 40
    iterations, all finite): the loop raises instead of returning a -198 dB image."""
    op = sd.operators.Blur(kernel=torch.ones(5, 5) / 25)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    solver = sd.algorithms.Solver(sd.splitting.LinearizedADMM(gamma=1.0, normalized=False),
                                  sd.splitting.DirectStep(sd.priors.build("tv"), denoiser_sigma=sd.splitting.geometric(0.3, 0.03)),
                                  op, steps=40, init="zeros")
    with pytest.raises(sd.DivergenceError, match="running away: max \\|x\\| grew"):
        solver.solve(y)
    stable = sd.algorithms.Solver(sd.splitting.LinearizedADMM(gamma=0.5, normalized=False),
                                  sd.splitting.DirectStep(sd.priors.build("tv"), denoiser_sigma=sd.splitting.geometric(0.3, 0.03)),
                                  op, steps=40, init="zeros")
    assert float(stable.solve(y).abs().max()) < 10


def test_a_grayscale_measurement_with_a_color_prior_says_why(network):
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    with pytest.raises(ValueError, match="trained on 3-channel images, got 1 channel.*repeat a grayscale y"):
        sd.algorithms.build("ddiff", prior=network, operator=op, steps=5).solve(torch.zeros(1, 1, 16, 16))


def test_an_operator_built_by_name_says_which_noise_it_assumes():
    with pytest.warns(UserWarning, match=r"operator 'gaussian_blur' built by name .*sigma=0.05.*pass that Operator"):
        sd.algorithms.build("pnp-admm", prior="tv", operator="gaussian_blur")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.algorithms.build("pnp-admm", prior="tv", operator=sd.operators.GaussianBlur(sigma=0.1))


def test_t_gamma_counts_the_models_timesteps_at_any_respacing(network):
    """25 uniform steps keep timesteps round(i * 999 / 24) (guided-diffusion's space_timesteps):
    999, 957, ..., 125, 83, 42, 0. The iterations start at the first 24 of them, and the small
    step (b = 0.1) is taken where t <= 90: at 83 and 42, the last two (as at 1000 steps, where
    90 of 999 iterations, t = 90 ... 1, take it: about the same share, 8% and 9%)."""
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    starts = [round(i * 999 / 24) for i in range(24, 0, -1)]
    assert starts[:2] == [999, 957] and starts[-3:] == [125, 83, 42]
    with pytest.warns(UserWarning, match="tuned for 999 iterations and this solve has 24: fewer than 99"):
        solver = sd.algorithms.build("ddiff", prior=network, operator=op, steps=25, gamma0=1.0)
        solver.splitting.data_step.tuned_iterations = 999  # what the paper defaults set
        solver.splitting.data_step.start(solver.timeline(25))
    assert solver.timeline(25).t.tolist() == starts
    assert solver.splitting.data_step._gamma == [3.3] * 22 + [0.1] * 2
    full = sd.algorithms.build("ddiff", prior=network, operator=op, steps=1000, gamma0=1.0)
    full.splitting.data_step.start(full.timeline(1000))
    assert full.splitting.data_step._gamma.count(0.1) == 90 and len(full.splitting.data_step._gamma) == 999


def test_paper_step_sizes_warn_below_a_tenth_of_their_iterations(network):
    """Appendix H's steps were tuned for the authors' 1000 timesteps (999 iterations): fewer than
    99 iterations (100 steps) warn; a given gamma0 is the user's and does not."""
    op = sd.operators.GaussianBlur(kernel_size=5, std=1.0)
    y = torch.zeros(1, 3, 8, 8)
    for name in ("ddiff", "ddiff-hqs", "diff-pnp-admm"):
        solver = sd.algorithms.build(name, prior=network, operator=op, steps=100)
        with pytest.warns(UserWarning, match="tuned for 999 iterations and this solve has 49"):
            solver.splitting.data_step.start(solver.timeline(50))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            solver.splitting.data_step.start(solver.timeline(100))
    with pytest.warns(UserWarning, match="this solve has 4: fewer than 99"):  # through solve(steps=)
        sd.algorithms.build("ddiff", prior=network, operator=op).solve(y, generator=torch.Generator().manual_seed(0),
                                                                      steps=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sd.algorithms.build("ddiff", prior=network, operator=op, steps=5, gamma0=1.0).solve(
            y, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="tuned_iterations must be a positive int"):
        sd.splitting.GradientStep(1.0, tuned_iterations=0)

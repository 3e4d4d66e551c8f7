"""Operators: adjointness, exact proximal solves, and agreement with the reference conventions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import splitdiff as sd
from splitdiff.testing import assert_adjoint
from splitdiff.testing import strategies as sds
from splitdiff.operators import (
    Blur, GaussianBlur, HighDynamicRange, Inpainting, MotionBlur, PhaseRetrieval, SuperResolution,
)


linear_operators = sds.linear_operators  # the public strategy (splitdiff.testing)


def _randn(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@given(linear_operators())
def test_adjointness(case):
    """<A x, y> = <x, A^T y> for every linear operator, shape and seed."""
    op, shape, seed = case
    assert_adjoint(op, shape, seed, rtol=1e-9)


def test_a_wrong_adjoint_is_caught():
    class Broken(SuperResolution):
        def adjoint(self, y):
            return 1.01 * super().adjoint(y)

    with pytest.raises(AssertionError, match="the adjoint is wrong"):
        assert_adjoint(Broken(scale=2), (1, 3, 8, 8))


@given(linear_operators())
def test_explicit_adjoint_matches_autograd(case):
    op, shape, seed = case
    y = _randn(op.output_shape(shape), seed)
    auto = sd.operators.LinearOperator.adjoint(op, y)
    assert torch.allclose(op.adjoint(y), auto, atol=1e-10)


@given(linear_operators(), st.floats(1e-3, 10.0))
def test_proximal_optimality(case, rho):
    """The prox solution zeroes the gradient A^T(A x - y) + rho (x - v)."""
    op, shape, seed = case
    v = _randn(shape, seed)
    y = _randn(op.output_shape(shape), seed + 1)
    x = op.proximal(v, y, rho)
    grad = op.adjoint(op(x) - y) + rho * (x - v)
    scale = (op.adjoint(y).abs().max() + rho * v.abs().max()).item()
    # CG (motion blur, user kernels) stops at relative residual 1e-6; closed forms are exact.
    assert grad.abs().max().item() <= 1e-5 * scale


def test_proximal_per_image_rho():
    op = SuperResolution(scale=2)
    v, y = _randn((2, 1, 8, 8), 0), _randn((2, 1, 4, 4), 1)
    both = op.proximal(v, y, torch.tensor([0.1, 2.0], dtype=torch.float64))
    assert torch.allclose(both[0], op.proximal(v[:1], y[:1], 0.1)[0])
    assert torch.allclose(both[1], op.proximal(v[1:], y[1:], 2.0)[0])


def test_super_resolution_shapes_and_constants():
    op = SuperResolution(scale=4)
    x = torch.full((1, 3, 256, 256), 0.3, dtype=torch.float64)
    y = op(x)
    assert y.shape == (1, 3, 64, 64)
    assert torch.allclose(y, torch.full_like(y, 0.3))  # weights sum to one
    assert op.output_shape((2, 3, 32, 28)) == (2, 3, 8, 7)
    with pytest.raises(ValueError, match="divisible"):
        op.check_input(torch.zeros(1, 3, 30, 32))


def test_super_resolution_matches_pil_bicubic_in_the_interior():
    """Away from the borders (where boundary handling differs), MATLAB-style antialiased
    bicubic equals PIL's BICUBIC (Keys a = -0.5, support stretched by the scale)."""
    rng = np.random.default_rng(0)
    img = rng.random((64, 64)).astype(np.float32)
    ours = SuperResolution(scale=4)(torch.from_numpy(img).double()[None, None])[0, 0].numpy()
    pil = np.asarray(Image.fromarray(img, mode="F").resize((16, 16), Image.BICUBIC))
    assert np.abs(ours[3:-3, 3:-3] - pil[3:-3, 3:-3]).max() < 1e-5


def test_gaussian_blur_equals_direct_convolution_with_dps_kernel():
    """Separable Gaussian blur == ReflectionPad2d(30) + Conv2d with gaussian_filter(delta, 3)."""
    x = _randn((2, 3, 40, 36), 0)
    kernel = torch.from_numpy(sd.operators.gaussian_kernel(61, 3.0))
    ref = F.conv2d(F.pad(x, (30, 30, 30, 30), mode="reflect"), kernel.expand(3, 1, 61, 61), groups=3)
    assert torch.allclose(GaussianBlur()(x), ref, atol=1e-12)
    assert torch.allclose(Blur(kernel)(x), ref, atol=1e-12)  # the FFT path of Blur


def test_motion_kernel_properties():
    k = sd.operators.motion_kernel(61, 0.5, seed=0)
    assert k.shape == (61, 61) and k.dtype == np.float32
    assert np.isclose(k.sum(), 1.0, atol=1e-5) and (k >= 0).all()
    assert np.array_equal(k, sd.operators.motion_kernel(61, 0.5, seed=0))
    assert not np.array_equal(k, sd.operators.motion_kernel(61, 0.5, seed=1))
    x = _randn((1, 1, 64, 64), 3)
    assert torch.allclose(MotionBlur()(x), Blur(k)(x), atol=1e-6)


def test_box_mask_reproduces_ddiff_position():
    """DDiff's seeding puts the 128 box at rows 60:188, cols 63:191 (256x256, margin 16)."""
    op = Inpainting("box")
    m = op.mask(torch.zeros(1, 3, 256, 256))
    holes = (m == 0).nonzero()
    assert holes[:, 0].min() == 60 and holes[:, 0].max() == 187
    assert holes[:, 1].min() == 63 and holes[:, 1].max() == 190


def test_random_mask_fraction_and_channels():
    op = Inpainting("random", seed=3)
    x = torch.ones(1, 3, 256, 256)
    y = op(x)
    dropped = 1 - y[0, 0].mean().item()
    assert 0.70 <= dropped <= 0.71
    assert torch.equal(y[0, 0], y[0, 1]) and torch.equal(y[0, 1], y[0, 2])


def test_explicit_mask_and_position():
    mask = np.ones((8, 8))
    mask[2:4, 2:4] = 0
    op = Inpainting(mask=mask)
    assert op(torch.ones(1, 1, 8, 8)).sum() == 60
    op = Inpainting("box", box=2, position=(2, 2))
    assert torch.equal(op.mask(torch.zeros(1, 1, 8, 8)), torch.as_tensor(mask, dtype=torch.float32))
    with pytest.raises(ValueError, match="does not fit"):
        Inpainting(mask=np.ones((4, 4)))(torch.ones(1, 1, 8, 8))


@given(st.integers(8, 40), st.integers(8, 40), st.integers(0, 1000))
def test_phase_retrieval_parseval_and_sign(h, w, seed):
    """|F| with orthonormal FFT keeps the energy; x and -x are indistinguishable."""
    op = PhaseRetrieval()
    x = _randn((1, 2, h, w), seed)
    y = op(x)
    assert y.shape == op.output_shape(x.shape)
    assert op.input_shape(y.shape) == tuple(x.shape)
    assert torch.allclose(y.pow(2).sum(), x.pow(2).sum())
    assert torch.allclose(op(-x), y)


def test_phase_retrieval_reference_definition():
    x = _randn((1, 1, 256, 256), 0)
    y = PhaseRetrieval()(x)
    assert y.shape == (1, 1, 384, 384)
    padded = np.pad(x[0, 0].numpy(), 64)
    ref = np.abs(np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(padded), norm="ortho")))
    assert np.allclose(y[0, 0].numpy(), ref)


def test_hdr():
    x = torch.tensor([[[[-0.9, -0.2, 0.1, 0.7]]]])
    assert torch.allclose(HighDynamicRange()(x), torch.tensor([[[[-1.0, -0.4, 0.2, 1.0]]]]))


def test_measure_noise_and_reproducibility():
    op = SuperResolution(scale=2, sigma=0.1)
    x = torch.zeros(4, 3, 64, 64, dtype=torch.float64)
    y1 = op.measure(x, generator=torch.Generator().manual_seed(5))
    y2 = op.measure(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(y1, y2)
    assert abs(y1.std().item() - 0.1) < 0.005


def test_linear_operator_matrix_transpose_is_adjoint():
    op = GaussianBlur(kernel_size=3, std=1.0)
    shape = (1, 1, 5, 6)
    a = op.matrix(shape[1:])
    y = _randn(shape, 2)
    assert torch.allclose(op.adjoint(y).flatten(), a.T @ y.flatten())


# --- conjugate gradients: an unconverged solve says so -------------------------------------------

def _diagonal_problem(low: float, size: int = 200):
    """``apply(x) = d * x`` with ``d`` from ``low`` to 1: condition number ``1 / low``, solution ``rhs / d``."""
    d = torch.logspace(np.log10(low), 0.0, size, dtype=torch.float64).reshape(1, 1, 1, size)
    rhs = _randn((1, 1, 1, size), 0)
    return (lambda x: d * x), rhs, rhs / d


def test_conjugate_gradient_warns_with_its_residual_when_it_stops_at_its_cap():
    apply, rhs, _ = _diagonal_problem(1e-8)
    with pytest.warns(sd.operators.ConvergenceWarning) as caught:
        x = sd.operators.conjugate_gradient(apply, rhs, max_iter=5, rtol=1e-9)
    residual = ((rhs - apply(x)).norm() / rhs.norm()).item()  # the residual it reached, recomputed here
    assert residual > 1e-9
    message = str(caught[0].message)
    assert f"{residual:.2e}" in message and "rtol=1e-09" in message and "max_iter=5" in message
    assert "iterations" in message and "larger rho" in message and "exact" in message
    assert issubclass(sd.operators.ConvergenceWarning, UserWarning)


def test_conjugate_gradient_is_silent_and_accurate_when_it_converges():
    apply, rhs, solution = _diagonal_problem(0.5)  # condition number 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = sd.operators.conjugate_gradient(apply, rhs, rtol=1e-10, max_iter=100)
    assert torch.allclose(x, solution, rtol=1e-9, atol=0)


@pytest.mark.parametrize("bad", [{"rtol": 0.0}, {"rtol": float("nan")}, {"rtol": -1e-6},
                                 {"max_iter": 0}, {"max_iter": 2.5}, {"max_iter": True}])
def test_conjugate_gradient_refuses_a_bad_cap_or_tolerance(bad):
    apply, rhs, _ = _diagonal_problem(0.5)
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        sd.operators.conjugate_gradient(apply, rhs, **bad)


class _Diagonal(sd.operators.LinearOperator):
    """``A x = w * x`` along the last axis, ``w`` from 1e-4 to 1: its prox is ``(w y + rho v) / (w^2 + rho)``."""

    def forward(self, x):
        return x * torch.logspace(-4.0, 0.0, x.shape[-1], dtype=x.dtype)


def test_default_proximal_stops_at_the_operators_tolerance_and_warns_at_its_cap():
    op = _Diagonal()
    v, y = _randn((1, 1, 1, 64), 0), _randn((1, 1, 1, 64), 1)
    w, rho = torch.logspace(-4.0, 0.0, 64, dtype=torch.float64), 1e-6
    exact = (w * y + rho * v) / (w**2 + rho)
    op.cg_rtol, op.cg_max_iter = 1e-12, 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.allclose(op.proximal(v, y, rho), exact, rtol=1e-6, atol=0)
    op.cg_max_iter = 3
    with pytest.warns(sd.operators.ConvergenceWarning, match="max_iter=3"):
        op.proximal(v, y, rho)


# --- blur: an exact prox for the reflect-padded operator -----------------------------------------

@pytest.mark.parametrize("side", [5, 17])  # direct convolution and FFT paths of Blur.forward
@pytest.mark.parametrize("rho", [1e-8, 1e-5, 1e-2, 1.0, 100.0])
def test_blur_proximal_solves_the_normal_equations_of_the_reflect_padded_operator(side, rho):
    """prox = (A^T A + rho I)^{-1} (A^T y + rho v), with A the dense matrix of the operator itself
    (basis images through reflection padding and correlation) and a direct dense solve: no circular
    boundary is assumed. Small rho makes A^T A + rho I ill-conditioned, where plain CG stalls."""
    g = torch.Generator().manual_seed(side)
    kernel = torch.rand(side, side, generator=g, dtype=torch.float64)
    op = Blur(kernel / kernel.sum())  # not symmetric: no DCT diagonalises it
    v, y = _randn((2, 2, 12, 12), 0), _randn((2, 2, 12, 12), 1)
    a = op.matrix((1, 12, 12))  # the operator acts on each channel alone
    normal = a.T @ a + rho * torch.eye(144, dtype=torch.float64)
    ref = torch.linalg.solve(normal, a.T @ y.reshape(4, 144).T + rho * v.reshape(4, 144).T).T.reshape(v.shape)
    x = op.proximal(v, y, rho)
    rhs = a.T @ y.reshape(4, 144).T + rho * v.reshape(4, 144).T
    residual = (normal @ x.reshape(4, 144).T - rhs).norm() / rhs.norm()
    assert residual.item() <= 1e-6  # the contract: the normal equations to cg_rtol or better
    assert ((x - ref).norm() / ref.norm()).item() <= 1e-4


def test_blur_proximal_per_image_rho_and_float32():
    op = MotionBlur(kernel_size=9)
    v, y = _randn((2, 3, 16, 16), 0), _randn((2, 3, 16, 16), 1)
    rho = torch.tensor([1e-8, 2.0], dtype=torch.float64)
    both = op.proximal(v, y, rho)
    assert torch.allclose(both[:1], op.proximal(v[:1], y[:1], 1e-8), rtol=1e-9, atol=1e-9)
    assert torch.allclose(both[1:], op.proximal(v[1:], y[1:], 2.0), rtol=1e-9, atol=1e-9)
    single = op.proximal(v[1:].float(), y[1:].float(), 2.0)
    assert single.dtype == torch.float32 and torch.allclose(single.double(), both[1:2], atol=1e-5)


@pytest.fixture(scope="module")
def paper_motion_blur():
    return MotionBlur()  # 61x61, the paper's kernel


@pytest.mark.parametrize("rho", [1e-7, 1e-3, 1e2])  # DiffPIR's weights, in ProximalStep's convention
def test_motion_blur_proximal_converges_at_diffpir_weights(paper_motion_blur, rho):
    """At 32x32 with the 61x61 kernel (wider than the image) and rho down to 1e-7 sigma^2, the prox
    reaches relative residual 1e-6 of the normal equations (checked with the autograd adjoint)."""
    op = paper_motion_blur
    v, y = _randn((1, 3, 32, 32), 0), _randn((1, 3, 32, 32), 1)
    r = rho * op.sigma**2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x = op.proximal(v, y, r)
    assert not caught
    adjoint = lambda z: sd.operators.LinearOperator.adjoint(op, z)  # noqa: E731
    rhs = adjoint(y) + r * v
    residual = rhs - adjoint(op(x)) - r * x
    assert (residual.norm() / rhs.norm()).item() <= 1e-6


# -- the data-fidelity term (splitdiff.operators.fidelity) ----------------------------------------
@given(linear_operators(), st.floats(0.1, 10.0), st.floats(0.05, 20.0))
def test_fidelity_prox_is_the_minimizer(case, weight, rho):
    """At ``x = L2(weight).prox(v, y, A, rho)`` the objective's gradient vanishes:
    ``weight A^T (A x - y) + rho (x - v) = 0`` (written here with the operator's matrix, not
    with L2's own gradient)."""
    op, shape, seed = case
    v, x_true = _randn(shape, seed), _randn(shape, seed + 1)
    y = op(x_true)
    op.cg_rtol = 1e-12
    x = sd.operators.L2(weight).prox(v, y, op, rho)
    a = op.matrix(shape[1:])
    n = shape[0]
    residual = x.reshape(n, -1) @ a.T - y.reshape(n, -1)
    stationarity = weight * residual @ a + rho * (x - v).reshape(n, -1)
    assert float(stationarity.abs().max()) <= 1e-6 * max(1.0, float((rho * v).abs().max()))


@given(linear_operators(), st.floats(0.1, 10.0))
def test_fidelity_value_and_gradient_follow_the_matrix(case, weight):
    op, shape, seed = case
    x, y = _randn(shape, seed), _randn(op.output_shape(shape), seed + 1)
    a = op.matrix(shape[1:])
    n = shape[0]
    r = x.reshape(n, -1) @ a.T - y.reshape(n, -1)  # A x - y per image
    f = sd.operators.L2(weight)
    assert torch.allclose(f.value(x, y, op), 0.5 * weight * r.pow(2).sum(1), rtol=1e-10)
    assert torch.allclose(f.distance(x, y, op), r.norm(dim=1), rtol=1e-10)
    assert torch.allclose(f.grad(x, y, op).reshape(n, -1), weight * r @ a, rtol=1e-9, atol=1e-12)
    assert torch.allclose(sd.operators.SQUARED_ERROR.grad(x, y, op).reshape(n, -1), 2 * r @ a, rtol=1e-9, atol=1e-12)


def test_fidelity_conventions_and_errors():
    assert sd.operators.L2.likelihood(0.1).weight == pytest.approx(100.0)
    assert sd.operators.SQUARED_ERROR.weight == 2.0
    for bad in (0, -1.0, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="weight must be a finite number > 0"):
            sd.operators.L2(bad)
    with pytest.raises(ValueError, match="sigma must be a number > 0"):
        sd.operators.L2.likelihood(0.0)
    op = PhaseRetrieval()
    x = _randn((1, 3, 8, 8), 0)
    with pytest.raises(ValueError, match="exact proximal map needs a linear operator; PhaseRetrieval"):
        sd.operators.L2().prox(x, op(x), op, 1.0)
    # the one-step form: v - grad f(v) / rho, against autograd of the value
    y = op(_randn((1, 3, 8, 8), 1))
    f = sd.operators.L2(3.0)
    v = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(f.value(v, y, op).sum(), v)
    assert torch.allclose(f.gradient_prox(x, y, op, 4.0), x - g / 4.0, rtol=1e-10)

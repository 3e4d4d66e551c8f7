"""Operators: adjointness, exact proximal solves, and agreement with the reference conventions."""

from __future__ import annotations

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

"""deepinv interop: splitdiff's operators agree with deepinv's where the definitions agree."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff.testing import assert_adjoint

dinv = pytest.importorskip("deepinv")


def _x(shape=(2, 3, 32, 32), seed=0, dtype=torch.float64):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2 - 1


def test_super_resolution_is_deepinv_downsampling_matlab():
    x = _x(dtype=torch.float32)
    ours = sd.operators.build("super_resolution", scale=4)
    theirs = dinv.physics.DownsamplingMatlab(factor=4)
    assert torch.allclose(ours(x), theirs.A(x), atol=1e-6)  # measured 3.9e-8


@pytest.mark.parametrize("name,options", [("gaussian_blur", dict(kernel_size=9, std=1.5)), ("motion_blur", dict(kernel_size=9))])
def test_blur_is_deepinv_blur_with_reflect_padding_and_a_flipped_kernel(name, options):
    """splitdiff correlates with the kernel (as DPS / DAPS / DDiff's nn.Conv2d); deepinv's Blur
    convolves (flips its filter): equal with the kernel flipped. Symmetric kernels need no flip."""
    x = _x()
    ours = sd.operators.build(name, **options).double()
    k = ours.kernel if name == "motion_blur" else sd.operators.gaussian_kernel(options["kernel_size"], options["std"])
    kernel = torch.as_tensor(k, dtype=torch.float64).reshape(1, 1, *k.shape[-2:])
    theirs = dinv.physics.Blur(filter=kernel.flip(-1, -2), padding="reflect")
    assert torch.allclose(ours(x), theirs.A(x), atol=1e-12)
    if name == "motion_blur":
        assert not torch.allclose(ours(x), dinv.physics.Blur(filter=kernel, padding="reflect").A(x), atol=1e-3)


def test_inpainting_is_deepinv_inpainting():
    x = _x()
    ours = sd.operators.build("random_inpainting", seed=3).double()
    mask = ours.mask(x)  # (H, W), the same pixels in every channel
    theirs = dinv.physics.Inpainting(img_size=x.shape[1:], mask=mask.expand(3, *mask.shape))
    assert torch.allclose(ours(x), theirs.A(x))


def test_phase_retrieval_differs_by_the_square():
    """deepinv measures |B x|^2, splitdiff |B x| (DPS / DDiff); with B = splitdiff's padded,
    centred orthonormal FFT, splitdiff's measurement squared is deepinv's."""
    x = _x(shape=(1, 3, 16, 16))
    ours = sd.operators.build("phase_retrieval").double()
    pad = ours.pad(16)

    def b(v):
        padded = torch.nn.functional.pad(v, (pad, pad, pad, pad)).to(torch.complex128)
        return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(padded, dim=(-2, -1)), norm="ortho"), dim=(-2, -1))

    theirs = dinv.physics.PhaseRetrieval(B=dinv.physics.LinearPhysics(A=b))
    assert torch.allclose(ours(x) ** 2, theirs.A(x).real, atol=1e-10)


def test_deepinv_physics_as_splitdiff_operator_runs_ddiff():
    physics = dinv.physics.Blur(filter=torch.as_tensor(sd.operators.gaussian_kernel(9, 1.0), dtype=torch.float32)[None, None], padding="reflect",
                                noise_model=dinv.physics.GaussianNoise(sigma=0.05))
    op = sd.operators.build("deepinv", physics=physics, task="gaussian_blur")
    assert isinstance(op, sd.operators.LinearOperator) and op.sigma == pytest.approx(0.05)
    assert_adjoint(op, (1, 3, 12, 12), dtype=torch.float32, rtol=1e-5)  # deepinv keeps its filter in float32
    x = _x((1, 3, 8, 8), dtype=torch.float32)
    y = op.measure(x, generator=torch.Generator().manual_seed(0))
    out = sd.algorithms.build("ddiff", prior=sd.priors.build("random_network"), operator=op, steps=3).solve(y)
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_splitdiff_operator_as_deepinv_physics():
    op = sd.operators.build("super_resolution", scale=2, sigma=0.1)
    physics = sd.operators.to_deepinv(op)
    x = _x((1, 3, 8, 8), dtype=torch.float32)
    y = torch.rand(1, 3, 4, 4)
    assert torch.allclose(physics.A(x), op(x)) and torch.allclose(physics.A_adjoint(y), op.adjoint(y))
    assert float(physics.noise_model.sigma) == pytest.approx(0.1)
    hdr = sd.operators.to_deepinv(sd.operators.build("hdr"))
    assert not isinstance(hdr, dinv.physics.LinearPhysics) and torch.equal(hdr.A(x), (2 * x).clamp(-1, 1))


def test_deepinv_denoiser_as_prior_in_pnp():
    from splitdiff.evaluation.images import square_resize
    from splitdiff.training.crops import load_skimage

    prior = sd.priors.build("deepinv", model=dinv.models.TVDenoiser(n_it_max=20))
    x = square_resize(load_skimage("camera")[None], 32)  # a photograph: denoising has structure to keep
    noisy = x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert ((prior.denoise(noisy, 0.2) - x) ** 2).mean() < ((noisy - x) ** 2).mean()
    op = sd.operators.build("random_inpainting")
    out = sd.algorithms.build("pnp-admm", prior=prior, operator=op, steps=5).solve(op.measure(x))
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="expected a deepinv denoiser"):
        sd.priors.build("deepinv", model=3)

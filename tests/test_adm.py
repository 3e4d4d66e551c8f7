"""guided-diffusion ADM priors: published layouts, strict loading, and solving with a tiny model."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff.priors import ADM_PRESETS, CheckpointError, create_unet
from helpers import randomize, same

#: every architecture flag of a tiny network (adm's config=None needs them all)
TINY = dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=(1, 2), learn_sigma=True, class_cond=False,
            attention_resolutions="16", num_heads=4, num_head_channels=16, num_heads_upsample=-1,
            use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False)

#: guided-diffusion's ``model_and_diffusion_defaults()`` (guided_diffusion/script_util.py), transcribed:
#: the dict its scripts pass whole, after their command-line overrides
GUIDED_DIFFUSION_DEFAULTS = dict(
    image_size=64, num_channels=128, num_res_blocks=2, num_heads=4, num_heads_upsample=-1, num_head_channels=-1,
    attention_resolutions="16,8", channel_mult="", dropout=0.0, class_cond=False, use_checkpoint=False,
    use_scale_shift_norm=True, resblock_updown=False, use_fp16=False, use_new_attention_order=False,
    learn_sigma=False, diffusion_steps=1000, noise_schedule="linear", timestep_respacing="", use_kl=False,
    predict_xstart=False, rescale_timesteps=False, rescale_learned_sigmas=False,
)
#: the parameters of guided-diffusion's ``create_model``
CREATE_MODEL_ARGS = ("image_size", "num_channels", "num_res_blocks", "channel_mult", "learn_sigma", "class_cond",
                     "use_checkpoint", "attention_resolutions", "num_heads", "num_head_channels",
                     "num_heads_upsample", "use_scale_shift_norm", "dropout", "resblock_updown", "use_fp16",
                     "use_new_attention_order")


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
    net = randomize(create_unet(**TINY))
    path = tmp_path / "tiny_adm.pt"
    torch.save(net.state_dict(), path)
    return net, path


def guided_forward(prior):
    """``prior`` with guided-diffusion's own forward (einsum attention, contiguous memory)."""
    prior.net.configure(attention="einsum", channels_last=False)
    return prior


def test_tiny_checkpoint_round_trip(tiny_checkpoint, tmp_path):
    net, path = tiny_checkpoint
    # guided-diffusion's own forward: this test is about the weights and keys (the faster forward
    # options, on by default, are compared with it in test_fast_forward_options_keep_the_numbers)
    prior = guided_forward(sd.priors.build("adm", checkpoint=path, **TINY))
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([10, 700])
    with torch.no_grad():
        expected = net(x, t)[:, :3]  # learn_sigma: eps is the first 3 of 6 channels
    assert all(torch.equal(prior.net.state_dict()[k], v) for k, v in net.state_dict().items())  # bit-exact weights
    assert same(prior.eps(x, t), expected)
    from safetensors.torch import save_file

    st_path = tmp_path / "tiny_adm.safetensors"
    save_file(net.state_dict(), str(st_path))
    assert same(guided_forward(sd.priors.build("adm", checkpoint=st_path, **TINY)).eps(x, t), expected)


def test_learned_sigma_channels_are_split(tiny_checkpoint):
    net, path = tiny_checkpoint
    prior = sd.priors.build("adm", checkpoint=path, **TINY)
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
            sd.priors.build("adm", checkpoint=p, **TINY)
    # the right file with the wrong preset, or the wrong flags, names what does not fit
    with pytest.raises(CheckpointError, match="wrong shape|missing"):
        sd.priors.build("adm", checkpoint=path, config="imagenet")
    with pytest.raises(CheckpointError, match="wrong shape|missing"):
        sd.priors.build("adm", checkpoint=path, **{**TINY, "num_res_blocks": 2})


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


def _meta_adm(**options):
    """An ADM prior built without allocating weights (the published presets are large)."""
    with torch.device("meta"):
        return sd.priors.build("adm", random_init=True, device="meta", **options)


def _params(prior) -> int:
    return sum(p.numel() for p in prior.net.parameters())


def test_every_guided_diffusion_flag_is_accepted(tiny_checkpoint):
    """The authors' whole flag dict loads; flags that change neither the weights nor eps are ignored."""
    assert set(CREATE_MODEL_ARGS) <= set(GUIDED_DIFFUSION_DEFAULTS)
    net, path = tiny_checkpoint
    flags = {**GUIDED_DIFFUSION_DEFAULTS, **TINY, "use_checkpoint": True, "use_fp16": True, "dropout": 0.1,
             "timestep_respacing": "ddim50", "use_kl": True, "rescale_timesteps": True,
             "rescale_learned_sigmas": True}
    prior = guided_forward(sd.priors.build("adm", checkpoint=path, **flags))
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert same(prior.eps(x, 400), net(x, torch.tensor([400]))[:, :3])
    assert prior.net.out[2].weight.dtype == torch.float32  # use_fp16 is not a dtype: dtype= is
    assert {k: v.shape for k, v in create_unet(**flags).state_dict().items()} == {
        k: v.shape for k, v in net.state_dict().items()}
    for respacing in ("", "250", "ddim25", [10, 15], 100):
        sd.priors.build("adm", checkpoint=path, **TINY, timestep_respacing=respacing)


@pytest.mark.parametrize("config,params", [("ffhq", 93_563_910), ("imagenet", 552_814_086)])
def test_presets_take_the_flags_that_keep_their_layout(config, params):
    preset = ADM_PRESETS[config]
    extra = dict(use_fp16=True, use_checkpoint=True, timestep_respacing="250", diffusion_steps=1000,
                 noise_schedule="linear", predict_xstart=False)
    assert _params(_meta_adm(config=config, **extra)) == params
    # layout flags equal to the preset's, however they are spelled, are fine
    same_values = dict(image_size=256, num_channels=preset["num_channels"], learn_sigma=True, class_cond=False,
                       channel_mult="1,1,2,2,4,4", num_heads_upsample=-1, use_new_attention_order=False,
                       attention_resolutions=[int(r) for r in preset["attention_resolutions"].split(",")])
    assert _params(_meta_adm(config=config, **same_values)) == params


def test_dps_model_config_loads_as_its_yaml_reads():
    """DPS's configs/model_config.yaml as yaml.safe_load reads it (attention_resolutions: 16 is an int)."""
    dps = dict(image_size=256, num_channels=128, num_res_blocks=1, channel_mult="", learn_sigma=True,
               class_cond=False, use_checkpoint=False, attention_resolutions=16, num_heads=4, num_head_channels=64,
               num_heads_upsample=-1, use_scale_shift_norm=True, dropout=0.0, resblock_updown=True, use_fp16=False,
               use_new_attention_order=False)
    assert _params(_meta_adm(**dps)) == _params(_meta_adm(config="ffhq", **dps)) == 93_563_910
    with pytest.raises(ValueError, match="model_path.*checkpoint="):
        _meta_adm(**dps, model_path="models/ffhq_10m.pt")


def test_without_layout_flags_the_default_is_ffhq():
    assert _params(_meta_adm()) == _params(_meta_adm(config="ffhq")) == 93_563_910
    assert _params(_meta_adm(use_fp16=True, dropout=0.0)) == 93_563_910


def test_preset_with_a_different_layout_flag_is_an_error():
    with pytest.raises(ValueError, match=r"'ffhq'.*num_channels=64 \(ffhq: 128\)") as err:
        _meta_adm(config="ffhq", num_channels=64)
    assert "config=None" in str(err.value)
    with pytest.raises(ValueError, match=r"image_size=32 \(imagenet: 256\)") as err:
        _meta_adm(config="imagenet", **TINY)
    for name in ("num_channels", "num_res_blocks", "channel_mult", "attention_resolutions"):
        assert name in str(err.value)
    assert "learn_sigma" not in str(err.value) and "resblock_updown" not in str(err.value)  # equal to the preset


@pytest.mark.parametrize("config", [None, "omitted"])
def test_partial_layout_flags_name_the_missing_ones(config):
    partial = {k: v for k, v in TINY.items() if k not in ("learn_sigma", "use_new_attention_order")}
    options = {} if config == "omitted" else {"config": config}
    with pytest.raises(ValueError, match=r"missing.*learn_sigma, use_new_attention_order") as err:
        sd.priors.build("adm", random_init=True, **options, **partial)
    assert "ffhq" in str(err.value)  # the other way out: a preset
    with pytest.raises(ValueError, match="missing"):
        sd.priors.build("adm", random_init=True, **options, num_channels=64)


@pytest.mark.parametrize("flag,value", [("diffusion_steps", 4000), ("noise_schedule", "cosine"),
                                        ("predict_xstart", True)])
def test_diffusion_flags_splitdiff_cannot_honour_are_errors(tiny_checkpoint, flag, value):
    _, path = tiny_checkpoint
    with pytest.raises(ValueError, match=f"{flag}.*eps-prediction on the linear 1000-step schedule"):
        sd.priors.build("adm", checkpoint=path, **TINY, **{flag: value})
    with pytest.raises(ValueError, match=f"{flag}.*eps-prediction on the linear 1000-step schedule"):
        _meta_adm(config="ffhq", **{flag: value})


@pytest.mark.parametrize("flag,value", [
    ("use_fp16", "yes"), ("use_checkpoint", 2), ("learn_sigma", "False"), ("resblock_updown", None),
    ("timestep_respacing", 2.5), ("timestep_respacing", ["ddim"]), ("diffusion_steps", "1000 steps"),
    ("noise_schedule", 3), ("use_kl", "no"), ("rescale_timesteps", 0.5),
])
def test_flag_values_are_checked(flag, value):
    with pytest.raises(ValueError, match=f"ADM flag {flag} must be"):
        create_unet(**{**TINY, flag: value})
    with pytest.raises(ValueError, match=f"ADM flag {flag} must be"):
        sd.priors.build("adm", random_init=True, **{**TINY, flag: value})


def test_unknown_flags_stay_errors():
    for flag in ("sigma_small", "model_path", "num_channel"):
        with pytest.raises(ValueError, match=f"unknown ADM flags \\['{flag}'\\]"):
            sd.priors.build("adm", random_init=True, **TINY, **{flag: 1})


def test_class_conditional_checkpoints_are_an_error():
    assert create_unet(**{**TINY, "class_cond": True}).num_classes == 1000  # the network itself builds
    with pytest.raises(ValueError, match="class_cond=True.*unconditional"):
        sd.priors.build("adm", random_init=True, **{**TINY, "class_cond": True})


@pytest.mark.parametrize("change", [dict(num_head_channels=32), dict(num_heads_upsample=1, num_head_channels=-1),
                                    dict(use_new_attention_order=True)])
def test_attention_flags_change_eps_but_not_the_state_dict(change):
    """Why the attention flags are layout flags too: a strict load cannot catch a wrong one."""
    net = randomize(create_unet(**TINY)).eval()
    other = create_unet(**{**TINY, **change}).eval()
    other.load_state_dict(net.state_dict())  # same keys and shapes
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert not same(net(x, torch.tensor([300])), other(x, torch.tensor([300])))


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
@pytest.mark.parametrize("steps", [2, 10])  # one iteration, and several
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


def _fast_variants():
    from itertools import product

    return [dict(attention=a, channels_last=c) for a, c in product(("einsum", "sdpa"), (False, True))]


@pytest.mark.parametrize("layout", ["tiny", "tiny-new-order", "ffhq"])
def test_fast_forward_options_keep_the_numbers(layout, tmp_path):
    """Every forward option (SDPA attention, channels_last) gives today's forward (einsum,
    contiguous) to float32 rounding: its distance to the float64 forward is at most 10x that of
    today's float32 forward (channels_last on the random tiny network: see below). Networks loaded from the same checkpoint (tiny), or the published
    FFHQ layout with random weights (at 64x64: the network is fully convolutional)."""
    import copy

    torch.manual_seed(0)
    if layout == "ffhq":
        net = randomize(create_unet(**ADM_PRESETS["ffhq"]))
        x, t = torch.randn(1, 3, 64, 64), torch.tensor([500])
        exact = copy.deepcopy(net).double()(x.double(), t)
        nets = [net] * len(_fast_variants())
    else:
        flags = dict(TINY, use_new_attention_order=layout == "tiny-new-order")
        path = tmp_path / "tiny.pt"
        torch.save(randomize(create_unet(**flags)).state_dict(), path)
        x, t = torch.randn(2, 3, 32, 32), torch.tensor([10, 700])
        exact = sd.priors.build("adm", checkpoint=path, **flags).net.double()(x.double(), t)
        nets = [sd.priors.build("adm", checkpoint=path, **flags).net for _ in _fast_variants()]
    reference = nets[0].configure(attention="einsum", channels_last=False)(x, t)  # guided-diffusion's forward
    rounding = float((reference.double() - exact).abs().max())
    assert float(exact.abs().max()) > 1e-3 and rounding > 0  # random weights everywhere (no zero-initialised layer)
    for variant, net in zip(_fast_variants(), nets):
        out = net.configure(**variant)(x, t)
        assert out.is_contiguous() and out.shape == reference.shape and out.dtype == torch.float32
        error = float((out.double() - exact).abs().max())
        if variant["channels_last"] and layout != "ffhq":
            # the random tiny network's activations have large means, where the CPU's channels_last
            # GroupNorm kernel loses digits (5e-5 against 1e-6); on trained (shipped) and FFHQ-sized
            # networks it is within rounding (above, below). A wrong layout would be off by O(1).
            assert error <= 1e-3 * float(exact.abs().max()), variant
        else:
            assert error <= 10 * rounding, (variant, rounding)
    with pytest.raises(ValueError, match="attention must be one of einsum, sdpa"):
        nets[0].configure(attention="flash")


def test_the_shipped_prior_with_every_forward_option(tmp_path):
    import copy

    prior = sd.priors.build("default")
    assert prior.net.channels_last  # the default forward on a CPU (benchmarks.forward)
    assert sd.priors.build("adm", config="ffhq", random_init=True).net.channels_last  # every ADM prior's
    prior.net.configure(attention="einsum", channels_last=False)  # today's forward, the reference
    x, t = torch.randn(2, 3, 64, 64), torch.tensor([20, 900])
    exact = copy.deepcopy(prior.net).double()(x.double(), t)
    rounding = float((prior.net(x, t).double() - exact).abs().max())
    for variant in _fast_variants():
        out = prior.net.configure(**variant)(x, t)
        assert float((out.double() - exact).abs().max()) <= 10 * rounding, variant
    prior.net.configure(attention="einsum", channels_last=False)


@pytest.mark.slow
def test_compiled_forward_keeps_the_numbers():
    """``prior.net.compile()`` (opt-in; inductor fuses GroupNorm + SiLU and the attention): the
    compiled forward of the tiny network, in each forward option, is within float32 rounding of
    the float64 forward, as the eager options are (minutes of compiling on a CPU: slow)."""
    import copy

    torch.manual_seed(0)
    net = randomize(create_unet(**TINY)).eval().requires_grad_(False)
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([10, 700])
    exact = copy.deepcopy(net).double()(x.double(), t)
    for variant in _fast_variants():
        compiled = copy.deepcopy(net).configure(**variant)
        compiled.compile()
        error = float((compiled(x, t).double() - exact).abs().max())
        assert error <= 1e-3 * float(exact.abs().max()), variant  # the eager channels_last bound (above)

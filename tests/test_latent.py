"""Latent diffusion: the CompVis layouts, strict loading, and LatentDDiff in both consistency modes."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff.priors import CheckpointError, ldm, save_ldm_checkpoint
from helpers import randomize, same

TINY_UNET = dict(image_size=8, model_channels=32, attention_resolutions=(2,), num_res_blocks=1, channel_mult=(1, 2),
                 num_head_channels=16)
TINY_VQ = dict(n_embed=16, ddconfig=dict(double_z=False, z_channels=3, resolution=16, in_channels=3, out_ch=3, ch=32,
                                          ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), dropout=0.0))


@pytest.fixture
def tiny_ldm(tmp_path):
    prior = ldm(random_init=True, unet=TINY_UNET, vq=TINY_VQ)
    randomize(prior)
    path = tmp_path / "model.ckpt"
    save_ldm_checkpoint(prior, path)
    return prior, path


def test_published_ffhq_ldm_layout():
    """ffhq-ldm-vq-4: a 274M-parameter UNet (LDM paper, Table 13) and the 55M VQ-f4."""
    with torch.device("meta"):
        prior = ldm(random_init=True, device="meta")
    unet, vq = prior.unet.state_dict(), prior.autoencoder.state_dict()
    assert sum(p.numel() for p in prior.unet.parameters()) == 274_056_163 and len(unet) == 368
    assert sum(p.numel() for p in prior.autoencoder.parameters()) == 55_322_782 and len(vq) == 205
    for key in ["quantize.embedding.weight", "quant_conv.weight", "post_quant_conv.weight", "encoder.conv_in.weight",
                "encoder.down.0.block.0.norm1.weight", "encoder.down.1.block.0.nin_shortcut.weight",
                "encoder.down.0.downsample.conv.weight", "encoder.mid.attn_1.q.weight", "decoder.up.2.upsample.conv.weight",
                "decoder.up.0.block.2.conv2.weight", "decoder.norm_out.weight"]:
        assert key in vq, key
    assert tuple(vq["quantize.embedding.weight"].shape) == (8192, 3)
    assert "input_blocks.3.0.op.weight" in unet  # conv downsampling, no resblock_updown
    assert prior.factor == 4 and prior.latent_shape((1, 3, 256, 256)) == (1, 3, 64, 64)


def test_tiny_ldm_round_trip(tiny_ldm, tmp_path):
    prior, path = tiny_ldm
    loaded = sd.priors.build("ldm", checkpoint=path, unet=TINY_UNET, vq=TINY_VQ)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    z = prior.encode(x)
    assert z.shape == (2, 3, 8, 8)
    assert same(loaded.encode(x), z)
    assert same(loaded.decode(z), prior.decode(z))
    assert same(loaded.eps(z, 500), prior.eps(z, 500))
    # a separate first-stage checkpoint (vq-f4/model.ckpt layout: no prefix)
    unet_only = tmp_path / "unet_only.ckpt"
    torch.save({"state_dict": {f"model.diffusion_model.{k}": v for k, v in prior.unet.state_dict().items()}}, unet_only)
    vq_path = tmp_path / "vq.ckpt"
    torch.save({"state_dict": prior.autoencoder.state_dict()}, vq_path)
    split = sd.priors.build("ldm", checkpoint=unet_only, autoencoder_checkpoint=vq_path, unet=TINY_UNET, vq=TINY_VQ)
    assert same(split.decode(z), prior.decode(z))


def test_ldm_schedule_is_sqrt_linear():
    betas = torch.linspace(0.0015**0.5, 0.0195**0.5, 1000, dtype=torch.float64) ** 2
    s = sd.priors.NoiseSchedule.scaled_linear()
    assert torch.allclose(s.alphas_cumprod, torch.cumprod(1 - betas, 0))


def test_ldm_loading_errors(tiny_ldm, tmp_path):
    prior, path = tiny_ldm
    with pytest.raises(ValueError, match="checkpoint=PATH"):
        sd.priors.build("ldm")
    with pytest.raises(CheckpointError, match="UNet"):
        sd.priors.build("ldm", checkpoint=path, unet={**TINY_UNET, "model_channels": 64}, vq=TINY_VQ)
    adm_like = tmp_path / "adm.pt"
    torch.save(prior.unet.state_dict(), adm_like)
    with pytest.raises(CheckpointError, match="model.diffusion_model"):
        sd.priors.build("ldm", checkpoint=adm_like, unet=TINY_UNET, vq=TINY_VQ)
    state = torch.load(path, weights_only=True)["state_dict"]
    state["alphas_cumprod"] = torch.linspace(0.99, 0.01, 1000)
    other = tmp_path / "other_schedule.ckpt"
    torch.save({"state_dict": state}, other)
    with pytest.raises(CheckpointError, match="noise schedule"):
        sd.priors.build("ldm", checkpoint=other, unet=TINY_UNET, vq=TINY_VQ)


def test_quantized_decoding_is_straight_through(tiny_ldm):
    prior, _ = tiny_ldm
    z = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    quantized = prior.decode(z)
    assert not torch.allclose(quantized, prior.decode(z, quantize=False))
    (g_q,) = torch.autograd.grad(quantized.sum(), z)
    codes = prior.autoencoder.quantize(z).detach().requires_grad_(True)
    (g_code,) = torch.autograd.grad(prior.decode(codes, quantize=False).sum(), codes)
    assert torch.allclose(g_q, g_code)


@pytest.mark.parametrize("consistency", ["latent", "pixel"])
@pytest.mark.parametrize("operator", ["super_resolution", "gaussian_blur", "box_inpainting", "random_inpainting",
                                      "phase_retrieval", "hdr"])
def test_latent_ddiff_runs(tiny_ldm, consistency, operator):
    prior, _ = tiny_ldm
    options = {"gaussian_blur": dict(kernel_size=7, std=1.0), "box_inpainting": dict(box=6, margin=2),
               "super_resolution": dict(scale=2)}.get(operator, {})
    op = sd.operators.build(operator, **options)
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    seen = []
    solver = sd.algorithms.build("latent-ddiff", prior=prior, operator=op, consistency=consistency, steps=8)
    out = solver.solve(y, generator=torch.Generator().manual_seed(2), callback=lambda s: seen.append(s.x.shape))
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert seen and all(shape == (2, 3, 8, 8) for shape in seen)  # the loop runs on latents


def test_pixel_consistency_is_encode_step_decode(tiny_ldm):
    prior, _ = tiny_ldm
    op = sd.operators.build("hdr")
    lat = sd.operators.LatentOperator(op, prior)
    v = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    y = op.measure(torch.zeros(1, 3, 16, 16), generator=torch.Generator().manual_seed(1))
    inner = sd.splitting.GradientStep(0.5, normalized=True)
    step = sd.splitting.PixelSpaceStep(inner)
    tl = sd.splitting.Timeline.iterations(1)
    step.start(tl)
    expected = prior.encode(inner(prior.decode(v), y, op, 0))
    assert torch.allclose(step(v, y, lat, 0), expected)


def test_latent_ddiff_rejects_pixel_priors():
    with pytest.raises(ValueError, match="LatentDiffusionPrior"):
        sd.algorithms.build("latent-ddiff", prior="random_network", operator="hdr")


def test_gradient_step_clamps_each_element_before_the_step():
    """GradientStep(clamp=c): x = v - gamma clamp(g, -c, c), g = grad ||y - A v||^2 (DAPS's latent
    wrapper clamps with c = 1); written out for A = identity: g = 2 (v - y)."""
    op = sd.operators.Inpainting(mask=torch.ones(1, 1, 2, 2)).double()
    v = torch.tensor([[[[0.1, 3.0], [-2.0, 0.4]]]], dtype=torch.float64)
    y = torch.zeros_like(v)
    step = sd.splitting.GradientStep(0.5, normalized=False, clamp=1.0)
    step.start(sd.splitting.Timeline.iterations(1))
    expected = torch.tensor([[[[0.1 - 0.5 * 0.2, 3.0 - 0.5], [-2.0 + 0.5, 0.4 - 0.5 * 0.8]]]], dtype=torch.float64)
    assert torch.allclose(step(v, y, op, 0), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="clamp"):
        sd.splitting.GradientStep(0.5, clamp=0.0)


def test_latent_ddiff_gradient_clamp_is_an_option(tiny_ldm):
    tiny_ldm, _ = tiny_ldm
    op = sd.operators.build("random_inpainting")
    assert sd.algorithms.build("latent-ddiff", prior=tiny_ldm, operator=op).splitting.data_step.clamp is None
    solver = sd.algorithms.build("latent-ddiff", prior=tiny_ldm, operator=op, clamp_gradient=1.0)
    assert solver.splitting.data_step.clamp == 1.0
    with pytest.raises(ValueError, match="consistency='latent'"):
        sd.algorithms.build("latent-ddiff", prior=tiny_ldm, operator=op, consistency="pixel", clamp_gradient=1.0)

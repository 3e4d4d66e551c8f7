"""Local diffusers models (saved with save_pretrained in the test) as splitdiff priors."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from helpers import randomize, same

diffusers = pytest.importorskip("diffusers")

UNET = dict(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(32, 32),
            down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            norm_num_groups=8, attention_head_dim=8)


@pytest.fixture(autouse=True)
def seeded_init():
    """diffusers draws its initial weights from the global generator: seed it, so the weights and
    the float32 differences the tests bound are the same on every run."""
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    yield
    torch.random.set_rng_state(state)


@pytest.fixture
def pixel_pipeline(tmp_path):
    unet = randomize(diffusers.UNet2DModel(**UNET), scale=0.05, add=True).eval()
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(tmp_path / "ddpm")
    return unet, scheduler, tmp_path / "ddpm"


@pytest.fixture
def ldm_pipeline(tmp_path):
    unet = randomize(diffusers.UNet2DModel(**{**UNET, "sample_size": 8}), scale=0.05, add=True).eval()
    vq = randomize(diffusers.VQModel(in_channels=3, out_channels=3, latent_channels=3, num_vq_embeddings=16,
                                     block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                                     up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=8,
                                     layers_per_block=1), seed=1, scale=0.05, add=True).eval()
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear",
                                        beta_start=0.0015, beta_end=0.0195)
    diffusers.LDMPipeline(vqvae=vq, unet=unet, scheduler=scheduler).save_pretrained(tmp_path / "ldm")
    return unet, vq, scheduler, tmp_path / "ldm"


def test_pixel_unet_pipeline(pixel_pipeline):
    unet, scheduler, path = pixel_pipeline
    prior = sd.priors.build("diffusers", path=path)
    assert torch.allclose(prior.schedule.alphas_cumprod, scheduler.alphas_cumprod.double())
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([3, 800])
    with torch.no_grad():
        assert same(prior.eps(x, t), unet(x, t).sample)
    op = sd.operators.build("random_inpainting")
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    out = sd.algorithms.build("ddiff", prior=prior, operator=op, steps=6).solve(y, generator=torch.Generator().manual_seed(2))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_ldm_pipeline(ldm_pipeline):
    unet, vq, scheduler, path = ldm_pipeline
    prior = sd.priors.build("diffusers", path=path)
    assert isinstance(prior, sd.priors.LatentDiffusionPrior) and prior.factor == 2
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        z = vq.encode(x).latents
        assert same(prior.encode(x), z)
        assert same(prior.decode(z), vq.decode(z).sample)
        assert same(prior.eps(z, 500), unet(z, torch.tensor([500])).sample)
    op = sd.operators.build("hdr")
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    for consistency in ("latent", "pixel"):
        out = sd.algorithms.build("latent-ddiff", prior=prior, operator=op, consistency=consistency, steps=5).solve(
            y, generator=torch.Generator().manual_seed(2))
        assert out.shape == x.shape and torch.isfinite(out).all()


def test_v_prediction_is_converted(tmp_path):
    unet = randomize(diffusers.UNet2DModel(**UNET), scale=0.05, add=True).eval()
    scheduler = diffusers.DDPMScheduler(num_train_timesteps=1000, prediction_type="v_prediction")
    diffusers.DDPMPipeline(unet=unet, scheduler=scheduler).save_pretrained(tmp_path / "v")
    prior = sd.priors.build("diffusers", path=tmp_path / "v")
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    a = scheduler.alphas_cumprod[100]
    with torch.no_grad():
        v = unet(x, torch.tensor([100])).sample
    assert torch.allclose(prior.eps(x, 100), a.sqrt() * v + (1 - a).sqrt() * x, rtol=1e-5, atol=1e-5)


def test_not_a_pipeline_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="unet/ and scheduler/"):
        sd.priors.build("diffusers", path=tmp_path)


@pytest.mark.parametrize("change", ["missing", "unexpected", "wrong shape"])
def test_weights_that_do_not_fit_are_errors(pixel_pipeline, change):
    """diffusers initializes missing weights at random and goes on; splitdiff refuses (as for adm:)."""
    from safetensors.torch import load_file, save_file

    _, _, path = pixel_pipeline
    (weights,) = (path / "unet").glob("*.safetensors")
    state = load_file(str(weights))
    key = "conv_out.bias"
    if change == "missing":
        del state[key]
    elif change == "unexpected":
        state["extra.weight"] = torch.zeros(2)
    else:
        state[key] = torch.zeros(7)
    save_file(state, str(weights))
    with pytest.raises(sd.priors.CheckpointError, match=f"{change}.*(conv_out.bias|extra.weight)"):
        sd.priors.build("diffusers", path=path)


def test_unreadable_pipeline_is_a_value_error(pixel_pipeline):
    _, _, path = pixel_pipeline
    (path / "scheduler" / "scheduler_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="scheduler"):
        sd.priors.build("diffusers", path=path)

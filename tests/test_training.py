"""Training a prior: data split, objective, EMA, checkpoint/resume, export and loading."""

from __future__ import annotations

import json

import pytest
import torch

import splitdiff as sd
from splitdiff.training import TEST_IMAGES, TRAIN_IMAGES, CropDataModule, RandomCrops, export_prior, train_prior

TINY = dict(image_size=16, num_channels=32, num_res_blocks=1, channel_mult=(1, 2), attention_resolutions="8",
            num_head_channels=32)


def test_test_images_are_held_out():
    assert not set(TRAIN_IMAGES) & set(TEST_IMAGES)
    with pytest.raises(ValueError, match="held-out"):
        CropDataModule(names=("astronaut", "chelsea"))


def test_random_crops_are_deterministic_and_in_range():
    image = sd.training.load_skimage("astronaut")
    assert image.shape == (3, 512, 512) and image.min() >= -1 and image.max() <= 1
    crops = RandomCrops([image], size=32, length=8, seed=3)
    a, b = crops[5], RandomCrops([image], size=32, length=8, seed=3)[5]
    assert a.shape == (3, 32, 32) and torch.equal(a, b)
    assert not torch.equal(crops[5], crops[6])


def test_train_resume_export_and_load(tmp_path):
    last = train_prior(tmp_path / "run", max_steps=4, batch_size=2, flags=TINY, checkpoint_every=2, progress=False)
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["global_step"] == 4
    net = {k[4:]: v for k, v in state["state_dict"].items() if k.startswith("net.")}
    ema = {k[4:]: v for k, v in state["state_dict"].items() if k.startswith("ema.")}
    assert net.keys() == ema.keys() and any(not torch.equal(net[k], ema[k]) for k in net)
    with pytest.raises(ValueError, match="was trained with focus=0.0"):  # a run resumes with its own recipe
        train_prior(tmp_path / "run", max_steps=6, batch_size=2, flags=TINY, progress=False, focus=0.5)
    with pytest.raises(ValueError, match=r"crop_scales=\[0.125, 1.0\]"):
        train_prior(tmp_path / "run", max_steps=6, batch_size=2, flags=TINY, progress=False, crop_scales=(0.5, 1.0))
    last = train_prior(tmp_path / "run", max_steps=6, batch_size=2, flags=TINY, checkpoint_every=2, progress=False)
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 6  # resumed, not restarted
    weights = export_prior(last, tmp_path / "prior.safetensors")
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["steps"] == 6 and meta["test_images"] == list(TEST_IMAGES)
    assert meta["recipe"] == {"batch_size": 2, "crop_scales": [0.125, 1.0], "lr": 2e-4, "focus": 0.0,
                              "focus_below": 250}
    prior = sd.priors.default_prior(weights=weights)
    from safetensors.torch import load_file

    assert all(torch.equal(prior.net.state_dict()[k], v) for k, v in load_file(str(weights)).items())
    x = torch.randn(1, 3, 32, 32)  # any multiple of the downsampling factor
    assert torch.isfinite(prior.eps(x, 10)).all()
    # a run started from these weights records what they were trained on (the model card lists both)
    last = train_prior(tmp_path / "next", max_steps=2, batch_size=2, flags=TINY, progress=False, init=weights,
                       validation=False)
    again = json.loads(export_prior(last, tmp_path / "next.safetensors").with_suffix(".json").read_text())
    assert again["steps"] == 2
    assert again["init"] == {"weights": "prior.safetensors", "steps": 6, "train_images": meta["train_images"]}


def test_missing_default_weights_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-prior"):
        sd.priors.default_prior(weights=tmp_path / "none.safetensors")


def test_every_epoch_draws_fresh_crops(tmp_path):
    import lightning as L

    seen = []

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            seen.append((trainer.current_epoch, batch.clone()))

    train_prior(tmp_path / "run", max_steps=3, batch_size=2, flags=TINY, samples_per_epoch=2, progress=False,
                callbacks=[Record()])
    assert [e for e, _ in seen] == [0, 1, 2]
    assert not torch.equal(seen[0][1], seen[1][1]) and not torch.equal(seen[1][1], seen[2][1])


def test_cli_train_prior_with_architecture_flags(tmp_path):
    from splitdiff.cli import main

    flags = [f"--flag={k}={v!r}" for k, v in TINY.items()]
    weights = tmp_path / "p.safetensors"
    assert main(["train-prior", "--out", str(tmp_path / "run"), "--steps", "2", "--batch-size", "2",
                 "--accelerator", "cpu", "--export", str(weights), *flags]) == 0
    meta = json.loads(weights.with_suffix(".json").read_text())
    assert meta["flags"]["image_size"] == 16 and meta["flags"]["num_res_blocks"] == 1
    assert main(["train-prior", "--out", str(tmp_path / "bad"), "--flag", "num_channels"]) == 2


def test_train_prior_and_the_cli_share_one_step_count(tmp_path, monkeypatch, capsys):
    import inspect

    import splitdiff.training
    from splitdiff.cli import build_parser, main
    from splitdiff.training.train import TRAIN_STEPS

    assert inspect.signature(train_prior).parameters["max_steps"].default == TRAIN_STEPS
    calls = []
    monkeypatch.setattr(splitdiff.training, "train_prior", lambda out, **kw: calls.append(kw) or tmp_path / "last.ckpt")
    assert main(["train-prior", "--out", str(tmp_path / "run")]) == 0
    assert calls[0].get("max_steps", TRAIN_STEPS) == TRAIN_STEPS
    assert main(["train-prior", "--out", str(tmp_path / "run"), "--steps", "7"]) == 0
    assert calls[1]["max_steps"] == 7
    steps = next(a for a in build_parser()._subparsers._group_actions[0].choices["train-prior"]._actions
                 if "--steps" in a.option_strings)
    assert f"default: {TRAIN_STEPS}" in steps.help


def test_the_photographs_are_loaded_outside_training():
    from splitdiff.evaluation import images

    assert sd.training.load_skimage is images.load_skimage
    assert (sd.training.TRAIN_IMAGES, sd.training.TEST_IMAGES) == (images.TRAIN_IMAGES, images.TEST_IMAGES)


def test_every_epoch_logs_the_denoising_psnr_on_the_held_out_benchmark(tmp_path):
    import csv

    train_prior(tmp_path / "run", max_steps=2, batch_size=2, flags=TINY, samples_per_epoch=2, progress=False)
    rows = list(csv.DictReader(next((tmp_path / "run" / "logs").rglob("metrics.csv")).open()))
    curve = [r for r in rows if r.get("val_psnr_sigma_0.1")]
    assert len(curve) == 2  # after each epoch
    for r in curve:
        values = [float(r[f"val_psnr_sigma_{s:g}"]) for s in (0.05, 0.1, 0.2, 0.4)]
        assert all(0 < v < 60 for v in values)
    train_prior(tmp_path / "off", max_steps=2, batch_size=2, flags=TINY, samples_per_epoch=2, progress=False,
                validation=False)
    logs = list((tmp_path / "off" / "logs").rglob("metrics.csv"))  # nothing logged in 2 steps without it
    assert not any(r.get("val_psnr_sigma_0.1") for f in logs for r in csv.DictReader(f.open()))


def test_denoising_psnr_against_an_oracle_and_a_zero_network():
    """An oracle network that returns the true noise recovers x exactly (PSNR at the 1e-12 MSE
    floor); a zero network gives x_t / sqrt(a_t) = x + sigma_t n, whose PSNR is
    ``10 log10(4 / sigma_t^2)`` in expectation (clamping to [-1, 1] only raises it)."""
    import math

    from splitdiff.priors.schedule import NoiseSchedule
    from splitdiff.training.validation import denoising_psnr, timestep_for

    schedule = NoiseSchedule.linear()
    x = torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8
    t = timestep_for(0.1, schedule)
    a = float(schedule.alphas_cumprod[t])
    sigma_t = math.sqrt((1 - a) / a)
    # linear betas 1e-4..0.02 (numpy, written out): a_26 = 0.990353, sigma_26 = 0.09870 is the nearest to 0.1
    assert t == 26 and abs(sigma_t - 0.098697) < 1e-5
    assert abs(a - 0.990353) < 1e-6

    def oracle(x_t, steps):
        a_t = float(schedule.alphas_cumprod[int(steps[0])])
        return (x_t - math.sqrt(a_t) * x) / math.sqrt(1 - a_t)

    assert denoising_psnr(oracle, x, schedule, sigmas=(0.1, 0.4))[0.4] > 100
    zero = denoising_psnr(lambda x_t, steps: torch.zeros_like(x_t), x, schedule, sigmas=(0.1,))
    assert 10 * math.log10(4 / sigma_t**2) - 0.2 < zero[0.1] < 10 * math.log10(4 / sigma_t**2) + 0.5


def test_classical_denoisers_see_the_priors_noisy_images():
    """The curve compares like with like: given the schedule, a classical denoiser receives
    exactly the prior's input ``x_t / sqrt(a_t) = x + sigma_t n`` (same draws) and is told that
    sigma_t (0.098697 for 0.1 on the linear schedule: see the test above), not ``x + 0.1 n``."""
    import math

    from splitdiff.priors.schedule import NoiseSchedule
    from splitdiff.training.validation import classical_psnr, denoising_psnr

    schedule = NoiseSchedule.linear()
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8
    seen_by_prior, seen_by_classical, told = [], [], []

    def eps(x_t, steps):  # records what the prior sees, as x_t / sqrt(a_t)
        a_t = float(schedule.alphas_cumprod[int(steps[0])])
        seen_by_prior.append(x_t / math.sqrt(a_t))
        return torch.zeros_like(x_t)

    def identity(noisy, sigma):
        seen_by_classical.append(noisy)
        told.append(sigma)
        return noisy

    sigmas = (0.05, 0.1, 0.4)
    denoising_psnr(eps, x, schedule, sigmas=sigmas)
    curve = classical_psnr(identity, x, sigmas=sigmas, schedule=schedule)
    assert list(curve) == list(sigmas)  # the curve keeps the nominal levels as its keys
    for prior_input, classical_input in zip(seen_by_prior, seen_by_classical, strict=True):
        torch.testing.assert_close(classical_input, prior_input, rtol=0, atol=1e-6)
    assert abs(told[1] - 0.098697) < 1e-5  # t = 26 on the linear schedule
    plain = []
    classical_psnr(lambda noisy, sigma: plain.append((noisy, sigma)) or noisy, x, sigmas=sigmas)
    assert plain[1][1] == 0.1  # without a schedule: x + 0.1 n, the same draw n
    torch.testing.assert_close((plain[1][0] - x) * told[1] / 0.1, seen_by_classical[1] - x, rtol=0, atol=1e-5)


def test_crop_scales_bound_the_crop_side():
    # a horizontal ramp: a crop of side s (of the 256-pixel image), resized to 16, spans s/256 of
    # the ramp's range; scales in [1/8, 1/4] of 16 / min-side give sides 64..128 of 256
    ramp = torch.linspace(-1, 1, 256).expand(3, 256, 256).contiguous()
    crops = RandomCrops([ramp], size=16, length=64, min_scale=16 / 128, max_scale=16 / 64, seed=1)
    spans = torch.stack([crops[i][0, 0].max() - crops[i][0, 0].min() for i in range(len(crops))])
    step = 2 / 255  # the ramp's increment per pixel
    assert (spans >= (64 - 17) * step).all() and (spans <= 128 * step).all()
    fine = RandomCrops([ramp], size=16, length=64, min_scale=0.5, max_scale=1.0, seed=1)
    assert all(fine[i][0, 0].max() - fine[i][0, 0].min() <= 32 * step for i in range(len(fine)))  # sides 16..32
    with pytest.raises(ValueError, match="scale"):
        RandomCrops([ramp], size=16, min_scale=0.5, max_scale=0.25)
    with pytest.raises(ValueError, match="scale"):
        RandomCrops([ramp], size=16, min_scale=0.5, max_scale=1.5)


def test_timestep_focus_draws_the_stated_share_of_low_noise_levels():
    from splitdiff.training.module import draw_timesteps

    g = torch.Generator().manual_seed(0)
    t = draw_timesteps(200_000, 1000, generator=g)
    assert t.min() >= 0 and t.max() <= 999 and abs(float((t < 250).float().mean()) - 0.25) < 0.005
    t = draw_timesteps(200_000, 1000, focus=0.5, focus_below=250, generator=g)
    # half uniform below 250, half uniform over all 1000: P(t < 250) = 0.5 + 0.5 * 0.25
    assert t.min() >= 0 and t.max() <= 999 and abs(float((t < 250).float().mean()) - 0.625) < 0.005
    assert abs(float((t >= 500).float().mean()) - 0.25) < 0.005  # 0.5 * 0.5
    for bad in (dict(focus=-0.1), dict(focus=1.5), dict(focus=0.5, focus_below=0), dict(focus=0.5, focus_below=1001)):
        with pytest.raises(ValueError):
            draw_timesteps(4, 1000, **bad)

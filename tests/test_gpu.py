"""The same solves on a CUDA device (marked gpu: skipped by default, run with -m gpu)."""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("operator", ["super_resolution", "gaussian_blur", "motion_blur", "random_inpainting",
                                      "phase_retrieval", "hdr"])
def test_ddiff_on_cuda_matches_cpu(operator):
    prior = sd.priors.build("random_network").double()
    op = sd.operators.build(operator)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    x_T = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    # no fresh noise (t0 = 1000) and DDIM re-noising: deterministic and not chaotic
    options = dict(steps=20, t0=1000, full_renoise_step=False)
    cpu = sd.algorithms.build("ddiff", prior=prior, operator=op, **options).solve(y, x_T=x_T)
    solver_cuda = sd.algorithms.build("ddiff", prior=prior.cuda(), operator=op.cuda(), **options)
    gpu = solver_cuda.solve(y.cuda(), x_T=x_T.cuda())
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-5)


def test_default_prior_quality_on_cuda(tmp_path):
    """The acceptance benchmark with --device cuda (gpu_session.sh runs it at 1,000 steps): it
    solves on the GPU, keeps its draws and scores on the CPU; TV solves the same measurements as
    on the CPU, so its rows agree with a CPU run's."""
    import csv

    from benchmarks import default_prior_quality

    common = ["--size", "32", "--steps", "2", "--samples", "2", "--limit", "2", "--tasks", "random_inpainting",
              "--tv-strengths", "5"]
    for device in ("cpu", "cuda"):
        default_prior_quality.main(common + ["--device", device, "--out", str(tmp_path / device)])
    rows = {device: {(r["method"], r["image"]): float(r["psnr"]) for r in csv.DictReader(open(tmp_path / device / "rows.csv"))}
            for device in ("cpu", "cuda")}
    assert rows["cpu"].keys() == rows["cuda"].keys()
    for key in rows["cpu"]:
        if key[0] == "pnp-admm-tv":
            assert rows["cuda"][key] == pytest.approx(rows["cpu"][key], abs=1e-3)
    assert (tmp_path / "cuda" / "draws-random_inpainting.safetensors").exists()

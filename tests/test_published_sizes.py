"""Published architectures at full size: save in the original layout, load, identical outputs.

About 30 s and 2 GB of temporary disk on 2 CPU cores: marked slow (``pytest -m slow``). The
fast suite checks the same layouts' parameter and key counts on the meta device
(tests/test_adm.py, tests/test_latent.py).
"""

from __future__ import annotations

import pytest
import torch

import splitdiff as sd
from splitdiff.operators import KernelWizard
from splitdiff.priors import ADM_PRESETS, create_unet, save_ldm_checkpoint
from helpers import randomize, same

pytestmark = pytest.mark.slow


def test_adm_ffhq_full_size(tmp_path):
    net = randomize(create_unet(**ADM_PRESETS["ffhq"]), scale=0.01, add=True).eval()
    torch.save(net.state_dict(), tmp_path / "ffhq_10m.pt")
    prior = sd.priors.build("adm", checkpoint=tmp_path / "ffhq_10m.pt", config="ffhq")
    x = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert same(prior.eps(x, 500), net(x, torch.tensor([500]))[:, :3])


def test_ldm_ffhq_full_size(tmp_path):
    prior = randomize(sd.priors.ldm(random_init=True), scale=0.01, add=True)
    save_ldm_checkpoint(prior, tmp_path / "model.ckpt")
    loaded = sd.priors.build("ldm", checkpoint=tmp_path / "model.ckpt")
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)) * 2 - 1
    z = prior.encode(x)
    assert z.shape == (1, 3, 64, 64)
    assert same(loaded.encode(x), z) and same(loaded.eps(z, 400), prior.eps(z, 400))
    assert same(loaded.decode(z), prior.decode(z))


def test_kernel_wizard_full_size(tmp_path):
    net = randomize(KernelWizard(), scale=0.01, add=True).eval()
    torch.save(net.state_dict(), tmp_path / "GOPRO_wVAE.pth")
    op = sd.operators.build("nonlinear_blur", checkpoint=tmp_path / "GOPRO_wVAE.pth")
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)) * 2 - 1
    code = torch.randn(1, 512, 2, 2, generator=torch.Generator().manual_seed(0)) * 1.2
    with torch.no_grad():
        assert same(op(x), (net.adapt_kernel((x + 1) / 2, code) * 2 - 1).clamp(-1, 1))

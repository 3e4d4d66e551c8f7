"""The shipped default prior: a small ADM trained by ``splitdiff train-prior`` on licensed
photographs (see docs/model-card.md). Weights live in ``splitdiff/weights``."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .adm import ADM_DEFAULTS, ADM_LAYOUT_FLAGS, ADMPrior, adm

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "default_prior.safetensors"



def default_prior(device: str | torch.device = "cpu", weights: str | Path | None = None,
                  dtype: torch.dtype | None = None) -> ADMPrior:
    """The default pixel prior (3 channels, trained at 64x64; any side that is a multiple of 8),
    with the fastest equivalent forward for ``device`` (``adm.FORWARD``). ``dtype``
    (``torch.bfloat16`` / ``float16``, for GPUs) runs the network in that precision, as for
    any ADM prior (``priors.adm``)."""
    path = Path(weights) if weights else WEIGHTS
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise FileNotFoundError(
            f"default prior weights not found at {path} (and {meta_path.name}); reinstall splitdiff, or train "
            "them with `splitdiff train-prior --export PATH`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{meta_path} is not valid JSON ({err}); it should be the metadata written beside the "
                         "weights by `splitdiff train-prior --export`") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("flags"), dict):
        raise ValueError(f"{meta_path} must be a JSON object with a 'flags' object (the ADM architecture flags), "
                         f"got {type(meta).__name__}" + (" without 'flags'" if isinstance(meta, dict) else ""))
    # `train-prior --export` writes the flags it was given: the rest are guided-diffusion's defaults
    flags = {**{key: ADM_DEFAULTS[key] for key in ADM_LAYOUT_FLAGS}, **meta["flags"]}
    prior = adm(checkpoint=path, config=None, device=device, dtype=dtype, **flags)
    prior.any_size = True
    prior.meta = meta
    return prior

"""Prior specifications as the command line and evaluation configs write them.

``default[:WEIGHTS]`` | ``tv[:STRENGTH]`` | ``wavelet`` | ``wiener`` | ``adm:PATH[:ffhq|imagenet]`` |
``ldm:PATH`` | ``diffusers:DIR``. Checkpoints are read without running code from them
(see :func:`splitdiff.priors.read_state_dict`); ``trust_checkpoint=True`` allows full
unpickling, for files whose origin the user trusts.
"""

from __future__ import annotations

import math

import torch

SPEC_FORMS = "default[:WEIGHTS], tv[:STRENGTH], wavelet, wiener, adm:PATH[:ffhq|imagenet], ldm:PATH or diffusers:DIR"


def parse_prior(spec: str, device: str | torch.device = "cpu", trust_checkpoint: bool = False):
    """Build the prior named by ``spec`` on ``device``; ValueError for an unknown form."""
    from . import REGISTRY

    if not isinstance(spec, str):
        raise ValueError(f"a prior is named by a string ({SPEC_FORMS}), got {spec!r}")
    kind, _, rest = spec.partition(":")
    if kind == "default":
        return REGISTRY.build("default", device=device, weights=rest or None)
    if kind in ("tv", "wavelet", "wiener") and not rest:
        return REGISTRY.build(kind)
    if kind == "tv":
        try:
            strength = float(rest)
        except ValueError:
            raise ValueError(f"unknown prior {spec!r}: tv:STRENGTH takes a positive number, got {rest!r}") from None
        if not math.isfinite(strength) or strength <= 0:
            raise ValueError(f"unknown prior {spec!r}: TV's strength must be a positive number, got {rest!r}")
        return REGISTRY.build("tv", strength=strength)
    if kind == "adm" and rest:
        path, _, config = rest.partition(":")
        return REGISTRY.build("adm", checkpoint=path, config=config or "ffhq", device=device,
                              trusted=trust_checkpoint)
    if kind == "ldm" and rest:
        return REGISTRY.build("ldm", checkpoint=rest, device=device, trusted=trust_checkpoint)
    if kind == "diffusers" and rest:
        return REGISTRY.build("diffusers", path=rest, device=device)
    raise ValueError(f"unknown prior {spec!r}; use {SPEC_FORMS}")

"""Reading checkpoints safely and loading them strictly: never random weights by accident."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import Tensor, nn


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says how."""


def read_state_dict(path: str | Path, prefix: str = "", trusted: bool = False) -> dict[str, Tensor]:
    """Tensors of a ``.pt`` / ``.pth`` / ``.ckpt`` (``torch.load(weights_only=True)``) or
    ``.safetensors`` file. A Lightning-style ``{"state_dict": ...}`` is unwrapped. With
    ``prefix``, only keys starting with it are kept, with the prefix removed.

    ``trusted=True`` allows full unpickling: only for files whose origin you trust.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as err:  # safetensors raises its own error types
            raise CheckpointError(f"could not read {path} as safetensors: {err}") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=not trusted)
        except pickle.UnpicklingError as err:
            raise CheckpointError(
                f"{path} holds objects other than tensors ({str(err).splitlines()[0]}); "
                "if you trust its origin, pass trusted=True"
            ) from None
        except (RuntimeError, EOFError, OSError, ValueError) as err:
            raise CheckpointError(f"could not read {path}: it is corrupted or not a PyTorch checkpoint ({err})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f"{path} has no keys starting with {prefix!r}")
    return state


def load_strict(module: nn.Module, state: dict[str, Tensor], source: str = "checkpoint") -> nn.Module:
    """Load ``state`` into ``module``; any missing, unexpected or mis-shaped key is an error."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if items:
                more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
                parts.append(f"{len(items)} {label}: {', '.join(items[:5])}{more}")
        raise CheckpointError(
            f"{source} does not match {type(module).__name__} ({len(expected)} keys expected, "
            f"{len(state)} found): " + "; ".join(parts) + ". Check the config/preset you chose."
        )
    module.load_state_dict(state, strict=True)
    return module

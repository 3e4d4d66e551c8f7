"""Reading checkpoints safely and loading them strictly: never random weights by accident, and
never code from a file.

PyTorch checkpoints are pickles, and a pickle can run any code when it is loaded. splitdiff
reads them with ``torch.load(weights_only=True)``, PyTorch's restricted unpickler, which
rebuilds tensors and containers and calls nothing else. Training checkpoints (Lightning, the
CompVis LDM ``model.ckpt``) also hold other objects (callbacks, numpy scalars, optimizer
settings); those are replaced by inert placeholders, :class:`OpaqueObject`, that import and
run nothing, and only the tensors are kept. Full unpickling, which runs whatever the file
says, happens only with ``trusted=True`` (the command line's ``--trust-checkpoint``).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit the model; the message says how."""


class OpaqueObject:
    """Stands in for an object of a class the reader does not import (``qualname``): it takes
    any constructor arguments and state and keeps only the class name. Never callable code."""

    qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<opaque {self.qualname}>"


#: Modules whose callables only a hostile file names (``commands`` and ``__builtin__``: the
#: Python 2 names pickle still writes for ``subprocess`` and ``builtins``).
_REFUSED_MODULES = ("os", "posix", "nt", "sys", "subprocess", "commands", "builtins", "__builtin__", "pty", "shutil",
                    "importlib", "runpy", "socket", "pickle", "code", "ctypes", "webbrowser")


def _opaque(qualname: str) -> type:
    return type("OpaqueObject", (OpaqueObject,), {"qualname": qualname, "__module__": __name__})


def safe_load(path: str | Path) -> Any:
    """The content of a PyTorch file, read without running code from it.

    Tensors and plain containers come back as they are; objects of any other class come
    back as :class:`OpaqueObject` placeholders. Raises :class:`CheckpointError` for a file
    that is not a readable PyTorch file.
    """
    path = Path(path)
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - not a zip checkpoint: the legacy format, read with no placeholders
        names = []
    # torch refuses these modules whatever the allow-list says: only a hostile file names them
    blocked = [n for n in names if n.split(".")[0] in _REFUSED_MODULES]
    if blocked:
        raise CheckpointError(f"{path} asks to call {', '.join(blocked)} when loaded: it is not a checkpoint splitdiff "
                              "will open (it may be malicious)")
    try:
        with torch.serialization.safe_globals([(_opaque(name), name) for name in names]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - the restricted unpickler refused or the file is broken
        refused = re.search(r"GLOBAL ([\w.]+)", str(err))
        if refused:
            raise CheckpointError(f"{path} asks to load {refused.group(1)}, which splitdiff does not unpickle; if "
                                  "you trust the file's origin, pass trusted=True (--trust-checkpoint)") from None
        raise CheckpointError(f"could not read {path}: it is corrupted or not a PyTorch checkpoint") from None


def first_line(err: BaseException) -> str:
    """The first non-empty line of an error's message (its type name if it has none)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def load_checkpoint(path: str | Path, trusted: bool = False) -> Any:
    """The content of a PyTorch file: :func:`safe_load`, or with ``trusted=True`` a full unpickle
    (``weights_only=False``, with a warning: it runs any code the file holds)."""
    return _unsafe_load(Path(path)) if trusted else safe_load(path)


def _unsafe_load(path: Path) -> Any:
    warnings.warn(f"unpickling {path} with weights_only=False: it can run any code it holds; do this only for "
                  "files whose origin you trust", UserWarning, stacklevel=3)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"could not read {path}: {first_line(err)}") from None


def read_state_dict(path: str | Path, prefix: str = "", trusted: bool = False) -> dict[str, Tensor]:
    """Tensors of a ``.pt`` / ``.pth`` / ``.ckpt`` or ``.safetensors`` file.

    PyTorch files are read by :func:`safe_load` (no code runs); a Lightning-style
    ``{"state_dict": ...}`` is unwrapped and any other entries are ignored. With ``prefix``,
    only keys starting with it are kept, with the prefix removed.

    ``trusted=True`` unpickles the file fully (``weights_only=False``), which runs any code it
    holds: only for files whose origin you trust, and never needed for tensors.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; expected a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            state = load_file(str(path))
        except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
            raise CheckpointError(f"could not read {path} as safetensors: {first_line(err)}") from None
    else:
        state = load_checkpoint(path, trusted)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors); "
                              f"it holds {_describe(state)}")
    others = {str(k): _describe(v) for k, v in state.items() if not isinstance(v, Tensor)}
    if others:
        listed = ", ".join(f"{k}: {v}" for k, v in list(others.items())[:3])
        raise CheckpointError(f"{path} holds objects other than tensors ({listed}); a state dict of tensors "
                              "is expected")
    state = {str(k): v for k, v in state.items()}
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if not state:
            raise CheckpointError(f"{path} has no keys starting with {prefix!r}")
    return state


def _describe(value: Any) -> str:
    return repr(value) if isinstance(value, OpaqueObject) else type(value).__name__


def load_strict(module: nn.Module, state: dict[str, Tensor], source: str = "checkpoint") -> nn.Module:
    """Load ``state`` into ``module``; any missing, unexpected or mis-shaped key is an error.

    ``module`` may live on the ``meta`` device (built without allocating its weights): its
    parameters are then replaced by the checked tensors of ``state``.
    """
    check_state(module, state, source)
    meta = any(t.is_meta for t in module.state_dict().values())
    module.load_state_dict(state, strict=True, assign=meta)
    return module


def check_state(module: nn.Module, state: dict[str, Tensor], source: str = "checkpoint") -> None:
    """Raise :class:`CheckpointError` unless ``state`` has exactly ``module``'s keys and shapes."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items() if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    # a weight is a dense tensor of the model's kind (floating point where the model's is)
    mismatched += [
        f"{k}: file {state[k].dtype} {str(state[k].layout).replace('torch.', '')} vs model {v.dtype}"
        for k, v in expected.items() if k in state and k not in {m.split(':')[0] for m in mismatched}
        and (state[k].is_floating_point() != v.is_floating_point() or state[k].layout != torch.strided
             or state[k].is_meta)
    ]
    if missing or unexpected or mismatched:
        parts = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape or type", mismatched)):
            if items:
                more = f" (+{len(items) - 5} more)" if len(items) > 5 else ""
                parts.append(f"{len(items)} {label}: {', '.join(items[:5])}{more}")
        raise CheckpointError(
            f"{source} does not match {type(module).__name__} ({len(expected)} keys expected, "
            f"{len(state)} found): " + "; ".join(parts) + ". Check the config/preset you chose."
        )

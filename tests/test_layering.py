"""Layering: what may import what inside splitdiff.

- A private name (``_x``, not a dunder) belongs to its subpackage: a module may import one from
  another module of its own subpackage (``operators.inpainting`` from ``operators.base``), never
  from another subpackage. A subpackage is ``splitdiff.<name>``; each top-level module
  (``splitdiff.cli``, ``splitdiff.demo``, ...) is one of its own. Imports inside functions count.
- Images do not depend on training: the demo's held-out images load without Lightning.
- Every module imports into a fresh ``splitdiff`` (no module-level import cycle that fails).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(importlib.util.find_spec("splitdiff").origin).parent


def modules() -> list[tuple[str, Path, bool]]:
    """Every module of splitdiff, found on disk without importing it: (dotted name, file, is a package)."""
    found = [("splitdiff", PACKAGE / "__init__.py", True)]
    for info in pkgutil.iter_modules([str(PACKAGE)], "splitdiff."):
        found += walk(info.name, PACKAGE / info.name.rpartition(".")[2], info.ispkg)
    return found


def walk(name: str, path: Path, is_package: bool) -> list[tuple[str, Path, bool]]:
    if not is_package:
        return [(name, path.with_suffix(".py"), False)]
    found = [(name, path / "__init__.py", True)]
    for info in pkgutil.iter_modules([str(path)], f"{name}."):
        found += walk(info.name, path / info.name.rpartition(".")[2], info.ispkg)
    return found


def unit(name: str) -> str:
    """The subpackage a module belongs to: ``splitdiff.X`` for ``splitdiff.X`` and ``splitdiff.X.*``."""
    return ".".join(name.split(".")[:2])


def imported_from(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of ``from ... import ...`` in module ``name``."""
    if not node.level:
        return node.module or ""
    parts = name.split(".") if is_package else name.split(".")[:-1]
    base = parts[:len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def is_private(symbol: str) -> bool:
    return symbol.startswith("_") and not (symbol.startswith("__") and symbol.endswith("__"))


def test_every_module_is_found():
    names = {name for name, _, _ in modules()}
    assert {"splitdiff.cli", "splitdiff.algorithms.dps", "splitdiff.training.crops", "splitdiff.__main__"} <= names
    assert all(path.is_file() for _, path, _ in modules())


def test_no_private_name_is_imported_across_subpackages():
    crossings = []
    for name, path, is_package in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = imported_from(name, is_package, node)
            if source.split(".")[0] != "splitdiff":
                continue
            for alias in node.names:
                # `from splitdiff import _x` may name a module: its unit is splitdiff._x
                target = unit(f"{source}.{alias.name}") if source == "splitdiff" else unit(source)
                if is_private(alias.name) and target != unit(name):
                    crossings.append(f"{name}:{node.lineno} imports {alias.name} from {source}")
    assert not crossings, "private names imported across subpackages:\n" + "\n".join(crossings)


#: Run in a fresh interpreter: (1) ``import splitdiff`` and the demo's held-out images, then the
#: Lightning modules loaded; (2) every splitdiff module that ``import splitdiff`` did not load,
#: each into a fresh splitdiff (the others cannot fail on their own: importing any module runs
#: ``splitdiff/__init__`` first, which loads them). Third-party modules stay loaded, so one
#: torch import serves all.
PROBE = """
import importlib, json, sys, traceback
import splitdiff
names, x = splitdiff.demo.held_out_images(8)
assert x.shape == (len(names), 3, 8, 8), x.shape
lightning = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning"))
eager = {m for m in sys.modules if m.split(".")[0] == "splitdiff"}
failed = {}
for name in NAMES:
    if name in eager:
        continue
    for loaded in [m for m in sys.modules if m.split(".")[0] == "splitdiff"]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc().strip().splitlines()[-1]
print(json.dumps({"lightning": lightning[:5], "failed": failed}))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    names = [name for name, _, _ in modules() if name != "splitdiff.__main__"]  # __main__ runs the CLI
    result = subprocess.run([sys.executable, "-c", PROBE.replace("NAMES", repr(names))], capture_output=True,
                            text=True, timeout=300, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_held_out_images_load_without_lightning(probe):
    assert probe["lightning"] == [], f"import splitdiff + demo.held_out_images loaded {probe['lightning']}"


def test_every_module_imports_into_a_fresh_splitdiff(probe):
    assert probe["failed"] == {}, "\n".join(f"{k}: {v}" for k, v in probe["failed"].items())

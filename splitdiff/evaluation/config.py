"""Evaluation configs: what to solve (tasks x methods x images) and where to write it.

A config is a YAML file (or a dict)::

    name: table1-ffhq            # the results folder is OUT/name
    dataset: ffhq                # the dataset's label in the tables
    data:                        # an image folder ...
      folder: data/ffhq          #   (relative paths are relative to the config file)
      convention: ffhq           #   ffhq: center crop | imagenet: resize, then center crop | resize
      size: 256
      limit: 100                 #   the first N images in name order (optional)
    # data: {skimage: [chelsea, coffee], size: 64}   ... or scikit-image's photographs
    prior: adm:ckpt/ffhq_10m.pt:ffhq   # as for `splitdiff solve --prior`
    seed: 0
    layout: table1               # table1 (task x method per dataset) | table2 (variant x task)
    trace: false                 # record ||x - z|| and ||u|| per iteration (Fig. 1)
    tasks:                       # name -> operator, options, sigma_y (a number or a list), best_of
      super_resolution: {options: {scale: 4}}
      phase_retrieval: {best_of: 5}
    methods:                     # name -> registered algorithm, options, per_task options, prior
      ddiff: {algorithm: ddiff, options: {steps: 1000, dataset: ffhq}}
    trainer: {accelerator: auto, devices: auto, num_nodes: 1}

Each (task, sigma_y, method, image) is one :class:`Item`, solved and scored once.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONVENTIONS = ("ffhq", "imagenet", "resize")
LAYOUTS = ("table1", "table2")
_TOP_KEYS = {"name", "dataset", "data", "prior", "seed", "layout", "trace", "tasks", "methods", "trainer"}


@dataclass(frozen=True)
class TaskSpec:
    """One forward model: a registered operator, its options, its noise levels and best-of-k."""

    name: str
    operator: str
    options: dict
    sigma_y: tuple[float, ...]
    best_of: int = 1


@dataclass(frozen=True)
class MethodSpec:
    """One solver: a registered algorithm, its options, options that apply to one task only, and
    optionally its own prior (e.g. ``tv`` for a classical baseline; default: the config's)."""

    name: str
    algorithm: str
    options: dict
    per_task: dict
    prior: str | None = None

    def options_for(self, task: str) -> dict:
        return {**self.options, **self.per_task.get(task, {})}


@dataclass(frozen=True)
class DataSpec:
    """Where the ground-truth images come from and how they are cropped to ``size``."""

    folder: Path | None
    skimage: tuple[str, ...]
    convention: str
    size: int
    limit: int | None


@dataclass(frozen=True)
class Item:
    """One unit of work: an image under one task, noise level and method."""

    index: int
    task: str
    sigma_y: float
    method: str
    image: str
    image_index: int

    @property
    def key(self) -> str:
        """A path-safe identifier, unique within a config: ``task@sigma/method/image``."""
        return f"{self.task}@{self.sigma_y:g}/{self.method}/{self.image}"

    def seed(self, base: int) -> int:
        """The item's seed: a function of the config seed and the item, never of rank or order."""
        return (base * 1_000_003 + zlib.crc32(self.key.encode())) % (2**31)


@dataclass(frozen=True)
class EvalConfig:
    """A parsed, validated evaluation config."""

    name: str
    dataset: str
    data: DataSpec
    prior: str
    tasks: tuple[TaskSpec, ...]
    methods: tuple[MethodSpec, ...]
    seed: int = 0
    layout: str = "table1"
    trace: bool = False
    trainer: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    def items(self, images: list[str]) -> list[Item]:
        """Every (task, sigma_y, method, image) in a fixed order."""
        out = []
        for task in self.tasks:
            for sigma in task.sigma_y:
                for method in self.methods:
                    for i, image in enumerate(images):
                        out.append(Item(len(out), task.name, sigma, method.name, image, i))
        return out

    def task(self, name: str) -> TaskSpec:
        return next(t for t in self.tasks if t.name == name)

    def method(self, name: str) -> MethodSpec:
        return next(m for m in self.methods if m.name == name)


def _fail(where: str, message: str):
    raise ValueError(f"evaluation config: {where}: {message}")


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, f"expected a mapping, got {type(value).__name__}")
    return dict(value)


def _unknown(d: dict, allowed: set, where: str) -> None:
    extra = set(d) - allowed
    if extra:
        _fail(where, f"unknown keys {sorted(extra)}; allowed: {sorted(allowed)}")


def _data(d: dict, base: Path) -> DataSpec:
    _unknown(d, {"folder", "skimage", "convention", "size", "limit"}, "data")
    if ("folder" in d) == ("skimage" in d):
        _fail("data", "give exactly one of 'folder' (an image folder) or 'skimage' (a list of image names)")
    folder = None
    if "folder" in d:
        folder = Path(d["folder"]).expanduser()
        folder = folder if folder.is_absolute() else base / folder
    convention = d.get("convention", "ffhq")
    if convention not in CONVENTIONS:
        _fail("data.convention", f"expected one of {CONVENTIONS}, got {convention!r}")
    size = _int_at_least(d.get("size", 256), 8, "data.size")
    limit = d.get("limit")
    if limit is not None:
        _int_at_least(limit, 1, "data.limit")
    names = tuple(d.get("skimage", ()))
    return DataSpec(folder, names, convention, size, limit)


def _entries(d: dict, section: str, allowed: set):
    """``(name, spec)`` of a non-empty ``section`` whose entries are mappings with ``allowed`` keys."""
    if not d:
        _fail(section, f"at least one entry is needed in '{section}'")
    for name, spec in d.items():
        spec = _mapping(spec, f"{section}.{name}")
        _unknown(spec, allowed, f"{section}.{name}")
        yield str(name), spec


def _int_at_least(value, low: int, where: str) -> int:
    if not isinstance(value, int) or value < low:
        _fail(where, f"expected an integer >= {low}, got {value!r}")
    return value


def _tasks(d: dict) -> tuple[TaskSpec, ...]:
    out = []
    for name, spec in _entries(d, "tasks", {"operator", "options", "sigma_y", "best_of"}):
        sigma = spec.get("sigma_y", 0.05)
        sigma = tuple(float(s) for s in (sigma if isinstance(sigma, (list, tuple)) else [sigma]))
        if not sigma or any(s <= 0 for s in sigma):
            _fail(f"tasks.{name}.sigma_y", f"expected positive noise levels, got {spec.get('sigma_y')!r}")
        best_of = _int_at_least(spec.get("best_of", 1), 1, f"tasks.{name}.best_of")
        options = _mapping(spec.get("options"), f"tasks.{name}.options")
        if "sigma" in options:
            _fail(f"tasks.{name}.options", "set the noise with 'sigma_y', not an operator option")
        out.append(TaskSpec(name, str(spec.get("operator", name)), options, sigma, best_of))
    return tuple(out)


def _methods(d: dict) -> tuple[MethodSpec, ...]:
    out = []
    for name, spec in _entries(d, "methods", {"algorithm", "options", "per_task", "prior"}):
        per_task = {k: _mapping(v, f"methods.{name}.per_task.{k}")
                    for k, v in _mapping(spec.get("per_task"), f"methods.{name}.per_task").items()}
        out.append(MethodSpec(name, str(spec.get("algorithm", name)),
                              _mapping(spec.get("options"), f"methods.{name}.options"), per_task,
                              None if spec.get("prior") is None else str(spec["prior"])))
    return tuple(out)


def parse_config(raw: dict, base: str | Path = ".") -> EvalConfig:
    """Validate a config mapping; relative data paths are taken relative to ``base``."""
    from .. import algorithms, operators

    raw = _mapping(raw, "top level")
    _unknown(raw, _TOP_KEYS, "top level")
    for key in ("name", "prior", "data", "tasks", "methods"):
        if key not in raw:
            _fail(key, "missing")
    layout = raw.get("layout", "table1")
    if layout not in LAYOUTS:
        _fail("layout", f"expected one of {LAYOUTS}, got {layout!r}")
    tasks, methods = _tasks(_mapping(raw["tasks"], "tasks")), _methods(_mapping(raw["methods"], "methods"))
    for t in tasks:
        if t.operator not in operators.names():
            _fail(f"tasks.{t.name}.operator", f"unknown operator {t.operator!r}; known: {', '.join(operators.names())}")
    for m in methods:
        if m.algorithm not in algorithms.names():
            _fail(f"methods.{m.name}.algorithm",
                  f"unknown algorithm {m.algorithm!r}; known: {', '.join(algorithms.names())}")
        for task in m.per_task:
            if task not in {t.name for t in tasks}:
                _fail(f"methods.{m.name}.per_task", f"{task!r} is not one of the config's tasks")
    name = str(raw["name"])
    if not name or "/" in name or name.startswith("."):
        _fail("name", f"expected a plain folder name, got {name!r}")
    return EvalConfig(
        name=name, dataset=str(raw.get("dataset", name)), data=_data(_mapping(raw["data"], "data"), Path(base)),
        prior=str(raw["prior"]), tasks=tasks, methods=methods, seed=int(raw.get("seed", 0)), layout=layout,
        trace=bool(raw.get("trace", False)),
        trainer=_mapping(raw.get("trainer"), "trainer"), source=raw,
    )


#: Configs shipped with splitdiff (``splitdiff evaluate NAME``).
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def shipped_configs() -> list[str]:
    """Names of the configs shipped in ``splitdiff/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def load_config(path_or_name: str | Path, overrides: dict | None = None) -> EvalConfig:
    """Read a YAML config from a path, or a shipped config by name; ``overrides`` replace top-level keys."""
    path = Path(path_or_name).expanduser()
    if not path.is_file():
        shipped = CONFIG_DIR / f"{path_or_name}.yaml"
        if not shipped.is_file():
            raise FileNotFoundError(
                f"evaluation config not found: {path}; shipped configs: {', '.join(shipped_configs())}")
        path = shipped
    raw = yaml.safe_load(path.read_text())
    raw = {**_mapping(raw, f"{path}"), **(overrides or {})}
    # the shipped configs point at user-provided folders relative to the working directory
    base = Path.cwd() if path.parent == CONFIG_DIR else path.parent
    return parse_config(raw, base)

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
    # data: {heldout: true, size: 64}   ... or the shipped benchmark (splitdiff.photos.heldout_image)
    prior: adm:ckpt/ffhq_10m.pt:ffhq   # as for `splitdiff solve --prior`
    seed: 0
    layout: table1               # table1 (task x method per dataset) | table2 (variant x task)
    baseline: pnp-admm-tv        # optional: every other method's paired difference to this one
    trace: false                 # record ||x - z|| and ||u|| per iteration (Fig. 1)
    tasks:                       # name -> operator, options, sigma_y (a number or a list), best_of
      super_resolution: {options: {scale: 4}}
      phase_retrieval: {best_of: 5}
    methods:                     # name -> registered algorithm, options, per_task options (and prior), prior
      ddiff: {algorithm: ddiff, options: {steps: 1000, dataset: ffhq}}
    trainer: {accelerator: auto, devices: auto, num_nodes: 1}

Each (task, sigma_y, method, image) is one :class:`Item`, solved and scored once.

Names that become parts of result paths (``name``, task and method names, image names) must
match :data:`NAME_PATTERN`; noise levels are written losslessly (``repr``) in item keys.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONVENTIONS = ("ffhq", "imagenet", "resize")
LAYOUTS = ("table1", "table2")
_TOP_KEYS = {"name", "dataset", "data", "prior", "seed", "layout", "baseline", "trace", "tasks", "methods", "trainer"}
#: The keys of ``trainer`` (and of the command line's overrides): what the runner passes to
#: ``lightning.Trainer``.
TRAINER_KEYS = ("accelerator", "devices", "num_nodes", "strategy", "precision")

#: Names that become path parts under the results folder: a letter or digit first (no hidden
#: files, no options), then letters, digits and ``_ . + -`` -- never ``/``, never ``..``.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$"
_NAME = re.compile(NAME_PATTERN)
SEED_MAX = 2**63 - 1
#: The largest ``data.size``: 4096 x 4096 images.
MAX_SIZE = 4096


def safe_name(name: str) -> bool:
    """True when ``name`` may be a path part: it matches :data:`NAME_PATTERN` and has no ``..``."""
    return isinstance(name, str) and bool(_NAME.fullmatch(name)) and ".." not in name


def sigma_text(sigma: float) -> str:
    """A noise level as text, losslessly: ``repr`` (0.05 -> '0.05', 0.050000001 stays distinct),
    unlike ``:g``, which prints both as '0.05'."""
    return repr(float(sigma))


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
    #: Samples per measurement (``solver.sample``); above 1 the row scores their mean (the MMSE
    #: estimate) and records the +-2 std coverage of the truth.
    samples: int = 1

    def options_for(self, task: str) -> dict:
        """The algorithm's options for ``task`` (``per_task`` over ``options``; not ``prior``)."""
        return {k: v for k, v in {**self.options, **self.per_task.get(task, {})}.items() if k != "prior"}

    def prior_for(self, task: str) -> str | None:
        """The method's own prior for ``task`` (``per_task.TASK.prior``, else ``prior``), or None
        for the config's prior: e.g. TV with a strength tuned per task, ``tv:5``."""
        return self.per_task.get(task, {}).get("prior", self.prior)


@dataclass(frozen=True)
class DataSpec:
    """Where the ground-truth images come from and how they are cropped to ``size``."""

    folder: Path | None
    skimage: tuple[str, ...]
    convention: str
    size: int
    limit: int | None
    #: The held-out benchmark shipped with splitdiff (``splitdiff.photos``): ``folder`` is its folder
    #: and ``convention`` is 'heldout' (``photos.heldout_image``: Lanczos from the shipped 256x256).
    heldout: bool = False


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
        return f"{self.task}@{sigma_text(self.sigma_y)}/{self.method}/{self.image}"

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
    baseline: str | None = None
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

    def inputs(self, item: Item) -> dict:
        """Everything that determines ``item``'s row, keyed by where it is set in the config.

        Stored with each row (with its :func:`fingerprint`) so that a rerun after an edit can
        tell which rows are stale and name the keys that changed. (``dataset`` is a label that
        the report takes from the config; ``data.limit`` only selects images.)
        """
        from .. import __version__

        task, method = self.task(item.task), self.method(item.method)
        t, m = f"tasks.{task.name}", f"methods.{method.name}"
        out = {
            f"{t}.operator": task.operator, f"{t}.options": task.options, f"{t}.sigma_y": item.sigma_y,
            f"{t}.best_of": task.best_of,
            f"{m}.algorithm": method.algorithm, f"{m}.options": method.options_for(task.name),
            "data.convention": self.data.convention, "data.size": self.data.size,
            "data.source": "heldout" if self.data.heldout else str(self.data.folder) if self.data.folder is not None
            else "skimage",
            "image": item.image, "seed": self.seed, "trace": self.trace,
            "trainer.precision": self.trainer.get("precision"), "splitdiff": __version__,
        }
        # the prior that solves the item: the method's own, else the config's (so that changing
        # the config's prior does not make a TV baseline's rows stale)
        own = method.prior_for(task.name)
        out[f"{m}.prior" if own is not None else "prior"] = own or self.prior
        if method.samples > 1:  # one sample (the default) leaves earlier rows' fingerprints as they were
            out[f"{m}.samples"] = method.samples
        return out


def canonical_json(inputs: dict) -> str:
    """``inputs`` as canonical JSON: sorted keys, no spaces, floats by repr (lossless); values
    JSON cannot hold (a YAML date, say) by their repr."""
    return json.dumps(_plain(inputs), sort_keys=True, separators=(",", ":"), default=repr)


def _plain(value: Any) -> Any:
    """Mapping keys as text (json cannot sort keys of mixed types such as 1 and 'a')."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def fingerprint(inputs: dict) -> str:
    """sha256 (hex) of :func:`canonical_json` of ``inputs``."""
    return hashlib.sha256(canonical_json(inputs).encode()).hexdigest()


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
        _fail(where, f"unknown keys {sorted(map(str, extra))}; allowed: {sorted(allowed)}")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        _fail(where, f"expected a non-empty string, got {value!r}")
    return value


def _path_name(value: Any, where: str) -> str:
    """A name that becomes a path part under the results folder (see :data:`NAME_PATTERN`)."""
    if not safe_name(value):
        _fail(where, f"{value!r} cannot name a file or folder: expected a name matching {NAME_PATTERN} "
                     "(no '..', no '/', not hidden)")
    return value


def _no_duplicates(values, where: str, what: str, show=repr) -> None:
    seen = set()
    for value in values:
        if value in seen:
            _fail(where, f"{what} {show(value)} is given twice; each must appear once")
        seen.add(value)


def _image_names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        _fail("data.skimage", f"expected a list of image names, e.g. [chelsea, coffee], got {value!r}")
    for name in value:
        _path_name(name, "data.skimage")
    _no_duplicates(value, "data.skimage", "image")
    return tuple(value)


def _data(d: dict, base: Path) -> DataSpec:
    _unknown(d, {"folder", "skimage", "heldout", "convention", "size", "limit"}, "data")
    if sum(key in d for key in ("folder", "skimage", "heldout")) != 1:
        _fail("data", "give exactly one of 'folder' (an image folder), 'skimage' (a list of image names) or "
                      "'heldout: true' (the benchmark shipped with splitdiff)")
    folder = None
    if "heldout" in d:
        if d["heldout"] is not True:
            _fail("data.heldout", f"expected true (the shipped benchmark), got {d['heldout']!r}")
        if "convention" in d:  # one set of pixels under one name: photos.heldout_image's
            _fail("data.convention", "the held-out benchmark has its own (the shipped 256x256 squares, resized "
                                     "with Lanczos as splitdiff.photos.heldout_image); remove 'convention'")
        from ..photos import HELDOUT_DIR

        folder = HELDOUT_DIR
    if "folder" in d:
        folder = Path(_string(d["folder"], "data.folder")).expanduser()
        folder = folder if folder.is_absolute() else base / folder
    convention = "heldout" if "heldout" in d else d.get("convention", "ffhq")
    if "heldout" not in d and convention not in CONVENTIONS:
        _fail("data.convention", f"expected one of {CONVENTIONS}, got {convention!r}")
    size = _int_at_least(d.get("size", 256), 8, "data.size")
    if size > MAX_SIZE:  # checked before any image of that size is allocated
        _fail("data.size", f"expected at most {MAX_SIZE} (the paper's images are 256), got {size}")
    if "heldout" in d and size > 256:
        _fail("data.size", f"expected at most 256 for the held-out benchmark (its shipped size), got {size}")
    limit = d.get("limit")
    if limit is not None:
        _int_at_least(limit, 1, "data.limit")
    names = _image_names(d["skimage"]) if "skimage" in d else ()
    return DataSpec(folder, names, convention, size, limit, heldout="heldout" in d)


def _entries(d: dict, section: str, allowed: set):
    """``(name, spec)`` of a non-empty ``section`` whose entries are mappings with ``allowed`` keys."""
    if not d:
        _fail(section, f"at least one entry is needed in '{section}'")
    seen = {}
    for key, spec in d.items():
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            _fail(section, f"expected names as keys, got {key!r}")
        name = str(key)
        if name in seen:  # YAML keys 1 and "1" are different keys but one folder name
            _fail(section, f"name {name!r} is given twice ({seen[name]!r} and {key!r}); each must appear once")
        twin = next((n for n in seen if n.lower() == name.lower()), None)
        if twin is not None:  # one folder on a case-insensitive file system (macOS, Windows)
            _fail(section, f"names {twin!r} and {name!r} differ only in case; give them distinct names")
        seen[name] = key
        _path_name(name, section)
        spec = _mapping(spec, f"{section}.{name}")
        _unknown(spec, allowed, f"{section}.{name}")
        yield name, spec


def _int_at_least(value, low: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        _fail(where, f"expected an integer >= {low}, got {value!r}")
    return value


def _noise_level(value: Any, where: str) -> float:
    number = None
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        # PyYAML reads 1e-3 (no dot) as a string: numeric text is the number it spells
        try:
            number = float(value)
        except (ValueError, OverflowError):
            number = None
    if number is None or not math.isfinite(number) or number <= 0:
        _fail(where, f"expected a positive noise level or a list of them, e.g. [0.05, 0.1], got {value!r}")
    return number


def _noise_levels(value: Any, where: str) -> tuple[float, ...]:
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        _fail(where, "expected a positive noise level or a list of them, got an empty list")
    levels = tuple(_noise_level(v, where) for v in values)
    _no_duplicates(levels, where, "noise level", sigma_text)
    return levels


def _tasks(d: dict) -> tuple[TaskSpec, ...]:
    out = []
    for name, spec in _entries(d, "tasks", {"operator", "options", "sigma_y", "best_of"}):
        sigma = _noise_levels(spec.get("sigma_y", 0.05), f"tasks.{name}.sigma_y")
        best_of = _int_at_least(spec.get("best_of", 1), 1, f"tasks.{name}.best_of")
        options = _mapping(spec.get("options"), f"tasks.{name}.options")
        if "sigma" in options:
            _fail(f"tasks.{name}.options", "set the noise with 'sigma_y', not an operator option")
        operator = _string(spec.get("operator", name), f"tasks.{name}.operator")
        out.append(TaskSpec(name, operator, options, sigma, best_of))
    return tuple(out)


def _methods(d: dict) -> tuple[MethodSpec, ...]:
    out = []
    for name, spec in _entries(d, "methods", {"algorithm", "options", "per_task", "prior", "samples"}):
        per_task = {str(k): _mapping(v, f"methods.{name}.per_task.{k}")
                    for k, v in _mapping(spec.get("per_task"), f"methods.{name}.per_task").items()}
        prior = None if spec.get("prior") is None else _string(spec["prior"], f"methods.{name}.prior")
        for task, options in per_task.items():
            if "prior" in options:
                _string(options["prior"], f"methods.{name}.per_task.{task}.prior")
        samples = _int_at_least(spec.get("samples", 1), 1, f"methods.{name}.samples")
        out.append(MethodSpec(name, _string(spec.get("algorithm", name), f"methods.{name}.algorithm"),
                              _mapping(spec.get("options"), f"methods.{name}.options"), per_task, prior, samples))
    return tuple(out)


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        _fail("seed", f"expected an integer from 0 to 2**63 - 1, got {value!r}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, f"expected true or false, got {value!r}")
    return value


def device_setting(value: Any):
    """``devices`` as Lightning takes it: a count >= 1, 'auto', or device indices (a list, or text
    like '0,1'); numeric text becomes a count. ValueError (without a location) otherwise."""
    expected = f"expected a count >= 1, 'auto', or device indices like 0,1; got {value!r}"
    if isinstance(value, str):
        text = value.strip()
        if text == "auto":
            return text
        if text.isdigit():
            value = int(text)
        elif "," in text:
            parts = text.split(",")
            parts = parts[:-1] if parts[-1] == "" else parts  # Lightning reads '0,' as device 0
            if not parts or not all(p.strip().isdigit() for p in parts) or len(set(parts)) != len(parts):
                raise ValueError(expected)
            return text
        else:
            raise ValueError(expected)
    if isinstance(value, list):
        if not value or any(isinstance(i, bool) or not isinstance(i, int) or i < 0 for i in value) \
                or len(set(value)) != len(value):
            raise ValueError(expected)
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(expected)
    return value


def _trainer_value(key: str, value: Any):
    if key == "devices":
        return device_setting(value)
    if key == "num_nodes":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"expected an integer >= 1, got {value!r}")
    elif key == "precision":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"expected a Lightning precision such as 32-true or bf16-mixed, got {value!r}")
    elif not isinstance(value, str) or not value:  # accelerator, strategy
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def check_trainer(settings: Any, where: str = "evaluation config: trainer") -> dict:
    """Validate Lightning settings (keys :data:`TRAINER_KEYS`); errors start with ``where``."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(settings).__name__}")
    extra = set(settings) - set(TRAINER_KEYS)
    if extra:
        raise ValueError(f"{where}: unknown keys {sorted(map(str, extra))}; allowed: {sorted(TRAINER_KEYS)}")
    out = {}
    for key, value in settings.items():
        try:
            out[key] = _trainer_value(key, value)
        except ValueError as err:
            raise ValueError(f"{where}.{key}: {err}") from None
    return out


#: The most values (mapping entries, list items, scalars) a config may expand to. YAML anchors
#: are shared in memory, but hashing and writing a config expands them: 10 levels of 10
#: aliases would be 10^10 values.
MAX_CONFIG_VALUES = 100_000


def _check_expanded_size(raw: Any) -> None:
    count, stack = 0, [raw]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES:
            _fail("top level", f"the config expands to more than {MAX_CONFIG_VALUES:,} values (YAML aliases "
                               "nested into an alias bomb?)")
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)


def parse_config(raw: dict, base: str | Path = ".") -> EvalConfig:
    """Validate a config mapping; relative data paths are taken relative to ``base``."""
    from .. import algorithms, operators

    raw = _mapping(raw, "top level")
    _check_expanded_size(raw)
    _unknown(raw, _TOP_KEYS, "top level")
    for key in ("name", "prior", "data", "tasks", "methods"):
        if key not in raw:
            _fail(key, "missing")
    name = _path_name(_string(raw["name"], "name"), "name")
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
    baseline = raw.get("baseline")
    if baseline is not None and baseline not in {m.name for m in methods}:
        _fail("baseline", f"expected one of the config's methods ({', '.join(m.name for m in methods)}), got {baseline!r}")
    return EvalConfig(
        name=name, dataset=_string(raw.get("dataset", name), "dataset"),
        data=_data(_mapping(raw["data"], "data"), Path(base)), prior=_string(raw["prior"], "prior"),
        tasks=tasks, methods=methods, seed=_seed(raw.get("seed", 0)), layout=layout, baseline=baseline,
        trace=_flag(raw.get("trace", False), "trace"), trainer=check_trainer(raw.get("trainer")), source=raw,
    )


#: Configs shipped with splitdiff (``splitdiff evaluate NAME``).
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def shipped_configs() -> list[str]:
    """Names of the configs shipped in ``splitdiff/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key (PyYAML keeps the last one,
    so a config with ``seed`` twice would silently run with the second)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *base' may be overridden by design
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable key: construct_mapping below reports it
            continue
        if repeated:
            raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                    f"found duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line: what is wrong and where (PyYAML's messages span several lines)."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        hint = " (plain YAML only: tags such as !!python/object are refused)" if "constructor for the tag" in \
            err.problem else ""
        return f"{err.problem}{where}{hint}"
    return " ".join(str(err).split())


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file safely (no tags that build Python objects, no repeated keys); ValueError
    with one line naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read evaluation config {path}: {err}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ValueError(f"evaluation config {path}: not valid YAML: {_yaml_problem(err)}") from None
    except RecursionError:
        raise ValueError(f"evaluation config {path}: nested too deeply to be a config") from None


def load_config(path_or_name: str | Path, overrides: dict | None = None) -> EvalConfig:
    """Read a YAML config from a path, or a shipped config by name; ``overrides`` replace top-level keys."""
    path = Path(path_or_name).expanduser()
    if not path.is_file():
        shipped = CONFIG_DIR / f"{path_or_name}.yaml"
        if not safe_name(str(path_or_name)) or not shipped.is_file():
            raise FileNotFoundError(
                f"evaluation config not found: {path}; shipped configs: {', '.join(shipped_configs())}")
        path = shipped
    raw = read_yaml(path)
    raw = {**_mapping(raw, f"{path}"), **(overrides or {})}
    # the shipped configs point at user-provided folders relative to the working directory
    base = Path.cwd() if path.parent == CONFIG_DIR else path.parent
    return parse_config(raw, base)

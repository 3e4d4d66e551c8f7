"""``splitdiff evaluate``: solve and score every item of a config with Lightning, on one or many
devices (DDP over processes and nodes), each item exactly once, resumable.

Every rank takes the items ``rank, rank + world, ...`` (no padding), skips the items whose
metrics row already exists or whose lock another run holds, and writes each result atomically
as soon as it is done. Each row carries a fingerprint of the settings that produced it; a rerun
after an edit refuses to mix stale rows in (or, asked to, recomputes just those). After the
last item, rank 0 aggregates the rows into tables and figures.
"""

from __future__ import annotations

import datetime
import json
import math
import time
import uuid
from pathlib import Path

import lightning as L
import torch
import yaml
from torch import Tensor

from .. import __version__, algorithms, operators
from ..priors.spec import parse_prior
from ..files import write_text
from .config import EvalConfig, Item, canonical_json, check_trainer, fingerprint
from .ground_truth import ItemDataset, ShardSampler, list_images
from .images import score
from .posterior import PosteriorSummary, calibration, summarize
from .store import ResultStore

#: How long ranks wait for each other at the end: a resumed run can leave one rank most of the
#: remaining items (the shards are fixed, finished items are skipped), so not the default 30 min.
BARRIER_TIMEOUT = datetime.timedelta(days=3)


def _first(batch: list[dict]) -> dict:
    return batch[0]


class EvaluationData(L.LightningDataModule):
    """The config's items, sharded by rank after the process group exists."""

    def __init__(self, config: EvalConfig, items: list[Item], store: ResultStore) -> None:
        super().__init__()
        self.config, self.items, self.store = config, items, store

    def predict_dataloader(self):
        dataset = ItemDataset(self.items, self.config.data, self.store.is_done)
        sampler = ShardSampler(len(dataset), self.trainer.global_rank, self.trainer.world_size)
        return torch.utils.data.DataLoader(dataset, batch_size=1, sampler=sampler, collate_fn=_first)


class Trace:
    """A solver callback recording ``||x - z||`` and ``||u||`` (per image, Frobenius) per iteration."""

    def __init__(self) -> None:
        self.t: list[int] = []
        self.primal: list[float] = []
        self.dual: list[float] = []

    def __call__(self, state) -> None:
        self.t.append(state.t)
        self.primal.append(float((state.x - state.z).flatten(1).norm(dim=1).mean()))
        self.dual.append(float(state.u.flatten(1).norm(dim=1).mean()))

    def as_dict(self) -> dict:
        return {"t": self.t, "primal": self.primal, "dual": self.dual}


class EvaluationModule(L.LightningModule):
    """Runs the config's solvers on one item per ``predict_step`` and writes its record."""

    def __init__(self, config: EvalConfig, items: list[Item], prior, store: ResultStore, run_id: str,
                 aggregate: bool = True) -> None:
        super().__init__()
        self.config, self.items, self.store, self.run_id, self.aggregate = config, items, store, run_id, aggregate
        self.prior = prior
        # methods with their own prior (a classical baseline, say, per task); each spec built once,
        # before any work
        specs = list(dict.fromkeys(spec for m in config.methods for t in config.tasks
                                   if (spec := m.prior_for(t.name)) is not None))
        self.prior_index = {spec: i for i, spec in enumerate(specs)}
        self.method_priors = torch.nn.ModuleList([parse_prior(spec) for spec in specs])
        # every operator is built here, before any work: a missing operator checkpoint fails now.
        # ModuleDict keys may not hold '.', and a name-based key ('sr.a' -> 'sr_a') can collide:
        # operators are keyed by their position instead
        pairs = [(task, sigma) for task in config.tasks for sigma in task.sigma_y]
        self.operator_index = {(task.name, sigma): f"op{i}" for i, (task, sigma) in enumerate(pairs)}
        self.operators = torch.nn.ModuleDict({
            f"op{i}": operators.build(task.operator, sigma=sigma, **task.options)
            for i, (task, sigma) in enumerate(pairs)
        })
        self._check_image_size()

    def _check_image_size(self) -> None:
        """Every operator and every solver's prior must take a ``data.size`` image: fail now,
        naming the key, rather than filing every item under errors/ (bad method options fail here too)."""
        size = self.config.data.size
        x = torch.zeros(1, 3, size, size)

        def accepts(part, what: str) -> None:
            try:
                part.check_input(x)
            except ValueError as err:
                raise ValueError(f"evaluation config: data.size: {what} cannot take a {size}x{size} image: {err}") \
                    from None

        for task in self.config.tasks:
            for sigma in task.sigma_y:
                accepts(self.operator(task.name, sigma), f"task {task.name!r} (operator {task.operator})")
        for item in {(i.method, i.task, i.sigma_y): i for i in self.items}.values():
            accepts(self.solver(item).prior, f"the prior of method {item.method!r}")

    def operator(self, task: str, sigma_y: float):
        return self.operators[self.operator_index[(task, sigma_y)]]

    def solver(self, item: Item):
        method = self.config.method(item.method)
        own = method.prior_for(item.task)
        prior = self.prior if own is None else self.method_priors[self.prior_index[own]]
        return algorithms.build(method.algorithm, prior=prior, operator=self.operator(item.task, item.sigma_y),
                                **method.options_for(item.task))

    def _generator(self, seed: int) -> torch.Generator:
        return torch.Generator(self.device).manual_seed(seed)

    def _timed_solve(self, solver, y: Tensor, seed: int, trace: Trace | None,
                     samples: int = 1) -> tuple[Tensor, float, int, PosteriorSummary | None]:
        """One solve (or ``samples`` in one batch: their mean and std); seconds and iterations."""
        calls = []

        def callback(state):
            calls.append(state.k)
            if trace is not None:
                trace(state)

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        summary = None
        if samples > 1:  # one batched solve of the k samples: its iterations are one solve's
            summary = summarize(solver.sample(y, samples, generator=self._generator(seed), callback=callback))
            x_hat = summary.mean
        else:
            x_hat = solver.solve(y, generator=self._generator(seed), callback=callback)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return x_hat, time.perf_counter() - start, len(calls), summary

    def predict_step(self, record: dict, batch_idx: int) -> None:
        item = self.items[record["index"]]
        if record.get("done") or self.store.is_done(item):
            return None
        with self.store.lock(item) as mine:
            # not mine: another run into this folder is solving it; done: it finished it meanwhile
            if mine and not self.store.is_done(item):
                self._solve_item(item, record)
        return None

    def _solve_item(self, item: Item, record: dict) -> None:
        if "error" in record:
            self.store.write_error(item, record["error"])
            return
        x = record["image"].to(self.device)
        seed = item.seed(self.config.seed)
        operator = self.operator(item.task, item.sigma_y)
        solver = self.solver(item)
        try:
            solver.prior.check_input(x)
        except ValueError as err:
            self.store.write_error(item, f"the prior cannot take this image: {err}")
            return
        y = operator.measure(x, generator=self._generator(seed))
        best = None
        samples = self.config.method(item.method).samples
        for repeat in range(self.config.task(item.task).best_of):
            trace = Trace() if self.config.trace and samples == 1 else None
            x_hat, seconds, iterations, summary = self._timed_solve(solver, y, seed + 1 + repeat, trace, samples)
            scores = {k: float(v[0]) for k, v in score(y, operator, x_hat, x).items()}
            if summary is not None:
                scores["coverage_2std"] = float(calibration(summary, x)[0])
            if best is None or scores["psnr"] > best[0]["psnr"]:
                best = (scores, x_hat, seconds, iterations, trace, repeat)
        scores, x_hat, seconds, iterations, trace, repeat = best
        row = {
            "key": item.key, "dataset": self.config.dataset, "task": item.task, "sigma_y": item.sigma_y,
            "method": item.method, "algorithm": self.config.method(item.method).algorithm, "image": item.image,
            "seed": seed, "steps": solver.steps, "nfe": solver.nfe(), "iterations": iterations,
            "best_of": self.config.task(item.task).best_of, "best_repeat": repeat, "seconds": seconds,
            "psnr": scores["psnr"], "ssim": scores["ssim"],
            "lpips": None if math.isnan(scores["lpips"]) else scores["lpips"],  # None: no LPIPS weights here
            "residual": scores["residual"],
            "run_id": self.run_id, "rank": self.global_rank, "device": str(self.device),
            "hparams": solver.hparams(),  # the resolved settings, e.g. the step after size scaling
        }
        if samples > 1:  # the row scores the mean of the samples
            row["samples"], row["coverage_2std"] = samples, scores["coverage_2std"]
        inputs = self.config.inputs(item)
        row["inputs"], row["fingerprint"] = json.loads(canonical_json(inputs)), fingerprint(inputs)
        if trace is not None:
            row["trace"] = trace.as_dict()
        self.store.write_result(item, x_hat.clamp(-1, 1), y, row)

    def on_predict_end(self) -> None:
        self.trainer.strategy.barrier("evaluation-finished")
        if self.global_rank == 0 and self.aggregate:
            from .report import write_report

            write_report(self.config, self.store, self.items)


def prepare(config: EvalConfig, out: str | Path, create: bool = True) -> tuple[list[Item], ResultStore]:
    """List the data (fails with the path before any work) and, with ``create``, make the folder.

    It writes no file: :func:`evaluate` writes the config snapshot (``config.yaml``, ``run.json``)
    only after its checks have passed, so a refused run leaves the earlier snapshot in place."""
    images = list_images(config.data)
    store = ResultStore(Path(out) / config.name)
    if store.root.is_symlink() or (store.root.exists() and not store.root.is_dir()):
        raise ValueError(f"{store.root} exists and is not a folder of its own (a link or a file); splitdiff writes "
                         "results only into a real folder under --out")
    if create:
        store.root.mkdir(parents=True, exist_ok=True)
    return config.items(images), store


def changed_rows(config: EvalConfig, items: list[Item], store: ResultStore) -> tuple[list[Item], str]:
    """The finished items whose row was computed with other settings (another fingerprint, or
    none), and a sentence saying how many and which config keys changed ('' if none)."""
    stale, keys, unmarked = [], set(), 0
    for item in items:
        row = store.read_row(item)
        if row is None:
            continue
        inputs = config.inputs(item)
        if row.get("fingerprint") == fingerprint(inputs):
            continue
        stale.append(item)
        old, new = row.get("inputs"), json.loads(canonical_json(inputs))
        if not isinstance(old, dict) or "fingerprint" not in row:
            unmarked += 1
            continue
        keys |= {k for k in old.keys() | new.keys() if old.get(k, KeyError) != new.get(k, KeyError)}
    if not stale:
        return [], ""
    named = sorted(keys)
    what = [f"changed: {', '.join(named[:12])}" + (f" and {len(named) - 12} more" if len(named) > 12 else "")] \
        if named else []
    what += [f"{unmarked} with no fingerprint (written by an older splitdiff)"] if unmarked else []
    return stale, (f"{len(stale)} finished row{'s' * (len(stale) != 1)} in {store.root / 'results'} "
                   f"{'were' if len(stale) != 1 else 'was'} computed with other settings ({'; '.join(what)})")


def _snapshot(config: EvalConfig, store: ResultStore) -> None:
    """The config as given (``config.yaml``) and the versions that ran it (``run.json``)."""
    write_text(store.root / "config.yaml", yaml.safe_dump(config.source, sort_keys=False))
    write_text(store.root / "run.json", json.dumps({"splitdiff": __version__, "torch": torch.__version__}))


def report_only(config: EvalConfig, out: str | Path = "results") -> dict[str, Path]:
    """Rebuild the tables and figures of ``out/config.name`` from its finished results.

    FileNotFoundError when the folder holds no results; ValueError when rows were computed with
    other settings than ``config``'s (they would be mixed into the tables).
    """
    from .report import write_report

    items, store = prepare(config, out, create=False)
    if not store.has_records():
        raise FileNotFoundError(f"no results in {store.root}: run splitdiff evaluate with this config "
                                f"(and --out {out}) first")
    stale, message = changed_rows(config, items, store)
    if stale:
        raise ValueError(f"{message}; rerun splitdiff evaluate with --recompute-changed to recompute them")
    return write_report(config, store, items)


def _trainer_settings(config: EvalConfig, overrides: dict) -> dict:
    overrides = check_trainer(overrides, "evaluate(): trainer")
    settings = {"accelerator": "auto", "devices": "auto", "num_nodes": 1, **config.trainer, **overrides}
    devices = settings["devices"]
    if settings["accelerator"] == "cpu" and devices == "auto":
        settings["devices"] = devices = 1
    if settings.get("strategy", "ddp" if devices not in (1, "1", "auto") or settings["num_nodes"] > 1 else None) == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        settings["strategy"] = DDPStrategy(timeout=BARRIER_TIMEOUT)
    return settings


def evaluate(config: EvalConfig, out: str | Path = "results", prior=None, progress: bool = True,
             aggregate: bool = True, recompute_changed: bool = False, **trainer_overrides) -> ResultStore:
    """Solve and score every item of ``config`` under ``out/config.name``; returns the store.

    ``prior``: an already built prior (default: built from ``config.prior``; a missing
    checkpoint fails here, before any work). ``trainer_overrides`` (accelerator, devices,
    num_nodes, strategy, precision) replace the config's ``trainer`` section; more than one
    device runs DDP (gloo on CPU), launching this same command once per device.

    Finished rows computed with other settings (see :meth:`EvalConfig.inputs`) are an error,
    raised before any work and before ``config.yaml`` is rewritten; with ``recompute_changed``
    just those rows are deleted and recomputed.
    """
    settings = _trainer_settings(config, trainer_overrides)
    items, store = prepare(config, out)
    stale, message = changed_rows(config, items, store)
    if stale and not recompute_changed:
        raise ValueError(f"{message}; pass --recompute-changed (evaluate(..., recompute_changed=True)) to delete "
                         "and recompute just those rows, or write to another --out")
    if prior is None:
        prior = parse_prior(config.prior)
    module = EvaluationModule(config, items, prior, store, run_id=uuid.uuid4().hex[:12], aggregate=aggregate)
    for item in stale:  # only now: a config that fails the checks above deletes nothing
        store.delete_result(item)
    # inference_mode=False: data steps differentiate through operators (torch.enable_grad inside no_grad)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False, inference_mode=False,
                        enable_progress_bar=progress, use_distributed_sampler=False, **settings)
    if trainer.global_rank == 0:
        _snapshot(config, store)
    trainer.predict(module, datamodule=EvaluationData(config, items, store), return_predictions=False)
    return store

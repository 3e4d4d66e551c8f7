"""Tables and figures of an evaluation, rebuilt from its results folder at any time."""

from __future__ import annotations

from pathlib import Path

from ..files import write_text
from . import figures, tables
from .config import EvalConfig, Item
from .store import ResultStore


def ordered_rows(config: EvalConfig, store: ResultStore, items: list[Item] | None = None) -> list[dict]:
    """The results rows of ``config``'s items, in the config's order (tasks, sigma_y, methods, images).

    With ``items``, only their rows: an image dropped from the data (or beyond a lowered
    ``limit``) leaves its old rows in the folder, which must not count. Rows are labelled with
    the config's ``dataset`` (a label, not part of the fingerprint).
    """
    rank = {}
    for t_i, task in enumerate(config.tasks):
        for s_i, sigma in enumerate(task.sigma_y):
            for m_i, method in enumerate(config.methods):
                rank[(task.name, sigma, method.name)] = (t_i, s_i, m_i)
    keys = None if items is None else {i.key for i in items}
    rows = [{**r, "dataset": config.dataset} for r in store.rows()
            if (r["task"], r["sigma_y"], r["method"]) in rank and (keys is None or r.get("key") in keys)]
    return sorted(rows, key=lambda r: (rank[(r["task"], r["sigma_y"], r["method"])], r["image"]))


def write_report(config: EvalConfig, store: ResultStore, items: list[Item] | None = None) -> dict[str, Path]:
    """Write ``table.md``, ``table.csv``, ``table.json`` and the figures under the results folder
    (from the rows of ``items`` when given; see :func:`ordered_rows`)."""
    rows = ordered_rows(config, store, items)
    keys = None if items is None else {i.key for i in items}
    errors = [e for e in store.errors() if keys is None or e.get("key") in keys]
    groups = tables.aggregate(rows)
    # the baseline's rows may all be missing (its items failed, or a report on a subset): no pairs then
    pairs = tables.paired(rows, config.baseline) if config.baseline in {r['method'] for r in rows} else []
    root = store.root
    text = f"# {config.name}\n\n" + tables.markdown(groups, config.layout, errors)
    if pairs:
        text += "\n" + tables.paired_markdown(pairs)
    written = {
        "table.md": write_text(root / "table.md", text),
        "table.csv": write_text(root / "table.csv", tables.to_csv(groups)),
        "table.json": write_text(root / "table.json", tables.to_json(groups, errors, pairs)),
    }
    if rows:
        (root / "figures").mkdir(exist_ok=True)
        if not (root / "figures").resolve().is_relative_to(root.resolve()):
            raise ValueError(f"{root / 'figures'} resolves outside the results folder {root}; refusing to write there")
        for name, make in (("reconstructions.png", lambda p: figures.reconstructions(config, store, rows, p)),
                           ("convergence.png", lambda p: figures.convergence(rows, p)),
                           ("noise.png", lambda p: figures.noise(rows, p)),
                           ("speed.png", lambda p: figures.speed(rows, p))):
            path = make(root / "figures" / name)
            if path is not None:
                written[name] = path
    return written

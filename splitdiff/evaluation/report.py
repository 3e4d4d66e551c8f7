"""Tables and figures of an evaluation, rebuilt from its results folder at any time."""

from __future__ import annotations

from pathlib import Path

from . import figures, tables
from .config import EvalConfig
from .store import ResultStore, write_text


def ordered_rows(config: EvalConfig, store: ResultStore) -> list[dict]:
    """The results rows of ``config``'s items, in the config's order (tasks, sigma_y, methods, images)."""
    rank = {}
    for t_i, task in enumerate(config.tasks):
        for s_i, sigma in enumerate(task.sigma_y):
            for m_i, method in enumerate(config.methods):
                rank[(task.name, sigma, method.name)] = (t_i, s_i, m_i)
    rows = [r for r in store.rows() if (r["task"], r["sigma_y"], r["method"]) in rank]
    return sorted(rows, key=lambda r: (rank[(r["task"], r["sigma_y"], r["method"])], r["image"]))


def write_report(config: EvalConfig, store: ResultStore) -> dict[str, Path]:
    """Write ``table.md``, ``table.csv``, ``table.json`` and the figures under the results folder."""
    rows = ordered_rows(config, store)
    errors = store.errors()
    groups = tables.aggregate(rows)
    root = store.root
    written = {
        "table.md": write_text(root / "table.md", f"# {config.name}\n\n" + tables.markdown(groups, config.layout, errors)),
        "table.csv": write_text(root / "table.csv", tables.to_csv(groups)),
        "table.json": write_text(root / "table.json", tables.to_json(groups, errors)),
    }
    if rows:
        (root / "figures").mkdir(exist_ok=True)
        for name, make in (("reconstructions.png", lambda p: figures.reconstructions(config, store, rows, p)),
                           ("convergence.png", lambda p: figures.convergence(rows, p)),
                           ("noise.png", lambda p: figures.noise(rows, p)),
                           ("speed.png", lambda p: figures.speed(rows, p))):
            path = make(root / "figures" / name)
            if path is not None:
                written[name] = path
    return written

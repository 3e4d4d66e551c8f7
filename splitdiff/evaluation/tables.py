"""Aggregate metrics rows into the paper's tables: mean and 95% confidence interval per metric.

Layouts: ``table1`` (per dataset, rows task x method, columns metrics: the paper's Table 1) and
``table2`` (per dataset and metric, rows variant, columns task: the paper's Table 2).
Written as Markdown, CSV (one row per group) and JSON (groups plus skipped items).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict

from pathlib import Path

import numpy as np
from scipy import stats

from .config import sigma_text

METRICS = ("psnr", "ssim", "lpips", "residual", "seconds")
HEADERS = {"psnr": "PSNR ↑", "ssim": "SSIM ↑", "lpips": "LPIPS ↓", "residual": "residual", "seconds": "s / image"}
DIGITS = {"psnr": 2, "ssim": 3, "lpips": 3, "residual": 4, "seconds": 2}


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% Student-t confidence interval (NaN for fewer than 2 values)."""
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return math.nan, math.nan
    if a.size < 2:
        return float(a.mean()), math.nan
    half = stats.t.ppf(0.975, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size)
    return float(a.mean()), float(half)


def aggregate(rows: list[dict]) -> list[dict]:
    """One group per (dataset, task, sigma_y, method), in first-seen order of the rows' keys."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["dataset"], row["task"], row["sigma_y"], row["method"])].append(row)
    out = []
    for (dataset, task, sigma_y, method), members in groups.items():
        group = {"dataset": dataset, "task": task, "sigma_y": sigma_y, "method": method, "n": len(members),
                 "algorithm": members[0]["algorithm"], "steps": members[0]["steps"],
                 "nfe": members[0].get("nfe"), "iterations": members[0]["iterations"]}
        for metric in METRICS:
            group[metric], group[f"{metric}_ci95"] = mean_ci([m.get(metric) for m in members])
        out.append(group)
    return out


def paired(rows: list[dict], baseline: str) -> list[dict]:
    """Each method's paired difference to ``baseline``, image by image: one group per
    (dataset, task, sigma_y, method) with ``n`` images found in both and, per metric, the mean of
    ``method - baseline`` and the half-width of its 95% Student-t interval. An interval that
    excludes 0 is a difference these images support (PSNR / SSIM: above 0 is better; LPIPS and
    seconds: below 0). ValueError when no row is ``baseline``'s."""
    methods = _order(r["method"] for r in rows)
    if baseline not in methods:
        raise ValueError(f"baseline {baseline!r} has no rows; methods: {', '.join(methods) or 'none'}")
    reference = {(r["dataset"], r["task"], r["sigma_y"], r["image"]): r for r in rows if r["method"] == baseline}
    groups: dict[tuple, list[tuple[dict, dict]]] = defaultdict(list)
    for row in rows:
        base = reference.get((row["dataset"], row["task"], row["sigma_y"], row["image"]))
        if row["method"] != baseline and base is not None:
            groups[(row["dataset"], row["task"], row["sigma_y"], row["method"])].append((row, base))
    out = []
    for (dataset, task, sigma_y, method), pairs in groups.items():
        group = {"dataset": dataset, "task": task, "sigma_y": sigma_y, "method": method, "baseline": baseline,
                 "n": len(pairs)}
        for metric in METRICS:
            diffs = [r[metric] - b[metric] for r, b in pairs
                     if r.get(metric) is not None and b.get(metric) is not None]
            group[metric], group[f"{metric}_ci95"] = mean_ci(diffs)
        out.append(group)
    return out


def paired_markdown(groups: list[dict]) -> str:
    """Paired differences (:func:`paired`) as a Markdown table: mean ± 95% CI half-width."""
    if not groups:
        return ""
    shown = ("psnr", "ssim", "lpips")
    lines = [f"## Paired differences, method − {groups[0]['baseline']} (same images)", "",
             "| dataset | task | σ_y | difference | n | " + " | ".join("Δ " + HEADERS[m] for m in shown) + " |",
             "|---|---|---|---|---|" + "---|" * len(shown)]
    for g in groups:
        cells = " | ".join(_cell(g, m) for m in shown)
        lines.append(f"| {g['dataset']} | {g['task']} | {sigma_text(g['sigma_y'])} | {g['method']} − {g['baseline']} "
                     f"| {g['n']} | {cells} |")
    return "\n".join(lines + [""])


def _cell(group: dict, metric: str) -> str:
    mean, half = group[metric], group[f"{metric}_ci95"]
    if not math.isfinite(mean):
        return "–"
    d = DIGITS[metric]
    return f"{mean:.{d}f}" if not math.isfinite(half) else f"{mean:.{d}f} ± {half:.{d}f}"


def _text(value) -> str:
    """A table cell: one line, no column separators (an error message may hold both)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _order(values):
    return list(dict.fromkeys(values))


def markdown(groups: list[dict], layout: str = "table1", errors: list[dict] | None = None) -> str:
    """The groups as Markdown tables (mean ± 95% CI half-width; n images per cell)."""
    lines = []
    for dataset in _order(g["dataset"] for g in groups):
        mine = [g for g in groups if g["dataset"] == dataset]
        if layout == "table1":
            lines += [f"## {dataset}", "", "| task | σ_y | method | n | " + " | ".join(HEADERS[m] for m in METRICS) + " |",
                      "|---|---|---|---|" + "---|" * len(METRICS)]
            for g in mine:
                cells = " | ".join(_cell(g, m) for m in METRICS)
                lines.append(f"| {g['task']} | {sigma_text(g['sigma_y'])} | {g['method']} | {g['n']} | {cells} |")
            lines.append("")
            continue
        for sigma in _order(g["sigma_y"] for g in mine):
            at = [g for g in mine if g["sigma_y"] == sigma]
            tasks, methods = _order(g["task"] for g in at), _order(g["method"] for g in at)
            cell = {(g["method"], g["task"]): g for g in at}
            for metric in ("psnr", "ssim", "lpips", "residual"):
                lines += [f"## {dataset}, σ_y = {sigma_text(sigma)}: {HEADERS[metric]}", "",
                          "| variant | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
                for method in methods:
                    row = [_cell(cell[(method, t)], metric) if (method, t) in cell else "–" for t in tasks]
                    lines.append(f"| {method} | " + " | ".join(row) + " |")
                lines.append("")
    if errors:
        lines += ["## Skipped items", "", "| item | reason |", "|---|---|"]
        lines += [f"| {_text(e['key'])} | {_text(e['error'])} |" for e in errors]
        lines.append("")
    return "\n".join(lines)


def to_csv(groups: list[dict]) -> str:
    buffer = io.StringIO()
    if groups:
        writer = csv.DictWriter(buffer, fieldnames=list(groups[0]))
        writer.writeheader()
        writer.writerows(groups)
    return buffer.getvalue()


def to_json(groups: list[dict], errors: list[dict], paired_groups: list[dict] | None = None) -> str:
    """The groups, the skipped items and (when a baseline was set) the paired differences."""
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    out = {"groups": [{k: clean(v) for k, v in g.items()} for g in groups], "skipped": errors}
    if paired_groups:
        out["paired"] = [{k: clean(v) for k, v in g.items()} for g in paired_groups]
    return json.dumps(out, indent=1)


_GROUP_KEYS = ("dataset", "task", "sigma_y", "method", "n")


def _number(value) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:  # a JSON integer of hundreds of digits
        return False
    return True


def _check_group(g, where: str) -> dict:
    if not isinstance(g, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(g).__name__}")
    missing = [k for k in _GROUP_KEYS + tuple(k for m in METRICS for k in (m, f"{m}_ci95")) if k not in g]
    if missing:
        raise ValueError(f"{where}: missing keys {missing}")
    labels = [k for k in ("dataset", "task", "method") if not isinstance(g[k], str)]
    if labels:
        raise ValueError(f"{where}: expected text for {labels}")
    bad = [k for k in ("sigma_y", "n") + tuple(k for m in METRICS for k in (m, f"{m}_ci95"))
           if not _number(g[k]) or (k in ("sigma_y", "n") and g[k] is None)]
    if bad:
        raise ValueError(f"{where}: expected numbers for {bad}")
    return {k: math.nan if v is None else v for k, v in g.items()}


def read_table_json(path: str | Path) -> tuple[list[dict], list[dict]]:
    """The groups and skipped items of an evaluation's ``table.json`` (as :func:`to_json` writes
    it), checked; ValueError naming the file and what is wrong. Missing metrics (null) become NaN."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    except (ValueError, RecursionError) as err:
        raise ValueError(f"{path} is not JSON ({err}); expected the table.json of splitdiff evaluate") from None
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError(f"{path}: expected an object with a list 'groups' (the table.json of splitdiff evaluate)")
    groups = [_check_group(g, f"{path}: groups[{i}]") for i, g in enumerate(data["groups"])]
    skipped = data.get("skipped", [])
    if not isinstance(skipped, list) or not all(isinstance(e, dict) and "key" in e and "error" in e for e in skipped):
        raise ValueError(f"{path}: 'skipped' must be a list of {{key, error}} objects")
    return groups, skipped

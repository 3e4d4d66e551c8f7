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

import numpy as np
from scipy import stats

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


def _cell(group: dict, metric: str) -> str:
    mean, half = group[metric], group[f"{metric}_ci95"]
    if not math.isfinite(mean):
        return "–"
    d = DIGITS[metric]
    return f"{mean:.{d}f}" if not math.isfinite(half) else f"{mean:.{d}f} ± {half:.{d}f}"


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
                lines.append(f"| {g['task']} | {g['sigma_y']:g} | {g['method']} | {g['n']} | {cells} |")
            lines.append("")
            continue
        for sigma in _order(g["sigma_y"] for g in mine):
            at = [g for g in mine if g["sigma_y"] == sigma]
            tasks, methods = _order(g["task"] for g in at), _order(g["method"] for g in at)
            cell = {(g["method"], g["task"]): g for g in at}
            for metric in ("psnr", "ssim", "lpips", "residual"):
                lines += [f"## {dataset}, σ_y = {sigma:g}: {HEADERS[metric]}", "",
                          "| variant | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
                for method in methods:
                    row = [_cell(cell[(method, t)], metric) if (method, t) in cell else "–" for t in tasks]
                    lines.append(f"| {method} | " + " | ".join(row) + " |")
                lines.append("")
    if errors:
        lines += ["## Skipped items", "", "| item | reason |", "|---|---|"]
        lines += [f"| {e['key']} | {e['error']} |" for e in errors]
        lines.append("")
    return "\n".join(lines)


def to_csv(groups: list[dict]) -> str:
    buffer = io.StringIO()
    if groups:
        writer = csv.DictWriter(buffer, fieldnames=list(groups[0]))
        writer.writeheader()
        writer.writerows(groups)
    return buffer.getvalue()


def to_json(groups: list[dict], errors: list[dict]) -> str:
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return json.dumps({"groups": [{k: clean(v) for k, v in g.items()} for g in groups], "skipped": errors}, indent=1)

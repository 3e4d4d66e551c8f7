"""The scripts in examples/ run (small settings)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_smoke_test():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {"classical_splitting", "new_operator", "convergence_plot"}


def test_classical_splitting():
    scores = load("classical_splitting").main(["--size", "32", "--steps", "10"])
    assert set(scores) == {"hqs", "admm"} and all(s > 10 for s in scores.values())


def test_new_operator(tmp_path):
    out = tmp_path / "line.png"
    assert load("new_operator").main(["--size", "32", "--steps", "5", "--out", str(out)]) > 5
    assert out.is_file()


def test_convergence_plot(tmp_path):
    out = tmp_path / "c.png"
    curves = load("convergence_plot").main(["--steps", "5", "--size", "32", "--out", str(out)])
    assert out.is_file() and all(len(p) == 4 for p, _ in curves.values())

"""Shared fixtures and helpers for the splitdiff test suite."""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import settings

settings.register_profile("splitdiff", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("splitdiff")


def pytest_configure(config):
    """Under pytest-xdist, share the cores between the workers instead of each taking all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers:  # torch's own count follows the process's CPU affinity, as xdist's does
        torch.set_num_threads(max(1, torch.get_num_threads() // workers))


@pytest.fixture(autouse=True)
def _registrations_end_with_the_test(monkeypatch):
    """What a test registers (the docs' examples register operators, priors and solvers) is gone
    after it: under pytest-xdist any test file may follow it on the same worker."""
    import splitdiff as sd

    for package in (sd.operators, sd.priors, sd.splitting, sd.algorithms):
        monkeypatch.setattr(package.REGISTRY, "_factories", dict(package.REGISTRY._factories))


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test on the CPU and, where one is present, on a CUDA GPU (``-m gpu``)."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)

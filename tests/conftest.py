"""Shared fixtures and helpers for the splitdiff test suite."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings

settings.register_profile("splitdiff", deadline=None, max_examples=25, derandomize=True)
settings.load_profile("splitdiff")


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test on the CPU and, where one is present, on a CUDA GPU (``-m gpu``)."""
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)

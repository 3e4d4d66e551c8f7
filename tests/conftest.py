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

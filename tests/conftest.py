"""Shared test helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch

# Two threads at most: the suite must stay fast on a 2-core machine and its results stable.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    """Runs may set ``train.threads=1`` (fast on a busy 2-core machine); put the count back."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tiny_ring_overrides() -> list[str]:
    """Overrides that make a ring run take well under a second per 20 steps."""
    return ["gan.model.width=32", "gan.model.depth=2", "train.batch_size=64", "train.log_every=5",
            "train.snapshot_every=0", "train.checkpoint_every=5", "train.progress=false",
            "eval.n_samples=200"]

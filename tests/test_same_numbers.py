"""Moving code must not move numbers: a fixed-seed short run of every family logs exactly the
records recorded in ``tests/golden/metrics.json`` (see ``tests/golden_runs.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golden_runs import GOLDEN, train_all


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    return train_all(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", sorted(json.loads(GOLDEN.read_text())))
def test_logged_numbers_equal_the_recorded_ones(name: str,
                                                trained: dict[str, list[dict]]) -> None:
    want = json.loads(Path(GOLDEN).read_text())[name]
    assert trained[name] == want

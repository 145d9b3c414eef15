"""The recipes of docs/architecture.md, followed from outside the package: a dataset and a
metric registered in this file, used together through the Python API and the command line.
(A family registered from outside: tests/test_second_family.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ganlab
from ganlab.cli import main
from ganlab.data.images import build_image_source
from ganlab.data.registry import DatasetInfo, register_dataset, unregister_dataset
from ganlab.metrics import registry
from ganlab.metrics.card import MetricCard, MetricResult
from ganlab.metrics.registry import Command, MetricInfo, register_metric

DATASET, METRIC = "outside-bars", "bar_fill"


def read_bars(split: str, path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """16x16 grey images with one bright vertical bar; the class is its half (left, right)."""
    n = {"train": 32, "test": 12}[split]
    rng = np.random.default_rng({"train": 0, "test": 1}[split])
    images = np.zeros((n, 1, 16, 16), np.uint8)
    labels = np.zeros(n, np.int64)
    for i in range(n):
        c = int(rng.integers(2, 14))
        images[i, 0, :, c - 1:c + 1] = 255
        labels[i] = int(c >= 8)
    return images, labels


def bar_fill(real: np.ndarray, fake: np.ndarray) -> MetricResult:
    """The fraction of bright pixels (> 127) in the real and the generated images (uint8,
    as arrays or tensors: metrics take either)."""
    real, fake = np.asarray(real), np.asarray(fake)
    r, f = float((real > 127).mean()), float((fake > 127).mean())
    return MetricResult({"fill_real": r, "fill_fake": f, "fill_gap": abs(f - r)},
                        MetricCard(METRIC, n_real=len(real), n_fake=len(fake)))


@pytest.fixture
def registered() -> Iterator[None]:
    register_dataset(DatasetInfo(
        DATASET, build_image_source, "images", "a bright bar on black (made in this test)",
        read=read_bars, splits=("train", "test"), default_split="train", channels=1,
        class_names=("left", "right"), held_out_split="test",
        install="nothing: it is made in memory"))
    register_metric(MetricInfo(
        METRIC, bar_fill, ("fill_real", "fill_fake", "fill_gap"),
        "fraction of bright pixels, generated vs real",
        panels=(("fill_real", "fill_fake"),), command=Command(extractor="none")))
    yield
    unregister_dataset(DATASET)
    registry.unregister_metric(METRIC)


def test_a_dataset_and_a_metric_from_outside_through_the_api_and_the_cli(
        registered: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = ganlab.train("fashion-dcgan-ns", out=tmp_path, data__name=DATASET,
                       gan__model__width=8, gan__model__z_dim=8, train__batch_size=8,
                       train__steps=4, train__checkpoint_every=2, train__snapshot_every=0,
                       train__threads=1, eval__every=0)
    assert run.config.data.name == DATASET and run.family.spec.sample_shape == (1, 16, 16)
    assert run.family.spec.class_names == ["left", "right"]

    # the metric through the API, against the dataset's held-out split by name
    res = run.evaluate(METRIC, real=f"{DATASET}:test", n=20, seed=3)
    real, _ = read_bars("test", None)
    fake = run.images(20, seed=3).numpy()
    assert res["fill_real"] == pytest.approx(float((real > 127).mean()))
    assert res["fill_fake"] == pytest.approx(float((fake > 127).mean()))

    # ... and through the command line, the run folder as the generated side
    capsys.readouterr()
    assert main(["eval", METRIC, f"{DATASET}:test", str(run.path), "--n", "20", "--seed", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)[METRIC]["values"]
    assert out["fill_fake"] == pytest.approx(res["fill_fake"])
    assert out["fill_real"] == pytest.approx(res["fill_real"])

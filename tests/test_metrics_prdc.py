"""Precision/recall and density/coverage on hand-made point clouds."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.metrics.manifold import knn_radii, prdc


def _grid(offset: float = 0.0) -> np.ndarray:
    g = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2)
    jitter = np.random.default_rng(0).uniform(-0.1, 0.1, size=g.shape)  # no lattice ties
    return g + jitter + offset


def test_identical_clouds_are_perfect() -> None:
    out = prdc(_grid(), _grid(), k=3)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    assert out["density"] == pytest.approx(1.0, abs=0.35)


def test_far_away_fakes_have_zero_precision_and_recall() -> None:
    out = prdc(_grid(), _grid(1000.0), k=3)
    assert out == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0, "k": 3.0}


def test_collapsed_fakes_precise_but_no_recall() -> None:
    real = _grid()
    fake = np.tile(real[:1], (50, 1)) + np.random.default_rng(0).normal(scale=1e-3, size=(50, 2))
    out = prdc(real, fake, k=3)
    assert out["precision"] == 1.0  # every fake sits on a real point
    assert out["recall"] <= 0.05  # but covers a single corner of the real manifold
    assert out["coverage"] <= 0.05


def test_half_support() -> None:
    real = _grid()
    fake = real[real[:, 0] < 5]  # left half only
    out = prdc(real, fake, k=3)
    assert out["precision"] == 1.0
    assert 0.4 <= out["recall"] <= 0.7
    assert 0.4 <= out["coverage"] <= 0.7


def test_knn_radius_excludes_self() -> None:
    pts = np.array([[0.0], [1.0], [3.0]])
    np.testing.assert_allclose(knn_radii(pts, 1), [1.0, 1.0, 2.0])

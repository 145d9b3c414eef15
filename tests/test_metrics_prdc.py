"""Precision/recall and density/coverage on hand-made point clouds."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.errors import GanlabError
from ganlab.metrics.manifold import knn_radii, pairwise_distances, prdc


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


# ------------------------------------------------ blocks: equal to the dense computation


def _dense_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The old all-at-once computation: full float64 matrices."""
    real_r = np.partition(pairwise_distances(real, real), k, axis=1)[:, k]
    fake_r = np.partition(pairwise_distances(fake, fake), k, axis=1)[:, k]
    d = pairwise_distances(real, fake)
    inside = d < real_r[:, None]
    return {
        "precision": float(inside.any(0).mean()),
        "recall": float((d < fake_r[None, :]).any(1).mean()),
        "density": float(inside.sum(0).mean() / k),
        "coverage": float((d.min(1) < real_r).mean()),
        "k": float(k),
    }


@pytest.mark.parametrize("block_rows", [1, 7, 64, 10_000])
def test_blocks_equal_dense(block_rows: int) -> None:
    rng = np.random.default_rng(3)
    real = (rng.normal(size=(150, 12)) + 40).astype(np.float32)  # far from 0: large norms
    fake = (rng.normal(size=(110, 12)) * 1.3 + 40.2).astype(np.float32)
    block = 4 * 150 * block_rows  # bytes of `block_rows` rows against the larger set
    for k in (1, 5):
        assert prdc(real, fake, k, block_bytes=block) == _dense_prdc(real, fake, k)
        np.testing.assert_allclose(
            knn_radii(real, k, block_bytes=block),
            np.partition(pairwise_distances(real, real), k, axis=1)[:, k],
            rtol=1e-6,
        )


def test_radii_exact_where_float32_expansion_is_not() -> None:
    """Norms ~1e3 and neighbour distances ~1e-2: ||a||^2 + ||b||^2 - 2ab in float32 alone
    would be off by more than the distances; the exact re-ranking gives float64 radii."""
    rng = np.random.default_rng(4)
    x = (1000.0 + rng.normal(size=(60, 4)) * 0.01).astype(np.float32)
    want = np.sort(
        np.sqrt(((x[:, None].astype(np.float64) - x[None]) ** 2).sum(-1)), axis=1
    )[:, 3]
    np.testing.assert_allclose(knn_radii(x, 3, block_bytes=4 * 60 * 8), want, rtol=1e-9)


def test_float64_input_and_errors() -> None:
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    assert prdc(real, fake, 3) == _dense_prdc(real.astype(np.float32), fake.astype(np.float32), 3)
    with pytest.raises(GanlabError, match="need more than 3 points"):
        knn_radii(real[:3], 3)
    with pytest.raises(GanlabError, match="differ"):
        prdc(real, fake[:, :2], 3)

"""k-NN manifold metrics: precision/recall (Kynkäänniemi et al. 2019) and density/coverage
(Naeem et al. 2020)."""

from __future__ import annotations

import numpy as np

from ganlab.errors import GanlabError


def pairwise_distances(x: np.ndarray, y: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distances (len(x), len(y)) in float64, computed in row chunks."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    yy = (y * y).sum(1)
    out = np.empty((len(x), len(y)))
    for i in range(0, len(x), chunk):
        xb = x[i : i + chunk]
        d2 = (xb * xb).sum(1)[:, None] + yy[None] - 2.0 * xb @ y.T
        out[i : i + chunk] = np.sqrt(np.clip(d2, 0.0, None))
    return out


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each point to its k-th nearest neighbour in x (itself excluded)."""
    if len(x) <= k:
        raise GanlabError(f"k-NN radii with k={k} need more than {k} points, got {len(x)}")
    d = pairwise_distances(x, x)
    return np.partition(d, k, axis=1)[:, k]  # index 0 is the point itself


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features against real ones."""
    real_r = knn_radii(real, k)
    fake_r = knn_radii(fake, k)
    d = pairwise_distances(real, fake)  # (n_real, n_fake)
    inside_real = d < real_r[:, None]  # fake j inside real i's ball
    precision = inside_real.any(0).mean()
    recall = (d < fake_r[None, :]).any(1).mean()
    density = inside_real.sum(0).mean() / k
    coverage = (d.min(1) < real_r).mean()
    return {
        "precision": float(precision),
        "recall": float(recall),
        "density": float(density),
        "coverage": float(coverage),
        "k": float(k),
    }

"""Feature statistics as streamed float64 moments: memory stays flat in the sample count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganlab.errors import GanlabError


@dataclass
class FeatureMoments:
    """Running n, sum(x) and sum(x x^T) in float64."""

    n: int
    total: np.ndarray  # (d,)
    outer: np.ndarray  # (d, d)

    @classmethod
    def empty(cls, dim: int) -> FeatureMoments:
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    def update(self, feats: np.ndarray) -> None:
        """Add a batch of features (N, d)."""
        x = np.asarray(feats, dtype=np.float64)
        self.n += x.shape[0]
        self.total += x.sum(0)
        self.outer += x.T @ x

    def merge(self, other: FeatureMoments) -> FeatureMoments:
        """Moments of the union of two disjoint sample sets (e.g. two processes)."""
        return FeatureMoments(self.n + other.n, self.total + other.total, self.outer + other.outer)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, unbiased covariance)."""
        if self.n < 2:
            raise GanlabError(f"need at least 2 samples for a covariance, got {self.n}")
        mu = self.total / self.n
        cov = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, (cov + cov.T) / 2


@dataclass
class FeatureStats:
    """Mean and covariance of features, with how many samples made them."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    @classmethod
    def from_moments(cls, m: FeatureMoments) -> FeatureStats:
        mu, sigma = m.mean_cov()
        return cls(mu, sigma, m.n)

    @classmethod
    def from_features(cls, feats: np.ndarray, chunk: int = 4096) -> FeatureStats:
        m = FeatureMoments.empty(feats.shape[1])
        for i in range(0, len(feats), chunk):
            m.update(feats[i : i + chunk])
        return cls.from_moments(m)

    @classmethod
    def from_batches(cls, batches: Iterable[np.ndarray], dim: int) -> FeatureStats:
        m = FeatureMoments.empty(dim)
        for b in batches:
            m.update(b)
        return cls.from_moments(m)

    def save(self, path: str | Path, **meta: str) -> None:
        """Write mu, sigma, n (and string metadata) to an .npz file."""
        np.savez(path, mu=self.mu, sigma=self.sigma, n=np.int64(self.n), **meta)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        try:
            with np.load(path) as z:
                return cls(z["mu"], z["sigma"], int(z["n"]))
        except (OSError, KeyError, ValueError) as exc:
            raise GanlabError(
                f"{path} is not a statistics file (needs mu, sigma, n): {exc}"
            ) from exc

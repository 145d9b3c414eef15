"""Fréchet distance between two Gaussians, in float64 via symmetric eigen-decompositions.

Tr((S1 S2)^1/2) is the sum of square roots of the eigenvalues of S1 S2, which equal those of
the symmetric PSD matrix B^T S2 B for any B with B B^T = S1. B is the Cholesky factor when S1 is
positive definite (one factorisation + one ``eigvalsh``), else the symmetric square root
S1^1/2 from ``eigh`` (singular S1, e.g. fewer samples than dimensions). Either way: no complex
numbers, no NaN, and no iterative ``sqrtm`` on a non-symmetric matrix.
"""

from __future__ import annotations

import warnings

import numpy as np

from ganlab.metrics.stats import FeatureStats


def _sym_sqrt(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix (tiny negative eigenvalues clipped to 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    root: np.ndarray = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    return root


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((sigma1 sigma2)^1/2) for symmetric PSD matrices."""
    s1 = np.asarray(sigma1, dtype=np.float64)
    try:
        b = np.linalg.cholesky((s1 + s1.T) / 2)
    except np.linalg.LinAlgError:
        b = _sym_sqrt(s1)
    inner = b.T @ np.asarray(sigma2, dtype=np.float64) @ b
    w = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(w, 0.0, None)).sum())


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """||mu1-mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2), in float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape:
        raise ValueError(f"statistics differ in shape: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt_product(s1, s2)
    return max(float(value), 0.0)


def fid_from_stats(a: FeatureStats, b: FeatureStats) -> float:
    """FID between two statistics; warns when either has fewer samples than dimensions."""
    d = a.mu.shape[0]
    for s in (a, b):
        if s.n < d:
            warnings.warn(
                f"FID from {s.n} samples in {d} dimensions: the covariance is singular and FID "
                "is biased upwards; compare only numbers computed with the same N",
                stacklevel=2,
            )
            break
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)

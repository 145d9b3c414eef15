"""Kernel Inception Distance: unbiased MMD^2 with k(x,y) = (x.y/d + 1)^3, over random subsets.

The estimator of Bińkowski et al. 2018 as torchmetrics' ``KernelInceptionDistance`` and
torch-fidelity compute it (polynomial kernel, gamma = 1/d, coef 1, degree 3; the diagonals of
k(x,x) and k(y,y) left out), in float64.
"""

from __future__ import annotations

import numpy as np

from ganlab.errors import GanlabError

#: ddof of ``kid_std`` over subsets: 0 (the spread of the subsets drawn), as torchmetrics'
#: ``KernelInceptionDistance`` reports it
STD_DDOF = 0


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0
) -> np.ndarray:
    """(x y^T / d + coef) ** degree, gamma = 1/d."""
    k: np.ndarray = (x @ y.T / x.shape[1] + coef) ** degree
    return k


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased estimate of MMD^2 between samples x (m,d) and y (n,d)."""
    m, n = len(x), len(y)
    kxx = polynomial_kernel(x, x, degree)
    kyy = polynomial_kernel(y, y, degree)
    kxy = polynomial_kernel(x, y, degree)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kid(
    real: np.ndarray,
    fake: np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    degree: int = 3,
) -> dict[str, float]:
    """KID mean and std over `subsets` draws of `subset_size` (capped at the smaller set).

    Each draw is cast to float64 on its own, so memory is O(subset_size^2 + subset_size d)
    whatever N (the inputs are never copied whole).
    """
    real, fake = np.asarray(real), np.asarray(fake)
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise GanlabError(
            f"KID needs at least 2 samples on each side, got {len(real)}, {len(fake)}"
        )
    rng = np.random.default_rng(seed)
    values = np.array(
        [
            mmd2_unbiased(
                np.asarray(real[rng.choice(len(real), size, replace=False)], np.float64),
                np.asarray(fake[rng.choice(len(fake), size, replace=False)], np.float64),
                degree,
            )
            for _ in range(subsets)
        ]
    )
    return {
        "kid_mean": float(values.mean()),
        "kid_std": float(values.std(ddof=STD_DDOF)),
        "subsets": float(subsets),
        "subset_size": float(size),
    }

"""KID: the estimator is unbiased (mean ~0 on equal distributions) and detects a shift."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.metrics.kernel_distance import kid, mmd2_unbiased, polynomial_kernel


def _biased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    return float(
        polynomial_kernel(x, x).mean()
        + polynomial_kernel(y, y).mean()
        - 2 * polynomial_kernel(x, y).mean()
    )


def test_unbiased_on_equal_distributions() -> None:
    rng = np.random.default_rng(0)
    draws, biased = [], []
    for _ in range(400):
        x, y = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
        draws.append(mmd2_unbiased(x, y))
        biased.append(_biased_mmd2(x, y))
    se = np.std(draws) / np.sqrt(len(draws))
    assert abs(np.mean(draws)) < 3 * se
    # The V-statistic (diagonal kept) is clearly positive here, so the test can tell them apart.
    assert np.mean(biased) > 10 * se


def test_kid_detects_shift_and_reports_subsets() -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(200, 16))
    same = kid(real, rng.normal(size=(200, 16)), subsets=20, subset_size=100)
    shifted = kid(real, rng.normal(size=(200, 16)) + 0.5, subsets=20, subset_size=100)
    assert abs(same["kid_mean"]) < 3 * same["kid_std"] + 1e-3
    assert shifted["kid_mean"] > 10 * max(same["kid_std"], 1e-4)
    assert shifted["subset_size"] == 100 and shifted["subsets"] == 20


def test_kid_caps_subset_size() -> None:
    rng = np.random.default_rng(2)
    out = kid(rng.normal(size=(30, 4)), rng.normal(size=(40, 4)), subsets=3, subset_size=1000)
    assert out["subset_size"] == 30
    assert np.isfinite(out["kid_mean"])
    with pytest.raises(Exception, match="at least 2"):
        kid(rng.normal(size=(1, 4)), rng.normal(size=(5, 4)))


def test_kernel_by_hand() -> None:
    """k(x, y) = (x.y / d + 1)^3 with d the feature dimension (2 here)."""
    x = np.array([[1.0, 2.0], [0.0, 4.0]])
    y = np.array([[3.0, 1.0]])
    np.testing.assert_allclose(polynomial_kernel(x, y), [[(5 / 2 + 1) ** 3], [(4 / 2 + 1) ** 3]])
    # MMD^2 by hand for m = n = 2: off-diagonal means of k(x,x), k(y,y), minus 2 mean k(x,y)
    y2 = np.array([[3.0, 1.0], [1.0, 1.0]])
    kxx = (8 / 2 + 1) ** 3
    kyy = (4 / 2 + 1) ** 3
    kxy = np.mean([(5 / 2 + 1) ** 3, (3 / 2 + 1) ** 3, (4 / 2 + 1) ** 3, (4 / 2 + 1) ** 3])
    assert mmd2_unbiased(x, y2) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)


def test_kid_reads_float32_like_float64() -> None:
    """Subsets are cast one at a time (no float64 copy of all features): same numbers."""
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(80, 6)).astype(np.float32), rng.normal(size=(70, 6))
    a = kid(real, fake.astype(np.float32), subsets=5, subset_size=30, seed=1)
    b = kid(real.astype(np.float64), fake.astype(np.float32).astype(np.float64), subsets=5,
            subset_size=30, seed=1)  # fmt: skip
    assert a == b


def test_kid_of_whole_sets_is_their_mmd_whatever_the_draw() -> None:
    """Subsets as large as both sets are drawn without replacement: they are the sets."""
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)) + 0.3
    out = kid(real, fake, subsets=3, subset_size=5, degree=2)
    assert out["kid_mean"] == pytest.approx(mmd2_unbiased(real, fake, degree=2), rel=1e-12)
    assert out["kid_std"] == pytest.approx(0.0, abs=1e-12)
    assert out["kid_mean"] != pytest.approx(mmd2_unbiased(real, fake), rel=1e-6)   # degree 3
    # two samples a side are enough; the default seed is 0
    assert np.isfinite(kid(real[:2], fake[:2], subsets=1)["kid_mean"])
    assert kid(real, fake, subsets=2, subset_size=4) == kid(real, fake, subsets=2,
                                                             subset_size=4, seed=0)


def test_mmd_by_hand_with_another_degree() -> None:
    x = np.array([[1.0, 2.0], [0.0, 4.0]])
    y = np.array([[3.0, 1.0], [1.0, 1.0]])
    kxx, kyy = (8 / 2 + 1) ** 2, (4 / 2 + 1) ** 2
    kxy = np.mean([(5 / 2 + 1) ** 2, (3 / 2 + 1) ** 2, (4 / 2 + 1) ** 2, (4 / 2 + 1) ** 2])
    assert mmd2_unbiased(x, y, degree=2) == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)


def test_kid_defaults_and_the_cap_by_the_smaller_fake_set() -> None:
    rng = np.random.default_rng(5)
    out = kid(rng.normal(size=(5, 2)), rng.normal(size=(5, 2)))
    assert out["subsets"] == 100
    assert kid(np.zeros((1001, 1)), np.ones((1001, 1)), subsets=1)["subset_size"] == 1000
    assert kid(rng.normal(size=(30, 2)), rng.normal(size=(5, 2)), subsets=1)["subset_size"] == 5

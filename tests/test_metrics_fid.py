"""FID: closed forms, the eigen path against scipy's sqrtm, streamed moments."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ganlab.metrics.frechet import fid_from_stats, frechet_distance, trace_sqrt_product
from ganlab.metrics.stats import FeatureMoments, FeatureStats


def _spd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / d + (0 if rank else 1e-3) * np.eye(d)


def test_commuting_gaussians_closed_form() -> None:
    # Diagonal covariances commute: Tr((S1 S2)^1/2) = sum sqrt(s1 s2).
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1.0 + 4.0 + (s1 + s2 - 2 * np.sqrt(s1 * s2)).sum()
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(
        expected, rel=1e-12
    )


def test_rotated_gaussians_closed_form() -> None:
    # 1-D: FID = (m1-m2)^2 + (sd1-sd2)^2, invariant under a common rotation of 2-D embeddings.
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    d1, d2 = np.array([1.0, 2.0, 3.0, 0.5]), np.array([2.0, 2.0, 1.0, 0.5])
    s1, s2 = q @ np.diag(d1**2) @ q.T, q @ np.diag(d2**2) @ q.T
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    expected = ((mu1 - mu2) ** 2).sum() + ((d1 - d2) ** 2).sum()
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_fid_same_stats_is_zero() -> None:
    rng = np.random.default_rng(1)
    s = _spd(rng, 32)
    mu = rng.normal(size=32)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eigen_path_equals_sqrtm(seed: int) -> None:
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(seed)
    s1, s2 = _spd(rng, 64), _spd(rng, 64)
    reference = np.trace(linalg.sqrtm(s1 @ s2)).real
    assert trace_sqrt_product(s1, s2) == pytest.approx(reference, rel=1e-9)


def test_singular_covariances_give_finite_value_and_warning() -> None:
    rng = np.random.default_rng(3)
    a = FeatureStats.from_features(rng.normal(size=(10, 64)))
    b = FeatureStats.from_features(rng.normal(size=(10, 64)) + 0.5)
    with pytest.warns(UserWarning, match="fewer|singular"):
        value = fid_from_stats(a, b)
    assert np.isfinite(value) and value > 0


def test_no_warning_when_enough_samples() -> None:
    rng = np.random.default_rng(4)
    a = FeatureStats.from_features(rng.normal(size=(100, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fid_from_stats(a, a) == pytest.approx(0.0, abs=1e-9)


def test_streamed_moments_equal_numpy_cov() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1000, 16)).astype(np.float32) * 3 + 7
    m = FeatureMoments.empty(16)
    for chunk in np.array_split(x, 7):
        m.update(chunk)
    mu, cov = m.mean_cov()
    np.testing.assert_allclose(mu, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(
        cov, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-9, atol=1e-9
    )
    half = FeatureMoments.empty(16)
    half.update(x[:500])
    other = FeatureMoments.empty(16)
    other.update(x[500:])
    np.testing.assert_allclose(half.merge(other).mean_cov()[1], cov, rtol=1e-9, atol=1e-12)


def test_stats_roundtrip(tmp_path) -> None:
    rng = np.random.default_rng(6)
    s = FeatureStats.from_features(rng.normal(size=(50, 4)))
    s.save(tmp_path / "s.npz", source="x")
    t = FeatureStats.load(tmp_path / "s.npz")
    assert t.n == 50 and np.array_equal(t.sigma, s.sigma)


def test_singular_first_covariance_by_hand() -> None:
    # S1 of rank 2 (no Cholesky factor): Tr((S1 S2)^1/2) = sqrt(1*9) + sqrt(4*1) + 0 = 5 for
    # covariances that share their eigenvectors
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    s1, s2 = q @ np.diag([1.0, 4.0, 0.0]) @ q.T, q @ np.diag([9.0, 1.0, 5.0]) @ q.T
    assert trace_sqrt_product(s1, s2) == pytest.approx(5.0, rel=1e-7)   # (sqrt of ~1e-16)
    assert frechet_distance(np.zeros(3), s1, np.zeros(3), s2) == pytest.approx(
        5.0 + 15.0 - 10.0, rel=1e-7)


def test_statistics_of_different_shapes_are_refused() -> None:
    s = np.eye(2)
    with pytest.raises(ValueError, match="differ in shape"):
        frechet_distance(np.zeros(2), s, np.zeros(3), s)
    with pytest.raises(ValueError, match="differ in shape"):
        frechet_distance(np.zeros(2), s, np.zeros(2), np.eye(3)[:2])


def test_one_warning_below_d_samples_and_none_at_d() -> None:
    rng = np.random.default_rng(8)
    small = FeatureStats.from_features(rng.normal(size=(3, 4)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fid_from_stats(small, small)
    assert len(caught) == 1 and not caught[0].filename.endswith("frechet.py")   # the caller's
    assert str(caught[0].message) == (
        "FID from 3 samples in 4 dimensions: the covariance is singular and FID is biased "
        "upwards; compare only numbers computed with the same N")
    enough = FeatureStats.from_features(rng.normal(size=(4, 4)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fid_from_stats(enough, enough)


def test_positive_definite_first_covariance_takes_the_cholesky_path(monkeypatch) -> None:
    import ganlab.metrics.frechet as frechet

    def no_eigen_root(m: np.ndarray) -> np.ndarray:
        raise AssertionError("the eigen path was taken for a positive definite S1")

    monkeypatch.setattr(frechet, "_sym_sqrt", no_eigen_root)
    rng = np.random.default_rng(9)
    s1, s2 = _spd(rng, 6), _spd(rng, 6)
    assert np.isfinite(trace_sqrt_product(s1, s2))


def test_float32_statistics_are_computed_in_float64() -> None:
    rng = np.random.default_rng(10)
    mu1, mu2 = rng.normal(size=64), rng.normal(size=64)
    s1, s2 = _spd(rng, 64), _spd(rng, 64)
    low = [a.astype(np.float32) for a in (mu1, s1, mu2, s2)]
    high = [a.astype(np.float64) for a in low]
    assert frechet_distance(*low) == frechet_distance(*high)
    assert trace_sqrt_product(low[1], low[3]) == trace_sqrt_product(high[1], high[3])

"""KID, PRDC and MiFID against reference implementations on the same features.

KID: torchmetrics' ``poly_mmd`` and ``KernelInceptionDistance`` (kernel (x.y/d + 1)^3,
unbiased MMD^2). PRDC: the formulas of Kynkäänniemi et al. 2019 (precision: a fake inside
some real k-NN ball; recall: a real inside some *fake* k-NN ball) and Naeem et al. 2020
(density, coverage), written densely here as the ``prdc`` package computes them. MiFID:
torchmetrics' ``_compute_cosine_distance`` / ``_mifid_compute`` (the Kaggle formula).
The data are chosen so that the usual slips change the numbers: a kernel without its 1/d,
recall with the real points' radii, a radius that counts the point itself.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.image.kid import KernelInceptionDistance, poly_mmd
from torchmetrics.image.mifid import _compute_cosine_distance, _mifid_compute

from ganlab.metrics import nearest_train
from ganlab.metrics.frechet import frechet_distance
from ganlab.metrics.kernel_distance import kid, mmd2_unbiased
from ganlab.metrics.manifold import prdc


def _features(seed: int, n: int, d: int, scale: float, shift: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=(n, d)) * scale + shift).astype(np.float32)  # ReLU-like


# ---------------------------------------------------------------- KID vs torchmetrics


def test_mmd_equals_torchmetrics_poly_mmd() -> None:
    x, y = _features(0, 40, 24, 1.0, 0.5), _features(1, 40, 24, 1.3, 0.6)
    ours = mmd2_unbiased(x.astype(np.float64), y.astype(np.float64))
    ref = float(poly_mmd(torch.from_numpy(x).double(), torch.from_numpy(y).double()))
    assert ours == pytest.approx(ref, rel=1e-10)
    no_gamma = float(
        poly_mmd(torch.from_numpy(x).double(), torch.from_numpy(y).double(), gamma=1.0)
    )
    assert abs(no_gamma - ref) > 100 * abs(ref)  # this data tells the 1/d factor apart


def test_kid_equals_torchmetrics_class_on_whole_sets() -> None:
    """With subset_size = N every subset is the whole set (in some order): one value."""
    real, fake = _features(2, 30, 16, 1.0, 0.4), _features(3, 30, 16, 1.2, 0.5)
    tm = KernelInceptionDistance(feature=torch.nn.Identity(), subsets=3, subset_size=30)
    tm.update(torch.from_numpy(real).double(), real=True)
    tm.update(torch.from_numpy(fake).double(), real=False)
    tm_mean, tm_std = (float(v) for v in tm.compute())
    ours = kid(real, fake, subsets=3, subset_size=30)
    assert ours["kid_mean"] == pytest.approx(tm_mean, rel=1e-9)
    assert ours["kid_std"] == pytest.approx(tm_std, abs=1e-12)


# ------------------------------------------------------------ PRDC vs the papers' formulas


def _dense(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.sqrt(((a64[:, None, :] - b64[None, :, :]) ** 2).sum(-1))


def _kth(d: np.ndarray, k: int) -> np.ndarray:
    """k-th nearest neighbour distance, the point itself (distance 0) not counted."""
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    real_radii = _kth(_dense(real, real), k)
    fake_radii = _kth(_dense(fake, fake), k)
    d = _dense(real, fake)  # (n_real, n_fake)
    return {
        # Kynkäänniemi et al. 2019
        "precision": float((d < real_radii[:, None]).any(axis=0).mean()),
        "recall": float((d < fake_radii[None, :]).any(axis=1).mean()),
        # Naeem et al. 2020
        "density": float((d < real_radii[:, None]).sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < real_radii).mean()),
    }


def _prdc_sets() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    real = rng.normal(size=(120, 6)).astype(np.float32)
    fake = (rng.normal(size=(90, 6)) * 0.35 + 0.3).astype(np.float32)  # tighter, shifted
    return real, fake


@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_equals_reference_formulas(k: int) -> None:
    real, fake = _prdc_sets()
    ours = prdc(real, fake, k, block_bytes=4 * 90 * 17)  # 17-row blocks: many of them
    ref = reference_prdc(real, fake, k)
    for key, value in ref.items():
        assert ours[key] == value, key


def test_reference_data_tell_the_usual_slips_apart() -> None:
    """Guards the test above: on these sets each slip moves a number by a lot."""
    real, fake = _prdc_sets()
    k = 3
    d = _dense(real, fake)
    real_radii, fake_radii = _kth(_dense(real, real), k), _kth(_dense(fake, fake), k)
    recall = (d < fake_radii[None, :]).any(1).mean()
    recall_with_real_radii = (d < real_radii[:, None]).any(1).mean()
    assert abs(recall - recall_with_real_radii) > 0.2
    with_self = np.sort(_dense(real, real), 1)[:, k - 1]  # radius counting the point itself
    counts = (d < real_radii[:, None]).sum(0).mean()
    assert abs(counts - (d < with_self[:, None]).sum(0).mean()) > 0.2


def test_prdc_with_shared_points_equals_reference() -> None:
    """Copies and duplicates put points exactly on ball boundaries: ``<`` keeps them out."""
    real, fake = _prdc_sets()
    fake = fake.copy()
    fake[::3] = real[: len(fake[::3])]  # a third of the fakes copy real points
    real = real.copy()
    real[100:110] = real[0]  # duplicates inside the real set
    for k in (1, 4):
        ours = prdc(real, fake, k, block_bytes=4 * 120 * 9)
        ref = reference_prdc(real, fake, k)
        assert {key: ours[key] for key in ref} == ref


# ------------------------------------------------------------ MiFID vs torchmetrics' formula


def test_memorization_distance_and_mifid_equal_torchmetrics_formula() -> None:
    train = _features(6, 80, 32, 1.0, 0.2)
    fake = _features(7, 50, 32, 1.0, 0.2)
    fake[:40] = train[:40] * 1.5  # same direction: cosine distance 0
    fake[40] = 0.0  # all-zero rows are left out, as in the competition code
    t_fake, t_train = torch.from_numpy(fake).double(), torch.from_numpy(train).double()
    for eps in (0.1, 1.0):
        ref = float(_compute_cosine_distance(t_fake, t_train, cosine_distance_eps=eps))
        d = nearest_train.memorization_distance(fake, train)["distance"]
        assert (d if d < eps else 1.0) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    real = _features(8, 60, 32, 1.1, 0.3)
    stats = [(x.mean(0).astype(np.float64), np.cov(x.astype(np.float64), rowvar=False))
             for x in (real, fake)]  # fmt: skip
    fid = frechet_distance(stats[0][0], stats[0][1], stats[1][0], stats[1][1])
    d = nearest_train.memorization_distance(fake, train)["distance"]
    assert d < 0.1
    ref = _mifid_compute(
        *(torch.from_numpy(v) for v in stats[0]), t_fake,  # features1: the generated ones
        *(torch.from_numpy(v) for v in stats[1]), t_train,
        cosine_distance_eps=0.1,
    )  # fmt: skip
    assert fid / (d + 1e-14) == pytest.approx(float(ref), rel=1e-6)

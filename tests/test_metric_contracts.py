"""Contracts of the reported numbers: every spread states its ddof (in docs/evaluation.md and
on the card) and this file pins it; the memorisation check searches mirrored training images
in feature space as well as in pixel space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganlab import metrics
from ganlab.features import module_extractor
from ganlab.metrics import nearest_train as mem
from ganlab.metrics.class_score import classifier_score
from ganlab.metrics.kernel_distance import kid
from test_metrics_api import TinyClassifier

DOCS = Path(__file__).parents[1] / "docs" / "evaluation.md"


# features that tell an image from its mirror image: a conv pooled to 2 x 2 cells
Quadrants = TinyClassifier


@pytest.fixture
def ext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    torch.manual_seed(0)
    return module_extractor(Quadrants(), name="quadrants", input_size=12, channels=1)


def _images(seed: int, n: int = 30, size: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 1, size, size)).astype(np.uint8)


# -- ddof of every reported spread -------------------------------------------------------------


def test_fid_over_seeds_reports_the_sample_std(ext) -> None:
    res = metrics.fid_over_seeds(_images(0), [_images(1), _images(2), _images(3)], ext)
    values = res["fid_values"]
    assert len(set(values)) == 3
    assert res["fid_std"] == pytest.approx(float(np.std(values, ddof=1)), rel=1e-12)
    assert res["fid_std"] != pytest.approx(float(np.std(values, ddof=0)), rel=1e-6)
    assert res.card.extra["std_ddof"] == 1
    one = metrics.fid_over_seeds(_images(0), [_images(1)], ext)
    assert one["fid_std"] == 0.0


def test_kid_reports_the_spread_of_its_subsets(ext) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 5)), rng.normal(0.3, 1, size=(40, 5))
    v = kid(a, b, subsets=6, subset_size=10, seed=1)
    r = np.random.default_rng(1)   # the same draws, by hand
    from ganlab.metrics.kernel_distance import mmd2_unbiased
    draws = [mmd2_unbiased(a[r.choice(40, 10, replace=False)], b[r.choice(40, 10, replace=False)])
             for _ in range(6)]
    assert v["kid_std"] == pytest.approx(float(np.std(draws, ddof=0)), rel=1e-10)
    assert metrics.kid(_images(0), _images(1), ext, subsets=4, subset_size=10).card.extra[
        "std_ddof"] == 0


def test_classifier_score_reports_the_spread_of_its_splits(ext) -> None:
    logits = np.random.default_rng(0).normal(size=(60, 10)) * 3
    v = classifier_score(logits, splits=4)
    per_split = [classifier_score(part, splits=1)["score_mean"]
                 for part in np.array_split(logits, 4)]
    assert v["score_std"] == pytest.approx(float(np.std(per_split, ddof=0)), rel=1e-10)
    assert metrics.inception_score(_images(0), ext, splits=3).card.extra["std_ddof"] == 0


def test_the_docs_state_every_ddof() -> None:
    text = " ".join(DOCS.read_text(encoding="utf-8").split())
    for needle in ("ddof 1: n - 1 in the denominator, as `ganlab compare`",
                   "the std has ddof 0", "ddof 0 as the original code's `np.std`",
                   "its std over pairs (ddof 0", "sample standard deviation over runs"):
        assert needle in text, needle


# -- the memorisation check in feature space -----------------------------------------------------


def test_mirrored_copy_is_found_in_feature_space(ext) -> None:
    train, test = _images(0, 40), _images(1, 60)
    fake = _images(2, 8)
    fake[5] = train[12][..., ::-1]      # a mirrored copy, and no plain one
    v = metrics.memorization(fake, train, test, ext).values
    # only the mirrored search can bring a sample this close (in both spaces)
    assert v["pixel_min_distance"] < 1e-6 and v["feature_min_distance"] < 1e-4
    assert v["feature_fraction_mirrored_matches"] >= 1 / 8
    assert v["feature_fraction_closer"] >= 1 / 8


def test_feature_neighbours_prefer_the_closer_of_plain_and_mirrored() -> None:
    rng = np.random.default_rng(0)
    train, flipped = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    fake = np.stack([flipped[4], train[1] + 1e-3])
    nn_ = mem.feature_neighbours(fake, train, flipped)
    assert nn_.index.tolist() == [4, 1] and nn_.mirrored.tolist() == [True, False]
    assert nn_.distance[0] < 1e-6
    plain = mem.feature_neighbours(fake, train)
    assert not plain.mirrored.any() and plain.distance[0] > 0.1

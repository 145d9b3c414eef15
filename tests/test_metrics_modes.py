"""Mode counting on a collapsed generator; stacked-digit modes; classifier score parts."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.errors import GanlabError
from ganlab.metrics.class_score import classifier_score, mean_confidence
from ganlab.metrics.modes import (
    class_modes,
    kl_divergence,
    make_stacked_digits,
    stacked_digit_modes,
)


def test_collapsed_generator() -> None:
    preds = np.array([3] * 90 + [5] * 10)
    out = class_modes(preds, 10)
    assert out["modes_captured"] == 2
    assert out["histogram"][3] == 90
    expected = 0.9 * np.log(0.9 / 0.1) + 0.1 * np.log(0.1 / 0.1)
    assert out["kl_gen_data"] == pytest.approx(expected)


def test_full_coverage_matches_data() -> None:
    preds = np.repeat(np.arange(10), 7)
    out = class_modes(preds, 10, data_distribution=np.full(10, 3))
    assert out["modes_captured"] == 10 and out["kl_gen_data"] == pytest.approx(0.0)


def test_kl_infinite_outside_support() -> None:
    assert kl_divergence(np.array([1, 1]), np.array([1, 0])) == float("inf")


def test_stacked_modes() -> None:
    collapsed = stacked_digit_modes(np.tile([[1, 2, 3]], (50, 1)))
    assert collapsed["modes_captured"] == 1
    assert collapsed["kl_gen_data"] == pytest.approx(np.log(1000))
    rng = np.random.default_rng(0)
    spread = stacked_digit_modes(rng.integers(0, 10, size=(26000, 3)))
    assert spread["modes_captured"] == 1000 and spread["kl_gen_data"] < 0.05


def test_stacked_kl_splits_into_channels_and_dependence() -> None:
    rng = np.random.default_rng(1)
    first = rng.integers(0, 10, size=26000)
    # every channel uniform, but all three the same digit: 10 modes, all from dependence
    same = stacked_digit_modes(np.stack([first, first, first], 1))
    assert same["modes_captured"] == 10
    assert same["kl_channels"] < 0.01
    assert same["kl_dependence"] == pytest.approx(np.log(100), abs=0.01)
    # independent channels, channel 0 twice as often 0-4 as 5-9: all from the channel part
    skewed = np.where(rng.random(26000) < 2 / 3, rng.integers(0, 5, 26000),
                      rng.integers(5, 10, 26000))
    indep = stacked_digit_modes(np.stack([skewed, rng.integers(0, 10, size=26000),
                                          rng.integers(0, 10, size=26000)], 1))
    expected = 2 / 3 * np.log(4 / 3) + 1 / 3 * np.log(2 / 3)  # KL((2/15 x5, 1/15 x5) || 1/10)
    assert indep["kl_channels"] == pytest.approx(expected, abs=0.01)
    assert indep["kl_dependence"] < 0.03
    for out in (same, indep):  # exact with empirical distributions
        assert out["kl_gen_data"] == pytest.approx(out["kl_channels"] + out["kl_dependence"])
        assert [sum(h) for h in out["channel_histograms"]] == [26000] * 3


def test_confident_channels_tell_guessing_from_uneven_drawing() -> None:
    rng = np.random.default_rng(2)
    n = 20000
    drawn = rng.integers(0, 10, size=(n, 3))
    # Even drawing, but a third of the readings are ambiguous and read as 0: the channels'
    # part is large over all readings and near zero over the confident ones.
    ambiguous = rng.random((n, 3)) < 1 / 3
    guessed = stacked_digit_modes(np.where(ambiguous, 0, drawn), confident=~ambiguous)
    assert guessed["kl_channels"] > 0.3 and guessed["kl_channels_confident"] < 0.01
    assert guessed["confident_fraction"] == pytest.approx(2 / 3, abs=0.01)
    # Uneven drawing (0 three times as often), every reading equally sure: no difference.
    skewed = np.where(rng.random((n, 3)) < 0.2, 0, drawn)
    uneven = stacked_digit_modes(skewed, confident=rng.random((n, 3)) < 0.5)
    assert uneven["kl_channels_confident"] == pytest.approx(uneven["kl_channels"], abs=0.01)
    assert uneven["kl_channels"] > 0.1
    # No confident reading in a channel: no value, rather than a histogram of nothing.
    none = stacked_digit_modes(drawn, confident=np.zeros((n, 3), bool))
    assert none["kl_channels_confident"] is None and none["confident_fraction"] == 0.0
    with pytest.raises(GanlabError, match="confident"):
        stacked_digit_modes(drawn, confident=np.ones((n, 2), bool))


def test_mean_confidence() -> None:
    assert mean_confidence(np.zeros((4, 2))) == pytest.approx(0.5)
    assert mean_confidence(np.array([[80.0, 0.0, 0.0], [0.0, 0.0, 0.0]])) == pytest.approx(
        (1 + 1 / 3) / 2)


def test_make_stacked_digits() -> None:
    pool = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(4, 2).repeat(4, 3)
    imgs, labels = make_stacked_digits(pool, np.arange(10), 5, seed=1)
    assert imgs.shape == (5, 3, 4, 4)
    assert np.array_equal(imgs[:, :, 0, 0], labels)


def test_classifier_score_parts() -> None:
    confident_diverse = np.eye(10)[np.arange(100) % 10] * 50
    out = classifier_score(confident_diverse, splits=5)
    assert out["score_mean"] == pytest.approx(10.0, rel=1e-6)
    assert out["per_image_entropy"] == pytest.approx(0.0, abs=1e-6)
    assert out["marginal_entropy"] == pytest.approx(np.log(10))
    collapsed = classifier_score(np.tile(np.eye(10)[0] * 50, (100, 1)), splits=5)
    assert collapsed["score_mean"] == pytest.approx(1.0, abs=1e-6)
    assert collapsed["marginal_entropy"] == pytest.approx(0.0, abs=1e-6)
    uniform = classifier_score(np.zeros((100, 10)), splits=5)
    assert uniform["score_mean"] == pytest.approx(1.0)
    assert uniform["per_image_entropy"] == pytest.approx(np.log(10))


def test_shipped_digits_classifier_counts_modes() -> None:
    from ganlab import metrics
    from ganlab.features.classifier_train import load_split

    try:
        images, labels = load_split("digits", "test")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"MNIST-5k not installed: {exc}")
    collapsed = np.repeat(images[labels == 7][:1], 40, 0)  # a generator stuck on one digit
    res = metrics.mode_counts(collapsed, "digits-classifier", use_cache=False)
    assert res["modes_captured"] == 1 and res["histogram"][7] == 40
    real = metrics.mode_counts(
        images[::3], "digits-classifier", real_labels=labels, use_cache=False
    )
    assert real["modes_captured"] == 10 and real["kl_gen_data"] < 0.05
    stacked, _ = make_stacked_digits(images, labels, 400, seed=0)
    st = metrics.mode_counts(stacked, "digits-classifier", stacked=True, use_cache=False)
    assert st["num_modes"] == 1000 and 250 <= st["modes_captured"] <= 400

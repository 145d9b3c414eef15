"""Python API: extractor adapter, caching, metric cards, one feature pass for many metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganlab import metrics
from ganlab.features import module_extractor
from ganlab.metrics import cache


class TinyClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3)
        self.head = nn.Linear(24, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.flatten(nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 2), 1)
        return f, self.head(f)


@pytest.fixture
def ext(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    torch.manual_seed(0)
    return module_extractor(TinyClassifier(), name="tiny", input_size=12, channels=1)


def _images(seed: int, n: int = 60, shift: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 200, size=(n, 1, 10, 10)) + shift, 0, 255).astype(np.uint8)


def test_fid_self_zero_and_card(ext) -> None:
    a = _images(0)
    res = metrics.fid(a, a, ext)
    assert res["fid"] == pytest.approx(0.0, abs=1e-6)
    d = res.to_dict()["card"]
    assert d["extractor"] == "tiny" and d["n_real"] == 60 and d["dtype"] == "float64"
    assert d["resize"] == "tf1-bilinear" and len(d["weights_sha256"]) == 64
    assert metrics.fid(a, _images(1, shift=40), ext)["fid"] > 0


def test_cache_hit_returns_same_features(ext, tmp_path) -> None:
    from ganlab.metrics.extract import features_and_logits

    a = _images(2)
    f1, l1 = features_and_logits(a, ext, want_logits=True)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    ext.network = None  # a cache hit must not touch the network
    f2, l2 = features_and_logits(a, ext, want_logits=True)
    assert np.array_equal(f1, f2) and np.array_equal(l1, l2)
    key = cache.cache_key("features", cache.images_hash(a), ext.card())
    assert cache.load_arrays(key) is not None


def test_scores_modes_prdc_kid(ext) -> None:
    a, b = _images(3), _images(4, shift=30)
    s = metrics.inception_score(b, ext, splits=3)
    assert 1.0 <= s["score_mean"] <= 10.0 and "marginal_entropy" in s.values
    m = metrics.mode_counts(b, ext)
    assert sum(m["histogram"]) == 60 and 1 <= m["modes_captured"] <= 10
    p = metrics.prdc(a, b, ext, k=3)
    assert 0.0 <= p["precision"] <= 1.0
    k = metrics.kid(a, b, ext, subsets=5, subset_size=30)
    assert k.card.seed == 0 and np.isfinite(k["kid_mean"])


def test_fid_over_seeds(ext) -> None:
    res = metrics.fid_over_seeds(_images(5), [_images(6), _images(7), _images(8)], ext)
    assert len(res["fid_values"]) == 3
    assert res["fid_mean"] == pytest.approx(np.mean(res["fid_values"]))


def test_evaluate_reads_only_the_feature_sets(ext) -> None:
    from ganlab.metrics.card import joint_card

    a, b = _images(9), _images(10, shift=20)
    fr, ff = metrics.extract_features(a, ext), metrics.extract_features(b, ext)
    ext.network = None  # every metric must read the features, never the network again
    res = metrics.evaluate(fr, ff, ext, kid_subsets=5, kid_subset_size=30, score_splits=3)
    assert list(res) == ["fid", "kid", "prdc", "score"]
    assert res["kid"].card.extra == {"subsets": 5, "subset_size": 30, "std_ddof": 0}
    assert res["prdc"].card.extra == {"k": 5}
    assert res["score"].card.extra == {"splits": 3, "std_ddof": 0}
    card = joint_card(res, reference="b")
    assert card["extractor"] == "tiny" and card["n_fake"] == 60 and card["reference"] == "b"
    from ganlab.metrics.cache import images_hash

    # the real set's fingerprint travels with its features (the score uses no real set)
    assert card["metrics"]["fid"] == {"n_real": 60, "real_fingerprint": images_hash(a)}
    assert card["metrics"]["kid"]["seed"] == 0
    assert card["metrics"]["classifier_score"] == {"splits": 3, "std_ddof": 0}


def test_evaluate_matches_the_single_metrics(ext) -> None:
    a, b = _images(11), _images(12, shift=30)
    res = metrics.evaluate(a, b, ext, kid_subsets=4, kid_subset_size=25, score_splits=2)
    assert res["fid"]["fid"] == pytest.approx(metrics.fid(a, b, ext)["fid"], rel=1e-9)
    assert res["kid"].values == metrics.kid(a, b, ext, subsets=4, subset_size=25).values
    assert res["prdc"].values == metrics.prdc(a, b, ext).values
    assert res["score"].values == metrics.inception_score(b, ext, splits=2).values


def test_prdc_max_n_subsamples_and_says_so(ext) -> None:
    res = metrics.prdc(_images(13, n=50), _images(14, n=40), ext, max_n=30)
    assert res.card.n_real == 30 and res.card.n_fake == 30
    assert res.card.extra["subset_of"] == {"n_real": 50, "n_fake": 40, "seed": 0}


def test_features_of_another_extractor_are_refused(ext) -> None:
    from ganlab.errors import GanlabError

    fs = metrics.extract_features(_images(15), ext)
    other = module_extractor(TinyClassifier(), name="other", input_size=12, channels=1)
    with pytest.raises(GanlabError, match="made with extractor tiny"):
        metrics.fid(fs, fs, other)

"""Python API: extractor adapter, caching, metric cards, the training-loop helper."""

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


def test_compute_training_metrics(ext) -> None:
    out = metrics.compute_training_metrics(torch.from_numpy(_images(9)), _images(10), ext)
    assert {"fid", "kid_mean", "precision", "recall", "density", "coverage", "score"} <= set(out)
    assert all(isinstance(v, float) for v in out.values())

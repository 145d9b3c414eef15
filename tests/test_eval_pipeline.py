"""One evaluation pipeline: one extractor pass per set, shared by ``ganlab eval all`` and
training-time evaluation; streamed statistics that merge across shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ganlab import metrics
from ganlab.cli import main as cli_main
from ganlab.errors import GanlabError
from ganlab.features import module_extractor
from ganlab.features.registry import EXTRACTORS
from ganlab.metrics.class_score import ClassMoments, classifier_score
from ganlab.metrics.extract import _cached_extractor, statistics
from ganlab.metrics.frechet import fid_from_stats
from ganlab.metrics.stats import FeatureMoments, FeatureStats, moments_of

N_REAL, N_FAKE = 40, 30  # different sizes: a second pass over either set shows in the count


class CountingClassifier(nn.Module):
    """8-d features and 10 logits of 8x8 RGB images; counts every image it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.head = nn.Linear(8, 10)
        self.seen: list[int] = []  # images per forward call

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.seen.append(len(x))
        f = torch.flatten(nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 1), 1)
        return f, self.head(f)


@pytest.fixture
def counting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CountingClassifier:
    """A registered extractor ``counting`` whose network counts the images it is fed."""
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    net = CountingClassifier()
    ext = module_extractor(net, name="counting", input_size=None, channels=3)
    net.seen.clear()  # module_extractor probes the network once
    monkeypatch.setitem(EXTRACTORS, "counting", lambda weights, resize: ext)
    _cached_extractor.cache_clear()
    yield net
    _cached_extractor.cache_clear()


def _images(seed: int, n: int, shift: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 200, size=(n, 3, 8, 8)) + shift, 0, 255).astype(np.uint8)


def _npz(tmp_path: Path, name: str, images: np.ndarray) -> str:
    path = tmp_path / name
    np.savez(path, images=images)
    return str(path)


def test_eval_all_runs_the_extractor_over_each_set_once(
        counting: CountingClassifier, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _npz(tmp_path, "a.npz", _images(0, N_REAL))
    b = _npz(tmp_path, "b.npz", _images(1, N_FAKE, shift=30))
    argv = ["eval", "all", a, b, "--extractor", "counting", "--subset-size", "20", "--json"]
    assert cli_main([*argv, "--no-cache"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert list(first) == ["fid", "kid", "prdc", "score"]  # logits came with the same pass
    assert sum(counting.seen) == N_REAL + N_FAKE, counting.seen
    counting.seen.clear()
    assert cli_main(argv) == 0  # fills the cache: still one pass per set
    assert sum(counting.seen) == N_REAL + N_FAKE, counting.seen
    capsys.readouterr()
    counting.seen.clear()
    assert cli_main(argv) == 0
    assert counting.seen == []  # everything from the cache
    assert json.loads(capsys.readouterr().out) == first


def test_training_evaluation_uses_the_eval_api_and_carries_a_card(
        counting: CountingClassifier, tmp_path: Path) -> None:
    from ganlab.config import DataConfig, EvalConfig
    from ganlab.families.image_eval import ImageEvaluator
    from ganlab.report.html import _evaluations_html, _summary_table
    from ganlab.report.plots import metric_keys

    real = _images(2, N_REAL)
    ref = _npz(tmp_path, "ref.npz", real)
    logs: list[str] = []
    ev = ImageEvaluator(EvalConfig(n_samples=N_FAKE, extractor="counting",
                                   reference=f"npz:{ref}"),
                        DataConfig(name=f"npz:{ref}"), (3, 8, 8), logs.append)
    assert ev.resolve() and ev.extractor_name == "counting" and ev.reference_name == f"npz:{ref}"
    fake = torch.from_numpy(_images(3, N_FAKE, shift=20)).float() / 127.5 - 1.0
    out = ev(lambda n: fake[:n])
    assert sum(counting.seen) == N_REAL + N_FAKE  # one pass per set
    out2 = ev(lambda n: fake[:n])
    assert sum(counting.seen) == N_REAL + 2 * N_FAKE  # the reference is not extracted again
    assert out == out2

    flat = ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage",
            "score", "per_image_entropy", "marginal_entropy")
    assert set(out) == {*flat, "extractor", "card"}
    assert all(isinstance(out[k], float) for k in flat) and out["extractor"] == "counting"
    # the same numbers as the eval API on the same images
    fake_u8 = ((fake + 1) * 127.5).round().to(torch.uint8).numpy()
    same = metrics.evaluate(real, fake_u8, "counting", kid_subsets=10, prdc_max_n=5000,
                            score_splits=3)
    assert out["fid"] == pytest.approx(same["fid"]["fid"], rel=1e-9)
    assert out["kid_mean"] == same["kid"]["kid_mean"]
    assert out["recall"] == same["prdc"]["recall"]
    assert out["score"] == same["score"]["score_mean"]

    card = out["card"]
    assert json.loads(json.dumps(card)) == card  # goes into metrics.jsonl as it is
    assert card["extractor"] == "counting" and len(card["weights_sha256"]) == 64
    assert card["resize"] == "tf1-bilinear" and card["reference"] == f"npz:{ref}"
    assert card["n_fake"] == N_FAKE and card["metrics"]["fid"]["n_real"] == N_REAL
    kid_card = dict(card["metrics"]["kid"])
    # training's reference features carry the fingerprint of the real images they came from
    assert len(kid_card.pop("real_fingerprint")) == 64
    assert kid_card == {"n_real": N_REAL, "seed": 0, "subsets": 10, "subset_size": N_FAKE,
                        "std_ddof": 0}
    assert card["metrics"]["prdc"]["n_real"] == N_FAKE  # cut to the smaller set, and said so
    assert card["metrics"]["prdc"]["subset_of"]["n_real"] == N_REAL

    # the report reads such records: the nested card is no metric and no table cell
    record = {"step": 2, "d_loss": 0.5, **out}
    assert metric_keys([record]) == list(flat)
    assert "card" not in _evaluations_html([record]) and "card" not in _summary_table(record)


def test_fid_moments_merge_across_shards() -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(300, 16)) * rng.uniform(0.5, 2.0, 16) + rng.normal(size=16)
    other = FeatureStats.from_features(rng.normal(size=(200, 16)))
    one_pass = FeatureStats.from_features(feats)
    # three processes, uneven shards; each sends its moments as plain arrays
    shards = [moments_of(part, chunk=32) for part in np.split(feats, [70, 190])]
    sent = [{k: np.array(v) for k, v in s.to_arrays().items()} for s in shards]
    merged = FeatureStats.from_moments(
        FeatureMoments.merge_all(FeatureMoments.from_arrays(a) for a in sent))
    assert merged.n == one_pass.n == 300
    np.testing.assert_allclose(merged.mu, one_pass.mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(merged.sigma, one_pass.sigma, rtol=1e-10, atol=1e-12)
    assert fid_from_stats(merged, other) == pytest.approx(fid_from_stats(one_pass, other),
                                                         rel=1e-10)
    with pytest.raises(GanlabError, match="different extractors"):
        shards[0].merge(FeatureMoments.empty(8))
    with pytest.raises(GanlabError, match="at least one shard"):
        FeatureMoments.merge_all([])


def test_image_shards_merge_into_the_one_pass_statistics(
        counting: CountingClassifier, tmp_path: Path) -> None:
    from ganlab.metrics.extract import as_extractor

    ext = as_extractor("counting")
    images = _images(4, 90)
    whole = statistics(images, ext, batch_size=16, use_cache=False)
    parts = []
    for i, shard in enumerate(np.array_split(images, 3)):  # as if from 3 processes, via files
        path = tmp_path / f"shard{i}.npz"
        np.savez(path, **metrics.feature_moments(shard, ext, batch_size=16).to_arrays())
        with np.load(path) as z:
            parts.append(FeatureMoments.from_arrays(z))
    merged = FeatureStats.from_moments(FeatureMoments.merge_all(parts))
    assert merged.n == whole.n == 90
    np.testing.assert_allclose(merged.mu, whole.mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(merged.sigma, whole.sigma, rtol=1e-10, atol=1e-14)
    fake = _images(5, 60, shift=40)
    assert metrics.fid(merged, fake, ext)["fid"] == pytest.approx(
        metrics.fid(images, fake, ext)["fid"], rel=1e-10)


def test_class_statistics_merge_across_shards() -> None:
    logits = np.random.default_rng(1).normal(size=(250, 10)) * 3
    whole = ClassMoments.from_logits(logits)
    merged = ClassMoments.merge_all(
        ClassMoments.from_arrays(ClassMoments.from_logits(part).to_arrays())
        for part in np.split(logits, [40, 160]))
    assert merged.n == 250 and merged.histogram.tolist() == whole.histogram.tolist()
    assert sum(merged.histogram) == 250
    mv, wv = merged.values(), whole.values()
    for key in ("score", "per_image_entropy", "marginal_entropy"):
        assert mv[key] == pytest.approx(wv[key], rel=1e-12)
    ref = classifier_score(logits, splits=1)  # the one-split score, from all logits at once
    assert mv["score"] == pytest.approx(ref["score_mean"], rel=1e-10)
    assert mv["per_image_entropy"] == pytest.approx(ref["per_image_entropy"], rel=1e-12)
    assert mv["marginal_entropy"] == pytest.approx(ref["marginal_entropy"], rel=1e-12)

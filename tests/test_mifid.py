"""MiFID: FID divided by the memorization penalty when generated images copy training ones
(API and ``ganlab eval mifid``), exactly FID when they do not."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganlab import metrics
from ganlab.cli import main as cli_main
from ganlab.errors import GanlabError
from ganlab.metrics.stats import FeatureStats
from helpers import TinyExtractor


@pytest.fixture
def sets(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ts = tmp_path / "tiny.pt"
    torch.jit.script(TinyExtractor()).save(str(ts))
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, size=(60, 3, 8, 8), dtype=np.uint8)
    train = rng.integers(0, 256, size=(60, 3, 8, 8), dtype=np.uint8)
    fresh = rng.integers(0, 230, size=(60, 3, 8, 8), dtype=np.uint8)
    copies = np.concatenate([train[:50], fresh[:10]])  # most samples copy training images
    paths = {}
    for name, arr in (("real", real), ("train", train), ("fresh", fresh), ("copies", copies)):
        paths[name] = str(tmp_path / f"{name}.npz")
        np.savez(paths[name], images=arr)
    return {"ts": str(ts), "real": real, "train": train, "fresh": fresh, "copies": copies,
            "paths": paths}  # fmt: skip


def test_copies_are_penalised_fresh_samples_are_not(sets) -> None:
    ts = sets["ts"]
    copied = metrics.mifid(sets["real"], sets["copies"], sets["train"], ts)
    v = copied.values
    assert v["memorization_distance"] < 0.1 and v["penalty"] == v["memorization_distance"]
    assert v["mifid"] == pytest.approx(v["fid"] / (v["penalty"] + 1e-14), rel=1e-12)
    assert v["mifid"] > 10 * v["fid"]
    assert v["fid"] == pytest.approx(metrics.fid(sets["real"], sets["copies"], ts)["fid"])
    card = copied.card
    assert card.metric == "mifid" and card.extra["epsilon"] == 0.1
    assert card.extra["n_train"] == 60 and len(card.extra["train_fingerprint"]) == 64
    assert any("penalty applied" in note for note in card.notes)

    fresh = metrics.mifid(sets["real"], sets["fresh"], sets["train"], ts).values
    assert fresh["memorization_distance"] >= 0.1 and fresh["penalty"] == 1.0
    assert fresh["mifid"] == fresh["fid"]
    assert fresh["fid"] == pytest.approx(metrics.fid(sets["real"], sets["fresh"], ts)["fid"])


def test_one_training_image_copied_many_times_is_penalised(sets) -> None:
    """d averages over the generated samples (the competition's orientation): 30 copies of one
    training image give d = 0, though most training images have no copy near them."""
    fake = np.repeat(sets["train"][:1], 30, axis=0)
    v = metrics.mifid(sets["real"], fake, sets["train"], sets["ts"]).values
    assert v["memorization_distance"] < 1e-12 and v["penalty"] < 1e-12
    assert v["mifid"] > 1e6 * v["fid"]


def test_epsilon_and_defaults(sets) -> None:
    ts = sets["ts"]
    v = metrics.mifid(sets["real"], sets["fresh"], sets["train"], ts, epsilon=1.0).values
    assert v["penalty"] == v["memorization_distance"] < 1.0  # every d < 1 is penalised now
    assert v["mifid"] == pytest.approx(v["fid"] / v["penalty"], rel=1e-12)
    own = metrics.mifid(sets["real"], sets["real"][:30], extractor=ts)  # train defaults to real
    assert own.values["memorization_distance"] < 1e-12 and own.card.extra["n_train"] == 60
    with pytest.raises(GanlabError, match="epsilon"):
        metrics.mifid(sets["real"], sets["fresh"], sets["train"], ts, epsilon=0.0)
    real_stats = FeatureStats(np.zeros(32), np.eye(32), 60)
    with pytest.raises(GanlabError, match="train"):
        metrics.mifid(real_stats, sets["fresh"], None, ts)


def test_cli_verb(sets, capsys) -> None:
    p = sets["paths"]
    rc = cli_main(["eval", "mifid", p["real"], p["copies"], "--train", p["train"],
                   "--extractor", sets["ts"], "--json"])  # fmt: skip
    assert rc == 0
    res = json.loads(capsys.readouterr().out)["mifid"]
    api = metrics.mifid(sets["real"], sets["copies"], sets["train"], sets["ts"]).values
    for key in ("mifid", "fid", "memorization_distance", "penalty", "epsilon"):
        assert res["values"][key] == pytest.approx(api[key], rel=1e-12)
    assert res["card"]["extra"]["epsilon"] == 0.1
    rc = cli_main(["eval", "mifid", p["real"], p["fresh"], "--train", p["train"],
                   "--extractor", sets["ts"], "--epsilon", "0.05"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    for line in ("mifid.mifid:", "mifid.fid:", "mifid.memorization_distance:",
                 "mifid.epsilon: 0.05", "mifid.penalty: 1"):  # fmt: skip
        assert line in out

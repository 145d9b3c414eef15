"""ganlab.metrics.torchmetrics: the Metric classes give ganlab's numbers (API and CLI), reset,
check their inputs, and reduce across two gloo processes to the one-process values."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ganlab import metrics
from ganlab.cli import main as cli_main
from ganlab.errors import GanlabError
from ganlab.features import module_extractor
from ganlab.metrics.torchmetrics import FID, KID, PRDC, ClassifierScore
from helpers import TinyExtractor


class TinyHead(TinyExtractor):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(32, 5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        f = super().forward(x)
        return f, self.head(f)


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ts = tmp_path / "tiny.pt"
    torch.jit.script(TinyExtractor()).save(str(ts))
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(48, 3, 8, 8), dtype=np.uint8)
    b = rng.integers(0, 200, size=(48, 3, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", images=a)
    np.savez(tmp_path / "b.npz", images=b)
    return {"ts": str(ts), "a": a, "b": b, "tmp": tmp_path}


def _feed(metric, a: np.ndarray, b: np.ndarray, step: int = 16) -> None:
    for i in range(0, len(a), step):
        metric.update(torch.from_numpy(a[i : i + step]), real=True)
        metric.update(b[i : i + step], real=False)  # arrays are taken too


def test_fid_equals_api_and_cli(files, capsys) -> None:
    m = FID(files["ts"])
    _feed(m, files["a"], files["b"])
    value = m.compute()
    assert value.dtype == torch.float64
    api = metrics.fid(files["a"], files["b"], files["ts"])["fid"]
    assert float(value) == pytest.approx(api, rel=1e-6)
    tmp = files["tmp"]
    rc = cli_main(["eval", "fid", str(tmp / "a.npz"), str(tmp / "b.npz"), "--extractor",
                   files["ts"], "--json"])  # fmt: skip
    assert rc == 0
    cli = json.loads(capsys.readouterr().out)["fid"]["values"]["fid"]
    assert float(value) == pytest.approx(cli, rel=1e-6)
    card = m.card()
    assert card.metric == "fid" and card.n_real == 48 and card.n_fake == 48
    assert card.extractor == "torchscript:tiny.pt" and len(card.weights_sha256) == 64


def test_kid_prdc_score_equal_api(files) -> None:
    torch.manual_seed(1)
    ext = module_extractor(TinyHead(), name="tiny-head")
    a, b = files["a"], files["b"]
    kid, prdc = KID(ext, subsets=7, subset_size=20, seed=3), PRDC(ext, k=3)
    score, score1 = ClassifierScore(ext, splits=4), ClassifierScore(ext, splits=1)
    for m in (kid, prdc, score, score1):
        _feed(m, a, b)  # the score ignores the real batches
    want = metrics.kid(a, b, ext, subsets=7, subset_size=20, seed=3, use_cache=False)
    got = kid.compute()
    for key in ("kid_mean", "kid_std"):
        assert float(got[key]) == pytest.approx(want[key], rel=1e-9, abs=1e-15)
    want = metrics.prdc(a, b, ext, k=3, use_cache=False)
    got = prdc.compute()
    for key in ("precision", "recall", "density", "coverage"):
        assert float(got[key]) == want[key]
    want = metrics.inception_score(b, ext, splits=4, use_cache=False)
    got = score.compute()
    for key in ("score_mean", "score_std", "per_image_entropy", "marginal_entropy"):
        assert float(got[key]) == pytest.approx(want[key], rel=1e-9)
    one = metrics.inception_score(b, ext, splits=1, use_cache=False)
    assert float(score1.compute()["score_mean"]) == pytest.approx(one["score_mean"], rel=1e-9)
    assert int(score.compute()["histogram"].sum()) == len(b) and score.card().n_fake == len(b)


def test_reset_keeps_real_side_when_asked(files) -> None:
    a, b = files["a"], files["b"]
    keep, full = FID(files["ts"], reset_real_features=False), FID(files["ts"])
    for m in (keep, full):
        _feed(m, a, b)
        m.reset()
    assert int(keep.real_n) == len(a) and int(keep.fake_n) == 0
    assert int(full.real_n) == 0
    keep.update(b, real=False)
    assert float(keep.compute()) == pytest.approx(metrics.fid(a, b, files["ts"])["fid"], rel=1e-9)
    kid = KID(files["ts"], reset_real_features=False, subsets=2, subset_size=10)
    _feed(kid, a, b)
    kid.reset()
    assert kid.card().n_real == len(a) and kid.card().n_fake == 0


def test_inputs_checked(files) -> None:
    m = FID(files["ts"])
    with pytest.raises(GanlabError, match="uint8"):
        m.update(torch.rand(4, 3, 8, 8), real=True)
    with pytest.raises(GanlabError, match=r"\(N, C, H, W\)"):
        m.update(torch.zeros(3, 8, 8, dtype=torch.uint8), real=True)
    a, b = files["a"], files["b"]
    norm = FID(files["ts"], normalize=True)
    _feed(norm, a.astype(np.float32) / 255, b.astype(np.float32) / 255)
    plain = FID(files["ts"])
    _feed(plain, a, b)
    assert float(norm.compute()) == float(plain.compute())
    with pytest.raises(GanlabError, match="no classification head"):
        ClassifierScore(files["ts"])


def _worker(rank: int, world: int, init: str, ts: str, data: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    try:
        z = np.load(data)
        half = len(z["a"]) // world
        a, b = (z[k][rank * half : (rank + 1) * half] for k in ("a", "b"))
        fid, kid, prdc = FID(ts), KID(ts, subsets=5, subset_size=30), PRDC(ts, k=3)
        for m in (fid, kid, prdc):
            _feed(m, a, b, step=10)
        res = {"fid": float(fid.compute())}
        res.update({k: float(v) for k, v in kid.compute().items()})
        res.update({k: float(v) for k, v in prdc.compute().items()})
        if rank == 0:
            with open(out, "w") as fh:
                json.dump(res, fh)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_give_one_process_values(files) -> None:
    tmp = files["tmp"]
    data, out = tmp / "ab.npz", tmp / "out.json"
    a, b = files["a"], files["b"]
    np.savez(data, a=a, b=b)
    mp.spawn(_worker, args=(2, str(tmp / "init"), files["ts"], str(data), str(out)), nprocs=2)
    got = json.loads(out.read_text())
    fid, prdc = FID(files["ts"]), PRDC(files["ts"], k=3)
    kid = KID(files["ts"], subsets=5, subset_size=30)
    for m in (fid, kid, prdc):
        _feed(m, a, b)
    assert got["fid"] == pytest.approx(float(fid.compute()), rel=1e-9)
    half = FID(files["ts"])
    _feed(half, a[:24], b[:24])
    assert got["fid"] != pytest.approx(float(half.compute()), rel=1e-3)  # it was reduced
    for key, value in {**kid.compute(), **prdc.compute()}.items():  # "cat" keeps rank order
        assert got[key] == pytest.approx(float(value), rel=1e-9, abs=1e-15), key


def test_calling_the_metric_only_updates(files) -> None:
    m = FID(files["ts"])
    assert m(files["a"], real=True) is None and m(files["b"], real=False) is None
    want = metrics.fid(files["a"], files["b"], files["ts"])["fid"]
    assert float(m.compute()) == pytest.approx(want, rel=1e-9)

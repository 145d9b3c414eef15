"""Class-conditional metrics: conditional accuracy, per-class FID/KID, intra-class diversity,
the classification accuracy score, and ``ganlab eval conditional``.

A tiny labelled set (class c = a bright square somewhere in quadrant c) and a hand-made
"quadrant" classifier (logits = the quadrants' brightness) that reads it back perfectly; the
"generators" return real images of the asked class, ignore the class, or collapse each class
to a single image.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ganlab.cli import main
from ganlab.errors import GanlabError
from ganlab.features.base import ExtractorSpec, FeatureExtractor
from ganlab.features.classifier import normalize_unit
from ganlab.features.classifier_train import TrainPlan
from ganlab.metrics import conditional as C

K = 4
PLAN = TrainPlan(epochs=6, batch_size=16, lr=3e-3, width=4)


def make_set(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(K * n_per_class, 1, 28, 28)).astype(np.uint8)
    labels = np.repeat(np.arange(K), n_per_class)
    for i, c in enumerate(labels):
        r0, c0 = (c // 2) * 14, (c % 2) * 14
        dy, dx = rng.integers(0, 7, 2)
        s = rng.integers(4, 8)
        images[i, 0, r0 + dy : r0 + dy + s, c0 + dx : c0 + dx + s] = rng.integers(180, 256)
    return images, labels


class Quadrants(nn.Module):
    """16-d features (4x4 average pool), logits = 10 x the brightness of the four quadrants."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.mean(1, keepdim=True)
        feats = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 4), 1)
        return feats, 10 * torch.flatten(nn.functional.adaptive_avg_pool2d(x, 2), 1)


EXT = FeatureExtractor(
    ExtractorSpec("quadrants", None, 1, "x/127.5 - 1", 16, K), Quadrants(), normalize_unit, "0" * 64
)


class FakeGenerator:
    """Real images of the asked class (or of any class, or one image a class)."""

    num_classes = K

    def __init__(self, x: np.ndarray, y: np.ndarray, mode: str = "perfect") -> None:
        self.x, self.y, self.mode = x, y, mode

    def sample(self, n: int, seed: int = 0, condition: int | None = None) -> torch.Tensor:
        rng = np.random.default_rng(seed)
        pool = np.arange(len(self.x)) if self.mode == "ignore" else np.flatnonzero(
            self.y == condition
        )
        if self.mode == "collapse":
            return torch.from_numpy(self.x[np.repeat(pool[:1], n)])
        return torch.from_numpy(self.x[rng.choice(pool, n)])


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    xtr, ytr = make_set(60, 0)
    xte, yte = make_set(40, 1)
    return {"xtr": xtr, "ytr": ytr, "xte": xte, "yte": yte}


def test_conditional_accuracy_reads_back_the_asked_class(data) -> None:
    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"]), 30, seed=3)
    assert x.shape == (K * 30, 1, 28, 28) and x.dtype == np.uint8
    assert y.tolist() == np.repeat(np.arange(K), 30).tolist()
    res = C.conditional_accuracy(x, y, EXT, use_cache=False, seed=3)
    assert res["accuracy"] == 1.0 and res["accuracy_per_class"] == [1.0] * K
    assert np.array_equal(np.asarray(res["confusion"]), 30 * np.eye(K, dtype=int))
    assert res.card.extractor == "quadrants" and res.card.seed == 3
    assert res.card.extra["n_fake_per_class"] == [30] * K

    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"], "ignore"), 100, seed=0)
    res = C.conditional_accuracy(x, y, EXT, use_cache=False)
    assert abs(res["accuracy"] - 1 / K) < 0.08  # chance: the class is ignored


def test_per_class_fid_is_zero_for_identical_sets_and_large_for_swapped_classes(data) -> None:
    x, y = data["xte"], data["yte"]
    res = C.per_class_distances(x, y, x, y, EXT, kid_subsets=5, kid_subset_size=20,
                                use_cache=False)
    assert res["fid_per_class"] == pytest.approx([0.0] * K, abs=1e-6)
    assert res["fid"] == pytest.approx(0.0, abs=1e-6)
    assert res.card.extra["n_real_per_class"] == [40] * K
    # the same images under shifted labels: every class is compared with another class
    swapped = C.per_class_distances(x, y, x, (y + 1) % K, EXT, kid_subsets=5,
                                    kid_subset_size=20, use_cache=False)
    assert min(swapped["fid_per_class"]) > 0.1 and min(swapped["kid_per_class"]) > 0.01
    assert swapped["fid"] == pytest.approx(0.0, abs=1e-6)  # class-blind FID cannot see it


def test_intra_class_diversity_shows_a_collapsed_class(data) -> None:
    real, ry = data["xte"], data["yte"]
    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"]), 40)
    ok = C.intra_class_diversity(real, ry, x, y, EXT, use_cache=False)
    assert all(0.7 < r < 1.4 for r in ok["diversity_ratio_per_class"])
    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"], "collapse"), 40)
    bad = C.intra_class_diversity(real, ry, x, y, EXT, use_cache=False)
    assert bad["diversity_ratio_per_class"] == pytest.approx([0.0] * K, abs=1e-6)
    assert bad["diversity_ratio_min"] == pytest.approx(0.0, abs=1e-6)


def test_mean_pairwise_distance_known_answer() -> None:
    pts = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert C.mean_pairwise_distance(pts) == pytest.approx((5 + 4 + 3) / 3)
    assert np.isnan(C.mean_pairwise_distance(pts[:1]))


def test_cas_near_real_data_for_a_perfect_generator_and_chance_when_ignoring(data) -> None:
    real_kw = dict(real_train=data["xtr"], real_train_labels=data["ytr"],
                   real_test=data["xte"], real_test_labels=data["yte"], plan=PLAN,
                   epochs=None, seed=0, num_classes=K)  # fmt: skip
    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"]), 40, seed=1)
    good = C.classification_accuracy_score(x, y, **real_kw)
    assert good["real_accuracy"] > 0.85
    assert abs(good["gap_points"]) < 12 and good["cas"] > 0.75
    assert good.card.extra["n_train_per_class"] == [40] * K
    assert good.card.extra["epochs"] == PLAN.epochs
    again = C.classification_accuracy_score(x, y, **real_kw)
    assert again.values == good.values  # deterministic given the seed

    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"], "ignore"), 40, seed=1)
    chance = C.classification_accuracy_score(x, y, **real_kw)
    assert chance["cas"] == pytest.approx(1 / K, abs=0.05)  # one set of images, four labels
    assert chance["real_accuracy"] == good["real_accuracy"]
    assert chance["gap_points"] > 50


def test_cas_refuses_too_few_real_images_and_bad_labels(data) -> None:
    x, y = data["xtr"], data["ytr"]
    with pytest.raises(GanlabError, match="has 60 images of class 0"):
        C.classification_accuracy_score(
            np.concatenate([x, x]), np.concatenate([y, y]), x, y, data["xte"], data["yte"],
            plan=PLAN, epochs=1,
        )
    with pytest.raises(GanlabError, match="need 240 labels"):
        C.conditional_accuracy(x, y[:10], EXT, use_cache=False)
    with pytest.raises(GanlabError, match="class 7 is out of range"):
        C.conditional_accuracy(x, np.full(len(x), 7), EXT, use_cache=False)
    with pytest.raises(GanlabError, match="unconditional"):
        C.conditional_samples(object(), 3)


# -- the CLI ------------------------------------------------------------------------------------


@pytest.fixture
def cli_files(tmp_path, monkeypatch, data) -> dict[str, str]:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    ts = tmp_path / "quadrants.pt"
    torch.jit.script(Quadrants()).save(str(ts))
    real = tmp_path / "real.npz"
    np.savez(real, images=data["xte"], labels=data["yte"])
    train = tmp_path / "train.npz"
    np.savez(train, images=data["xtr"], labels=data["ytr"])
    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"]), 40, seed=1)
    fake = tmp_path / "fake.npz"
    np.savez(fake, images=x, labels=y)
    unlabelled = tmp_path / "unlabelled.npz"
    np.savez(unlabelled, images=x)
    return {"ts": str(ts), "real": str(real), "train": str(train), "fake": str(fake),
            "unlabelled": str(unlabelled)}


def test_cli_prints_a_row_per_class_and_json(cli_files, capsys) -> None:
    f = cli_files
    base = ["eval", "conditional", f["real"], f["fake"], "--extractor", f["ts"],
            "--subsets", "5", "--subset-size", "20"]
    assert main(base) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["class", "n", "cond.acc"]
    for c in range(K):
        row = lines[1 + c].split()
        assert row[:4] == [str(c), str(c), "40", "1.000"], lines[1 + c]
    assert lines[1 + K].startswith("class mean") and lines[2 + K].startswith("all (overall)")
    assert "torchscript:quadrants.pt" in lines[-1]

    assert main([*base, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"accuracy", "distances", "diversity"}
    assert out["accuracy"]["values"]["accuracy"] == 1.0
    assert len(out["distances"]["values"]["fid_per_class"]) == K


def test_cli_cas_and_errors(cli_files, capsys) -> None:
    f = cli_files
    argv = ["eval", "conditional", f["real"], f["fake"], "--extractor", f["ts"], "--subsets",
            "5", "--subset-size", "20", "--cas", "--cas-epochs", "3", "--train", f["train"]]
    assert main(argv) == 2  # a TorchScript extractor names no domain of the shipped trainer
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CAS: unknown domain 'torchscript:quadrants.pt'" in err[0]

    for argv, match in (
        ([f["unlabelled"], f["unlabelled"]], "has no labels"),
        ([f["real"], f["unlabelled"]], "unlabelled.npz has no labels"),
    ):
        assert main(["eval", "conditional", *argv, "--extractor", f["ts"]]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("ganlab: error:") and match in err[0], err


def test_cli_cas_table(cli_files, capsys, monkeypatch) -> None:
    """--cas adds CAS and real-data columns and the gap line (the shipped trainer, tiny plan)."""
    import ganlab.features.classifier_train as ct

    f = cli_files
    monkeypatch.setitem(ct.PLANS, "fashion", PLAN)
    from ganlab.cli import eval as ev

    real_ext = ev._ext

    def ext_named_fashion(args):
        e = real_ext(args)
        e.spec = type(e.spec)(**{**e.spec.__dict__, "name": "fashion-classifier"})
        return e

    monkeypatch.setattr(ev, "_ext", ext_named_fashion)
    argv = ["eval", "conditional", f["real"], f["fake"], "--extractor", f["ts"], "--subsets",
            "5", "--subset-size", "20", "--cas", "--cas-epochs", "6", "--train", f["train"],
            "--no-cache"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[-2:] == ["CAS", "real"]
    assert [line.split()[0] for line in out[1 : 1 + K]] == [str(c) for c in range(K)]
    gap = next(line for line in out if line.startswith("classification accuracy score"))
    assert "vs real-data accuracy" in gap and "(6 epochs, 160 training images" in gap
    assert ev._class_names("fashion-classifier", 10, None)[9] == "Ankle boot"
    assert ev._class_names("fashion-classifier", 10, ["a"] * 10)[0] == "a"  # the run's names


def test_cli_on_a_conditional_run(tmp_path, capsys, monkeypatch, cli_files) -> None:
    """A class-conditional run folder is sampled --n-per-class a class, class by class."""
    n_threads = torch.get_num_threads()
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, images=rng.integers(0, 256, (40, 28, 28), np.uint8), labels=np.arange(40) % K)
    overrides = [f"data.name=npz:{data}", "data.labels=true", "gan.conditional=true",
                 "gan.model.width=8", "gan.model.z_dim=8", "train.threads=1",
                 "train.batch_size=8", "train.steps=2", "train.checkpoint_every=2",
                 "train.log_every=2", "train.snapshot_every=2", "eval.every=0"]
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path / "runs"),
            "--no-progress"]
    for o in overrides:
        args += ["--set", o]
    try:
        assert main(args) == 0
    finally:
        torch.set_num_threads(n_threads)
    (run,) = (tmp_path / "runs").iterdir()
    capsys.readouterr()
    assert main(["eval", "conditional", str(data), str(run), "--extractor", cli_files["ts"],
                 "--n-per-class", "6", "--subsets", "2", "--subset-size", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"]["card"]["extra"]["n_fake_per_class"] == [6] * K
    assert out["accuracy"]["card"]["seed"] == 0


def test_cas_real_baseline_is_cached_and_equal_to_a_fresh_one(data, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    real_kw = dict(real_train=data["xtr"], real_train_labels=data["ytr"],
                   real_test=data["xte"], real_test_labels=data["yte"], plan=PLAN,
                   epochs=None, seed=0, num_classes=K)  # fmt: skip
    x, y = C.conditional_samples(FakeGenerator(data["xtr"], data["ytr"]), 20, seed=2)
    fresh = C.classification_accuracy_score(x, y, use_cache=False, **real_kw)
    assert not list(tmp_path.glob("*.npz"))
    first = C.classification_accuracy_score(x, y, **real_kw)
    assert len(list(tmp_path.glob("*.npz"))) == 1            # the real-data predictions only
    second = C.classification_accuracy_score(x, y, **real_kw)
    assert first.values == second.values == fresh.values

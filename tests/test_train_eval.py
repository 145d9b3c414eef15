"""Image metrics during training: logged with the step, summarised, reported; resume exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ganlab import config
from ganlab.api import build_trainer
from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.errors import GanlabError
from ganlab.runs import new_run, open_run
from helpers import untimed_metrics

# a few dozen samples in 128 dimensions: FID warns that its covariance is singular
pytestmark = pytest.mark.filterwarnings("ignore:FID from")

METRICS = ("fid", "kid_mean", "kid_std", "precision", "recall", "density", "coverage")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def npz_data(tmp_path: Path) -> str:
    """48 random 28x28 grey images: the shape the digits classifier takes."""
    rng = np.random.default_rng(0)
    path = tmp_path / "d.npz"
    np.savez(path, images=rng.integers(0, 256, (48, 28, 28)).astype(np.uint8))
    return f"npz:{path}"


def tiny(data: str, *extra: str) -> list[str]:
    return [f"data.name={data}", "gan.model.width=8", "train.batch_size=16", "train.threads=1",
            "train.log_every=4", "train.snapshot_every=0", "train.checkpoint_every=3",
            "train.progress=false", "eval.n_samples=40", *extra]


def records(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_image_run_logs_reports_and_summarises_metrics(
        npz_data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path / "runs"),
            "--no-progress"]
    for o in tiny(npz_data, "train.steps=6", "eval.every=2",
                  "eval.extractor=digits-classifier"):
        args += ["--set", o]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "eval: image metrics (FID, KID, precision/recall) in digits-classifier" in out.err
    assert "FID (digits-classifier features)" in out.out and "recall" in out.out
    (run,) = (tmp_path / "runs").iterdir()
    rows = [r for r in records(run) if "fid" in r]
    assert [r["step"] for r in rows] == [2, 4, 6]  # eval steps are logged even off log_every
    for r in rows:
        assert all(np.isfinite(r[k]) for k in METRICS)
        assert 0.0 <= r["precision"] <= 1.0 and 0.0 <= r["recall"] <= 1.0
        assert r["extractor"] == "digits-classifier" and "d_loss" in r
    summary = json.loads((run / "summary.json").read_text())
    assert summary["fid"] == rows[-1]["fid"]  # the last step's evaluation, not a second one
    page = (run / "report.html").read_text()
    table = page.split("<table id='evaluations'>")[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 3 and "<th>fid</th>" in table and "<th>recall</th>" in table
    assert (run / "plots" / "metrics.png").is_file()


def test_image_run_without_a_domain_classifier_says_why(
        npz_data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path / "runs"),
            "--no-progress"]
    for o in tiny(npz_data, "train.steps=2", "eval.every=1"):
        args += ["--set", o]
    assert main(args) == 0
    out = capsys.readouterr()
    assert out.err.count("eval: image metrics skipped: no domain classifier") == 1
    assert "image metrics skipped: no domain classifier is registered for data" in out.out
    (run,) = (tmp_path / "runs").iterdir()
    assert not any("fid" in r for r in records(run))
    assert "fid" not in json.loads((run / "summary.json").read_text())


def test_missing_classifier_weights_skip_with_the_reason(
        npz_data: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.features import classifier
    from ganlab.metrics.extract import _cached_extractor

    absent = tmp_path / "no-weights"
    monkeypatch.setattr(classifier, "weights_paths",
                        lambda domain: (absent / f"{domain}-classifier.safetensors",
                                        absent / f"{domain}-classifier.json"))
    _cached_extractor.cache_clear()
    cfg = config.load(preset="fashion-dcgan-ns",
                      overrides=tiny(npz_data, "train.steps=1",
                                     "eval.extractor=fashion-classifier"))
    trainer = build_trainer(cfg, new_run(cfg, tmp_path / "runs"))
    assert trainer.family.evaluate(final=True) == {}
    assert trainer.family.evaluate(final=True) == {}
    err = capsys.readouterr().err
    assert err.count("eval: image metrics skipped: eval.extractor=fashion-classifier: "
                     "classifier weights not found at") == 1  # said once, not every time
    assert trainer.family.summary_lines({})[0].startswith("image metrics skipped:")
    _cached_extractor.cache_clear()


def test_auto_extractor_and_default_reference(npz_data: str) -> None:
    from ganlab.config import DataConfig
    from ganlab.families.image_eval import auto_extractor, default_reference

    assert auto_extractor("fashion-mnist") == ("fashion-classifier", "")
    assert auto_extractor("mnist-5k") == ("digits-classifier", "")
    name, why = auto_extractor("digits")
    assert name is None and "8x8" in why
    desc, images = default_reference(DataConfig(name=npz_data))
    assert "training images" in desc and images.shape == (48, 1, 28, 28)


@pytest.mark.parametrize(("override", "message"), [
    ("eval.extractor=incepton", "eval.extractor: unknown feature extractor 'incepton'; "
                                "choose one of auto, inception-fid, digits-classifier"),
    ("eval.reference=' '", "eval.reference: must name real images"),
    ("eval.n_samples=0", "eval.n_samples: must be > 0"),
])
def test_bad_eval_values_name_the_key(override: str, message: str) -> None:
    with pytest.raises(GanlabError) as info:
        config.load(preset="fashion-dcgan-ns", overrides=[override])
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_extractor_is_one_line_on_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--preset", "fashion-dcgan-ns", "--set", "eval.extractor=x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganlab: error: eval.extractor:") and "\n" not in err


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    path = ckpt.latest(run / "checkpoints")
    assert path is not None
    return load_file(str(path / ckpt.WEIGHTS))


def test_resume_with_evaluations_is_bit_exact(npz_data: str, tmp_path: Path) -> None:
    base = tiny(npz_data, "train.steps=6", "gan.ema.enabled=true", "train.log_every=1",
                "eval.extractor=digits-classifier")
    cfg = config.load(preset="fashion-dcgan-ns", overrides=[*base, "eval.every=2"])
    full = new_run(cfg, tmp_path / "full")
    build_trainer(cfg, full).run()
    half = new_run(cfg, tmp_path / "half")
    build_trainer(cfg, half).run(until=3)
    cfg2, _ = open_run(half)
    resumed = build_trainer(cfg2, half)
    assert resumed.restore() and resumed.step == 3
    resumed.run()
    cfg0 = config.load(preset="fashion-dcgan-ns", overrides=[*base, "eval.every=0"])
    plain = new_run(cfg0, tmp_path / "plain")
    build_trainer(cfg0, plain).run()

    assert untimed_metrics(full) == untimed_metrics(half)
    assert sum("fid" in r for r in records(full)) == 3
    # evaluating changes nothing in training: same losses and weights as a run without it
    losses = [[(r["step"], r["d_loss"], r["g_loss"]) for r in records(run)]
              for run in (full, plain)]
    assert losses[0] == losses[1]
    for run in (half, plain):
        wa, wb = final_weights(full), final_weights(run)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    family = resumed.family
    rng, gen = torch.get_rng_state(), family.gen.get_state()
    family.evaluate(final=True)
    assert torch.equal(torch.get_rng_state(), rng) and torch.equal(family.gen.get_state(), gen)

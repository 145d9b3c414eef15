"""SeqGAN and Gumbel-softmax GAN as families: phases, smoke runs, bit-exact resume in every
phase, NLL_oracle and BLEU at the end, ``ganlab sample`` of sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from helpers import untimed_metrics

ORACLE = ["data.name=oracle", "data.vocab_size=40", "data.seq_len=8", "data.limit=300"]
COMMON = ["train.threads=1", "train.steps=12", "train.batch_size=16", "train.log_every=1",
          "train.snapshot_every=6", "train.checkpoint_every=3", "train.progress=false"]


def _section(fam: str) -> list[str]:
    return [f"{fam}.mle_steps=4", f"{fam}.d_pretrain_steps=3", f"{fam}.rollouts=2",
            f"{fam}.d_steps=1", f"{fam}.eval_samples=64", f"{fam}.model.d_filters=4",
            f"{fam}.model.d_widths=[1,2,3]", f"{fam}.model.hidden=16"]


def _train(out: Path, preset: str, overrides: list[str], *more: str) -> Path:
    args = ["train", "--preset", preset, "--out", str(out), "--no-progress", *more]
    for o in overrides:
        args += ["--set", o]
    assert main(args) == 0
    (run,) = out.iterdir()
    return run


def _rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    path = ckpt.latest(run / "checkpoints")
    assert path is not None
    return load_file(str(path / ckpt.WEIGHTS))


@pytest.mark.parametrize(("preset", "fam", "until"), [
    ("oracle-seqgan", "seqgan", 2),         # stopped in MLE pre-training
    ("oracle-seqgan", "seqgan", 9),         # stopped in adversarial training
    ("oracle-gumbel", "gumbelgan", 5),      # stopped in D pre-training
])
def test_resume_in_any_phase_is_bit_exact(tmp_path: Path, preset: str, fam: str,
                                          until: int) -> None:
    ov = [*ORACLE, *COMMON, *_section(fam)]
    full = _train(tmp_path / "full", preset, ov)
    half = _train(tmp_path / "half", preset, ov, "--until", str(until))
    assert main(["resume", str(half), "--no-progress"]) == 0
    wa, wb = _weights(full), _weights(half)
    assert set(wa) == set(wb) and any(k.startswith("G_rollout.") for k in wa)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs after resume at {until}"
    ra, rb = untimed_metrics(full), untimed_metrics(half)
    assert ra == rb
    assert [r["phase"] for r in ra] == [0.0] * 4 + [1.0] * 3 + [2.0] * 5
    assert all("g_loss" in r and "d_loss" in r for r in ra[7:])
    summary = json.loads((full / "summary.json").read_text())
    assert json.dumps(summary).count("nll_oracle") >= 1


@pytest.mark.parametrize("until", [8, 10])   # the first adversarial step; two in
def test_relgan_options_resume_bit_exact_in_the_adversarial_phase(tmp_path: Path,
                                                                  until: int) -> None:
    ov = [*ORACLE, *COMMON, *_section("gumbelgan"), "gumbelgan.loss=rsgan",
          "gumbelgan.hard=false", "gumbelgan.tau_end=0.001", "gumbelgan.adv_lr=0.0001"]
    full = _train(tmp_path / "full", "oracle-gumbel", ov)
    half = _train(tmp_path / "half", "oracle-gumbel", ov, "--until", str(until))
    assert main(["resume", str(half), "--no-progress"]) == 0
    wa, wb = _weights(full), _weights(half)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs after resume at {until}"
    assert untimed_metrics(full) == untimed_metrics(half)
    state = torch.load(ckpt.latest(full / "checkpoints") / ckpt.STATE, weights_only=True)
    assert "G_adv" in state["optimizers"]


def test_mle_baseline_and_sampling_token_ids(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = _train(tmp_path / "runs", "oracle-mle", [*ORACLE, *COMMON, "seqgan.mle_steps=12",
                                                   "seqgan.eval_samples=64"])
    rows = _rows(run)
    assert all(r["phase"] == 0.0 for r in rows) and rows[-1]["mle_loss"] < rows[0]["mle_loss"]
    out = tmp_path / "s.txt"
    assert main(["sample", str(run), "-n", "5", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and all(len(ln.split()) == 8 for ln in lines)


def test_text_corpus_run_reports_bleu_and_samples_sentences(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(f"the {a} {b} a {c}\n" for a in ("cat", "dog", "bird")
                              for b in ("sees", "likes", "eats") for c in ("fish", "bone")),
                      encoding="utf-8")
    ov = [f"data.name=text:{corpus}", "data.seq_len=8", *COMMON, *_section("gumbelgan")]
    run = _train(tmp_path / "runs", "wordnet-gumbel", ov)
    info = json.loads((run / "run_info.json").read_text())
    assert info["family"] == "gumbelgan"
    summary = (run / "summary.json").read_text()
    assert "bleu2" in summary and "self_bleu2" in summary
    out = tmp_path / "s.txt"
    assert main(["sample", str(run), "-n", "4", "--out", str(out)]) == 0
    words = {w for ln in out.read_text().splitlines() for w in ln.split()}
    assert words <= {"the", "cat", "dog", "bird", "sees", "likes", "eats", "a", "fish",
                     "bone", "<unk>"}
    assert (run / "samples" / "text-step-0000012.txt").exists()


def test_family_refuses_image_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--preset", "oracle-seqgan", "--out", str(tmp_path), "--set",
            "data.name=ring", "--no-progress"]
    assert main(args) == 2
    assert "needs token data" in capsys.readouterr().err

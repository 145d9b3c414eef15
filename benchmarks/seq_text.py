"""Sequence GANs on real text: BLEU (quality) and Self-BLEU (diversity) of MLE and the GANs.

WordNet's example sentences (Debian ``wordnet-base``; word level, sentences of at most 15
words, a vocabulary of the 5,000 most frequent words; every 10th sentence held out). As in
``seq_oracle.py``, one LSTM (embedding 64, hidden 128) is pre-trained by MLE per seed
(``--pretrain`` steps) and every arm continues from that checkpoint (weights, G's optimiser,
random streams, data position) for the same number of generator updates (``--adversarial``):

* **MLE**: more maximum-likelihood steps;
* **SeqGAN**: D pre-training, then policy gradient with roll-outs (preset ``wordnet-seqgan``);
* **Gumbel**: the ``wordnet-gumbel`` preset's Gumbel-softmax GAN as it was (tau 1 -> 0.1,
  straight-through, the pre-training optimiser at 5e-3, the standard loss);
* **Gumbel-RelGAN**: what RelGAN showed keeps diversity: the relativistic standard loss, the
  inverse temperature raised exponentially from 1 to ``--beta-max`` with relaxed (not
  straight-through) rows that D also trains on, and a separate Adam at ``--adv-lr`` for G's
  adversarial steps.

Each generator's 200 sentences (seeded sampling, temperature 1) are scored against 1,000
held-out sentences: BLEU-2..4 (higher: closer to real text) and Self-BLEU-2..4 among
themselves (lower: more diverse). The "real" row scores 200 held-out sentences against the other
held-out ones. nltk's corpus BLEU, smoothing method1. Resumable like ``seq_oracle.py``.

    .venv/bin/python benchmarks/seq_text.py --runs runs/seq-text        # 3 seeds
    .venv/bin/python benchmarks/seq_text.py --quick                     # smoke run

Writes ``docs/benchmarks/seq_text.md`` when every seed is finished.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from seq_oracle import build, log, mean_std, read_json, start_from, trainer_of, write_json

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "seq_text.md"
KEYS = ("bleu2", "bleu3", "bleu4", "self_bleu2", "self_bleu3", "self_bleu4")
ALL_ARMS = ("MLE", "SeqGAN", "Gumbel", "Gumbel-RelGAN")


def real_row(references: list[str], n: int = 200, refs: int = 1000) -> dict[str, float]:
    """Held-out real sentences scored like a generator's: n of them against ``refs`` others."""
    from ganlab.data.text import split_tokens
    from ganlab.metrics.text import bleu, self_bleu

    hyp = [split_tokens(s, "word") for s in references[-n:]]
    ref = [split_tokens(s, "word") for s in references[:refs]]
    return {**bleu(hyp, ref), **self_bleu(hyp)}


def score(fam: Any) -> dict[str, float]:
    r = fam.evaluate(final=True)
    return {k: float(r[k]) for k in KEYS}


def common(a: argparse.Namespace, seed: int) -> list[str]:
    return [f"seed={seed}", f"train.batch_size={a.batch}", "train.threads=1",
            "train.keep_checkpoints=1"]


def pretrain(seed: int, a: argparse.Namespace) -> dict[str, Any]:
    folder = a.runs / f"seed-{seed}" / "pretrain"
    info = read_json(folder / "result.json")
    if info.get("done"):
        return info
    fam = build("wordnet-mle", [*common(a, seed), f"train.steps={a.pretrain}",
                                f"seqgan.mle_steps={a.pretrain}"])
    tr = trainer_of(fam, folder)
    t0 = time.perf_counter()
    if not tr.restore():
        tr.step = 0
    while tr.step < a.pretrain:
        fam.train_step(tr.step, log=False)
        tr.step += 1
        if tr.step % 500 == 0:
            tr.save_checkpoint()
            log(f"seed {seed}: MLE pre-training step {tr.step}/{a.pretrain}")
    tr.save_checkpoint()
    info = {"seed": seed, "step": tr.step, "scores": score(fam), "done": True,
            "seconds": info.get("seconds", 0.0) + time.perf_counter() - t0}
    write_json(folder / "result.json", info)
    return info


def arm_family(arm: str, seed: int, a: argparse.Namespace) -> tuple[Any, int]:
    p, n, d = a.pretrain, a.adversarial, a.d_pretrain
    if arm == "MLE":
        return build("wordnet-mle", [*common(a, seed), f"train.steps={p + n}",
                                     f"seqgan.mle_steps={p + n}"]), p
    if arm == "SeqGAN":
        return build("wordnet-seqgan", [*common(a, seed), f"train.steps={p + d + n}",
                                        f"seqgan.mle_steps={p}", f"seqgan.d_pretrain_steps={d}",
                                        f"seqgan.d_steps={a.d_steps}",
                                        f"seqgan.rollouts={a.rollouts}"]), p + d
    more = [] if arm == "Gumbel" else [
        "gumbelgan.loss=rsgan", "gumbelgan.hard=false", "gumbelgan.tau_start=1.0",
        f"gumbelgan.tau_end={1.0 / a.beta_max}", f"gumbelgan.adv_lr={a.adv_lr}"]
    return build("wordnet-gumbel", [*common(a, seed), f"train.steps={p + d + n}",
                                    f"gumbelgan.mle_steps={p}", f"gumbelgan.d_pretrain_steps={d}",
                                    f"gumbelgan.d_steps={a.d_steps}", *more]), p + d


def run_arm(arm: str, seed: int, a: argparse.Namespace) -> dict[str, Any]:
    folder = a.runs / f"seed-{seed}" / arm.lower()
    info = read_json(folder / "result.json")
    if info.get("done"):
        return info
    fam, start = arm_family(arm, seed, a)
    tr = trainer_of(fam, folder)
    t0 = time.perf_counter()
    before = float(read_json(folder / "progress.json").get("seconds", 0.0))
    if not tr.restore():
        before = 0.0
        tr.step = start_from(fam, a.runs / f"seed-{seed}" / "pretrain" / "checkpoints" /
                             f"step-{a.pretrain:07d}")
    end = start + a.adversarial
    while tr.step < end:
        fam.train_step(tr.step, log=False)
        tr.step += 1
        if tr.step % 100 == 0:
            write_json(folder / "progress.json",
                       {"step": tr.step, "seconds": before + time.perf_counter() - t0})
            tr.save_checkpoint()
            log(f"seed {seed}: {arm} step {tr.step - start}/{a.adversarial} after pre-training")
    info = {"seed": seed, "scores": score(fam), "examples": fam.sampler().sample(3, seed=0),
            "seconds": before + time.perf_counter() - t0, "done": True}
    write_json(folder / "result.json", info)
    log(f"seed {seed}: {arm} done: {info['scores']}")
    return info


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "seq-text")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", nargs="+", default=list(ALL_ARMS), choices=ALL_ARMS)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--pretrain", type=int, default=2000)
    ap.add_argument("--d-pretrain", type=int, default=100)
    ap.add_argument("--adversarial", type=int, default=300)
    ap.add_argument("--d-steps", type=int, default=3)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--beta-max", type=float, default=1000.0)
    ap.add_argument("--adv-lr", type=float, default=1e-4)
    ap.add_argument("--report", action="store_true", help="only the table of finished arms")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one seed (a smoke run)")
    ap.add_argument("--other", default="other processes shared the machine's 2 cores")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    if a.quick:
        a.seeds, a.pretrain, a.d_pretrain, a.adversarial, a.rollouts = [0], 100, 10, 10, 2
        a.no_write = True
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    torch.set_num_threads(1)
    if a.report:   # the table from the finished arms only
        a.arms = [arm for arm in a.arms if all(read_json(
            a.runs / f"seed-{s}" / arm.lower() / "result.json").get("done") for s in a.seeds)]
    else:
        for seed in a.seeds:
            pretrain(seed, a)
            for arm in a.arms:
                run_arm(arm, seed, a)
    from ganlab.config import load
    from ganlab.data import build_data

    refs = build_data(load(preset="wordnet-mle").data).references
    res = {seed: {arm: read_json(a.runs / f"seed-{seed}" / arm.lower() / "result.json")
                  for arm in a.arms} for seed in a.seeds}
    pre = [read_json(a.runs / f"seed-{s}" / "pretrain" / "result.json") for s in a.seeds]
    named = [("real held-out sentences", [real_row(refs)]),
             ("after MLE pre-training", [p["scores"] for p in pre])]
    named += [(arm, [res[s][arm]["scores"] for s in a.seeds]) for arm in a.arms]
    secs = {arm: statistics.mean(res[s][arm]["seconds"] for s in a.seeds) for arm in a.arms}
    lines = [
        "## Sequence GANs on real text: BLEU and Self-BLEU (WordNet examples)", "",
        "Command: `.venv/bin/python benchmarks/seq_text.py "
        + " ".join(x for x in a.argv if x not in ("--report", "--no-write")) + "`", "",
        f"Measured: {datetime.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, one thread; {a.other}.", "",
        f"Scale: word level, sentences of at most 15 words, vocabulary 5,000; batch {a.batch}; "
        f"MLE pre-training {a.pretrain} steps; then {a.adversarial} generator updates per arm "
        f"(GANs after {a.d_pretrain} D pre-training steps, {a.d_steps} D steps per update; "
        f"SeqGAN {a.rollouts} roll-outs per token; Gumbel-RelGAN: relativistic standard loss, "
        f"inverse temperature 1 -> {a.beta_max:g} (exponential), relaxed rows, G's adversarial "
        f"Adam at {a.adv_lr:g}); 200 generated sentences vs 1,000 held-out references; "
        f"mean ± std over seeds {', '.join(map(str, a.seeds))}.", "",
        "| text | BLEU-2 ↑ | BLEU-3 ↑ | BLEU-4 ↑ | Self-BLEU-2 ↓ | Self-BLEU-3 ↓ | "
        "Self-BLEU-4 ↓ | time per arm |", "|---|---|---|---|---|---|---|---|"]
    for name, dicts in named:
        t = f"{secs[name] / 60:.1f} min" if name in secs else ""
        lines.append(f"| {name} | " + " | ".join(mean_std([d[k] for d in dicts]) for k in KEYS)
                     + f" | {t} |")
    lines += ["", f"Three sentences of each generator (seed {a.seeds[0]}, sampling seed 0):", ""]
    lines += [f"- {arm}: " + " / ".join(f"“{s}”" for s in res[a.seeds[0]][arm]["examples"])
              for arm in a.arms]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sequence GANs on the synthetic oracle (PROTOCOLS.md section 4, the SeqGAN protocol).

The oracle is a random LSTM (vocabulary 5,000, embedding and hidden 32, length 20, N(0, 1)
parameters) that samples 10,000 training sequences. For each training seed, one generator
(LSTM, embedding 32, hidden 32) is pre-trained by MLE; from that same checkpoint three
continuations run for the same number of generator updates:

* **MLE**: more maximum-likelihood steps (the baseline every GAN must beat);
* **SeqGAN**: D pre-training, then REINFORCE with Monte-Carlo roll-outs (family ``seqgan``);
* **Gumbel**: D pre-training, then the Gumbel-softmax generator loss (family ``gumbelgan``).

NLL_oracle (the oracle's mean per-token NLL of sequences each generator samples; lower is better)
is measured on the untrained generator ("random"), after pre-training, and through the
continuations. The published figures are quoted beside, for the order and the gaps only: the
oracle here is freshly drawn.

The default is scaled down to fit a 2-core CPU (fewer pre-training and adversarial steps, fewer
roll-outs, fewer evaluation samples; the printed table says which); ``--full`` runs the paper's
sizes (120 epochs of MLE = 18,750 steps, 16 roll-outs, 10,000 evaluation samples; hours).

    .venv/bin/python benchmarks/seq_oracle.py                 # scaled down, 3 seeds
    .venv/bin/python benchmarks/seq_oracle.py --quick         # a minute-long smoke run

Writes ``docs/benchmarks/seq_oracle.md`` and ``docs/figures/seq_oracle.png``. Runs the
families' ``train_step`` in this process (no run folders), one thread.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "seq_oracle.md"
FIG = ROOT / "docs" / "figures" / "seq_oracle.png"

# Quoted from PROTOCOLS.md section 4 (figures from a secondary source; a different oracle).
PUBLISHED = [("random", 10.310), ("MLE", 9.038), ("scheduled sampling", 8.985),
             ("PG-BLEU", 8.946), ("SeqGAN", 8.736)]
METHODS = ("MLE", "SeqGAN", "Gumbel")


def build(preset: str, overrides: list[str]) -> Any:
    from ganlab import config
    from ganlab.families import build_family

    return build_family(config.load(preset=preset, overrides=[*overrides,
                                                              "train.progress=false"]))


def continuation(method: str, seed: int, a: argparse.Namespace, data: list[str],
                 pre: Any) -> Any:
    """A family that starts where ``pre`` (the pre-trained MLE family) stopped."""
    p, d, n = a.pretrain, a.d_pretrain, a.adversarial
    common = [f"seed={seed}", *data, f"train.steps={p + d + n}", f"train.batch_size={a.batch}"]
    if method == "MLE":
        fam = build(a.preset_mle, [*common, f"seqgan.mle_steps={p + d + n}",
                                   f"seqgan.eval_samples={a.eval_samples}", *a.mle_set])
    elif method == "SeqGAN":
        fam = build(a.preset_seqgan, [*common, f"seqgan.mle_steps={p}",
                                      f"seqgan.d_pretrain_steps={d}",
                                      f"seqgan.rollouts={a.rollouts}",
                                      f"seqgan.d_steps={a.d_steps}",
                                      f"seqgan.eval_samples={a.eval_samples}", *a.seqgan_set])
    else:
        fam = build(a.preset_gumbel, [*common, f"gumbelgan.mle_steps={p}",
                                      f"gumbelgan.d_pretrain_steps={d}",
                                      f"gumbelgan.d_steps={a.d_steps}",
                                      f"gumbelgan.eval_samples={a.eval_samples}",
                                      *a.gumbel_set])
    fam.G.load_state_dict(pre.G.state_dict())
    fam.opts["G"].load_state_dict(pre.opts["G"].state_dict())
    fam.load_extra_state(pre.extra_state())         # the same random streams and data position
    return fam


def run_seed(seed: int, a: argparse.Namespace, data: list[str], score: Callable[[Any], dict],
             log: Callable[[str], None]) -> dict[str, Any]:
    """Pre-train once, then the three continuations; the curves of ``score`` (a dict)."""
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    pre = build(a.preset_mle, [f"seed={seed}", *data, f"train.steps={a.pretrain}",
                               f"train.batch_size={a.batch}", f"seqgan.mle_steps={a.pretrain}",
                               f"seqgan.eval_samples={a.eval_samples}", *a.mle_set])
    out: dict[str, Any] = {"random": score(pre)}
    for step in range(a.pretrain):
        pre.train_step(step, log=False)
    out["pretrained"] = score(pre)
    out["pretrain_s"] = time.perf_counter() - t0
    log(f"seed {seed}: random {out['random']}, pre-trained {out['pretrained']} "
        f"({out['pretrain_s']:.0f} s)")
    every = max(a.adversarial // a.points, 1)
    for method in METHODS:
        t1 = time.perf_counter()
        fam = continuation(method, seed, a, data, pre)
        start = a.pretrain if method == "MLE" else a.pretrain + a.d_pretrain
        if method != "MLE":
            for step in range(a.pretrain, start):
                fam.train_step(step, log=False)
        curve = [(0, out["pretrained"])]
        for i in range(a.adversarial):
            fam.train_step(start + i, log=False)
            if (i + 1) % every == 0 or i + 1 == a.adversarial:
                curve.append((i + 1, score(fam)))
        out[method] = {"curve": curve, "final": curve[-1][1],
                       "seconds": time.perf_counter() - t1,
                       "examples": fam.sampler().sample(3, seed=0)}
        log(f"seed {seed}: {method} {curve[-1][1]} ({out[method]['seconds']:.0f} s)")
    return out


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def scale_line(a: argparse.Namespace) -> str:
    return (f"oracle vocab {a.vocab}, length {a.seq_len}, {a.n_train:,} training sequences; "
            f"batch {a.batch}; MLE pre-training {a.pretrain} steps "
            f"({a.pretrain * a.batch / a.n_train:.1f} epochs); D pre-training {a.d_pretrain} "
            f"steps; {a.adversarial} generator updates after pre-training (SeqGAN: "
            f"{a.rollouts} roll-outs per token, {a.d_steps} D steps per update; Gumbel: tau 1 -> "
            f"0.1, straight-through, {a.d_steps} D steps per update; MLE: {a.adversarial} more "
            f"MLE steps); NLL_oracle over {a.eval_samples:,} sampled sequences")


def figure(results: list[dict], key: str, ylabel: str, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for method in METHODS:
        steps = [s for s, _ in results[0][method]["curve"]]
        ys = [statistics.mean(r[method]["curve"][i][1][key] for r in results)
              for i in range(len(steps))]
        ax.plot(steps, ys, marker="o", label=method)
    ax.set_xlabel("generator updates after pre-training")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def machine_line(started: float, other: str) -> str:
    return (f"{datetime.date.today().isoformat()}, {platform.machine()}, "
            f"{os.cpu_count()} cores, torch {torch.__version__}, 1 thread; "
            f"{(time.time() - started) / 60:.1f} min in all; {other}")


def parse(argv: list[str] | None, doc: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--pretrain", type=int, default=1500)
    ap.add_argument("--d-pretrain", type=int, default=100)
    ap.add_argument("--adversarial", type=int, default=40)
    ap.add_argument("--rollouts", type=int, default=8)
    ap.add_argument("--d-steps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--points", type=int, default=4, help="evaluations along the way")
    ap.add_argument("--eval-samples", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one seed (a smoke run)")
    ap.add_argument("--full", action="store_true", help="the paper's sizes (hours)")
    ap.add_argument("--other", default="nothing else ran on the machine",
                    help="what else ran, for the record")
    ap.add_argument("--no-write", action="store_true", help="print, write no doc")
    a = ap.parse_args(argv)
    a.mle_set, a.seqgan_set, a.gumbel_set = [], [], []
    if a.quick:
        a.seeds, a.pretrain, a.d_pretrain, a.adversarial = [0], 60, 10, 4
        a.rollouts, a.eval_samples, a.points, a.no_write = 2, 200, 2, True
    if a.full:
        a.pretrain, a.d_pretrain, a.adversarial = 18_750, 750, 200
        a.rollouts, a.d_steps, a.eval_samples = 16, 5, 10_000
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv, __doc__ or "")
    a.preset_mle, a.preset_seqgan, a.preset_gumbel = "oracle-mle", "oracle-seqgan", "oracle-gumbel"
    a.vocab, a.seq_len, a.n_train = 5000, 20, 10_000
    data = [f"data.vocab_size={a.vocab}", f"data.seq_len={a.seq_len}", f"data.limit={a.n_train}"]
    torch.set_num_threads(1)
    started = time.time()

    def score(fam: Any) -> dict[str, float]:
        return {"nll": float(fam.evaluate(final=True)["nll_oracle"])}

    results = [run_seed(s, a, data, score, lambda m: print(m, file=sys.stderr, flush=True))
               for s in a.seeds]
    rows = [("random (untrained G)", [r["random"]["nll"] for r in results]),
            ("after MLE pre-training", [r["pretrained"]["nll"] for r in results])]
    rows += [(m, [r[m]["final"]["nll"] for r in results]) for m in METHODS]
    secs = {m: statistics.mean(r[m]["seconds"] for r in results) for m in METHODS}
    lines = [
        "## Sequence GANs on the oracle: NLL_oracle of MLE, SeqGAN and Gumbel-softmax", "",
        "Command: `.venv/bin/python benchmarks/seq_oracle.py"
        + (" --full" if a.full else "") + "`", "",
        f"Measured: {machine_line(started, a.other)}.", "",
        f"Scale: {scale_line(a)}."
        + ("" if a.full else " The paper's sizes: `--full` (and the presets `oracle-mle`, "
           "`oracle-seqgan`, `oracle-gumbel`)."), "",
        f"| generator | NLL_oracle (mean ± std over {len(a.seeds)} seeds) | per seed | "
        "time per continuation |", "|---|---|---|---|",
    ]
    for name, vals in rows:
        t = f"{secs[name]:.0f} s" if name in secs else ""
        lines.append(f"| {name} | {mean_std(vals)} | {', '.join(f'{v:.3f}' for v in vals)} "
                     f"| {t} |")
    lines += ["", "Quoted (PROTOCOLS.md §4, a different random oracle; compare order and gaps "
              "only): " + ", ".join(f"{n} {v}" for n, v in PUBLISHED) + ".", ""]
    base = [r["MLE"]["final"]["nll"] for r in results]
    for m in ("SeqGAN", "Gumbel"):
        diff = [r[m]["final"]["nll"] - b for r, b in zip(results, base, strict=True)]
        below = sum(d < 0 for d in diff)
        lines.append(f"- {m} minus MLE, paired by seed: {', '.join(f'{d:+.3f}' for d in diff)} "
                     f"({below} of {len(diff)} seeds below the MLE baseline).")
    lines += ["", f"![NLL_oracle curves](../figures/{FIG.name})", ""]
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        figure(results, "nll", "NLL_oracle (lower is better)", FIG,
               f"mean over {len(a.seeds)} seeds; step 0 = after MLE pre-training")
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sequence GANs on real text: BLEU (quality) and Self-BLEU (diversity) of MLE, SeqGAN, Gumbel.

WordNet's example sentences (Debian ``wordnet-base``; word level, sentences of at most 15
words, a vocabulary of the 5,000 most frequent words; every 10th sentence held out). As in
``seq_oracle.py``, one LSTM (embedding 64, hidden 128) is pre-trained by MLE per seed and three
continuations run from it for the same number of generator updates. Each generator's
200 sentences (seeded sampling, temperature 1) are scored against 1,000 held-out sentences:
BLEU-2..4 (higher: closer to real text) and Self-BLEU-2..4 among themselves (lower: more
diverse). The "real" row scores 200 held-out sentences against the other held-out ones: the
ceiling for BLEU and the diversity of real text. nltk's corpus BLEU, smoothing method1.

    .venv/bin/python benchmarks/seq_text.py               # 3 seeds, scaled to a 2-core CPU
    .venv/bin/python benchmarks/seq_text.py --quick       # smoke run

Writes ``docs/benchmarks/seq_text.md`` and ``docs/figures/seq_text.png``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch

from seq_oracle import METHODS, figure, machine_line, mean_std, parse, run_seed

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "seq_text.md"
FIG = ROOT / "docs" / "figures" / "seq_text.png"
KEYS = ("bleu2", "bleu3", "bleu4", "self_bleu2", "self_bleu3", "self_bleu4")


def real_row(references: list[str], n: int = 200, refs: int = 1000) -> dict[str, float]:
    """Held-out real sentences scored like a generator's: n of them against ``refs`` others."""
    from ganlab.data.text import split_tokens
    from ganlab.metrics.text import bleu, self_bleu

    hyp = [split_tokens(s, "word") for s in references[-n:]]
    ref = [split_tokens(s, "word") for s in references[:refs]]
    return {**bleu(hyp, ref), **self_bleu(hyp)}


def main(argv: list[str] | None = None) -> int:
    a = parse(argv, __doc__ or "")
    if not any(x.startswith("--pretrain") for x in (argv or sys.argv[1:])) and not a.quick:
        a.pretrain = 2000
    a.preset_mle, a.preset_seqgan, a.preset_gumbel = "wordnet-mle", "wordnet-seqgan", \
        "wordnet-gumbel"
    torch.set_num_threads(1)
    started = time.time()

    def score(fam: Any) -> dict[str, float]:
        r = fam.evaluate(final=True)
        return {k: float(r[k]) for k in KEYS}

    results = [run_seed(s, a, [], score, lambda m: print(m, file=sys.stderr, flush=True))
               for s in a.seeds]
    from ganlab.config import load
    from ganlab.data import build_data

    refs = build_data(load(preset="wordnet-mle").data).references
    real = real_row(refs)
    named = [("real held-out sentences", [real]),
             ("after MLE pre-training", [r["pretrained"] for r in results])]
    named += [(m, [r[m]["final"] for r in results]) for m in METHODS]
    lines = ["## Sequence GANs on real text: BLEU and Self-BLEU (WordNet examples)", "",
             "Command: `.venv/bin/python benchmarks/seq_text.py`", "",
             f"Measured: {machine_line(started, a.other)}.", "",
             f"Scale: word level, sentences of at most 15 words, vocabulary 5,000; batch "
             f"{a.batch}; MLE pre-training {a.pretrain} steps; D pre-training {a.d_pretrain} "
             f"steps; {a.adversarial} generator updates after pre-training (SeqGAN "
             f"{a.rollouts} roll-outs per token); 200 generated sentences vs 1,000 held-out "
             f"references; mean ± std over {len(a.seeds)} seeds.", "",
             "| text | BLEU-2 ↑ | BLEU-3 ↑ | BLEU-4 ↑ | Self-BLEU-2 ↓ | Self-BLEU-3 ↓ | "
             "Self-BLEU-4 ↓ |", "|---|---|---|---|---|---|---|"]
    for name, dicts in named:
        lines.append(f"| {name} | " + " | ".join(mean_std([d[k] for d in dicts]) for k in KEYS)
                     + " |")
    lines += ["", f"Three sentences of each generator (seed {a.seeds[0]}, sampling seed 0):", ""]
    lines += [f"- {m}: " + " / ".join(f"“{s}”" for s in results[0][m]["examples"])
              for m in METHODS]
    lines += ["", f"![BLEU-3 curves](../figures/{FIG.name})", ""]
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        figure(results, "bleu3", "BLEU-3 vs held-out (higher is better)", FIG,
               f"WordNet examples, mean over {len(a.seeds)} seeds")
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

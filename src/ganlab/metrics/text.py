"""Quality and diversity of generated sentences: BLEU and Self-BLEU (via nltk).

* **BLEU-n** (quality): each generated sentence is scored against *all* held-out real
  sentences as its references (corpus BLEU with uniform weights over 1..n-grams), the
  convention of the text-GAN literature (Texygen, Zhu et al. 2018).
* **Self-BLEU-n** (diversity, lower is more diverse): each generated sentence against all the
  *other* generated ones; a generator that repeats itself (text's mode collapse) scores near 1.

Smoothing: nltk's ``SmoothingFunction().method1`` (add epsilon to zero n-gram counts), so a
short sentence without a matching 4-gram scores small rather than zero. Sentences are lists of
tokens (words or characters). The cost grows with hypotheses x references, so callers cap both
and say how many they used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ganlab.errors import GanlabError
from ganlab.extras import require


def _bleu() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """nltk's corpus BLEU and its smoothing (method 1)."""
    score = require("nltk.translate.bleu_score", "BLEU")
    return score.corpus_bleu, score.SmoothingFunction().method1


def _weights(n: int) -> tuple[float, ...]:
    return tuple(1.0 / n for _ in range(n))


def bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
         orders: Sequence[int] = (2, 3, 4)) -> dict[str, float]:
    """``{"bleu2": ..., "bleu3": ..., "bleu4": ...}`` of ``hypotheses`` against the shared
    reference set ``references``."""
    hyps = [list(h) for h in hypotheses if len(h)]
    refs = [list(r) for r in references if len(r)]
    if not hyps or not refs:
        raise GanlabError("BLEU needs at least one non-empty hypothesis and reference")
    corpus_bleu, smooth = _bleu()
    return {f"bleu{n}": float(corpus_bleu([refs] * len(hyps), hyps, weights=_weights(n),
                                          smoothing_function=smooth)) for n in orders}


def self_bleu(sentences: Sequence[Sequence[str]], orders: Sequence[int] = (2, 3, 4)
              ) -> dict[str, float]:
    """``{"self_bleu2": ...}``: each sentence against all the others."""
    sents = [list(s) for s in sentences if len(s)]
    if len(sents) < 2:
        raise GanlabError("Self-BLEU needs at least two non-empty sentences")
    corpus_bleu, smooth = _bleu()
    refs = [sents[:i] + sents[i + 1:] for i in range(len(sents))]
    return {f"self_bleu{n}": float(corpus_bleu(refs, sents, weights=_weights(n),
                                               smoothing_function=smooth)) for n in orders}

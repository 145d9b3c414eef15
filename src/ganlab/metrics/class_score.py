"""Inception / classifier score, split into the two things it multiplies.

IS = exp(E_x KL(p(y|x) || p(y))) = exp(H(p(y)) - E_x H(p(y|x))): *diversity* (entropy of the
marginal class distribution, high is good) minus *quality* (mean per-image entropy, low is good).
"""

from __future__ import annotations

import numpy as np

from ganlab.errors import GanlabError


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def _entropy(logp: np.ndarray) -> np.ndarray:
    return -(np.exp(logp) * logp).sum(-1)


def classifier_score(logits: np.ndarray, splits: int = 10) -> dict[str, float]:
    """Score mean/std over splits, plus mean per-image entropy and marginal entropy (nats)."""
    logits = np.asarray(logits, np.float64)
    n = len(logits)
    if n < splits:
        raise GanlabError(
            f"classifier score with {splits} splits needs >= {splits} samples, got {n}"
        )
    logp = _log_softmax(logits)
    scores = []
    for part in np.array_split(logp, splits):
        marginal = np.log(np.exp(part).mean(0))
        kl = (np.exp(part) * (part - marginal)).sum(1).mean()
        scores.append(np.exp(kl))
    marginal_all = np.log(np.exp(logp).mean(0))
    return {
        "score_mean": float(np.mean(scores)),
        "score_std": float(np.std(scores)),
        "splits": float(splits),
        "per_image_entropy": float(_entropy(logp).mean()),
        "marginal_entropy": float(_entropy(marginal_all[None])[0]),
        "max_score": float(logits.shape[1]),
    }

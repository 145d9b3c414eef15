"""Inception / classifier score, split into the two things it multiplies.

IS = exp(E_x KL(p(y|x) || p(y))) = exp(H(p(y)) - E_x H(p(y|x))): *diversity* (entropy of the
marginal class distribution, high is good) minus *quality* (mean per-image entropy, low is good).

Over a whole set (one split) both parts come from sums, ``sum_x p(y|x)`` and
``sum_x H(p(y|x))``, kept by :class:`ClassMoments`; those merge across shards like FID's
moments. The score over several splits (the published protocol) needs each split's samples
together, so it is computed from logits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypedDict

import numpy as np

from ganlab.errors import GanlabError
from ganlab.metrics.stats import merge_shards

#: ddof of ``score_std`` over splits: 0, as the original Inception Score code (``np.std``)
STD_DDOF = 0


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(1, keepdims=True)
    logp: np.ndarray = z - np.log(np.exp(z).sum(1, keepdims=True))
    return logp


def top_probability(logits: np.ndarray) -> np.ndarray:
    """The classifier's top-class probability max_y p(y|x), one per image."""
    top: np.ndarray = np.exp(_log_softmax(np.asarray(logits, np.float64)).max(1))
    return top


def mean_confidence(logits: np.ndarray) -> float:
    """Mean over images of the classifier's top-class probability max_y p(y|x)."""
    return float(top_probability(logits).mean())


def _entropy(logp: np.ndarray) -> np.ndarray:
    h: np.ndarray = -(np.exp(logp) * logp).sum(-1)
    return h


class ClassValues(TypedDict):
    """:meth:`ClassMoments.values`: the one-split score, both entropies (nats), the
    predicted-class histogram and n."""

    score: float
    per_image_entropy: float
    marginal_entropy: float
    histogram: list[int]
    n: int


@dataclass
class ClassMoments:
    """Additive class statistics of a set: n, sum of p(y|x), sum of H(p(y|x)), argmax counts.

    ``update`` with logits batch by batch, ``merge`` shards (e.g. one per process), then
    ``values()``: the one-split score, its two entropies and the predicted-class histogram.
    """

    n: int
    prob_sum: np.ndarray  # float64 (k,)
    entropy_sum: float
    histogram: np.ndarray  # int64 (k,), counts of argmax classes

    @classmethod
    def empty(cls, num_classes: int) -> ClassMoments:
        return cls(0, np.zeros(num_classes), 0.0, np.zeros(num_classes, np.int64))

    @classmethod
    def from_logits(cls, logits: np.ndarray) -> ClassMoments:
        m = cls.empty(np.shape(logits)[1])
        m.update(logits)
        return m

    def update(self, logits: np.ndarray) -> None:
        """Add a batch of logits (N, k)."""
        logp = _log_softmax(np.asarray(logits, np.float64))
        self.n += len(logp)
        self.prob_sum += np.exp(logp).sum(0)
        self.entropy_sum += float(_entropy(logp).sum())
        self.histogram += np.bincount(logp.argmax(1), minlength=len(self.histogram))

    def merge(self, other: ClassMoments) -> ClassMoments:
        """Statistics of the union of two disjoint sample sets."""
        if self.prob_sum.shape != other.prob_sum.shape:
            raise GanlabError(
                f"cannot merge class statistics of {len(self.prob_sum)} and "
                f"{len(other.prob_sum)} classes: the shards were made with different extractors"
            )
        return ClassMoments(
            self.n + other.n,
            self.prob_sum + other.prob_sum,
            self.entropy_sum + other.entropy_sum,
            self.histogram + other.histogram,
        )

    @classmethod
    def merge_all(cls, parts: Iterable[ClassMoments]) -> ClassMoments:
        """Statistics of the union of any number of disjoint shards (at least one)."""
        return merge_shards(parts, "class statistics")

    def to_arrays(self) -> dict[str, np.ndarray | np.generic]:
        """Plain arrays (for np.savez or an all-reduce sum)."""
        return {
            "n": np.int64(self.n),
            "prob_sum": self.prob_sum,
            "entropy_sum": np.float64(self.entropy_sum),
            "histogram": self.histogram,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray | np.generic]) -> ClassMoments:
        """Inverse of :meth:`to_arrays`."""
        return cls(
            int(arrays["n"]),
            np.asarray(arrays["prob_sum"], np.float64),
            float(arrays["entropy_sum"]),
            np.asarray(arrays["histogram"], np.int64),
        )

    @property
    def per_image_entropy(self) -> float:
        """Mean H(p(y|x)) in nats: low = confident."""
        return self.entropy_sum / self._count()

    @property
    def marginal_entropy(self) -> float:
        """H(p(y)) in nats, p(y) the mean of p(y|x): high = diverse (at most log k)."""
        p = self.prob_sum / self._count()
        nz = p > 0
        return float(-(p[nz] * np.log(p[nz])).sum())

    def values(self) -> ClassValues:
        """One-split score exp(H(p(y)) - E H(p(y|x))), both entropies, and the histogram."""
        return {
            "score": float(np.exp(self.marginal_entropy - self.per_image_entropy)),
            "per_image_entropy": self.per_image_entropy,
            "marginal_entropy": self.marginal_entropy,
            "histogram": self.histogram.tolist(),
            "n": self.n,
        }

    def _count(self) -> int:
        if self.n == 0:
            raise GanlabError("class statistics of an empty set")
        return self.n


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
    whole = ClassMoments.from_logits(logits)
    return {
        "score_mean": float(np.mean(scores)),
        "score_std": float(np.std(scores, ddof=STD_DDOF)),
        "splits": float(splits),
        "per_image_entropy": whole.per_image_entropy,
        "marginal_entropy": whole.marginal_entropy,
        "max_score": float(logits.shape[1]),
    }

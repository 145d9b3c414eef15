"""Mode counting for labelled image domains, and stacked digits (1,000 modes, PacGAN protocol)."""

from __future__ import annotations

import numpy as np

from ganlab.errors import GanlabError


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats over histograms (normalised here); inf where q=0 < p."""
    p = np.asarray(p, np.float64) / np.sum(p)
    q = np.asarray(q, np.float64) / np.sum(q)
    nz = p > 0
    if np.any(q[nz] == 0):
        return float("inf")
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def class_modes(
    predictions: np.ndarray,
    num_classes: int,
    data_distribution: np.ndarray | None = None,
    min_count: int = 1,
) -> dict[str, object]:
    """Histogram of predicted classes, modes captured, and KL(p_gen || p_data).

    A mode is captured when at least ``min_count`` samples fall in it. ``data_distribution``
    defaults to uniform over classes.
    """
    predictions = np.asarray(predictions, np.int64)
    if predictions.size == 0:
        raise GanlabError("mode counting needs at least one sample")
    hist = np.bincount(predictions, minlength=num_classes)
    p_data = (
        np.full(num_classes, 1.0 / num_classes) if data_distribution is None else data_distribution
    )
    return {
        "modes_captured": int((hist >= min_count).sum()),
        "num_modes": num_classes,
        "kl_gen_data": kl_divergence(hist, p_data),
        "histogram": hist.tolist(),
        "n": int(predictions.size),
    }


def stacked_mode_ids(channel_predictions: np.ndarray) -> np.ndarray:
    """(N, 3) digit classes per channel -> mode id 100*c0 + 10*c1 + c2."""
    c = np.asarray(channel_predictions, np.int64)
    if c.ndim != 2 or c.shape[1] != 3:
        raise GanlabError(f"stacked digits need 3 channels per sample, got shape {c.shape}")
    return c[:, 0] * 100 + c[:, 1] * 10 + c[:, 2]


# A channel read with at least this top-class probability counts as read with confidence
# (the digit classifier, trained with label smoothing 0.05, gives real digits ~0.95).
CONFIDENT = 0.9


def stacked_digit_modes(
    channel_predictions: np.ndarray, confident: np.ndarray | None = None
) -> dict[str, object]:
    """Modes captured out of 1,000 and KL(p_gen || uniform over 1,000), split in two parts.

    With empirical distributions the KL to uniform is exactly ``kl_channels + kl_dependence``:
    ``kl_channels`` sums, over the three channels, KL(that channel's digit frequencies ||
    uniform over 10) (some digits drawn more often than others, or read as other digits);
    ``kl_dependence`` is KL(p_gen || product of the three channel marginals) (channels that
    are not independent: some combinations favoured). ``channel_histograms`` holds the three
    channels' digit counts; the 1,000-mode histogram is omitted.

    ``confident`` ((N, 3) booleans: the channel was read with confidence) adds
    ``kl_channels_confident``, the channels' part counted over confident readings only, and
    ``confident_fraction``. When the generator draws digits evenly and equally clearly but the
    classifier guesses on the ambiguous ones, the confident readings are even (the part
    shrinks); when some digits are drawn more often, or more clearly, than others, they are not
    (the classifier cannot tell those two apart). ``None`` when a channel has no confident
    reading.
    """
    c = np.asarray(channel_predictions, np.int64)
    ids = stacked_mode_ids(c)
    out = class_modes(ids, 1000)
    hist = np.asarray(out.pop("histogram"), np.float64)
    marginals = [np.bincount(c[:, k], minlength=10) for k in range(3)]
    product = np.einsum("i,j,k->ijk", *(m / m.sum() for m in marginals)).reshape(-1)
    out["kl_channels"] = _channels_kl(marginals)
    out["kl_dependence"] = kl_divergence(hist, product)
    out["channel_histograms"] = [m.tolist() for m in marginals]
    if confident is not None:
        mask = np.asarray(confident, bool)
        if mask.shape != c.shape:
            raise GanlabError(f"confident: expected shape {c.shape}, got {mask.shape}")
        sure = [np.bincount(c[mask[:, k], k], minlength=10) for k in range(3)]
        out["kl_channels_confident"] = _channels_kl(sure) if all(m.sum() for m in sure) else None
        out["confident_fraction"] = float(mask.mean())
    return out


def _channels_kl(histograms: list[np.ndarray]) -> float:
    """Sum over channels of KL(the channel's digit histogram || uniform over 10)."""
    return sum(kl_divergence(m, np.ones(10)) for m in histograms)


def make_stacked_digits(
    images: np.ndarray, labels: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Stack 3 random digits (N,1,H,W pool) as channels: uint8 (n,3,H,W) and (n,3) labels."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(images), size=(n, 3))
    return images[idx, 0], labels[idx]

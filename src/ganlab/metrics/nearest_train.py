"""Memorization: is each generated sample closer to a training image than unseen data is?

For every generated sample we find its nearest training image (and nearest horizontally
flipped training image) and compare that distance with the distances from held-out real images
to the training set. A generator that copies shows up as samples closer than almost any real
held-out image. The same is done in feature space when features are given.

Nearest neighbours are found in bounded memory (blocks of query rows against all training
rows, float32 search, exact float64 distances: :func:`ganlab.metrics.manifold.kth_nearest`),
so 50,000 generated against 50,000 training vectors never build an N x M matrix.
:func:`memorization_distance` is MiFID's cosine memorization distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.metrics.manifold import (
    _EXTRA,
    _U32,
    as_f32,
    kth_nearest,
    row_groups,
    rows_per_block,
    sq_norms,
)


@dataclass
class NearestNeighbours:
    """Per-query nearest training index, distance, and whether the match was mirrored."""

    index: np.ndarray
    distance: np.ndarray
    mirrored: np.ndarray


def _flat(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, np.float32).reshape(len(images), -1) / 255.0


def nearest(
    queries: np.ndarray,
    refs: np.ndarray,
    chunk: int | None = None,
    exclude_self: bool = False,
    block_bytes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(index, distance) of each query row's nearest ref row (Euclidean, float64 result).

    Bounded memory: query rows go in blocks against all refs, never an N x M matrix (see
    :func:`ganlab.metrics.manifold.kth_nearest`: float32 search, exact float64 distances, ties
    to the lower index). ``chunk`` (query rows per block) overrides ``block_bytes``.
    ``exclude_self``: query i is never matched with ref i (one set against itself).
    """
    if chunk is not None:
        block_bytes = 4 * max(len(refs), 1) * chunk
    idx, sq = kth_nearest(queries, refs, 0, exclude_self=exclude_self, block_bytes=block_bytes)
    return idx, np.sqrt(sq)


def nearest_cosine(
    queries: np.ndarray, refs: np.ndarray, block_bytes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(index, 1 - |cos|) of each query row's nearest ref row in cosine distance.

    The distance is the one of the Kaggle MiFID code, ``1 - |cos(q, r)|`` (so a feature
    vector and its negation are at distance 0). Refs whose entries sum to 0 are left out, as
    there (:func:`memorization_distance`); queries are all answered (a zero query gets 1).
    Blocks of query rows against all refs in float32; the best candidates of each row are
    re-scored exactly in float64, so the distances are exact to float64 rounding.
    """
    import torch  # topk: the best m of each row without a copy of the block

    q, r = as_f32(queries), as_f32(refs)
    if q.shape[1] != r.shape[1]:
        raise GanlabError(f"features differ in dimension: {q.shape[1]} vs {r.shape[1]}")
    keep = np.flatnonzero(_row_sums(r) != 0)
    if len(keep) == 0:
        raise GanlabError("every reference feature vector is zero: no cosine distance exists")
    d = q.shape[1]
    r_norm = np.sqrt(sq_norms(r))
    inv = np.zeros(len(r), np.float32)
    inv[keep] = (1.0 / r_norm[keep]).astype(np.float32)
    q_norm = np.sqrt(sq_norms(q))
    m = min(1 + _EXTRA, len(keep))
    idx_out = np.empty(len(q), np.int64)
    dist_out = np.empty(len(q))
    step = rows_per_block(len(r), block_bytes)
    tol = (d + 8) * _U32 * 4  # bound on |float32 |q.r|/|r| - exact| in units of |q|
    for i0 in range(0, len(q), step):
        i1 = min(i0 + step, len(q))
        s = q[i0:i1] @ r.T  # ~ |q| |r| cos
        np.abs(s, out=s)
        s *= inv[None, :]  # ~ |q| |cos|; left-out refs: 0
        # candidates: the m largest float32 scores of each row (no copy of the block)
        vals, cand = torch.topk(torch.from_numpy(s), m, dim=1, largest=True, sorted=False)
        thr = vals.min(1).values.numpy().astype(np.float64)
        ii, jj = np.repeat(np.arange(i1 - i0), m), cand.numpy().ravel()
        cos = _exact_abs_cos(q, r, ii + i0, jj, q_norm, r_norm)
        cos[inv[jj] == 0] = 0.0
        order = np.lexsort((jj, -cos, ii))  # by row, then best |cos|, then index
        sel = order[row_groups(ii, i1 - i0)]
        pick, best = jj[sel], cos[sel]
        if m < len(r):  # every non-candidate's float32 score is <= thr
            band = tol * q_norm[i0:i1]
            unsure = (best * q_norm[i0:i1] <= thr + band) & (q_norm[i0:i1] > 0)
            for row in np.flatnonzero(unsure):  # rare: re-score a wider set
                target = best[row] * q_norm[i0 + row] - band[row]
                cols = np.flatnonzero((s[row] >= target) & (inv > 0))
                c = _exact_abs_cos(q, r, np.full(len(cols), i0 + row), cols, q_norm, r_norm)
                o = np.lexsort((cols, -c))[0]
                pick[row], best[row] = cols[o], c[o]
        idx_out[i0:i1] = pick
        dist_out[i0:i1] = np.clip(1.0 - best, 0.0, 1.0)
    return idx_out, dist_out


def _row_sums(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Row sums in float64, chunk by chunk (no float64 copy of x)."""
    out = np.zeros(len(x))
    for i in range(0, len(x), chunk):
        out[i : i + chunk] = np.asarray(x[i : i + chunk], np.float64).sum(1)
    return out


def _exact_abs_cos(
    q: np.ndarray, r: np.ndarray, i: np.ndarray, j: np.ndarray, qn: np.ndarray, rn: np.ndarray
) -> np.ndarray:
    """float64 |cos| of the pairs (q[i], r[j]); 0 where either vector is zero."""
    out = np.empty(len(i))
    step = max(1, 2**19 // max(q.shape[1], 1))  # 2 x 4 MiB of float64 rows at a time
    for s in range(0, len(i), step):
        a, b = i[s : s + step], j[s : s + step]
        dots = np.einsum("ij,ij->i", np.asarray(q[a], np.float64), np.asarray(r[b], np.float64))
        den = qn[a] * rn[b]
        out[s : s + step] = np.divide(np.abs(dots), den, out=np.zeros(len(a)), where=den > 0)
    return np.minimum(out, 1.0)


def memorization_distance(
    fake_feats: np.ndarray, train_feats: np.ndarray, block_bytes: int | None = None
) -> dict[str, float]:
    """The memorization distance of MiFID (Kaggle "Generative Dog Images", Bai et al. 2021).

    d = mean over generated feature vectors of min over training feature vectors of
    ``1 - |cos|``, after dropping the vectors (of either set) whose entries sum to 0, exactly
    as the competition's ``cosine_distance`` (and torchmetrics' ``_compute_cosine_distance``).
    Returns ``distance`` and ``n_fake_used`` / ``n_train_used`` (after that drop).
    """
    f = as_f32(fake_feats)
    used = np.flatnonzero(_row_sums(f) != 0)
    if len(used) == 0:
        raise GanlabError("every generated feature vector is zero: no cosine distance exists")
    t = as_f32(train_feats)
    _, dist = nearest_cosine(f[used] if len(used) < len(f) else f, t, block_bytes)
    return {
        "distance": float(dist.mean()),
        "n_fake_used": float(len(used)),
        "n_train_used": float(np.count_nonzero(_row_sums(t) != 0)),
    }


def pixel_neighbours(fake: np.ndarray, train: np.ndarray, mirror: bool = True) -> NearestNeighbours:
    """Nearest training image in pixel space (values /255), optionally also mirrored images."""
    q, r = _flat(fake), _flat(train)
    idx, dist = nearest(q, r)
    mirrored = np.zeros(len(fake), bool)
    if mirror:
        midx, mdist = nearest(q, _flat(np.ascontiguousarray(train[..., ::-1])))
        mirrored = mdist < dist
        idx = np.where(mirrored, midx, idx)
        dist = np.where(mirrored, mdist, dist)
    return NearestNeighbours(idx, dist, mirrored)


def feature_neighbours(
    fake_feats: np.ndarray, train_feats: np.ndarray, train_flip_feats: np.ndarray | None = None
) -> NearestNeighbours:
    """Nearest training image in a feature space (mirrored too if its features are given)."""
    idx, dist = nearest(np.asarray(fake_feats, np.float32), np.asarray(train_feats, np.float32))
    mirrored = np.zeros(len(idx), bool)
    if train_flip_feats is not None:
        midx, mdist = nearest(
            np.asarray(fake_feats, np.float32), np.asarray(train_flip_feats, np.float32)
        )
        mirrored = mdist < dist
        idx, dist = np.where(mirrored, midx, idx), np.where(mirrored, mdist, dist)
    return NearestNeighbours(idx, dist, mirrored)


def reference_distances(
    train: np.ndarray, test: np.ndarray | None, mirror: bool = True
) -> np.ndarray:
    """NN distances of held-out images to train, searched like the generated ones (mirrored
    too); leave-one-out within train when there is no test set."""
    if test is not None:
        return pixel_neighbours(test, train, mirror).distance
    if len(train) < 2:
        raise GanlabError("memorization needs a test set or at least 2 training images")
    r = _flat(train)
    dist = nearest(r, r, exclude_self=True)[1]
    if mirror:
        dist = np.minimum(
            dist, nearest(r, _flat(np.ascontiguousarray(train[..., ::-1])), exclude_self=True)[1]
        )
    return dist


def summarize(
    nn: NearestNeighbours, reference: np.ndarray, quantile: float = 0.05
) -> dict[str, float]:
    """Fraction of samples closer to train than the `quantile` of held-out NN distances."""
    threshold = float(np.quantile(reference, quantile))
    return {
        "threshold": threshold,
        "threshold_quantile": quantile,
        "fraction_closer": float((nn.distance < threshold).mean()),
        "expected_fraction": quantile,
        "fraction_mirrored_matches": float(nn.mirrored.mean()),
        "min_distance": float(nn.distance.min()),
        "median_distance": float(np.median(nn.distance)),
        "reference_median_distance": float(np.median(reference)),
    }


def flagged(nn: NearestNeighbours, reference: np.ndarray, quantile: float = 0.05) -> np.ndarray:
    """Indices of generated samples closer to train than the reference quantile, closest first."""
    threshold = np.quantile(reference, quantile)
    idx = np.flatnonzero(nn.distance < threshold)
    return idx[np.argsort(nn.distance[idx])]


def _to_hwc(img: np.ndarray) -> np.ndarray:
    x = np.asarray(img, np.uint8)
    x = np.repeat(x, 3, 0) if x.shape[0] == 1 else x[:3]
    return x.transpose(1, 2, 0)


def save_pairs_grid(
    fake: np.ndarray, train: np.ndarray, nn: NearestNeighbours, path: str | Path, top: int = 16
) -> Path:
    """PNG: one row per closest pair, generated sample left, its nearest training image right."""
    if len(fake) == 0:
        raise GanlabError("no generated samples to draw")
    order = np.argsort(nn.distance)[:top]
    _, h, w = fake.shape[1:]
    pad = 2
    grid = np.full((len(order) * (h + pad) + pad, 2 * w + 3 * pad, 3), 255, np.uint8)
    for row, i in enumerate(order):
        match = train[nn.index[i]]
        if nn.mirrored[i]:
            match = match[..., ::-1]
        y = pad + row * (h + pad)
        grid[y : y + h, pad : pad + w] = _to_hwc(fake[i])
        grid[y : y + h, 2 * pad + w : 2 * pad + 2 * w] = _to_hwc(match)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    return path

"""Memorization: is each generated sample closer to a training image than unseen data is?

For every generated sample we find its nearest training image (and nearest horizontally
flipped training image) and compare that distance with the distances from held-out real images
to the training set. A generator that copies shows up as samples closer than almost any real
held-out image. The same is done in feature space when features are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganlab.errors import GanlabError


@dataclass
class NearestNeighbours:
    """Per-query nearest training index, distance, and whether the match was mirrored."""

    index: np.ndarray
    distance: np.ndarray
    mirrored: np.ndarray


def _flat(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, np.float32).reshape(len(images), -1) / 255.0


def nearest(queries: np.ndarray, refs: np.ndarray, chunk: int = 1024, exclude_self: bool = False):
    """(index, distance) of each query row's nearest ref row (Euclidean, float64 result)."""
    refs = np.asarray(refs, np.float64)
    rr = (refs**2).sum(1)
    idx = np.empty(len(queries), np.int64)
    dist = np.empty(len(queries))
    for i in range(0, len(queries), chunk):
        q = np.asarray(queries[i : i + chunk], np.float64)
        d2 = (q**2).sum(1)[:, None] + rr[None] - 2.0 * (q @ refs.T)
        if exclude_self:
            d2[np.arange(len(q)), np.arange(i, i + len(q))] = np.inf
        j = d2.argmin(1)
        idx[i : i + chunk] = j
        dist[i : i + chunk] = np.sqrt(np.clip(d2[np.arange(len(q)), j], 0.0, None))
    return idx, dist


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

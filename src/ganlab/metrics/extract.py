"""images -> features / logits / statistics, with the disk cache around each."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from ganlab.errors import GanlabError
from ganlab.features import FeatureExtractor, get_extractor, run_extractor
from ganlab.metrics import cache
from ganlab.metrics.stats import FeatureMoments, FeatureStats

Images = np.ndarray | torch.Tensor
ExtractorLike = str | FeatureExtractor


@functools.lru_cache(maxsize=8)
def _cached_extractor(
    name: str, weights: str | None, resize: str, compile: bool
) -> FeatureExtractor:
    return get_extractor(name, weights, resize, compile)


def as_extractor(
    extractor: ExtractorLike,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    compile: bool = False,
) -> FeatureExtractor:
    """A FeatureExtractor from a name (built once per process) or an instance."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    return _cached_extractor(extractor, None if weights is None else str(weights), resize, compile)


def as_uint8(images: Images) -> np.ndarray:
    """uint8 (N,C,H,W) NumPy view of a tensor or array."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {arr.dtype}")
    return arr


def features_and_logits(
    images: Images,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
    want_logits: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 features (N,d) and logits (N,k) or None, from the cache when possible."""
    if want_logits and extractor.spec.num_classes is None:
        raise GanlabError(f"extractor {extractor.spec.name} has no classification head")
    arr = as_uint8(images)
    key = cache.cache_key("features", cache.images_hash(arr), extractor.card()) if use_cache else ""
    hit = cache.load_arrays(key) if use_cache else None
    if hit is not None and (not want_logits or "logits" in hit):
        return hit["features"], hit.get("logits")
    feats, logits = [], []
    for f, lg in run_extractor(extractor, arr, batch_size, progress, want_logits):
        feats.append(f)
        if lg is not None:
            logits.append(lg)
    fa = np.concatenate(feats) if feats else np.zeros((0, extractor.spec.dim), np.float32)
    la = np.concatenate(logits) if logits else None
    if use_cache:
        extra = {} if la is None else {"logits": la}
        cache.save_arrays(key, features=fa, **extra)
    return fa, la


def statistics(
    images: Images,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> FeatureStats:
    """Mean/covariance of features, streamed as float64 moments; never holds all features."""
    arr = as_uint8(images)
    key = cache.cache_key("stats", cache.images_hash(arr), extractor.card()) if use_cache else ""
    hit = cache.load_arrays(key) if use_cache else None
    if hit is not None:
        return FeatureStats(hit["mu"], hit["sigma"], int(hit["n"]))
    moments = FeatureMoments.empty(extractor.spec.dim)
    for f, _ in run_extractor(extractor, arr, batch_size, progress):
        moments.update(f)
    stats = FeatureStats.from_moments(moments)
    if use_cache:
        cache.save_arrays(key, mu=stats.mu, sigma=stats.sigma, n=np.int64(stats.n))
    return stats

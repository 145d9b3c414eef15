"""images -> features / logits / statistics, with the disk cache around each.

:func:`extract_features` is the one pass of an extractor over an image set: features and (when
the extractor classifies) logits together, in a :class:`FeatureSet` that every metric of that
set reads (FID's moments, KID, precision/recall, the classifier score). :func:`feature_moments`
streams FID's moments without keeping features, for large sets and for shards that several
processes merge (see :mod:`ganlab.metrics.stats`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.errors import GanlabError
from ganlab.features import FeatureExtractor, get_extractor, run_extractor
from ganlab.metrics import cache
from ganlab.metrics.class_score import ClassMoments
from ganlab.metrics.stats import FeatureMoments, FeatureStats, moments_of

Images = np.ndarray | torch.Tensor
ExtractorLike = str | FeatureExtractor


@functools.lru_cache(maxsize=8)
def _cached_extractor(
    name: str, weights: str | None, resize: str, compile: bool, precision: str
) -> FeatureExtractor:
    return get_extractor(name, weights, resize, compile, precision)


def as_extractor(
    extractor: ExtractorLike,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    compile: bool = False,
    precision: str = "fp32",
) -> FeatureExtractor:
    """A FeatureExtractor from a name (built once per process) or an instance."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    return _cached_extractor(extractor, None if weights is None else str(weights), resize,
                             compile, precision)


def as_uint8(images: Images) -> np.ndarray:
    """uint8 (N,C,H,W) NumPy view of a tensor or array."""
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {arr.dtype}")
    return arr


@dataclass
class FeatureSet:
    """One extractor pass over one image set: what every metric of that set reads."""

    features: np.ndarray  # float32 (N, d)
    logits: np.ndarray | None  # float32 (N, k) when the extractor classifies, else None
    extractor: dict[str, Any]  # the card of the extractor that made them
    image_shape: tuple[int, ...]  # (C, H, W) of the images
    fingerprint: str | None = None  # cache.images_hash of the images (shape and bytes)

    def __len__(self) -> int:
        return len(self.features)

    def moments(self) -> FeatureMoments:
        """FID's float64 moments of these features (mergeable with other shards')."""
        return moments_of(self.features)

    def stats(self) -> FeatureStats:
        """Mean and covariance of these features."""
        return FeatureStats.from_moments(self.moments())

    def class_moments(self) -> ClassMoments:
        """The classifier score's additive statistics (needs logits)."""
        if self.logits is None:
            raise GanlabError(f"extractor {self.extractor.get('name')} has no classification head")
        return ClassMoments.from_logits(self.logits)

    def check_extractor(self, extractor: FeatureExtractor) -> None:
        """Fail unless these features were made by ``extractor`` (same card)."""
        if self.extractor != extractor.card():
            raise GanlabError(
                f"features made with extractor {self.extractor.get('name')} "
                f"(sha256 {str(self.extractor.get('weights_sha256'))[:12]}, resize "
                f"{self.extractor.get('resize')}) cannot be scored with "
                f"{extractor.spec.name} (sha256 {extractor.weights_sha256[:12]}, resize "
                f"{extractor.resize}); extract them again with that extractor"
            )


def features_and_logits(
    images: Images,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
    want_logits: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 features (N,d) and logits (N,k) or None, from the cache when possible.

    One pass gives both: logits come back (and are cached) whenever the extractor has a head.
    """
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


def extract_features(
    images: Images,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> FeatureSet:
    """Run ``extractor`` over ``images`` once (or read the cache): features and logits."""
    arr = as_uint8(images)
    feats, logits = features_and_logits(arr, extractor, batch_size, progress, use_cache)
    return FeatureSet(feats, logits, extractor.card(), tuple(arr.shape[1:]),
                      fingerprint=cache.images_hash(arr))


def feature_moments(
    images: Images,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> FeatureMoments:
    """FID's float64 moments of an image set, or of one shard of it, streamed batch by batch
    (memory does not grow with N); shards merge with :meth:`FeatureMoments.merge_all`."""
    arr = as_uint8(images)
    key = cache.cache_key("moments", cache.images_hash(arr), extractor.card()) if use_cache else ""
    hit = cache.load_arrays(key) if use_cache else None
    if hit is not None:
        return FeatureMoments.from_arrays(hit)
    moments = FeatureMoments.empty(extractor.spec.dim)
    for f, _ in run_extractor(extractor, arr, batch_size, progress):
        moments.update(f)
    if use_cache:
        cache.save_arrays(key, **moments.to_arrays())
    return moments


def statistics(
    images: Images,
    extractor: FeatureExtractor,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> FeatureStats:
    """Mean/covariance of features, streamed as float64 moments; never holds all features."""
    return FeatureStats.from_moments(
        feature_moments(images, extractor, batch_size, progress, use_cache)
    )

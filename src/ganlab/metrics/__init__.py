"""Evaluation: images -> features (extractor) -> statistics (cached) -> metric (+ metric card).

High-level functions take uint8 images (N,C,H,W), or the ``FeatureSet`` of one extractor pass
(``extract_features``), and return a ``MetricResult``; ``evaluate`` is the bundle that
``ganlab eval all`` and training-time evaluation share. The pure functions
(``frechet_distance``, ``mmd2_unbiased``, ``prdc`` ...) live in their own modules; streamed
statistics (``FeatureMoments``, ``ClassMoments``) merge across shards and processes.

The public names below are imported on first use, so ``import ganlab.metrics`` (and every
``import ganlab.metrics.<module>``) stays cheap: torch, torchmetrics and scipy load only when
a function that needs them is called.

``ganlab.metrics.torchmetrics`` holds FID, KID, PRDC and the classifier score as
``torchmetrics.Metric`` classes (update / compute / reset, distributed reduction) for a
training loop of one's own; import it explicitly (it loads torch and torchmetrics).
"""

# ruff: noqa: F401  (the TYPE_CHECKING imports are for type checkers: `__all__` lists them)

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The public names, loaded on first use: type checkers read these imports, the loader reads
# `_LAZY` (tests/test_imports.py checks that the two agree). Which metrics exist, what they
# report, their commands and report panels: ganlab.metrics.registry.
if TYPE_CHECKING:
    from ganlab.metrics.api import (
        evaluate,
        fid,
        fid_over_seeds,
        inception_score,
        kid,
        memorization,
        mifid,
        mode_counts,
        prdc,
    )
    from ganlab.metrics.card import MetricCard, MetricResult
    from ganlab.metrics.class_score import ClassMoments
    from ganlab.metrics.clipscore import clip_score
    from ganlab.metrics.conditional import (
        classification_accuracy_score,
        conditional_accuracy,
        evaluate_conditional,
        intra_class_diversity,
        per_class_distances,
    )
    from ganlab.metrics.extract import FeatureSet, extract_features, feature_moments
    from ganlab.metrics.frechet import frechet_distance
    from ganlab.metrics.image_quality import psnr, ssim
    from ganlab.metrics.registry import MetricInfo, get_metric, metric_names, register_metric
    from ganlab.metrics.stats import FeatureMoments, FeatureStats


_LAZY: dict[str, str] = {
    "ClassMoments": "class_score",
    "FeatureMoments": "stats",
    "FeatureSet": "extract",
    "FeatureStats": "stats",
    "MetricCard": "card",
    "MetricInfo": "registry",
    "MetricResult": "card",
    "classification_accuracy_score": "conditional",
    "clip_score": "clipscore",
    "conditional_accuracy": "conditional",
    "evaluate": "api",
    "evaluate_conditional": "conditional",
    "extract_features": "extract",
    "feature_moments": "extract",
    "fid": "api",
    "fid_over_seeds": "api",
    "frechet_distance": "frechet",
    "get_metric": "registry",
    "inception_score": "api",
    "intra_class_diversity": "conditional",
    "kid": "api",
    "memorization": "api",
    "metric_names": "registry",
    "mifid": "api",
    "mode_counts": "api",
    "per_class_distances": "conditional",
    "prdc": "api",
    "psnr": "image_quality",
    "register_metric": "registry",
    "ssim": "image_quality",
}
# listed again for type checkers, which cannot read sorted(_LAZY) (the test checks they agree)
__all__ = [
    "ClassMoments", "FeatureMoments", "FeatureSet", "FeatureStats", "MetricCard", "MetricInfo",
    "MetricResult", "classification_accuracy_score", "clip_score", "conditional_accuracy",
    "evaluate", "evaluate_conditional", "extract_features", "feature_moments", "fid",
    "fid_over_seeds", "frechet_distance", "get_metric", "inception_score", "intra_class_diversity",
    "kid", "memorization", "metric_names", "mifid", "mode_counts", "per_class_distances", "prdc",
    "psnr", "register_metric", "ssim",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

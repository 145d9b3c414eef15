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

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The public names, loaded on first use: type checkers read these imports (`as` marks each a
# public re-export), the loader reads `_LAZY` (tests/test_imports.py checks that the two
# agree). Which metrics exist, what they report, their commands and report panels:
# ganlab.metrics.registry.
if TYPE_CHECKING:
    from ganlab.metrics.api import evaluate as evaluate
    from ganlab.metrics.api import fid as fid
    from ganlab.metrics.api import fid_over_seeds as fid_over_seeds
    from ganlab.metrics.api import inception_score as inception_score
    from ganlab.metrics.api import kid as kid
    from ganlab.metrics.api import memorization as memorization
    from ganlab.metrics.api import mifid as mifid
    from ganlab.metrics.api import mode_counts as mode_counts
    from ganlab.metrics.api import prdc as prdc
    from ganlab.metrics.card import MetricCard as MetricCard
    from ganlab.metrics.card import MetricResult as MetricResult
    from ganlab.metrics.class_score import ClassMoments as ClassMoments
    from ganlab.metrics.clipscore import clip_score as clip_score
    from ganlab.metrics.conditional import (
        classification_accuracy_score as classification_accuracy_score,
    )
    from ganlab.metrics.conditional import conditional_accuracy as conditional_accuracy
    from ganlab.metrics.conditional import evaluate_conditional as evaluate_conditional
    from ganlab.metrics.conditional import intra_class_diversity as intra_class_diversity
    from ganlab.metrics.conditional import per_class_distances as per_class_distances
    from ganlab.metrics.extract import FeatureSet as FeatureSet
    from ganlab.metrics.extract import extract_features as extract_features
    from ganlab.metrics.extract import feature_moments as feature_moments
    from ganlab.metrics.frechet import frechet_distance as frechet_distance
    from ganlab.metrics.image_quality import psnr as psnr
    from ganlab.metrics.image_quality import ssim as ssim
    from ganlab.metrics.registry import MetricInfo as MetricInfo
    from ganlab.metrics.registry import get_metric as get_metric
    from ganlab.metrics.registry import metric_names as metric_names
    from ganlab.metrics.registry import register_metric as register_metric
    from ganlab.metrics.stats import FeatureMoments as FeatureMoments
    from ganlab.metrics.stats import FeatureStats as FeatureStats


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
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

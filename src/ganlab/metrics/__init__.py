"""Evaluation: images -> features (extractor) -> statistics (cached) -> metric (+ metric card).

High-level functions take uint8 images (N,C,H,W) and return a ``MetricResult``; the pure
functions (``frechet_distance``, ``mmd2_unbiased``, ``prdc`` ...) live in their own modules.

The public names below are imported on first use, so ``import ganlab.metrics`` (and every
``import ganlab.metrics.<module>``) stays cheap: torch, torchmetrics and scipy load only when
a function that needs them is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ganlab.metrics.api import (
        fid,
        fid_over_seeds,
        inception_score,
        kid,
        memorization,
        mode_counts,
        prdc,
    )
    from ganlab.metrics.card import MetricCard, MetricResult
    from ganlab.metrics.frechet import frechet_distance
    from ganlab.metrics.image_quality import psnr, ssim
    from ganlab.metrics.stats import FeatureMoments, FeatureStats
    from ganlab.metrics.training import compute_training_metrics

# public name -> the submodule that defines it
_LAZY: dict[str, str] = {
    "FeatureMoments": "stats",
    "FeatureStats": "stats",
    "MetricCard": "card",
    "MetricResult": "card",
    "compute_training_metrics": "training",
    "fid": "api",
    "fid_over_seeds": "api",
    "frechet_distance": "frechet",
    "inception_score": "api",
    "kid": "api",
    "memorization": "api",
    "mode_counts": "api",
    "prdc": "api",
    "psnr": "image_quality",
    "ssim": "image_quality",
}

__all__ = [
    "FeatureMoments",
    "FeatureStats",
    "MetricCard",
    "MetricResult",
    "compute_training_metrics",
    "fid",
    "fid_over_seeds",
    "frechet_distance",
    "inception_score",
    "kid",
    "memorization",
    "mode_counts",
    "prdc",
    "psnr",
    "ssim",
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

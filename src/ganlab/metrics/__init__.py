"""Evaluation: images -> features (extractor) -> statistics (cached) -> metric (+ metric card).

High-level functions take uint8 images (N,C,H,W) and return a ``MetricResult``; the pure
functions (``frechet_distance``, ``mmd2_unbiased``, ``prdc`` ...) live in their own modules.
"""

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

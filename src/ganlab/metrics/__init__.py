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

# ruff: noqa: F401  (the TYPE_CHECKING imports are the public names; see below)

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The public names: type checkers read these imports, and the lazy loader below reads the same
# lines (so this is the one listing; `__all__` is derived from it, hence the file-wide F401
# exemption at the top). Which metrics exist, what they report, their commands and report
# panels: ganlab.metrics.registry.
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


def _public_names() -> dict[str, str]:
    """public name -> the submodule that defines it, read from the ``if TYPE_CHECKING:``
    imports above."""
    import ast

    source = __spec__.loader.get_source(__name__) if __spec__ and __spec__.loader else None
    if source is None:
        raise ImportError(f"{__name__}: its source is needed to list its public names")
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            return {
                alias.asname or alias.name: imp.module.removeprefix(f"{__name__}.")
                for imp in node.body
                if isinstance(imp, ast.ImportFrom) and imp.module
                for alias in imp.names
            }
    raise ImportError(f"{__name__}: no `if TYPE_CHECKING:` block of public imports")


_LAZY: dict[str, str] = _public_names()
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

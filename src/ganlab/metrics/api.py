"""The Python API: images in, MetricResult (values + card) out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ganlab.errors import GanlabError
from ganlab.metrics import class_score as is_mod
from ganlab.metrics import frechet as fid_mod
from ganlab.metrics import kernel_distance as kid_mod
from ganlab.metrics import manifold as prdc_mod
from ganlab.metrics import modes as modes_mod
from ganlab.metrics import nearest_train as mem
from ganlab.metrics.card import MetricCard, MetricResult
from ganlab.metrics.extract import (
    ExtractorLike,
    Images,
    as_extractor,
    as_uint8,
    features_and_logits,
    statistics,
)
from ganlab.metrics.stats import FeatureStats


def _check_same_size(real: Images, fake: Images) -> None:
    a, b = as_uint8(real), as_uint8(fake)
    if a.shape[1:] != b.shape[1:]:
        raise GanlabError(
            f"mismatched image sizes: real {a.shape[1:]} vs generated {b.shape[1:]} (C,H,W); "
            "resize one set or compare statistics computed at the same size"
        )


def _pair_features(
    real: Images, fake: Images, ext: Any, batch_size: int, progress: bool, use_cache: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Features of two image sets of the same size, with one extractor."""
    _check_same_size(real, fake)
    fr, _ = features_and_logits(real, ext, batch_size, progress, use_cache)
    ff, _ = features_and_logits(fake, ext, batch_size, progress, use_cache)
    return fr, ff


def _n(x: Images | FeatureStats) -> int:
    return x.n if isinstance(x, FeatureStats) else len(x)


def fid(
    real: Images | FeatureStats,
    fake: Images | FeatureStats,
    extractor: ExtractorLike = "inception-fid",
    *,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """FID between two image sets (or precomputed statistics)."""
    ext = as_extractor(extractor, weights, resize)
    if not isinstance(real, FeatureStats) and not isinstance(fake, FeatureStats):
        _check_same_size(real, fake)
    stats = [
        x if isinstance(x, FeatureStats) else statistics(x, ext, batch_size, progress, use_cache)
        for x in (real, fake)
    ]
    value = fid_mod.fid_from_stats(stats[0], stats[1])
    card = MetricCard.for_extractor("fid", ext.card(), n_real=_n(real), n_fake=_n(fake))
    return MetricResult({"fid": value}, card)


def fid_over_seeds(
    real: Images | FeatureStats,
    fakes: list[Images],
    extractor: ExtractorLike = "inception-fid",
    seeds: list[int] | None = None,
    **kw: Any,
) -> MetricResult:
    """FID of several generated sets (one per seed): mean, std and every value."""
    ext = as_extractor(extractor, kw.pop("weights", None), kw.pop("resize", "tf1-bilinear"))
    if not isinstance(real, FeatureStats):
        real = statistics(
            real,
            ext,
            kw.get("batch_size", 32),
            kw.get("progress", False),
            kw.get("use_cache", True),
        )
    values = [fid(real, f, ext, **kw)["fid"] for f in fakes]
    card = MetricCard.for_extractor(
        "fid",
        ext.card(),
        n_real=real.n,
        n_fake=_n(fakes[0]),
        extra={"seeds": seeds if seeds is not None else list(range(len(fakes)))},
    )
    return MetricResult(
        {
            "fid_mean": float(np.mean(values)),
            "fid_std": float(np.std(values)),
            "fid_values": values,
        },
        card,
    )


def kid(
    real: Images,
    fake: Images,
    extractor: ExtractorLike = "inception-fid",
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """KID (unbiased, cubic polynomial kernel) mean and std over random subsets."""
    ext = as_extractor(extractor, weights, resize)
    fr, ff = _pair_features(real, fake, ext, batch_size, progress, use_cache)
    values = kid_mod.kid(fr, ff, subsets, subset_size, seed)
    card = MetricCard.for_extractor("kid", ext.card(), n_real=len(fr), n_fake=len(ff), seed=seed)
    return MetricResult(values, card)


def inception_score(
    fake: Images,
    extractor: ExtractorLike = "fashion-classifier",
    *,
    splits: int = 10,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 64,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Classifier (Inception-style) score with quality and diversity entropies beside it."""
    ext = as_extractor(extractor, weights, resize)
    _, logits = features_and_logits(fake, ext, batch_size, progress, use_cache, want_logits=True)
    assert logits is not None
    card = MetricCard.for_extractor("classifier_score", ext.card(), n_fake=len(logits))
    return MetricResult(is_mod.classifier_score(logits, splits), card)


def prdc(
    real: Images,
    fake: Images,
    extractor: ExtractorLike = "inception-fid",
    *,
    k: int = 5,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Precision, recall, density and coverage in an extractor's feature space."""
    ext = as_extractor(extractor, weights, resize)
    fr, ff = _pair_features(real, fake, ext, batch_size, progress, use_cache)
    card = MetricCard.for_extractor("prdc", ext.card(), n_real=len(fr), n_fake=len(ff))
    return MetricResult(prdc_mod.prdc(fr, ff, k), card)


def _predict(
    images: Images, ext: Any, batch_size: int, progress: bool, use_cache: bool
) -> np.ndarray:
    _, logits = features_and_logits(images, ext, batch_size, progress, use_cache, want_logits=True)
    assert logits is not None
    return logits.argmax(1)


def mode_counts(
    fake: Images,
    extractor: ExtractorLike = "digits-classifier",
    *,
    real_labels: np.ndarray | None = None,
    stacked: bool = False,
    batch_size: int = 256,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Class histogram / modes captured / KL(p_gen || p_data); stacked=True: 1,000 modes."""
    ext = as_extractor(extractor)
    arr = as_uint8(fake)
    if stacked:
        if arr.shape[1] != 3:
            raise GanlabError(f"stacked digits need 3-channel images, got {arr.shape[1]} channels")
        n, _, h, w = arr.shape
        per_channel = _predict(arr.reshape(n * 3, 1, h, w), ext, batch_size, progress, use_cache)
        values = modes_mod.stacked_digit_modes(per_channel.reshape(n, 3))
        metric = "stacked_modes"
    else:
        k = ext.spec.num_classes or 0
        p_data = None if real_labels is None else np.bincount(real_labels, minlength=k)
        values = modes_mod.class_modes(
            _predict(arr, ext, batch_size, progress, use_cache), k, p_data
        )
        metric = "modes"
    card = MetricCard.for_extractor(metric, ext.card(), n_fake=len(arr))
    return MetricResult(values, card)


def memorization(
    fake: Images,
    train: Images,
    test: Images | None = None,
    extractor: ExtractorLike | None = None,
    *,
    quantile: float = 0.05,
    grid_path: str | Path | None = None,
    batch_size: int = 64,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Nearest-training-neighbour analysis in pixel (and feature) space, with mirrored matches."""
    f, tr = as_uint8(fake), as_uint8(train)
    te = None if test is None else as_uint8(test)
    _check_same_size(tr, f)
    nn_pix = mem.pixel_neighbours(f, tr)
    values: dict[str, Any] = {
        f"pixel_{k}": v
        for k, v in mem.summarize(nn_pix, mem.reference_distances(tr, te), quantile).items()
    }
    values["pixel_flagged"] = mem.flagged(
        nn_pix, mem.reference_distances(tr, te), quantile
    ).tolist()
    values["pixel_nearest_index"] = nn_pix.index.tolist()
    values["pixel_nearest_mirrored"] = nn_pix.mirrored.tolist()
    ext_card = None
    if extractor is not None:
        ext = as_extractor(extractor)
        ext_card = ext.card()

        def feats(x: np.ndarray) -> np.ndarray:
            return features_and_logits(x, ext, batch_size, progress, use_cache)[0]

        ftr, ftr_flip = feats(tr), feats(np.ascontiguousarray(tr[..., ::-1]))
        nn_feat = mem.feature_neighbours(feats(f), ftr, ftr_flip)
        if te is not None:
            ref = mem.feature_neighbours(feats(te), ftr, ftr_flip).distance
        else:
            ref = np.minimum(
                mem.nearest(ftr, ftr, exclude_self=True)[1],
                mem.nearest(ftr, ftr_flip, exclude_self=True)[1],
            )
        values.update({f"feature_{k}": v for k, v in mem.summarize(nn_feat, ref, quantile).items()})
    if grid_path is not None:
        values["grid"] = str(mem.save_pairs_grid(f, tr, nn_pix, grid_path))
    card = MetricCard.for_extractor(
        "memorization",
        ext_card,
        n_real=len(tr),
        n_fake=len(f),
        extra={"n_test": None if te is None else len(te), "pixel_scale": "x/255, L2"},
    )
    return MetricResult(values, card)

"""The Python API: images (or one pass's features) in, MetricResult (values + card) out.

Every metric function takes uint8 images (N,C,H,W), or a :class:`FeatureSet` from
:func:`extract_features` so that several metrics share one extractor pass; FID also takes
:class:`FeatureStats`. :func:`evaluate` is the bundle ``ganlab eval all`` and training-time
evaluation both use: one pass per set feeds FID, KID, precision/recall/density/coverage and,
when the extractor classifies, the classifier score. Every card names the image sets it
compared by fingerprint (``real_fingerprint`` / ``fake_fingerprint``); features, logits or
statistics with NaN or infinite entries are refused with a GanlabError.
"""

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
from ganlab.metrics.cache import images_hash
from ganlab.metrics.card import MetricCard, MetricResult
from ganlab.metrics.extract import (
    ExtractorLike,
    FeatureSet,
    Images,
    as_extractor,
    as_uint8,
    extract_features,
    features_and_logits,
    statistics,
)
from ganlab.metrics.stats import FeatureStats

Input = Images | FeatureSet


#: ddof of ``fid_std`` over sampling seeds: the sample std, as ``ganlab compare`` reports
FID_SEEDS_DDOF = 1


def _image_shape(x: Images | FeatureSet | FeatureStats) -> tuple[int, ...] | None:
    if isinstance(x, FeatureStats):
        return None
    if isinstance(x, FeatureSet):
        return x.image_shape
    return tuple(as_uint8(x).shape[1:])


def _check_same_size(real: Any, fake: Any) -> None:
    a, b = _image_shape(real), _image_shape(fake)
    if a is not None and b is not None and a != b:
        raise GanlabError(
            f"mismatched image sizes: real {a} vs generated {b} (C,H,W); "
            "resize one set or compare statistics computed at the same size"
        )


def _fingerprint(x: Images | FeatureSet | FeatureStats) -> str | None:
    """The set's fingerprint (:func:`~ganlab.metrics.cache.images_hash` of its images); for
    features or statistics, the one they carry, if any."""
    if isinstance(x, FeatureStats):
        return x.fingerprint
    if isinstance(x, FeatureSet):
        return getattr(x, "fingerprint", None)
    return images_hash(as_uint8(x))


def _check_finite(arr: np.ndarray | None, what: str) -> None:
    if arr is not None and not np.isfinite(arr).all():
        raise GanlabError(
            f"{what} contain NaN or infinite values ({int((~np.isfinite(arr)).sum())} entries): "
            "the extractor or the input produced them; metrics refuse them"
        )


def check_stats(stats: FeatureStats, extractor: Any, where: str = "the statistics") -> None:
    """Fail unless ``stats`` fit ``extractor``: the feature dimension always, and the extractor
    name, weights sha256 and resize when the statistics recorded them (ganlab files), and the
    feature precision (fp32 or bf16) of a ganlab file."""
    dim = extractor.spec.dim
    if stats.mu.shape[0] != dim:
        raise GanlabError(
            f"{where} are {stats.mu.shape[0]}-d but extractor {extractor.spec.name} gives "
            f"{dim}-d features: they were made with another network"
        )
    card = extractor.card()
    for key in ("extractor", "weights_sha256", "resize"):
        value = stats.meta.get(key)
        want = str(card["name"] if key == "extractor" else card[key])
        if value is not None and value != want:
            raise GanlabError(
                f"{where} were made with {key}={value}, but this run uses {want}; "
                "recompute them with `ganlab stats` and the same options"
            )
    if "extractor" in stats.meta:  # a ganlab file; those from before bf16 features say nothing
        have, want = stats.meta.get("precision", "fp32"), str(card.get("precision", "fp32"))
        if have != want:
            raise GanlabError(
                f"{where} were made with features in {have}, but this run extracts them in "
                f"{want}; FID mixes no precisions: pass --precision {have} or recompute them "
                f"with `ganlab stats ... --precision {want}`"
            )
    stats.check_finite(where)


def _stats_notes(**sides: Any) -> list[str]:
    """Card notes for statistics that cannot be checked (another tool's file)."""
    return [
        f"{side} statistics are {x.origin}, so their extractor, resize and images cannot be "
        "checked; this FID is comparable only with FIDs against the same file"
        for side, x in sides.items()
        if isinstance(x, FeatureStats) and x.origin != "ganlab"
    ]


def _feature_set(
    x: Input, ext: Any, batch_size: int, progress: bool, use_cache: bool, side: str = "input"
) -> FeatureSet:
    """``x`` itself when it is already features of ``ext``, else one pass over the images."""
    if isinstance(x, FeatureSet):
        x.check_extractor(ext)
        fs = x
    else:
        fs = extract_features(x, ext, batch_size, progress, use_cache)
    _check_finite(fs.features, f"{side} features")
    _check_finite(fs.logits, f"{side} logits")
    return fs


def _pair(
    real: Input, fake: Input, ext: Any, batch_size: int, progress: bool, use_cache: bool
) -> tuple[FeatureSet, FeatureSet]:
    """Features of two sets of the same image size, with one extractor."""
    _check_same_size(real, fake)
    return (
        _feature_set(real, ext, batch_size, progress, use_cache, "real"),
        _feature_set(fake, ext, batch_size, progress, use_cache, "generated"),
    )


def _n(x: Images | FeatureSet | FeatureStats) -> int | None:
    return x.n if isinstance(x, FeatureStats) else len(x)


def _stats(
    x: Images | FeatureSet | FeatureStats,
    ext: Any,
    batch_size: int,
    progress: bool,
    use_cache: bool,
) -> FeatureStats:
    if isinstance(x, FeatureStats):
        check_stats(x, ext)
        return x
    if isinstance(x, FeatureSet):
        x.check_extractor(ext)
        _check_finite(x.features, "features")
        return x.stats()
    return statistics(x, ext, batch_size, progress, use_cache)


def fid(
    real: Images | FeatureSet | FeatureStats,
    fake: Images | FeatureSet | FeatureStats,
    extractor: ExtractorLike = "inception-fid",
    *,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
    seed: int | None = None,
) -> MetricResult:
    """FID between two image sets (or their features, or precomputed statistics); ``seed``,
    the seed the generated images were sampled (or a subset chosen) with, goes on the card."""
    ext = as_extractor(extractor, weights, resize)
    _check_same_size(real, fake)
    stats = [_stats(x, ext, batch_size, progress, use_cache) for x in (real, fake)]
    value = _fid_value(stats[0], stats[1])
    card = MetricCard.for_extractor(
        "fid", ext.card(), n_real=_n(real), n_fake=_n(fake), seed=seed,
        real_fingerprint=_fingerprint(real), fake_fingerprint=_fingerprint(fake),
        notes=_stats_notes(real=real, generated=fake),
    )  # fmt: skip
    return MetricResult({"fid": value}, card)


def _fid_value(a: FeatureStats, b: FeatureStats) -> float:
    """FID of two statistics (the sample-count warning needs both counts known)."""
    if a.n is None or b.n is None:  # another tool's statistics need not record N
        return fid_mod.frechet_distance(a.mu, a.sigma, b.mu, b.sigma)
    return fid_mod.fid_from_stats(a, b)


def fid_over_seeds(
    real: Images | FeatureStats,
    fakes: list[Images] | list[FeatureSet],
    extractor: ExtractorLike = "inception-fid",
    seeds: list[int] | None = None,
    **kw: Any,
) -> MetricResult:
    """FID of several generated sets (one per seed): mean, std and every value. The std is
    the sample standard deviation over the seeds (ddof 1, n - 1 in the denominator, as
    ``ganlab compare``; 0 for one set); the card says so (``extra.std_ddof``)."""
    ext = as_extractor(extractor, kw.pop("weights", None), kw.pop("resize", "tf1-bilinear"))
    real_fp = _fingerprint(real)
    notes = _stats_notes(real=real)
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
        real_fingerprint=real_fp,
        notes=notes,
        extra={"seeds": seeds if seeds is not None else list(range(len(fakes))),
               "std_ddof": FID_SEEDS_DDOF},
    )
    return MetricResult(
        {
            "fid_mean": float(np.mean(values)),
            "fid_std": float(np.std(values, ddof=FID_SEEDS_DDOF)) if len(values) > 1 else 0.0,
            "fid_values": values,
        },
        card,
    )


def kid(
    real: Input,
    fake: Input,
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
    fr, ff = _pair(real, fake, ext, batch_size, progress, use_cache)
    values = kid_mod.kid(fr.features, ff.features, subsets, subset_size, seed)
    card = MetricCard.for_extractor(
        "kid", ext.card(), n_real=len(fr), n_fake=len(ff), seed=seed,
        real_fingerprint=_fingerprint(real), fake_fingerprint=_fingerprint(fake),
        extra={"subsets": subsets, "subset_size": int(values["subset_size"]),
               "std_ddof": kid_mod.STD_DDOF},
    )  # fmt: skip
    return MetricResult(values, card)


def inception_score(
    fake: Input,
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
    logits = _logits(fake, ext, batch_size, progress, use_cache)
    card = MetricCard.for_extractor(
        "classifier_score", ext.card(), n_fake=len(logits), fake_fingerprint=_fingerprint(fake),
        extra={"splits": splits, "std_ddof": is_mod.STD_DDOF},
    )
    return MetricResult(is_mod.classifier_score(logits, splits), card)


def prdc(
    real: Input,
    fake: Input,
    extractor: ExtractorLike = "inception-fid",
    *,
    k: int = 5,
    max_n: int | None = None,
    seed: int = 0,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Precision, recall, density and coverage in an extractor's feature space.

    Memory stays bounded whatever N (blocks of rows against all others, see
    :mod:`ganlab.metrics.manifold`); the time is O(N^2 d). ``max_n`` bounds that time: both
    sides are cut to ``n = min(max_n, N_real, N_fake)`` images (a seeded random subset of the
    real features, the first n generated ones), and the card says so.
    """
    ext = as_extractor(extractor, weights, resize)
    fs_real, fs_fake = _pair(real, fake, ext, batch_size, progress, use_cache)
    fr, ff = fs_real.features, fs_fake.features
    extra: dict[str, Any] = {"k": k}
    if max_n is not None:
        n = min(max_n, len(fr), len(ff))
        if n < max(len(fr), len(ff)):
            extra["subset_of"] = {"n_real": len(fr), "n_fake": len(ff), "seed": seed}
        if n < len(fr):
            fr = fr[np.random.default_rng(seed).choice(len(fr), n, replace=False)]
        ff = ff[:n]
    card = MetricCard.for_extractor(
        "prdc", ext.card(), n_real=len(fr), n_fake=len(ff), real_fingerprint=_fingerprint(real),
        fake_fingerprint=_fingerprint(fake), extra=extra,
    )
    return MetricResult(prdc_mod.prdc(fr, ff, k), card)


def _logits(x: Input, ext: Any, batch_size: int, progress: bool, use_cache: bool) -> np.ndarray:
    """The classifier logits of a set (from its features when given)."""
    if isinstance(x, FeatureSet):
        x.check_extractor(ext)
        logits = x.logits
    else:
        logits = features_and_logits(x, ext, batch_size, progress, use_cache, want_logits=True)[1]
    if logits is None:
        raise GanlabError(f"extractor {ext.spec.name} has no classification head")
    _check_finite(logits, "logits")
    return logits


def mode_counts(
    fake: Input,
    extractor: ExtractorLike = "digits-classifier",
    *,
    real_labels: np.ndarray | None = None,
    stacked: bool = False,
    batch_size: int = 256,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Class histogram / modes captured / KL(p_gen || p_data); stacked=True: 1,000 modes.

    ``fake`` may be a FeatureSet (its logits are used) unless ``stacked``: stacked digits are
    classified channel by channel, so they need the images. ``confidence`` is the classifier's
    mean top-class probability over the images (or channels) it read: far below its value on
    real data, the samples are ambiguous and the histogram partly measures the classifier's
    guesses; for stacked digits, ``kl_channels_confident`` (the channels' part of the KL over
    the channels read with top probability >= 0.9) says how much of it does.
    """
    ext = as_extractor(extractor)
    if stacked:
        if isinstance(fake, FeatureSet):
            raise GanlabError("stacked digits are classified channel by channel: give images")
        arr = as_uint8(fake)
        if arr.shape[1] != 3:
            raise GanlabError(f"stacked digits need 3-channel images, got {arr.shape[1]} channels")
        n, _, h, w = arr.shape
        logits = _logits(arr.reshape(n * 3, 1, h, w), ext, batch_size, progress, use_cache)
        sure = is_mod.top_probability(logits).reshape(n, 3) >= modes_mod.CONFIDENT
        values = modes_mod.stacked_digit_modes(logits.argmax(1).reshape(n, 3), sure)
        metric = "stacked_modes"
    else:
        k = ext.spec.num_classes or 0
        p_data = None if real_labels is None else np.bincount(real_labels, minlength=k)
        logits = _logits(fake, ext, batch_size, progress, use_cache)
        values = modes_mod.class_modes(logits.argmax(1), k, p_data)
        metric = "modes"
    values["confidence"] = is_mod.mean_confidence(logits)
    card = MetricCard.for_extractor(
        metric, ext.card(), n_fake=_n(fake), fake_fingerprint=_fingerprint(fake)
    )
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
        real_fingerprint=images_hash(tr),
        fake_fingerprint=images_hash(f),
        extra={"n_test": None if te is None else len(te), "pixel_scale": "x/255, L2"},
    )
    return MetricResult(values, card)


#: the Kaggle "Generative Dog Images" threshold on the memorization distance
MIFID_EPSILON = 0.1
_MIFID_TINY = 1e-14  # the competition code's fid_epsilon (10e-15), so that 0 does not divide


def mifid(
    real: Images | FeatureSet | FeatureStats,
    fake: Input,
    train: Input | None = None,
    extractor: ExtractorLike = "inception-fid",
    *,
    epsilon: float = MIFID_EPSILON,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> MetricResult:
    """Memorization-informed FID (MiFID): FID divided by a memorization penalty.

    As the Kaggle "Generative Dog Images" competition defined and scored it (Bai et al.,
    "On Training Sample Memorization: Lessons from Benchmarking Generative Modeling with a
    Large-scale Competition", KDD 2021; the competition's evaluation code)::

        d       = mean over generated x of  min over training t of  1 - |cos(f(x), f(t))|
        d_thr   = d if d < epsilon else 1                (epsilon = 0.1)
        MiFID   = FID(real, fake) / (d_thr + 1e-14)

    The 1e-14 (the competition code's ``fid_epsilon``) only guards d = 0: without a penalty
    MiFID is FID exactly. f are the extractor's features (pool3 of Inception by default);
    feature vectors whose entries sum to 0 are left out of d, as in that code. A generator
    whose samples sit far from every training image (d >= epsilon) gets MiFID = FID; one that
    copies gets its FID divided by a small d. torchmetrics'
    ``MemorizationInformedFrechetInceptionDistance`` has the same formula but averages the
    other way round (over the real features, each to its nearest generated one); ganlab
    follows the competition. ``train`` defaults to ``real`` (the competition compared with the
    same images that made its FID statistics); ``real`` may be statistics, then ``train`` is
    needed. Values: ``mifid``, ``fid``, ``memorization_distance`` (d), ``epsilon``,
    ``penalty`` (d_thr); nearest neighbours in bounded memory
    (:func:`ganlab.metrics.nearest_train.memorization_distance`).
    """
    if not 0.0 < epsilon <= 1.0:
        raise GanlabError(f"MiFID epsilon must be in (0, 1], got {epsilon}")
    if train is None:
        if isinstance(real, FeatureStats):
            raise GanlabError(
                "MiFID needs the training images (or their features) for its memorization "
                "distance: give train= when real is a statistics file"
            )
        train = real
    ext = as_extractor(extractor, weights, resize)
    _check_same_size(real, fake)
    _check_same_size(train, fake)
    fs_fake = _feature_set(fake, ext, batch_size, progress, use_cache, "generated")
    fs_train = _feature_set(train, ext, batch_size, progress, use_cache, "training")
    if train is real:  # one extractor pass serves both
        real_stats = fs_train.stats()
    else:
        real_stats = _stats(real, ext, batch_size, progress, use_cache)
    fid_value = _fid_value(real_stats, fs_fake.stats())
    mem_d = mem.memorization_distance(fs_fake.features, fs_train.features)
    d = mem_d["distance"]
    penalty = d if d < epsilon else 1.0
    values = {
        "mifid": fid_value if penalty == 1.0 else fid_value / (penalty + _MIFID_TINY),
        "fid": fid_value,
        "memorization_distance": d,
        "epsilon": epsilon,
        "penalty": penalty,
    }
    card = MetricCard.for_extractor(
        "mifid", ext.card(), n_real=_n(real), n_fake=len(fs_fake),
        real_fingerprint=_fingerprint(real), fake_fingerprint=_fingerprint(fake),
        notes=_stats_notes(real=real) + ([
            f"memorization penalty applied: generated features are {d:.3g} (mean min cosine "
            f"distance) from the training set's, below epsilon={epsilon}, so MiFID = FID / {d:.3g}"
        ] if penalty < 1.0 else []),
        extra={
            "epsilon": epsilon, "penalty": penalty, "memorization_distance": d,
            "n_train": len(fs_train), "train_fingerprint": _fingerprint(train),
            "n_fake_used": int(mem_d["n_fake_used"]), "n_train_used": int(mem_d["n_train_used"]),
            "definition": "FID / (d_thr + 1e-14), d = mean_x min_t (1 - |cos|), "
            "d_thr = d if d < epsilon else 1 (Kaggle Generative Dog Images)",
        },
    )  # fmt: skip
    return MetricResult(values, card)


def evaluate(
    real: Input,
    fake: Input,
    extractor: ExtractorLike = "inception-fid",
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    k: int = 5,
    prdc_max_n: int | None = None,
    score_splits: int | None = 10,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
    seed: int | None = None,
) -> dict[str, MetricResult]:
    """FID, KID, PRDC and (when the extractor classifies) the classifier score, from one pass.

    Each set goes through the extractor once (or comes as a :class:`FeatureSet` already);
    its features and logits feed every metric. Returns ``{"fid", "kid", "prdc"[, "score"]}``.
    ``score_splits=None`` leaves the score out; ``prdc_max_n`` caps PRDC's sample count (see
    :func:`prdc`). ``seed``, the seed the generated images were sampled with, goes on the FID
    card as in :func:`fid` (KID's and PRDC's cards keep the seeds of their own subsets).
    ``ganlab eval all`` and training-time evaluation both call this.
    """
    ext = as_extractor(extractor, weights, resize)
    fingerprints = {"real_fingerprint": _fingerprint(real), "fake_fingerprint": _fingerprint(fake)}
    fr, ff = _pair(real, fake, ext, batch_size, progress, use_cache)
    results = {
        "fid": fid(fr, ff, ext, seed=seed),
        "kid": kid(fr, ff, ext, subsets=kid_subsets, subset_size=kid_subset_size),
        "prdc": prdc(fr, ff, ext, k=k, max_n=prdc_max_n),
    }
    if ext.spec.num_classes and score_splits:
        results["score"] = inception_score(ff, ext, splits=score_splits)
    for res in results.values():  # the sets' fingerprints, not the FeatureSets' (if any)
        if res.card.n_real is not None:
            res.card.real_fingerprint = fingerprints["real_fingerprint"]
        res.card.fake_fingerprint = fingerprints["fake_fingerprint"]
    return results

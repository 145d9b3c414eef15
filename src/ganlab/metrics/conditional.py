"""Class-conditional evaluation: does the generator make the class it is asked for, well and
with variety, and could a classifier learn the classes from its samples alone?

Inputs are labelled generated images (``fake`` uint8 (N,C,H,W) with ``fake_labels``, the class
each image was *asked* to be) and labelled real images; :func:`conditional_samples` draws them
from a class-conditional generator (anything with ``num_classes`` and
``sample(n, seed, condition=k)``: a run's ``LatentSampler``, or your own). Each set goes through
the domain classifier (e.g. ``fashion-classifier``) once; its features and logits feed

* :func:`conditional_accuracy`: the classifier reads back the asked class (overall, per class);
* :func:`per_class_distances`: FID and KID of each class against the real images of that class;
* :func:`intra_class_diversity`: mean pairwise feature distance within each class, generated
  over real (a ratio well below 1 is a per-class collapse);
* :func:`classification_accuracy_score` (CAS): a fresh classifier of the shipped architecture,
  trained by the shipped trainer on generated images only (balanced per class), tested on the
  real test set, beside the same classifier trained on as many real training images.

:func:`evaluate_conditional` is the bundle ``ganlab eval conditional`` prints. Every result is a
``MetricResult``; per-class values are lists indexed by class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganlab.errors import GanlabError
from ganlab.features.base import to_channels
from ganlab.features.classifier import normalize_unit
from ganlab.features.classifier_train import PLANS, fit_classifier
from ganlab.features.resize import resize_images
from ganlab.metrics import frechet as fid_mod
from ganlab.metrics import kernel_distance as kid_mod
from ganlab.metrics.cache import cache_key, images_hash, load_arrays, save_arrays
from ganlab.metrics.card import MetricCard, MetricResult
from ganlab.metrics.extract import (
    ExtractorLike,
    FeatureSet,
    Images,
    as_extractor,
    as_uint8,
    extract_features,
)
from ganlab.metrics.stats import FeatureStats, moments_of
from ganlab.pixels import to_uint8

Input = Images | FeatureSet

#: the real images CAS's baseline classifier trains on are drawn with this offset to the seed
_REAL_SUBSET_SEED_OFFSET = 1


# -- inputs ---------------------------------------------------------------------------------------


def _labels(labels: Any, n: int, what: str) -> np.ndarray:
    arr = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise GanlabError(f"{what}: {n} images need {n} labels, got shape {arr.shape}")
    if n and not np.issubdtype(arr.dtype, np.integer):
        raise GanlabError(f"{what}: class labels must be integers, got {arr.dtype}")
    if n and arr.min() < 0:
        raise GanlabError(f"{what}: class {int(arr.min())} is negative")
    return arr.astype(np.int64)


def _num_classes(ext: Any, *label_sets: np.ndarray) -> int:
    k = ext.spec.num_classes
    if not k:
        raise GanlabError(
            f"extractor {ext.spec.name} has no classification head: conditional metrics need "
            "a domain classifier (digits-classifier, fashion-classifier)"
        )
    top = max((int(y.max()) for y in label_sets if len(y)), default=-1)
    if top >= k:
        raise GanlabError(f"class {top} is out of range: extractor {ext.spec.name} has {k} classes")
    return int(k)


def conditional_samples(
    generator: Any, n_per_class: int, seed: int = 0, classes: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` samples of every class (or of ``classes``) from a class-conditional
    generator: uint8 (K*n, C, H, W) images and the asked labels, class by class.

    Every class is drawn with the same ``seed``, so the same latents: between classes only the
    condition differs. Float samples are read as [-1, 1] (the families' convention).
    """
    k = getattr(generator, "num_classes", None)
    if k is None:
        raise GanlabError(
            "this generator is unconditional (no num_classes): class-conditional metrics need "
            "a run trained with gan.conditional=true, or labelled generated images"
        )
    if n_per_class < 1:
        raise GanlabError(f"samples per class must be >= 1, got {n_per_class}")
    classes = list(range(int(k))) if classes is None else list(classes)
    images, labels = [], []
    for c in classes:
        x = generator.sample(n_per_class, seed, condition=int(c))
        x = to_uint8(x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x)))
        images.append(x.cpu().numpy())
        labels.append(np.full(len(x), int(c), np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def _features(x: Input, ext: Any, batch_size: int, use_cache: bool, side: str) -> FeatureSet:
    if isinstance(x, FeatureSet):
        x.check_extractor(ext)
        fs = x
    else:
        fs = extract_features(x, ext, batch_size, False, use_cache)
    for arr, what in ((fs.features, "features"), (fs.logits, "logits")):
        if arr is not None and not np.isfinite(arr).all():
            raise GanlabError(f"{side} {what} contain NaN or infinite values; metrics refuse them")
    return fs


def _fingerprint(x: Input) -> str | None:
    return x.fingerprint if isinstance(x, FeatureSet) else images_hash(as_uint8(x))


def _counts(labels: np.ndarray, k: int) -> list[int]:
    counts: list[int] = np.bincount(labels, minlength=k).tolist()
    return counts


def _nan_mean(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(got)) if got else None


# -- metrics --------------------------------------------------------------------------------------


def conditional_accuracy(
    fake: Input,
    fake_labels: Any,
    extractor: ExtractorLike = "fashion-classifier",
    *,
    batch_size: int = 256,
    use_cache: bool = True,
    seed: int | None = None,
) -> MetricResult:
    """How often the domain classifier reads back the asked class.

    Values: ``accuracy`` (all images), ``accuracy_per_class`` (list; None for a class with no
    image), ``accuracy_class_mean``, ``confusion`` (K x K counts, rows = asked class,
    columns = predicted class). ``seed`` is recorded on the card when the images were sampled.
    """
    ext = as_extractor(extractor)
    fs = _features(fake, ext, batch_size, use_cache, "generated")
    y = _labels(fake_labels, len(fs), "generated labels")
    k = _num_classes(ext, y)
    assert fs.logits is not None  # a classifier's features come with its logits
    pred = fs.logits.argmax(1)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (y, pred), 1)
    per_class = [
        float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum() else None
        for c in range(k)
    ]
    values = {
        "accuracy": float((pred == y).mean()) if len(y) else float("nan"),
        "accuracy_per_class": per_class,
        "accuracy_class_mean": _nan_mean(per_class),
        "confusion": confusion.tolist(),
    }
    card = MetricCard.for_extractor(
        "conditional_accuracy", ext.card(), n_fake=len(y), seed=seed,
        fake_fingerprint=_fingerprint(fake), extra={"n_fake_per_class": _counts(y, k)},
    )  # fmt: skip
    return MetricResult(values, card)


def per_class_distances(
    real: Input,
    real_labels: Any,
    fake: Input,
    fake_labels: Any,
    extractor: ExtractorLike = "fashion-classifier",
    *,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
    use_cache: bool = True,
) -> MetricResult:
    """FID and KID of every class's generated images against the real images of that class.

    Features come from one pass per set, split by label. Values: ``fid_per_class``,
    ``kid_per_class`` (KID means), ``kid_std_per_class``, their means over classes
    (``fid_class_mean``, ``kid_class_mean``), and the class-blind ``fid`` / ``kid`` of all
    images. A class with fewer than 2 images on either side gets None. KID's subset size is
    capped by the smaller side of each class (the card lists the sizes used).
    """
    ext = as_extractor(extractor)
    fr = _features(real, ext, batch_size, use_cache, "real")
    ff = _features(fake, ext, batch_size, use_cache, "generated")
    yr = _labels(real_labels, len(fr), "real labels")
    yf = _labels(fake_labels, len(ff), "generated labels")
    k = _num_classes(ext, yr, yf)

    def fid_kid(a: np.ndarray, b: np.ndarray, s: int) -> tuple[float, float, float, int]:
        sa, sb = (FeatureStats.from_moments(moments_of(x)) for x in (a, b))
        fid = fid_mod.frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)
        kv = kid_mod.kid(a, b, kid_subsets, kid_subset_size, s)
        return fid, float(kv["kid_mean"]), float(kv["kid_std"]), int(kv["subset_size"])

    fids: list[float | None] = []
    kids: list[float | None] = []
    kid_stds: list[float | None] = []
    sizes: list[int | None] = []
    for c in range(k):
        a, b = fr.features[yr == c], ff.features[yf == c]
        if min(len(a), len(b)) < 2:
            fids.append(None)
            kids.append(None)
            kid_stds.append(None)
            sizes.append(None)
            continue
        f, km, ks, size = fid_kid(a, b, seed + c)
        fids.append(f)
        kids.append(km)
        kid_stds.append(ks)
        sizes.append(size)
    f_all, k_all, k_all_std, size_all = fid_kid(fr.features, ff.features, seed)
    values = {
        "fid_per_class": fids,
        "kid_per_class": kids,
        "kid_std_per_class": kid_stds,
        "fid_class_mean": _nan_mean(fids),
        "kid_class_mean": _nan_mean(kids),
        "fid": f_all,
        "kid": k_all,
        "kid_std": k_all_std,
    }
    card = MetricCard.for_extractor(
        "per_class_fid_kid", ext.card(), n_real=len(fr), n_fake=len(ff), seed=seed,
        real_fingerprint=_fingerprint(real), fake_fingerprint=_fingerprint(fake),
        notes=[
            f"per-class FID from {min(n for n in _counts(yf, k) if n) if len(yf) else 0} "
            f"generated images a class in {fr.features.shape[1]} dimensions: compare only "
            "numbers computed with the same N per class"
        ],
        extra={"n_real_per_class": _counts(yr, k), "n_fake_per_class": _counts(yf, k),
               "kid_subsets": kid_subsets, "kid_subset_size_per_class": sizes,
               "kid_subset_size": size_all, "kid_seed": f"{seed} + class",
               "kid_std_ddof": kid_mod.STD_DDOF},
    )  # fmt: skip
    return MetricResult(values, card)


def mean_pairwise_distance(feats: np.ndarray, max_n: int | None = None, seed: int = 0) -> float:
    """Mean Euclidean distance over all pairs of distinct rows (float64; a seeded subset of
    ``max_n`` rows when there are more). NaN for fewer than 2 rows."""
    x = np.asarray(feats, np.float64)
    if max_n is not None and len(x) > max_n:
        x = x[np.sort(np.random.default_rng(seed).choice(len(x), max_n, replace=False))]
    n = len(x)
    if n < 2:
        return float("nan")
    sq = (x * x).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0, None)
    iu = np.triu_indices(n, 1)
    return float(np.sqrt(d2[iu]).mean())


def intra_class_diversity(
    real: Input,
    real_labels: Any,
    fake: Input,
    fake_labels: Any,
    extractor: ExtractorLike = "fashion-classifier",
    *,
    max_n: int = 1000,
    seed: int = 0,
    batch_size: int = 256,
    use_cache: bool = True,
) -> MetricResult:
    """Mean pairwise distance of the classifier's features within each class, generated and
    real, and their ratio (generated / real): about 1 when a class is as varied as the data,
    near 0 when the generator collapses that class to a few images. At most ``max_n`` images
    a class and side (a seeded subset). Values: ``diversity_fake_per_class``,
    ``diversity_real_per_class``, ``diversity_ratio_per_class``, ``diversity_ratio_class_mean``,
    ``diversity_ratio_min`` and ``diversity_ratio_min_class``."""
    ext = as_extractor(extractor)
    fr = _features(real, ext, batch_size, use_cache, "real")
    ff = _features(fake, ext, batch_size, use_cache, "generated")
    yr = _labels(real_labels, len(fr), "real labels")
    yf = _labels(fake_labels, len(ff), "generated labels")
    k = _num_classes(ext, yr, yf)

    def opt(v: float) -> float | None:
        return float(v) if np.isfinite(v) else None

    d_fake = [opt(mean_pairwise_distance(ff.features[yf == c], max_n, seed + c)) for c in range(k)]
    d_real = [opt(mean_pairwise_distance(fr.features[yr == c], max_n, seed + c)) for c in range(k)]
    ratio = [
        f / r if f is not None and r is not None and r > 0 else None
        for f, r in zip(d_fake, d_real, strict=True)
    ]
    known = [(r, c) for c, r in enumerate(ratio) if r is not None]
    worst = min(known) if known else (None, None)
    values = {
        "diversity_fake_per_class": d_fake,
        "diversity_real_per_class": d_real,
        "diversity_ratio_per_class": ratio,
        "diversity_ratio_class_mean": _nan_mean(ratio),
        "diversity_ratio_min": worst[0],
        "diversity_ratio_min_class": worst[1],
    }
    card = MetricCard.for_extractor(
        "intra_class_diversity", ext.card(), n_real=len(fr), n_fake=len(ff), seed=seed,
        real_fingerprint=_fingerprint(real), fake_fingerprint=_fingerprint(fake),
        extra={"n_real_per_class": _counts(yr, k), "n_fake_per_class": _counts(yf, k),
               "max_n_per_class": max_n,
               "definition": "mean pairwise L2 distance of extractor features within a class; "
                             "ratio = generated / real"},
    )  # fmt: skip
    return MetricResult(values, card)


# -- classification accuracy score ----------------------------------------------------------------


def _classifier_input(images: Images) -> np.ndarray:
    """uint8 (N,1,28,28), what the shipped classifiers take (channels averaged, resized)."""
    arr = as_uint8(images)
    if arr.shape[1:] == (1, 28, 28):
        return arr
    x = to_channels(torch.from_numpy(np.ascontiguousarray(arr)), 1).float()
    if x.shape[-2:] != (28, 28):
        x = resize_images(x, 28, "tf1-bilinear")
    return x.round().clamp(0, 255).to(torch.uint8).numpy()


def _balanced_subset(labels: np.ndarray, per_class: list[int], seed: int) -> np.ndarray:
    """Indices of ``per_class[c]`` images of every class c, drawn without replacement."""
    rng = np.random.default_rng(seed)
    out = []
    for c, n in enumerate(per_class):
        pool = np.flatnonzero(labels == c)
        if len(pool) < n:
            raise GanlabError(
                f"CAS baseline: the real training set has {len(pool)} images of class {c}, "
                f"but the generated set has {n}; use fewer samples per class"
            )
        out.append(rng.choice(pool, n, replace=False))
    return np.sort(np.concatenate(out)) if out else np.zeros(0, np.int64)


def _per_class_accuracy(pred: np.ndarray, y: np.ndarray, k: int) -> list[float | None]:
    return [float((pred[y == c] == c).mean()) if (y == c).any() else None for c in range(k)]


def _predict(model: Any, images: np.ndarray) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), 1000):
            x = normalize_unit(torch.from_numpy(np.ascontiguousarray(images[i : i + 1000])).float())
            out.append(model(x)[1].argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def classification_accuracy_score(
    fake: Images,
    fake_labels: Any,
    real_train: Images,
    real_train_labels: Any,
    real_test: Images,
    real_test_labels: Any,
    *,
    domain: str = "fashion",
    epochs: int | None = 2,
    plan: Any = None,
    seed: int = 0,
    num_classes: int | None = None,
    log: Any = None,
    use_cache: bool = True,
) -> MetricResult:
    """Classification accuracy score (Ravuri & Vinyals 2019): train a fresh classifier on the
    generated images only (their asked labels), test it on the real test set.

    Beside it, the same classifier (the shipped ``SmallCNN`` architecture and trainer,
    :func:`ganlab.features.classifier_train.fit_classifier`, the domain's plan with
    ``epochs``; or ``plan``) trained on as many real training images per class as there are
    generated ones (a seeded subset), tested on the same real test set. Both trainings use
    ``seed``, so the result is deterministic (the real-data classifier's test predictions are
    cached by its training set, test set, plan and seed with ``use_cache``: they do not
    depend on the generator). Values: ``cas``, ``real_accuracy``,
    ``gap_points`` (100 * (real - cas)), and both accuracies per class. Images are fed as
    the classifier takes them (grey 28x28; others are averaged to grey and resized).
    """
    import dataclasses

    if plan is None:
        if domain not in PLANS:
            raise GanlabError(f"CAS: unknown domain {domain!r}; choose one of {', '.join(PLANS)}")
        plan = PLANS[domain]
    if epochs is not None:
        if epochs < 1:
            raise GanlabError(f"CAS: epochs must be >= 1, got {epochs}")
        plan = dataclasses.replace(plan, epochs=int(epochs))
    xf, xtr, xte = (_classifier_input(x) for x in (fake, real_train, real_test))
    yf = _labels(fake_labels, len(xf), "generated labels")
    ytr = _labels(real_train_labels, len(xtr), "real training labels")
    yte = _labels(real_test_labels, len(xte), "real test labels")
    if not len(xf) or not len(xte):
        raise GanlabError("CAS needs generated images and a real test set")
    k = num_classes or int(max(yf.max(), ytr.max() if len(ytr) else 0, yte.max())) + 1
    per_class = _counts(yf, k)
    idx = _balanced_subset(ytr, per_class, seed + _REAL_SUBSET_SEED_OFFSET)
    def test_predictions(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        model = fit_classifier(x, y, plan, seed, num_classes=k, log=log)
        return np.asarray(_predict(model, xte), np.int64)

    xr, yr = xtr[idx], ytr[idx]
    pred_real = None
    if use_cache:   # the real-data classifier does not depend on the generator: cache it
        key = cache_key("cas-real-predictions", images_hash(xr), {
            "labels": images_hash(np.ascontiguousarray(yr, np.int64)),
            "test": images_hash(xte), "plan": dataclasses.asdict(plan), "seed": seed, "k": k})
        cached = load_arrays(key)
        if cached is not None and cached["pred"].shape == yte.shape:
            pred_real = cached["pred"]
    if pred_real is None:
        pred_real = test_predictions(xr, yr)
        if use_cache:
            save_arrays(key, pred=pred_real)
    results = {}
    for name, pred in (("cas", test_predictions(xf, yf)), ("real", pred_real)):
        results[name] = (float((pred == yte).mean()), _per_class_accuracy(pred, yte, k))
    values = {
        "cas": results["cas"][0],
        "real_accuracy": results["real"][0],
        "gap_points": 100.0 * (results["real"][0] - results["cas"][0]),
        "cas_per_class": results["cas"][1],
        "real_accuracy_per_class": results["real"][1],
    }
    card = MetricCard(
        metric="classification_accuracy_score", n_real=len(xte), n_fake=len(xf), seed=seed,
        real_fingerprint=images_hash(xte), fake_fingerprint=images_hash(xf),
        extra={"classifier": f"SmallCNN (width {plan.width}), the {domain} classifier's "
                             "architecture and trainer",
               "plan": dataclasses.asdict(plan), "epochs": plan.epochs,
               "n_train_per_class": per_class, "n_test": len(xte),
               "real_train_fingerprint": images_hash(xtr[idx]),
               "real_subset_seed": seed + _REAL_SUBSET_SEED_OFFSET},
    )  # fmt: skip
    return MetricResult(values, card)


# -- the bundle ---------------------------------------------------------------------------------


def evaluate_conditional(
    real: Images,
    real_labels: Any,
    fake: Images | Any,
    fake_labels: Any = None,
    extractor: ExtractorLike = "fashion-classifier",
    *,
    n_per_class: int = 500,
    seed: int = 0,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    diversity_max_n: int = 1000,
    cas: bool = False,
    cas_epochs: int | None = None,
    cas_plan: Any = None,
    cas_train: tuple[Images, Any] | None = None,
    cas_domain: str | None = None,
    batch_size: int = 256,
    use_cache: bool = True,
    log: Any = None,
) -> dict[str, MetricResult]:
    """Every conditional metric from one extractor pass per set.

    ``fake`` is labelled generated images (with ``fake_labels``) or a class-conditional
    generator, sampled ``n_per_class`` a class with ``seed``. ``real`` / ``real_labels``: the
    real images the generated ones are compared with (per-class FID/KID, diversity) and, with
    ``cas=True``, CAS's test set; ``cas_train`` = (images, labels) its real training set (for
    the real-data baseline). Returns ``{"accuracy", "distances", "diversity"[, "cas"]}``.
    """
    ext = as_extractor(extractor)
    sampled_seed = None
    if fake_labels is None:
        if isinstance(fake, np.ndarray | torch.Tensor):
            raise GanlabError("generated images need their labels (the asked class of each)")
        fake, fake_labels = conditional_samples(fake, n_per_class, seed)
        sampled_seed = seed
    yr = _labels(real_labels, len(real), "real labels")
    yf = _labels(fake_labels, len(fake), "generated labels")
    fr = _features(real, ext, batch_size, use_cache, "real")
    ff = _features(fake, ext, batch_size, use_cache, "generated")
    fr.fingerprint, ff.fingerprint = images_hash(as_uint8(real)), images_hash(as_uint8(fake))
    results = {
        "accuracy": conditional_accuracy(ff, yf, ext, seed=sampled_seed),
        "distances": per_class_distances(
            fr, yr, ff, yf, ext, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size,
            seed=seed,
        ),
        "diversity": intra_class_diversity(fr, yr, ff, yf, ext, max_n=diversity_max_n, seed=seed),
    }
    if cas:
        if cas_train is None:
            raise GanlabError("CAS needs a real training set for its baseline (cas_train)")
        domain = cas_domain or str(ext.spec.name).removesuffix("-classifier")
        results["cas"] = classification_accuracy_score(
            fake, yf, cas_train[0], cas_train[1], real, yr, domain=domain, epochs=cas_epochs,
            plan=cas_plan, seed=seed, num_classes=ext.spec.num_classes, log=log,
            use_cache=use_cache,
        )
    for res in results.values():
        res.card.extra.setdefault("sampled_seed", sampled_seed)
    return results

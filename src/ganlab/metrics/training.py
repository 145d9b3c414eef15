"""A cheap metric bundle a training loop can call every K steps."""

from __future__ import annotations

import numpy as np

from ganlab.metrics import class_score as is_mod
from ganlab.metrics import frechet as fid_mod
from ganlab.metrics import kernel_distance as kid_mod
from ganlab.metrics import manifold as prdc_mod
from ganlab.metrics.extract import ExtractorLike, Images, as_extractor, features_and_logits
from ganlab.metrics.sources import load_images
from ganlab.metrics.stats import FeatureStats


def compute_training_metrics(
    images_uint8: Images,
    reference: Images | str,
    extractor: ExtractorLike = "fashion-classifier",
    *,
    kid_subsets: int = 10,
    k: int = 5,
    batch_size: int = 256,
) -> dict[str, float]:
    """Flat dict: fid, kid_mean, kid_std, precision, recall, density, coverage (+ score).

    ``reference`` is real images (uint8 N,C,H,W) or an input spec such as
    ``"fashion-mnist:test"``; its features are cached on disk after the first call.
    Default extractor is the fast domain classifier; pass ``"inception-fid"`` for standard FID.
    """
    ext = as_extractor(extractor)
    ref = load_images(reference).images if isinstance(reference, str) else reference
    fr, _ = features_and_logits(ref, ext, batch_size, use_cache=True)
    ff, logits = features_and_logits(
        images_uint8, ext, batch_size, use_cache=False, want_logits=ext.spec.num_classes is not None
    )
    out: dict[str, float] = {
        "fid": fid_mod.fid_from_stats(
            FeatureStats.from_features(fr), FeatureStats.from_features(ff)
        )
    }
    kv = kid_mod.kid(fr, ff, subsets=kid_subsets, subset_size=min(1000, len(ff)))
    out.update(kid_mean=kv["kid_mean"], kid_std=kv["kid_std"])
    n = min(len(fr), len(ff), 5000)
    rng = np.random.default_rng(0)
    pr = prdc_mod.prdc(fr[rng.choice(len(fr), n, replace=False)], ff[:n], k)
    out.update({key: pr[key] for key in ("precision", "recall", "density", "coverage")})
    if logits is not None and len(logits) >= 10:
        sc = is_mod.classifier_score(logits, splits=min(10, len(logits) // 10 or 1))
        out.update(
            score=sc["score_mean"],
            per_image_entropy=sc["per_image_entropy"],
            marginal_entropy=sc["marginal_entropy"],
        )
    return out

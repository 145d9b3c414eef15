"""Paired translation metrics: outputs against their own targets.

* PSNR and SSIM (torchmetrics) per image pair on images mapped to [0, 1] (data range 1),
  averaged over the pairs; SSIM with torchmetrics' default 11x11 Gaussian window (sigma 1.5).
* FID and KID of the set of outputs against the set of targets, through
  :func:`ganlab.metrics.api.evaluate` in an extractor's feature space (the caller names it:
  e.g. the shipped ``fashion-classifier`` for 28 px Fashion-MNIST targets);
* when the extractor classifies and the targets have class labels: the accuracy of the
  classifier on the outputs (is a translation read as its target's class?) beside its
  accuracy on the targets themselves (the ceiling, like the "ground truth" row of the pix2pix
  paper's FCN-score table).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.metrics.api import evaluate
from ganlab.metrics.card import joint_card
from ganlab.metrics.extract import as_extractor, extract_features
from ganlab.pixels import to_uint8

BATCH_SIZE = 256
KID_SUBSETS = 10


def _unit(x: Tensor) -> Tensor:
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2)


def psnr_ssim(outputs: Tensor, targets: Tensor) -> dict[str, float]:
    """Mean per-pair PSNR (dB) and SSIM of float images in [-1, 1] (N, C, H, W)."""
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    if outputs.shape != targets.shape:
        raise GanlabError(f"paired metrics: outputs {tuple(outputs.shape)} and targets "
                          f"{tuple(targets.shape)} differ in shape")
    if len(outputs) == 0:
        raise GanlabError("paired metrics: no images")
    o, t = _unit(outputs), _unit(targets)
    psnr = peak_signal_noise_ratio(o, t, data_range=1.0, reduction="none", dim=(1, 2, 3))
    # a perfect pair has infinite PSNR: cap it at 100 dB so that the mean stays finite
    psnr = torch.nan_to_num(psnr, posinf=100.0).clamp(max=100.0)
    # one tensor (a tuple only with return_full_image=True)
    ssim = cast(Tensor, structural_similarity_index_measure(o, t, data_range=1.0))
    return {"psnr": float(psnr.mean()), "ssim": float(ssim)}


def paired_metrics(outputs: Tensor, targets: Tensor, extractor: Any = None,
                   labels: Tensor | None = None, reference: str = "targets"
                   ) -> dict[str, Any]:
    """PSNR, SSIM and, with an ``extractor`` (a name or a FeatureExtractor), FID and KID of
    the outputs against the targets, and the classifier's accuracy on both when it classifies
    and ``labels`` (the targets' classes) are given. Returns flat numbers, the extractor's
    name and a ``card`` of how the set metrics were made."""
    out: dict[str, Any] = {**psnr_ssim(outputs, targets), "n_pairs": len(outputs)}
    if extractor is None:
        return out
    ext = as_extractor(extractor)
    fake = to_uint8(outputs).cpu().numpy()
    real = to_uint8(targets).cpu().numpy()
    fr = extract_features(real, ext, BATCH_SIZE, use_cache=False)
    ff = extract_features(fake, ext, BATCH_SIZE, use_cache=False)
    n = len(fake)
    results = evaluate(fr, ff, ext, kid_subsets=KID_SUBSETS, kid_subset_size=min(1000, n),
                       prdc_max_n=None, score_splits=None, batch_size=BATCH_SIZE,
                       use_cache=False)
    out.update(fid=float(results["fid"]["fid"]), kid_mean=float(results["kid"]["kid_mean"]),
               extractor=ext.spec.name,
               card=joint_card({k: results[k] for k in ("fid", "kid")}, reference=reference))
    if labels is not None and ff.logits is not None:
        y = labels.cpu().numpy()
        out["class_accuracy"] = float(np.mean(ff.logits.argmax(1) == y))
        assert fr.logits is not None
        out["target_class_accuracy"] = float(np.mean(fr.logits.argmax(1) == y))
    return out

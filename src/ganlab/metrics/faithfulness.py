"""Does a translation keep its input? Numbers for unpaired image-to-image translation.

An unpaired translator can produce images that look exactly like the target domain and have
nothing to do with their inputs: the adversarial loss only asks that the *set* of outputs look
like the target set. These functions measure what the outputs keep of the inputs:

* :func:`cycle_error`: how well ``F(G(x))`` gives back ``x`` (mean L1 on the [-1, 1] scale,
  the cycle loss itself; and PSNR in dB, torchmetrics). Low error means the mapping can be
  inverted, not that the information is *visible*: a translator may hide it in low-amplitude
  patterns (Chu et al., 2017, "CycleGAN, a master of steganography").
* :func:`class_dependence`: given the input's class (e.g. the digit) and the class a domain
  classifier reads in the output (e.g. the garment), the plug-in mutual information between
  them in bits, the same quantity with the input labels shuffled (what a finite sample gives
  when the two are independent: the plug-in estimate is biased upwards by about
  ``(K-1)(L-1) / (2 N ln 2)`` bits), and the accuracy of predicting the input's class from the
  output's class with a class-to-class map fitted on one half and scored on the other (both
  ways, averaged), beside the accuracy of always guessing the most frequent class. A
  translation that ignores its input scores the shuffled MI and the majority-class accuracy.
* :func:`pixel_correlation`: the mean per-image Pearson correlation between the grey-level
  input and its output, and the same with every output paired with another image's input
  (what the domains' average shapes alone give). The gap is structure carried from the input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganlab.errors import GanlabError
from ganlab.extras import require


def cycle_error(x: Tensor, reconstruction: Tensor) -> dict[str, float]:
    """Mean L1 (on the [-1, 1] scale) and mean per-image PSNR (dB; data range 2) between
    images ``x`` and their round trip ``reconstruction``, both float (N, C, H, W) in [-1, 1]."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    if x.shape != reconstruction.shape:
        raise GanlabError(f"cycle error: inputs {tuple(x.shape)} and reconstructions "
                          f"{tuple(reconstruction.shape)} differ in shape")
    x, r = x.float(), reconstruction.float()
    psnr = peak_signal_noise_ratio(r, x, data_range=2.0, reduction="none", dim=(1, 2, 3))
    return {"l1": float((x - r).abs().mean()), "psnr": float(psnr.mean())}


def mutual_information_bits(a: np.ndarray, b: np.ndarray) -> float:
    """Plug-in mutual information (bits) between two integer label arrays."""
    score = require("sklearn.metrics", "mutual information").mutual_info_score
    return float(score(a, b)) / math.log(2)


def _map_accuracy(src: np.ndarray, dst: np.ndarray, train: np.ndarray,
                  test: np.ndarray) -> float:
    """Accuracy on ``test`` of predicting ``dst`` from ``src`` with the majority ``dst`` of
    each ``src`` value on ``train`` (the overall majority for values unseen there)."""
    overall = int(np.bincount(dst[train]).argmax())
    table = {}
    for value in np.unique(src[train]):
        table[int(value)] = int(np.bincount(dst[train][src[train] == value]).argmax())
    guess = np.array([table.get(int(v), overall) for v in src[test]])
    return float((guess == dst[test]).mean())


def class_dependence(input_labels: Any, output_classes: Any, shuffles: int = 20,
                     seed: int = 0) -> dict[str, float]:
    """How much the output's class tells of the input's class (see the module docstring).

    Returns ``mi_bits``, ``mi_shuffled_bits`` (mean over ``shuffles`` permutations of the input
    labels), ``map_accuracy`` (two-fold cross-fitted) and ``majority_accuracy``."""
    a = np.asarray(input_labels, dtype=np.int64).reshape(-1)
    b = np.asarray(output_classes, dtype=np.int64).reshape(-1)
    if len(a) != len(b) or len(a) < 4:
        raise GanlabError(f"class dependence needs as many input labels as outputs (at least "
                          f"4), got {len(a)} and {len(b)}")
    if a.min() < 0 or b.min() < 0:
        raise GanlabError("class dependence: labels must be class indices >= 0")
    rng = np.random.default_rng(seed)
    shuffled = [mutual_information_bits(rng.permutation(a), b) for _ in range(shuffles)]
    order = rng.permutation(len(a))
    half = len(a) // 2
    folds = (order[:half], order[half:])
    acc = np.mean([_map_accuracy(b, a, folds[i], folds[1 - i]) for i in (0, 1)])
    majority = np.mean([float((a[folds[1 - i]] == np.bincount(a[folds[i]]).argmax()).mean())
                        for i in (0, 1)])
    return {"mi_bits": mutual_information_bits(a, b),
            "mi_shuffled_bits": float(np.mean(shuffled)) if shuffled else float("nan"),
            "map_accuracy": float(acc), "majority_accuracy": float(majority)}


def _grey(x: Tensor) -> Tensor:
    x = x.float()
    return x.mean(1) if x.shape[1] > 1 else x[:, 0]


def pixel_correlation(inputs: Tensor, outputs: Tensor) -> dict[str, float]:
    """Mean per-image Pearson correlation of grey levels between ``inputs`` and ``outputs``
    (float (N, C, H, W), the same H and W), and the same with the outputs rolled by one
    (each output paired with another image's input). Constant images count as 0."""
    if inputs.shape[0] != outputs.shape[0] or inputs.shape[2:] != outputs.shape[2:]:
        raise GanlabError(f"pixel correlation: inputs {tuple(inputs.shape)} and outputs "
                          f"{tuple(outputs.shape)} need the same N, H and W")
    if inputs.shape[0] < 2:
        raise GanlabError("pixel correlation needs at least 2 images")
    a = _grey(inputs).flatten(1)
    b = _grey(outputs).flatten(1)

    def corr(u: Tensor, v: Tensor) -> float:
        u = u - u.mean(1, keepdim=True)
        v = v - v.mean(1, keepdim=True)
        denom = u.norm(dim=1) * v.norm(dim=1)
        r = torch.where(denom > 0, (u * v).sum(1) / denom.clamp_min(1e-12), torch.zeros(()))
        return float(r.mean())

    return {"corr": corr(a, b), "corr_shuffled": corr(a, torch.roll(b, 1, dims=0))}

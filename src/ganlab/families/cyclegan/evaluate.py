"""Evaluation of a CycleGAN: realism per direction, cycle error, and faithfulness to the input.

For each direction (``AtoB``: inputs from A's held-out images, outputs judged against B's):

* ``fid_AtoB`` / ``kid_AtoB``: the outputs against the held-out images of the target domain, in
  the target domain's classifier features (``fashion-classifier`` for fashion-mnist,
  ``digits-classifier`` for mnist / mnist-5k; ``eval.extractor`` when it names one), through
  the metrics pipeline (:mod:`ganlab.metrics.api`), with a card each. A target domain without a
  classifier (emoji, folders) gets no FID unless ``eval.extractor`` names an extractor.
* ``cycle_l1_A`` / ``cycle_psnr_A``: the round trip ``G_BA(G_AB(a))`` against ``a``.
* ``roundtrip_acc_A``: when A has labels and a classifier, how often the classifier reads the
  round trip as the input's class (the input's digit, for MNIST).
* ``mi_AtoB_bits``, ``mi_AtoB_shuffled_bits``, ``map_acc_AtoB``, ``majority_acc_AtoB``: when A
  has labels and B a classifier, how much the class the B classifier reads in the output tells
  of the input's class (:func:`ganlab.metrics.faithfulness.class_dependence`).
* ``corr_AtoB`` / ``corr_AtoB_shuffled``: grey-level correlation between input and output, and
  between mismatched pairs (:func:`ganlab.metrics.faithfulness.pixel_correlation`).

The round trip says whether the input can be recovered; the class dependence and the
correlation say whether the output *visibly* depends on it. See docs/translation.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganlab.config import DataConfig
from ganlab.data import pairs
from ganlab.data.batch import DataSpec
from ganlab.data.registry import find_dataset
from ganlab.errors import GanlabError
from ganlab.extras import missing
from ganlab.metrics.api import fid, kid
from ganlab.metrics.card import joint_card
from ganlab.metrics.extract import as_extractor, extract_features, features_and_logits
from ganlab.metrics.faithfulness import class_dependence, cycle_error, pixel_correlation
from ganlab.report.grid import to_uint8

KID_SUBSETS = 10
N_REAL_MAX = 10000   # held-out target images compared with (all of them up to this many)
OTHER = {"AtoB": "BtoA", "BtoA": "AtoB"}
SOURCE = {"AtoB": "A", "BtoA": "B"}


def domain_names(spec: DataSpec) -> list[str]:
    """The names of domains A and B (``extra["domains"]``; ``A`` and ``B`` when unnamed)."""
    names = list(spec.extra.get("domains") or [])
    return names if len(names) == 2 else ["A", "B"]


def classifier_for(domain: str) -> str | None:
    """The shipped classifier that reads images of ``domain``, if any (the dataset's
    :attr:`~ganlab.data.registry.DatasetInfo.classifier`; none for emoji categories and
    folders)."""
    info = find_dataset(domain)
    return info.classifier if info is not None else None


def held_out_domain(spec: DataSpec, data: DataConfig, index: int,
                    shape: tuple[int, int, int]) -> tuple[Tensor, Tensor | None, str]:
    """Held-out images (uint8 (N, C, H, W) converted to ``shape``), labels and a note saying
    which images they are, of domain ``index`` (0: A, 1: B): the test split of a named set,
    the training images themselves for a set without one (a folder)."""
    name = domain_names(spec)[index]
    images, labels, note = pairs.held_out_domain(name, shape, data)
    if images.dim() != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise GanlabError(f"held-out images of domain {name!r} are {tuple(images.shape)}, the "
                          f"translator takes {tuple(shape)} (C,H,W)")
    return images, labels, note


def _uint8(x: Tensor) -> np.ndarray:
    return to_uint8(x).cpu().numpy()


def _classes(images: Tensor, extractor: Any) -> np.ndarray:
    """The class a classifier extractor reads in each float image in [-1, 1]."""
    _, logits = features_and_logits(_uint8(images), extractor, batch_size=256,
                                    use_cache=False, want_logits=True)
    assert logits is not None
    return logits.argmax(1)


def _extractor(name: str | None) -> Any:
    return None if name is None else as_extractor(name)


def evaluate_cyclegan(family: Any, n: int, seed: int, extractor: str = "auto"
                      ) -> dict[str, Any]:
    """Every number of the module docstring for ``family`` (a CycleGAN family), on ``n``
    held-out inputs per direction (fewer when the held-out set is smaller) chosen by
    ``seed``. Returns flat numbers, the extractor names, ``skipped`` (why a number is missing)
    and ``card`` (how each FID/KID was made)."""
    names = domain_names(family.spec)
    out: dict[str, Any] = {}
    cards: dict[str, Any] = {}
    skipped: list[str] = []
    notes: list[str] = []
    for direction in ("AtoB", "BtoA"):
        src, dst = SOURCE[direction], SOURCE[OTHER[direction]]
        src_name, dst_name = names[0 if src == "A" else 1], names[0 if dst == "A" else 1]
        images, labels, note = family.held_out(direction)
        notes.append(f"{src}: {note}")
        k = min(n, len(images))
        idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:k]
        x = images[idx].float() / 127.5 - 1.0
        y = family.translate(x, direction)
        back = family.translate(y, OTHER[direction])
        cyc = cycle_error(x, back)
        out[f"cycle_l1_{src}"] = cyc["l1"]
        out[f"cycle_psnr_{src}"] = cyc["psnr"]
        if y.shape[2:] == x.shape[2:]:
            corr = pixel_correlation(x, y)
            out[f"corr_{direction}"] = corr["corr"]
            out[f"corr_{direction}_shuffled"] = corr["corr_shuffled"]
        # realism: outputs against the target domain's held-out images
        dst_ext_name = extractor if extractor != "auto" else classifier_for(dst_name)
        if dst_ext_name is None:
            skipped.append(f"fid_{direction}: no classifier for domain {dst_name!r} (set "
                           "eval.extractor, e.g. inception-fid)")
        elif k < 2:
            skipped.append(f"fid_{direction}: {k} held-out input(s)")
        else:
            ext = _extractor(dst_ext_name)
            real, _, real_note = family.held_out(OTHER[direction])
            real_np = _uint8(real[:N_REAL_MAX])
            fr = extract_features(real_np, ext, 256, use_cache=True)
            ff = extract_features(_uint8(y), ext, 256, use_cache=False)
            res = {"fid": fid(fr, ff, ext, seed=seed),
                   "kid": kid(fr, ff, ext, subsets=KID_SUBSETS,
                              subset_size=min(1000, k, len(real_np)))}
            out[f"fid_{direction}"] = float(res["fid"]["fid"])
            out[f"kid_{direction}"] = float(res["kid"]["kid_mean"])
            out[f"extractor_{direction}"] = ext.spec.name
            cards[direction] = joint_card(res, reference=real_note)
        # faithfulness: does the output keep the input's class?
        src_cls = _extractor(classifier_for(src_name))
        dst_cls = _extractor(classifier_for(dst_name))
        if labels is None:
            skipped.append(f"faithfulness {direction}: domain {src_name!r} has no labels")
            continue
        labels_np = labels[idx].numpy()
        if src_cls is not None:
            out[f"roundtrip_acc_{src}"] = float((_classes(back, src_cls) == labels_np).mean())
        no_mi = missing("sklearn", f"class faithfulness {direction}")
        if no_mi is not None:
            skipped.append(no_mi)
        elif dst_cls is not None and k >= 4:
            dep = class_dependence(labels_np, _classes(y, dst_cls), seed=seed)
            out[f"mi_{direction}_bits"] = dep["mi_bits"]
            out[f"mi_{direction}_shuffled_bits"] = dep["mi_shuffled_bits"]
            out[f"map_acc_{direction}"] = dep["map_accuracy"]
            out[f"majority_acc_{direction}"] = dep["majority_accuracy"]
        if src_cls is None or dst_cls is None:
            skipped.append(f"class faithfulness {direction}: needs classifiers for both "
                           f"{src_name!r} and {dst_name!r}")
    out["n_eval"] = int(min(n, len(family.held_out("AtoB")[0]), len(family.held_out("BtoA")[0])))
    out["inputs"] = "; ".join(notes)
    if skipped:
        out["skipped"] = "; ".join(skipped)
    if cards:
        out["card"] = cards
    return out


def _fmt(results: dict[str, Any], key: str, spec: str = ".3f") -> str:
    value = results.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def summary_lines(results: dict[str, Any]) -> list[str]:
    """The end-of-run lines: one per direction."""
    lines = []
    for direction in ("AtoB", "BtoA"):
        src = SOURCE[direction]
        line = (f"{direction}: cycle L1 {_fmt(results, f'cycle_l1_{src}')}, "
                f"PSNR {_fmt(results, f'cycle_psnr_{src}', '.1f')} dB")
        if f"fid_{direction}" in results:
            line += (f", FID ({results[f'extractor_{direction}']}) "
                     f"{_fmt(results, f'fid_{direction}', '.2f')}")
        if f"roundtrip_acc_{src}" in results:
            line += f", round trip read as the input class {_fmt(results, f'roundtrip_acc_{src}')}"
        if f"mi_{direction}_bits" in results:
            line += (f", output class tells input class: MI {_fmt(results, f'mi_{direction}_bits')}"
                     f" bits (shuffled {_fmt(results, f'mi_{direction}_shuffled_bits')}), "
                     f"accuracy {_fmt(results, f'map_acc_{direction}')} (majority "
                     f"{_fmt(results, f'majority_acc_{direction}')})")
        lines.append(line)
    if results.get("skipped"):
        lines.append(f"not measured: {results['skipped']}")
    return lines

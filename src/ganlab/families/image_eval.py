"""Image metrics during training: FID, KID, precision/recall in a feature extractor's space.

:class:`ImageEvaluator` resolves, once per run, which extractor to use (``eval.extractor``;
``auto`` = the domain classifier of the training data) and which real images to compare with
(``eval.reference``; by default the held-out split of the training data); both are facts of
the dataset's registration (:class:`ganlab.data.registry.DatasetInfo`). When either cannot
be had (no classifier for this data, weights not trained yet, reference missing) it says why in
one log line and the run goes on without image metrics.

The numbers come from :func:`ganlab.metrics.evaluate`, the function ``ganlab eval all`` uses:
the reference set goes through the extractor once per run (cached on disk across runs), each
evaluation's samples once, and the result carries a metric card (extractor, weights sha256,
resize, N, reference) that lands in ``metrics.jsonl`` beside the numbers.

Evaluation draws its latents from its own seeded generator and runs under a forked torch RNG,
so it never changes the training streams: a resumed run stays bit-for-bit equal to an
uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import Tensor

from ganlab.config import DataConfig, EvalConfig
from ganlab.data.imageio import convert
from ganlab.data.images import load_images as load_data
from ganlab.data.registry import datasets, find_dataset
from ganlab.errors import GanlabError
from ganlab.metrics.api import evaluate, mode_counts
from ganlab.metrics.card import joint_card
from ganlab.metrics.extract import as_extractor, extract_features
from ganlab.metrics.registry import flat_keys
from ganlab.metrics.sources import load_images
from ganlab.report.grid import to_uint8

STACKED = "stacked-mnist"      # evaluated by mode counting (ganlab.data.stacked)
# the settings of a training-time evaluation (cheaper than `ganlab eval all`'s defaults)
KID_SUBSETS = 10
PRDC_MAX_N = 5000  # PRDC's distance matrices grow as N^2
BATCH_SIZE = 256
# flat record key -> (result name, value key) of ganlab.metrics.evaluate's results
def auto_extractor(data_name: str) -> tuple[str | None, str]:
    """(extractor name, '') for data that has a domain classifier
    (:attr:`~ganlab.data.registry.DatasetInfo.classifier`), else (None, why not)."""
    info = find_dataset(data_name)
    if info is not None and info.classifier is not None:
        return info.classifier, ""
    if info is not None and info.no_classifier_reason:
        why = info.no_classifier_reason
    else:
        why = f"no domain classifier is registered for data {data_name!r}"
    judged = [d.name for d in datasets() if d.classifier is not None]
    return None, (f"{why}; auto picks one only for {', '.join(judged)} "
                  "(set eval.extractor, e.g. inception-fid, to measure anyway)")


def load_reference(spec: str) -> np.ndarray:
    """Real images uint8 (N,C,H,W) for an ``eval.reference`` spec (read as ``ganlab eval``
    reads its inputs: a dataset split, folder:/npz:, a folder, an .npz or a run folder)."""
    return load_images(spec).images


def default_reference(data: DataConfig) -> tuple[str, np.ndarray]:
    """(description, images): the held-out split of the training data
    (:attr:`~ganlab.data.registry.DatasetInfo.held_out_split`; its training split when the run
    trains on the held-out one), converted like it; the training images themselves when the
    data has no held-out split."""
    info = find_dataset(data.name)
    held = info.held_out_split if info is not None else None
    if held is not None and data.split != "all":   # "all" leaves nothing held out
        split = "train" if data.split == held else held
        images, _ = load_data(data.name, split, path=data.path, resolution=data.resolution,
                              channels=data.channels)
        return f"{data.name}:{split}", images.numpy()
    images, _ = load_data(data.name, data.split, path=data.path, resolution=data.resolution,
                          channels=data.channels, limit=data.limit)
    return f"{data.name} (the training images: it has no held-out split)", images.numpy()


def match_shape(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Convert reference images to the generator's (C, H, W) the way training data is."""
    if tuple(images.shape[1:]) == tuple(shape):
        return images
    c, h, w = shape
    if h != w:
        raise GanlabError(f"eval.reference: images are {tuple(images.shape[1:])} (C,H,W) and "
                          f"the generator makes {tuple(shape)}; give a reference of that size")
    return convert(images, resolution=h, channels=c)


class ImageEvaluator:
    """FID / KID / precision / recall of generated images against a fixed real set."""

    def __init__(self, eval_cfg: EvalConfig, data_cfg: DataConfig,
                 sample_shape: tuple[int, ...], log: Callable[[str], None]) -> None:
        self.cfg = eval_cfg
        self.data_cfg = data_cfg
        self.sample_shape = tuple(sample_shape)
        self.log = log
        self.extractor: Any = None
        self.extractor_name: str | None = None
        self.reference: np.ndarray | None = None
        self.reference_name: str | None = None
        self._reference_features: Any = None  # a FeatureSet, extracted on the first call
        self.skip_reason: str | None = None
        self._resolved = False

    def _skip(self, reason: str) -> None:
        self.skip_reason = reason
        self.log(f"eval: image metrics skipped: {reason}")

    def resolve(self) -> bool:
        """Pick the extractor and load the reference (once); False when metrics are skipped."""
        if self._resolved:
            return self.skip_reason is None
        self._resolved = True
        name = self.cfg.extractor
        picked = ""
        if name == "auto":
            auto, why = auto_extractor(self.data_cfg.name)
            if auto is None:
                self._skip(why)
                return False
            name, picked = auto, f"eval.extractor=auto picked {auto} for {self.data_cfg.name}, "
        try:
            self.extractor = as_extractor(name)
        except GanlabError as exc:
            self._skip(f"{picked}but {exc}" if picked else f"eval.extractor={name}: {exc}")
            return False
        self.extractor_name = self.extractor.spec.name
        try:
            if self.cfg.reference is None:
                self.reference_name, ref = default_reference(self.data_cfg)
            else:
                self.reference_name, ref = self.cfg.reference, load_reference(self.cfg.reference)
            self.reference = np.ascontiguousarray(match_shape(ref, self.sample_shape))
        except GanlabError as exc:
            self._skip(f"cannot load the reference images: {exc}")
            return False
        self.log(f"eval: image metrics (FID, KID, precision/recall) in {self.extractor_name} "
                 f"features, {self.cfg.n_samples} samples vs {self.reference_name} "
                 f"({len(self.reference)} images)")
        return True

    def __call__(self, generate: Callable[[int], Tensor],
                 seed: int | None = None) -> dict[str, Any]:
        """Metrics of ``generate(eval.n_samples)`` (float images in [-1, 1], N,C,H,W); {} when
        skipped. Flat numbers (``fid``, ``kid_mean``, ``precision`` ... and ``score`` with its
        entropies when the extractor classifies), the extractor's name, ``card`` (how they were
        made, JSON-ready; ``sampling_seed``: ``seed``, the seed ``generate`` draws its latents
        with); the trainer adds ``eval_seconds``."""
        if self.data_cfg.name == STACKED:
            return self._stacked_modes(generate, seed)
        if not self.resolve():
            return {}
        fake = to_uint8(generate(self.cfg.n_samples)).cpu().numpy()
        if self._reference_features is None:
            assert self.reference is not None
            self._reference_features = extract_features(self.reference, self.extractor,
                                                        BATCH_SIZE, use_cache=True)
        n = len(fake)
        results = evaluate(self._reference_features, fake, self.extractor,
                           kid_subsets=KID_SUBSETS, prdc_max_n=PRDC_MAX_N,
                           score_splits=min(10, n // 10) or None, batch_size=BATCH_SIZE,
                           use_cache=False, seed=seed)
        values: dict[str, Any] = {key: float(results[name][value])
                                  for key, (name, value) in flat_keys("all").items()
                                  if name in results}
        return {**values, "extractor": self.extractor_name,
                "card": joint_card(results, reference=self.reference_name,
                                   sampling_seed=seed)}

    def _stacked_modes(self, generate: Callable[[int], Tensor],
                       seed: int | None) -> dict[str, Any]:
        """Stacked digits: modes out of 1,000 and KL(p_gen || uniform) with its two parts
        (uneven digits per channel, dependence between channels) and the classifier's mean
        confidence, each channel read by the shipped digit classifier (FID has no meaning for
        these images)."""
        fake = to_uint8(generate(self.cfg.n_samples)).cpu().numpy()
        result = mode_counts(fake, "digits-classifier", stacked=True, use_cache=False)
        sure = result["kl_channels_confident"]  # None: a channel never read with confidence
        return {"stacked_modes": float(result["modes_captured"]),
                "stacked_kl": float(result["kl_gen_data"]),
                "stacked_kl_channels": float(result["kl_channels"]),
                "stacked_kl_dependence": float(result["kl_dependence"]),
                **({} if sure is None else {"stacked_kl_channels_confident": float(sure)}),
                "stacked_confidence": float(result["confidence"]),
                "stacked_confident_fraction": float(result["confident_fraction"]),
                "extractor": "digits-classifier",
                "card": joint_card({"stacked_modes": result}, sampling_seed=seed)}

"""Image metrics during training: FID, KID, precision/recall in a feature extractor's space.

:class:`ImageEvaluator` resolves, once per run, which extractor to use (``eval.extractor``;
``auto`` = the domain classifier of the training data) and which real images to compare with
(``eval.reference``; by default the held-out split of the training data). When either cannot
be had (no classifier for this data, weights not trained yet, reference missing) it says why in
one log line and the run goes on without image metrics.

Evaluation draws its latents from its own seeded generator and runs under a forked torch RNG,
so it never changes the training streams: a resumed run stays bit-for-bit equal to an
uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from torch import Tensor

from ganlab.config import DataConfig, EvalConfig
from ganlab.errors import GanlabError

# training data -> the domain classifier whose features judge it
AUTO_EXTRACTORS = {
    "fashion-mnist": "fashion-classifier",
    "mnist": "digits-classifier",
    "mnist-5k": "digits-classifier",
}
# named image sets with a held-out split
HELD_OUT = ("fashion-mnist", "mnist", "mnist-5k")


def auto_extractor(data_name: str) -> tuple[str | None, str]:
    """(extractor name, '') for data that has a domain classifier, else (None, why not)."""
    if data_name in AUTO_EXTRACTORS:
        return AUTO_EXTRACTORS[data_name], ""
    if data_name == "digits":
        why = ("the digits classifier was trained on 28 px MNIST and does not recognise "
               "scikit-learn's 8x8 digits")
    else:
        why = f"no domain classifier is registered for data {data_name!r}"
    return None, (f"{why}; auto picks one only for {', '.join(AUTO_EXTRACTORS)} "
                  "(set eval.extractor, e.g. inception-fid, to measure anyway)")


def load_reference(spec: str) -> np.ndarray:
    """Real images uint8 (N,C,H,W) for an ``eval.reference`` spec (read as ``ganlab eval``
    reads its inputs: a dataset split, folder:/npz:, a folder, an .npz or a run folder)."""
    from ganlab.metrics.sources import load_images

    return load_images(spec).images


def default_reference(data: DataConfig) -> tuple[str, np.ndarray]:
    """(description, images): the held-out split of the training data, converted like it;
    the training images themselves when the data has no held-out split."""
    from ganlab.data.images import load_images

    if data.name in HELD_OUT and data.split != "all":   # "all" leaves nothing held out
        split = "train" if data.split == "test" else "test"
        images, _ = load_images(data.name, split, path=data.path, resolution=data.resolution,
                                channels=data.channels)
        return f"{data.name}:{split}", images.numpy()
    images, _ = load_images(data.name, data.split, path=data.path, resolution=data.resolution,
                            channels=data.channels, limit=data.limit)
    return f"{data.name} (the training images: it has no held-out split)", images.numpy()


def match_shape(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Convert reference images to the generator's (C, H, W) the way training data is."""
    if tuple(images.shape[1:]) == tuple(shape):
        return images
    from ganlab.data.images import convert

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
        from ganlab.metrics.extract import as_extractor

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

    def __call__(self, generate: Callable[[int], Tensor]) -> dict[str, Any]:
        """Metrics of ``generate(eval.n_samples)`` (float images in [-1, 1], N,C,H,W), with the
        extractor's name and the seconds it took (sampling included); {} when skipped."""
        if not self.resolve():
            return {}
        from ganlab.metrics.training import compute_training_metrics
        from ganlab.report.grid import to_uint8

        t0 = time.perf_counter()
        fake = to_uint8(generate(self.cfg.n_samples)).cpu().numpy()
        values = compute_training_metrics(fake, self.reference, extractor=self.extractor)
        return {**values, "extractor": self.extractor_name,
                "eval_seconds": round(time.perf_counter() - t0, 3)}

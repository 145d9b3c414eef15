"""Feature extractors: a network plus its preprocessing, looked up by name."""

from ganlab.features.adapter import module_extractor, torchscript_extractor
from ganlab.features.base import ExtractorSpec, FeatureExtractor, run_extractor
from ganlab.features.registry import EXTRACTORS, get_extractor
from ganlab.features.resize import RESIZE_MODES, clean_resize, tf1_bilinear_resize

__all__ = [
    "EXTRACTORS",
    "RESIZE_MODES",
    "ExtractorSpec",
    "FeatureExtractor",
    "clean_resize",
    "get_extractor",
    "module_extractor",
    "run_extractor",
    "tf1_bilinear_resize",
    "torchscript_extractor",
]

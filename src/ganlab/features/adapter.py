"""Use any user network as a feature extractor: an ``nn.Module`` or a TorchScript file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganlab.errors import GanlabError
from ganlab.features.base import ExtractorSpec, FeatureExtractor
from ganlab.features.inception import load_torchscript, sha256_file


def _state_sha256(module: nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _scale_minus1_1(x: torch.Tensor) -> torch.Tensor:
    return x / 127.5 - 1.0


def module_extractor(
    module: nn.Module,
    name: str = "custom",
    input_size: int | None = None,
    channels: int = 3,
    resize: str = "tf1-bilinear",
) -> FeatureExtractor:
    """Wrap a module mapping [-1,1] floats (N,C,S,S) to features (N,d) or (features, logits)."""
    module = module.eval()
    probe_side = input_size or 32
    with torch.inference_mode():
        out = module(torch.zeros(2, channels, probe_side, probe_side))
    feats, logits = out if isinstance(out, tuple) else (out, None)
    if feats.ndim != 2:
        raise GanlabError(
            f"extractor {name} must return (N, d) features, got shape {tuple(feats.shape)}"
        )
    spec = ExtractorSpec(
        name=name,
        input_size=input_size,
        channels=channels,
        normalization="x/127.5 - 1",
        dim=int(feats.shape[1]),
        num_classes=None if logits is None else int(logits.shape[1]),
    )
    return FeatureExtractor(spec, module, _scale_minus1_1, _state_sha256(module), resize=resize)


def torchscript_extractor(
    path: str | Path, input_size: int | None = None, channels: int = 3, resize: str = "tf1-bilinear"
) -> FeatureExtractor:
    """Load a TorchScript file and wrap it; the card names the file's sha256."""
    p = Path(path)
    if not p.is_file():
        raise GanlabError(f"TorchScript extractor not found: {p}")
    try:
        module = load_torchscript(p)
    except Exception as exc:  # noqa: BLE001
        raise GanlabError(f"cannot load TorchScript extractor {p}: {exc}") from exc
    ext = module_extractor(
        module,
        name=f"torchscript:{p.name}",
        input_size=input_size,
        channels=channels,
        resize=resize,
    )
    ext.weights_sha256 = sha256_file(p)
    return ext

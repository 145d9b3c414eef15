"""Small CNN classifiers for 28x28 grey images (digits, fashion) and their shipped weights.

They give logits (classifier score, mode counting) and 128-d penultimate features (a domain
FID that, unlike Inception's, was trained on the data it judges).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from ganlab.errors import GanlabError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
CLASSIFIER_DOMAINS = ("digits", "fashion")
FEATURE_DIM = 128


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class SmallCNN(nn.Module):
    """28x28x1 -> (128-d features, 10 logits). Input is (x/255 - 0.5) / 0.5."""

    def __init__(self, num_classes: int = 10, width: int = 32) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            _block(1, w), _block(w, w), nn.MaxPool2d(2),
            _block(w, 2 * w), _block(2 * w, 2 * w), nn.MaxPool2d(2),
            _block(2 * w, FEATURE_DIM),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = torch.flatten(F.adaptive_avg_pool2d(self.body(x), 1), 1)
        return feats, self.head(self.dropout(feats))


def normalize_unit(x: torch.Tensor) -> torch.Tensor:
    """0-255 -> [-1, 1]."""
    return x / 127.5 - 1.0


def weights_paths(domain: str, root: Path = WEIGHTS_DIR) -> tuple[Path, Path]:
    """(safetensors, json) paths for a domain's shipped classifier."""
    if domain not in CLASSIFIER_DOMAINS:
        raise GanlabError(f"unknown classifier {domain!r}; choose one of {CLASSIFIER_DOMAINS}")
    return root / f"{domain}-classifier.safetensors", root / f"{domain}-classifier.json"


def load_classifier(
    domain: str, path: str | Path | None = None
) -> tuple[SmallCNN, dict[str, object]]:
    """Load a trained classifier; returns (model in eval mode, its JSON info)."""
    st, info_path = weights_paths(domain)
    if path is not None:
        st = Path(path)
        info_path = st.with_suffix(".json")
    if not st.is_file():
        raise GanlabError(
            f"classifier weights not found at {st}; run: ganlab classifier train {domain}"
        )
    info: dict[str, object] = json.loads(info_path.read_text()) if info_path.is_file() else {}
    try:
        state = load_file(str(st))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise GanlabError(f"{st}: cannot read classifier weights ({exc})") from exc
    # the stem width is the first conv's output channels: no JSON needed to rebuild the net
    first = state.get("body.0.0.weight")
    width = int(first.shape[0]) if first is not None else 32
    model = SmallCNN(width=width)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise GanlabError(f"{st}: not a ganlab {domain} classifier ({str(exc).splitlines()[0]}); "
                          f"make one with: ganlab classifier train {domain}") from None
    return model.eval().requires_grad_(False), info

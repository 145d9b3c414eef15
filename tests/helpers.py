"""Small models and files that several test modules share."""

from __future__ import annotations

import torch
from torch import nn


class TinyExtractor(nn.Module):
    """A feature extractor small enough to script and run in milliseconds: 3-channel images to
    ``4 * channels`` features (conv, tanh, 2x2 average pool)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 2), 1)

"""Small models and files that several test modules share."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

TIMINGS = ("wall_time", "eval_seconds")


def untimed_metrics(run_dir: Path) -> list[dict]:
    """A run's ``metrics.jsonl`` records without their timings: what an interrupted and resumed
    run must reproduce exactly."""
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


class TinyExtractor(nn.Module):
    """A feature extractor small enough to script and run in milliseconds: 3-channel images to
    ``4 * channels`` features (conv, tanh, 2x2 average pool)."""

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(torch.tanh(self.conv(x)), 2), 1)

"""Learning-rate schedules as pure functions of the step (no scheduler state to save)."""

from __future__ import annotations

import math


def lr_factor(kind: str, step: int, total: int) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total`` steps."""
    frac = min(step / max(total, 1), 1.0)
    if kind == "none":
        return 1.0
    if kind == "linear":
        return 1.0 - frac
    if kind == "hold-linear":   # CycleGAN / pix2pix: constant for the first half, then to 0
        return min(1.0, 2.0 * (1.0 - frac))
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    raise ValueError(f"unknown lr schedule {kind!r}")

"""Generated images as pixels: float images in [-1, 1] to uint8, the form every metric,
grid and file takes. A leaf, so the metrics, the sampler and the report share one rounding."""

from __future__ import annotations

import torch
from torch import Tensor


def to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] (float) or uint8 -> uint8 (N, C, H, W)."""
    if images.dtype == torch.uint8:
        return images
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)

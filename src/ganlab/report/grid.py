"""Image grids written with Pillow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from torch import Tensor

from ganlab.atomic import write_atomically
from ganlab.pixels import to_uint8

__all__ = ["make_grid", "save_grid", "to_uint8"]


def make_grid(images: Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) -> one (H', W', C) uint8 array laid out in rows of ``nrow``."""
    imgs = to_uint8(images).cpu()
    n, c, h, w = imgs.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    ncol = math.ceil(n / nrow)
    canvas = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, c), 255, np.uint8)
    arr = imgs.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, q = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        canvas[y:y + h, x:x + w] = arr[i]
    return canvas


def save_grid(images: Tensor, path: Path, nrow: int | None = None, scale: int = 1) -> Path:
    """Write images as one PNG grid (atomically); ``scale`` enlarges small images."""
    canvas = make_grid(images, nrow)
    mode = "L" if canvas.shape[2] == 1 else ("RGBA" if canvas.shape[2] == 4 else "RGB")
    img = Image.fromarray(canvas[:, :, 0] if mode == "L" else canvas, mode)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return write_atomically(path, lambda tmp: img.save(tmp, format="PNG"))

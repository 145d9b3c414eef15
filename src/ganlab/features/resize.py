"""Resizing uint8 images to a feature extractor's input size.

``tf1-bilinear`` reproduces TensorFlow 1's ``resize_bilinear`` (align_corners=False, no half-pixel
centres, no antialiasing): source = destination x in/out, on 0-255 float values. This is what
the reference FID code feeds the Inception network. ``clean`` is PIL's bicubic filter on float
values per channel (antialiased when shrinking), as proposed by clean-fid.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

RESIZE_MODES = ("tf1-bilinear", "clean")


def _tf1_axis(in_size: int, out_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lower index, upper index and lerp weight along one axis (float32 like TF)."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(src)
    lerp = (src - lower).astype(np.float32)
    lo = np.clip(lower.astype(np.int64), 0, in_size - 1)
    hi = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    return torch.from_numpy(lo), torch.from_numpy(hi), torch.from_numpy(lerp)


def tf1_bilinear_resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize (N,C,H,W) values (any dtype, returned float32) with TF1's bilinear mapping."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    x = x.float()
    _, _, h, w = x.shape
    if (h, w) == (out_h, out_w):
        return x
    xlo, xhi, xl = _tf1_axis(w, out_w)
    ylo, yhi, yl = _tf1_axis(h, out_h)
    left = x.index_select(3, xlo)
    right = x.index_select(3, xhi)
    rows = left + (right - left) * xl  # interpolate along width first, as TF does
    top = rows.index_select(2, ylo)
    bottom = rows.index_select(2, yhi)
    return top + (bottom - top) * yl[:, None]


def clean_resize(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize (N,C,H,W) 0-255 values with PIL bicubic on float32 per channel, clipped to 0-255."""
    out_h, out_w = (size, size) if isinstance(size, int) else size
    arr = x.float().cpu().numpy()
    n, c, h, w = arr.shape
    if (h, w) == (out_h, out_w):
        return x.float()
    out = np.empty((n, c, out_h, out_w), dtype=np.float32)
    for i in range(n):
        for j in range(c):
            img = Image.fromarray(np.ascontiguousarray(arr[i, j]))
            out[i, j] = np.asarray(img.resize((out_w, out_h), Image.Resampling.BICUBIC))
    return torch.from_numpy(np.clip(out, 0.0, 255.0))


def resize_images(x: torch.Tensor, size: int | tuple[int, int], mode: str) -> torch.Tensor:
    """Dispatch on a resize mode name (see RESIZE_MODES)."""
    if mode == "tf1-bilinear":
        return tf1_bilinear_resize(x, size)
    if mode == "clean":
        return clean_resize(x, size)
    raise ValueError(f"unknown resize mode {mode!r}; choose one of {', '.join(RESIZE_MODES)}")

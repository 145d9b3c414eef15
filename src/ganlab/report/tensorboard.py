"""TensorBoard logging: ganlab's small adapter over ``torch.utils.tensorboard.SummaryWriter``.

The training loop writes ``RUN/tensorboard/events.out.tfevents.*`` through :class:`EventWriter`
when ``train.tensorboard=true``; watch a run with ``tensorboard --logdir runs/``. Writing needs
the ``tensorboard`` package (the ``tensorboard`` extra, or ``pip install tensorboard``), which is
imported only when an :class:`EventWriter` is made, so ``import ganlab`` stays fast.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganlab.errors import GanlabError
from ganlab.extras import install_hint

# Seconds between background flushes of pending events (SummaryWriter's default is 120).
FLUSH_SECS = 10


def _png_array(path: str | Path) -> np.ndarray:
    """A PNG file as a uint8 array: (H, W) for greyscale, (H, W, 3|4) otherwise."""
    from PIL import Image

    with Image.open(path) as opened:
        im: Image.Image = opened
        if im.mode not in ("L", "RGB", "RGBA"):
            has_alpha = "A" in im.getbands() or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        return np.asarray(im, dtype=np.uint8).copy()


class EventWriter:
    """Scalars, images and text for TensorBoard, written to one event file in ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise GanlabError(f"TensorBoard logging needs tensorboard: "
                              f"{install_hint('tensorboard')} (or set train.tensorboard=false)"
                              ) from exc
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writer: Any = SummaryWriter(log_dir=str(self.folder), flush_secs=FLUSH_SECS)

    def add_scalars(self, step: int, values: Mapping[str, Any], prefix: str = "") -> int:
        """Write every finite int/float of ``values`` as the scalar ``prefix + key``.

        Anything else (strings, dicts, None, bools, NaN, inf) is skipped; returns how many
        scalars were written.
        """
        n = 0
        for key, value in values.items():
            if (isinstance(value, numbers.Real) and not isinstance(value, bool)
                    and math.isfinite(float(value))):
                self._writer.add_scalar(prefix + key, float(value), global_step=int(step))
                n += 1
        return n

    def add_image(self, step: int, tag: str, image: str | Path | np.ndarray) -> None:
        """Write an image summary: ``image`` is a PNG path or a uint8 array (H, W, C) / (H, W)."""
        arr = _png_array(image) if isinstance(image, str | Path) else np.asarray(image)
        if arr.dtype != np.uint8:
            raise GanlabError(f"add_image({tag!r}) needs a uint8 array, got {arr.dtype}")
        if arr.ndim == 2:
            formats = "HW"
        elif arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
            formats = "HWC"
        else:
            raise GanlabError(f"add_image({tag!r}) needs (H, W) or (H, W, 1|3|4), "
                              f"got shape {arr.shape}")
        self._writer.add_image(tag, arr, global_step=int(step), dataformats=formats)

    def add_png(self, step: int, tag: str, path: str | Path) -> None:
        """Write a PNG file as an image summary (the same as :meth:`add_image` with a path)."""
        self.add_image(step, tag, Path(path))

    def add_text(self, step: int, tag: str, text: str) -> None:
        """Write a text summary (shown in TensorBoard's Text tab)."""
        self._writer.add_text(tag, text, global_step=int(step))

    def flush(self) -> None:
        """Write pending events to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file; calling it again does nothing."""
        self._writer.close()

"""Image files and conversions: decoding, channel modes, resizing, folders, scaling to [-1, 1].

The leaf every image module reads files through (:mod:`ganlab.data.images`,
:mod:`ganlab.data.emoji`, :mod:`ganlab.data.stream`, :mod:`ganlab.data.pairs`, the translate
command); it imports no other data module, and no torch.

Conversions are explicit and documented here:

* resolution: a non-square image is centre-cropped to a square, then resized with Pillow's
  bicubic filter (Lanczos when shrinking), see :func:`resize`;
* channels: 1 -> 3 repeats the grey plane, 3 -> 1 is Pillow's ITU-R 601-2 luma
  (``L = (299 R + 587 G + 114 B) / 1000``), 4 -> 3 composites the alpha over white, see
  :func:`to_mode`;
* scaling to the network: ``x / 127.5 - 1`` in [-1, 1], see :func:`to_float`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganlab.errors import GanlabError

if TYPE_CHECKING:
    from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MODES = {1: "L", 3: "RGB", 4: "RGBA"}   # channels -> Pillow mode


def open_image(path: Path) -> Image.Image:
    """Decode one image file. Anything that goes wrong (a corrupt or truncated file, a
    decompression bomb: more pixels than Pillow's ``Image.MAX_IMAGE_PIXELS``, even in the range
    where Pillow only warns) is a one-line :class:`GanlabError` naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise GanlabError(f"{path}: refused: {str(exc).rstrip('.')}; it is hostile or far too "
                          "large to train on, shrink it or remove it") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise GanlabError(f"{path}: cannot decode the image ({exc}); the file is corrupt or "
                          "truncated, delete or replace it") from exc
    except Exception as exc:  # a decoder tripping over hostile bytes in its own way
        raise GanlabError(f"{path}: cannot decode the image ({type(exc).__name__}: {exc}); the "
                          "file is corrupt, delete or replace it") from exc


def image_mode(img: Image.Image) -> int:
    """Channels an image naturally has: 1 (grey), 3 (colour) or 4 (with alpha)."""
    if img.mode in ("1", "L", "I", "I;16", "F"):
        return 1
    if img.mode in ("LA", "RGBA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return 4
    return 3


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """``img`` with ``channels`` channels (1: luma, 3: RGB, alpha composited over white, 4)."""
    if channels == 1:
        return img.convert("L")
    if channels == 4:
        return img.convert("RGBA")
    if image_mode(img) == 4:  # composite over white
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return img.convert("RGB")


def resize(img: Image.Image, resolution: int) -> Image.Image:
    """``img`` centre-cropped to a square, then resized to ``resolution`` (Lanczos when
    shrinking, bicubic when growing)."""
    w, h = img.size
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    if img.size[0] == resolution:
        return img
    filt = Image.Resampling.LANCZOS if img.size[0] > resolution else Image.Resampling.BICUBIC
    return img.resize((resolution, resolution), filt)


def list_folder(root: str | Path, limit: int | None = None
                ) -> tuple[list[Path], np.ndarray | None, list[str] | None]:
    """The image files under ``root`` (recursive, sorted by path, the first ``limit``), their
    int64 labels and the class names, without decoding anything.

    When every file lies in a first-level subfolder, the subfolders (sorted) are the classes
    and give the labels; otherwise labels and class names are None.
    """
    root = Path(root)
    if not root.is_dir():
        raise GanlabError(f"folder:{root}: no such folder")
    files = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise GanlabError(f"folder:{root}: the folder holds no images "
                          f"({', '.join(IMAGE_SUFFIXES)}, searched recursively)")
    if limit:
        files = files[:limit]
    rel = [p.relative_to(root).parts for p in files]
    if not all(len(parts) >= 2 for parts in rel):
        return files, None, None
    classes = sorted({parts[0] for parts in rel})
    index = {c: i for i, c in enumerate(classes)}
    return files, np.array([index[parts[0]] for parts in rel], dtype=np.int64), classes


def read_image_files(files: list[Path], resolution: int | None, channels: int | None,
                     what: str) -> np.ndarray:
    """``files`` decoded into one uint8 array (N, C, H, W), in order.

    Without ``channels`` the set is grey if every image is grey, else RGB; without
    ``resolution`` all images must share one square size (else an error naming ``what``).
    """
    imgs = [open_image(p) for p in files]
    if channels is None:
        channels = 1 if all(image_mode(im) == 1 for im in imgs) else 3
    if resolution is None:
        sizes = {im.size for im in imgs}
        if len(sizes) > 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
            raise GanlabError(f"{what}: images have sizes {sorted(sizes)[:4]}; set "
                              "data.resolution to crop and resize them to one square size")
    return _stack(imgs, resolution, channels)


def _stack(imgs: Iterable[Image.Image], resolution: int | None, channels: int) -> np.ndarray:
    """Images in ``channels`` channels (and at ``resolution``, when given) as one uint8
    array (N, C, H, W)."""
    arrays = []
    for im in imgs:
        im = to_mode(im, channels)
        if resolution is not None:
            im = resize(im, resolution)
        a = np.asarray(im, dtype=np.uint8)
        arrays.append(a[:, :, None] if a.ndim == 2 else a)
    return np.stack(arrays).transpose(0, 3, 1, 2).copy()


def read_folder(root: str | Path, resolution: int | None = None, channels: int | None = None,
                limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """PNG/JPEG/WebP files under ``root`` (recursive), sorted by path: uint8 (N, C, H, W)
    and int64 labels or None.

    When every image lies in a first-level subfolder, the subfolders (sorted) are the classes
    and give the labels; otherwise there are none (see :func:`list_folder`). Without
    ``resolution`` all images must share one square size; without ``channels`` the set is grey
    if every image is grey, else RGB.
    """
    root = Path(root)
    files, labels, _ = list_folder(root, limit)
    return read_image_files(files, resolution, channels, f"folder:{root}"), labels


def convert(images: np.ndarray, resolution: int | None = None,
            channels: int | None = None) -> np.ndarray:
    """uint8 (N, C, H, W) -> the requested square ``resolution`` and ``channels`` (see module)."""
    n, c, h, w = images.shape
    if channels not in (None, 1, 3, 4):
        raise GanlabError(f"data.channels: must be 1, 3 or 4, got {channels}")
    if resolution is not None and resolution < 4:
        raise GanlabError(f"data.resolution: must be >= 4, got {resolution}")
    target_c = channels or c
    if (resolution is None or (h == w == resolution)) and target_c == c:
        return images
    return _stack((Image.fromarray(a[:, :, 0] if c == 1 else a, MODES[c])
                   for a in images.transpose(0, 2, 3, 1)), resolution, target_c)


def to_float(images: Tensor) -> Tensor:
    """uint8 images -> float32 in [-1, 1] (``x / 127.5 - 1``)."""
    return images.float().div_(127.5).sub_(1.0)

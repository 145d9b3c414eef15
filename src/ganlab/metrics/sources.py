"""Turn a command-line input (folder, .npz, dataset name, run folder) into uint8 (N,C,H,W)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.features import _realdata

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
DATASETS = (
    "fashion-mnist:train",
    "fashion-mnist:test",
    "mnist-5k",
    "mnist-5k:train",
    "mnist-5k:test",
    "digits",
)


@dataclass
class ImageSet:
    """Images with where they came from, and labels when known."""

    images: np.ndarray  # uint8 (N,C,H,W)
    name: str
    labels: np.ndarray | None = None


def to_nchw(arr: np.ndarray, where: str) -> np.ndarray:
    """uint8 (N,H,W), (N,H,W,C) or (N,C,H,W) -> (N,C,H,W)."""
    if arr.dtype != np.uint8:
        raise GanlabError(f"{where}: images must be uint8, got {arr.dtype}")
    if arr.ndim == 3:
        return arr[:, None]
    if arr.ndim != 4:
        raise GanlabError(
            f"{where}: images must be (N,H,W[,C]) or (N,C,H,W), got shape {arr.shape}"
        )
    if arr.shape[1] not in (1, 3, 4) and arr.shape[-1] in (1, 3, 4):
        arr = arr.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr)


def load_folder(path: Path) -> np.ndarray:
    """All images in a folder (sorted by name), which must share one size."""
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GanlabError(f"empty folder: no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
    arrays = []
    for f in files:
        with Image.open(f) as im:
            mode = "L" if im.mode in ("L", "1", "I", "I;16") else "RGB"
            a = np.asarray(im.convert(mode))
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        if arrays and a.shape != arrays[0].shape:
            raise GanlabError(
                f"mismatched image sizes in {path}: {files[0].name} is {arrays[0].shape} (C,H,W) "
                f"but {f.name} is {a.shape}"
            )
        arrays.append(a)
    return np.stack(arrays)


def load_npz(path: Path) -> np.ndarray:
    """The 'images' array of an .npz file."""
    try:
        with np.load(path) as z:
            if "images" not in z:
                raise GanlabError(f"{path} has no 'images' key (keys: {', '.join(z.files)})")
            return to_nchw(z["images"], str(path))
    except (OSError, ValueError) as exc:
        raise GanlabError(f"cannot read {path}: {exc}") from exc


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A named real dataset: images uint8 (N,1,H,W) and labels."""
    if name == "fashion-mnist":
        name = "fashion-mnist:train"
    if name.startswith("fashion-mnist:"):
        return _realdata.fashion_mnist(name.split(":", 1)[1])
    if name == "mnist-5k" or name.startswith("mnist-5k:"):
        return _realdata.mnist5k(name.split(":", 1)[1] if ":" in name else "all")
    if name == "digits":
        return _realdata.sklearn_digits()
    raise GanlabError(
        f"unknown dataset or path {name!r}: give a folder, an .npz file, a run folder, "
        f"or one of {', '.join(DATASETS)}"
    )


def is_run_folder(path: Path) -> bool:
    """A training run folder holds a config and checkpoints."""
    return (path / "config.yaml").is_file() or (path / "checkpoints").is_dir()


def sample_run(path: Path, n: int, seed: int) -> np.ndarray:
    """n samples from a run folder's generator."""
    from ganlab.sampling import load_generator  # written elsewhere; imported only when needed

    gen = load_generator(path)
    images = gen.sample(n, seed)
    arr = images.cpu().numpy() if hasattr(images, "cpu") else np.asarray(images)
    return to_nchw(arr, str(path))


def _subset(images: np.ndarray, labels: np.ndarray | None, n: int | None, seed: int):
    if n is None or n >= len(images):
        return images, labels
    idx = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    return images[idx], (None if labels is None else labels[idx])


def load_images(spec: str, n: int | None = None, seed: int = 0) -> ImageSet:
    """Resolve an input spec; ``n`` caps datasets (seeded subset) and sets a run's sample count."""
    path = Path(spec)
    labels = None
    if path.is_dir():
        if is_run_folder(path):
            return ImageSet(sample_run(path, n or 10_000, seed), f"run:{path}")
        images = load_folder(path)
    elif path.suffix == ".npz":
        if not path.is_file():
            raise GanlabError(f"file not found: {path}")
        images = load_npz(path)
    else:
        images, labels = load_dataset(spec)
    images, labels = _subset(images, labels, n, seed)
    return ImageSet(images, spec, labels)

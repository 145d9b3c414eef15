"""Turn a command-line input (folder, .npz, .npy, dataset name, run folder) into uint8 (N,C,H,W).

Array files: an ``.npy`` image array; an ``.npz`` whose ``images`` array (with optional
``labels``) or whose only array (whatever its name) holds the images; or ADM's (guided-diffusion)
batches, whose images are ``arr_0`` beside other arrays. Images are :data:`LAYOUTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganlab.data.imageio import read_folder
from ganlab.data.registry import find_image_set, image_sets
from ganlab.errors import GanlabError

LAYOUTS = (
    "(N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1, 3 or 4, "
    "uint8 (0-255) or float in [0, 1]"
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


def load_folder(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images under a folder, read as training reads them (recursive; class subfolders give
    labels; RGBA composited over white). They must share one size: eval compares images as
    they are and never resizes behind the user's back."""
    try:
        return read_folder(path)
    except GanlabError as exc:
        msg = str(exc)
        if "holds no images" in msg:
            raise GanlabError(f"empty folder: {msg}") from None
        if "images have sizes" in msg:
            raise GanlabError(
                f"mismatched image sizes in {path}: {msg.split('have sizes ')[1].split(';')[0]}; "
                "resize them to one size first"
            ) from None
        raise


def array_to_images(arr: np.ndarray, where: str) -> np.ndarray:
    """An image array in any of the :data:`LAYOUTS` -> contiguous uint8 (N,C,H,W).

    A 4-D array whose last axis is 1, 3 or 4 is read as channels-last (as training reads an
    .npz); floats are scaled by 255 and rounded. NaN or infinite values are refused.
    """
    def bad(why: str) -> GanlabError:
        return GanlabError(
            f"{where}: cannot read an array of shape {arr.shape} and dtype {arr.dtype} as "
            f"images ({why}); expected {LAYOUTS}"
        )

    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3, 4):
        arr = arr.transpose(0, 3, 1, 2)
    elif arr.ndim != 4 or arr.shape[1] not in (1, 3, 4):
        raise bad(f"{arr.ndim}-D" if arr.ndim != 4 else "no axis of 1, 3 or 4 channels")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if not np.issubdtype(arr.dtype, np.floating):
        raise bad("neither uint8 nor float")
    if arr.size and not np.isfinite(arr).all():
        raise GanlabError(
            f"{where}: images contain NaN or infinite values "
            f"({int((~np.isfinite(arr)).sum())} entries); metrics refuse them"
        )
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise bad(f"float values in [{arr.min():.4g}, {arr.max():.4g}], not in [0, 1]")
    return np.ascontiguousarray(np.round(arr * 255).astype(np.uint8))


def load_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (and labels) of an .npz: its ``images`` array (with optional ``labels``), its only
    array whatever its name, or ADM's ``arr_0``; see :data:`LAYOUTS`."""
    import zipfile

    if not path.is_file():
        raise GanlabError(f"file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = list(z.files)
            if "images" in files:
                key = "images"
            elif len(files) == 1:
                key = files[0]
            elif "arr_0" in files:
                key = "arr_0"  # ADM batches: the images, beside statistics or labels
            elif "mu" in files and "sigma" in files:
                raise GanlabError(
                    f"{path} holds statistics (mu, sigma), not images: only FID reads "
                    "statistics; this metric needs the images"
                )
            else:
                raise GanlabError(
                    f"{path}: no 'images' array, and {len(files)} arrays "
                    f"({', '.join(files) or 'none'}) where one would be read as images; "
                    f"give 'images' (and optional 'labels') or a single array, {LAYOUTS}"
                )
            images = z[key]
            labels = z["labels"] if key == "images" and "labels" in files else None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise GanlabError(
            f"{path}: cannot read the npz ({exc}); the file is corrupt or truncated"
        ) from exc
    images = array_to_images(images, f"{path}: '{key}'")
    if labels is not None:
        labels = labels.astype(np.int64).reshape(-1)
        if len(labels) != len(images):
            raise GanlabError(f"{path}: {len(labels)} labels for {len(images)} images")
    return images, labels


def load_npy(path: Path) -> np.ndarray:
    """An .npy image array; see :data:`LAYOUTS`."""
    if not path.is_file():
        raise GanlabError(f"file not found: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise GanlabError(f"{path}: cannot read the .npy ({exc})") from exc
    return array_to_images(arr, str(path))


def dataset_specs() -> list[str]:
    """The named image sets an input may give, one spelling per split: ``NAME:SPLIT``, or
    ``NAME`` alone for a set whose default split is all of it (``mnist-5k``, ``digits``)."""
    return [info.name if split == info.default_split == "all" else f"{info.name}:{split}"
            for info in image_sets() for split in info.splits]


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """A named real dataset (``fashion-mnist:test``, ``mnist``, ``folder:PATH`` ...): any
    registered image set (:mod:`ganlab.data.registry`), its default split when none is
    given."""
    if name.startswith("folder:"):
        return load_folder(Path(name[len("folder:") :]))
    if name.startswith("npz:"):
        return load_npz(Path(name[len("npz:") :]))
    base, _, split = name.partition(":")
    info = find_image_set(base)
    if info is None:
        raise GanlabError(
            f"unknown dataset or path {name!r}: give a folder, an .npz or .npy file, a run folder, "
            f"folder:PATH, npz:PATH, or one of {', '.join(dataset_specs())}"
        )
    from ganlab.data.images import load_images as load_named  # loads torch

    images, labels = load_named(base, split or info.default_split or "train")
    return images.numpy(), None if labels is None else labels.numpy()


def _subset(images: np.ndarray, labels: np.ndarray | None, n: int | None, seed: int
            ) -> tuple[np.ndarray, np.ndarray | None]:
    if n is None or n >= len(images):
        return images, labels
    idx = np.sort(np.random.default_rng(seed).choice(len(images), n, replace=False))
    return images[idx], (None if labels is None else labels[idx])


def load_images(spec: str, n: int | None = None, seed: int = 0) -> ImageSet:
    """Resolve an input spec (a folder, .npz, .npy or dataset name); ``n`` caps it to a seeded
    subset. Run folders are resolved by the command line (:mod:`ganlab.cli.inputs`)."""
    path = Path(spec)
    labels = None
    if path.is_dir():
        images, labels = load_folder(path)
    elif path.suffix == ".npz" and not spec.startswith("npz:"):
        images, labels = load_npz(path)
    elif path.suffix == ".npy":
        images = load_npy(path)
    else:
        images, labels = load_dataset(spec)
    images, labels = _subset(images, labels, n, seed)
    return ImageSet(images, spec, labels)

"""On-disk cache of features and statistics, keyed by what produced them.

The key hashes the image bytes and shape (:func:`images_hash`, also the fingerprint on metric
cards), the extractor card (name, weights sha256, resize, normalisation) and the kind of
artefact. Files are written to a temporary name and renamed, so an interrupted run leaves
nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ganlab.atomic import write_atomically
from ganlab.cache import cache_dir

__all__ = ["cache_dir", "images_hash"]

CACHE_VERSION = 1


def images_hash(images: np.ndarray, chunk: int = 256) -> str:
    """sha256 of a uint8 image array's shape (so N too) and bytes, in order.

    The one fingerprint of an image set in ganlab: the cache key of its features, the
    ``real_fingerprint`` / ``fake_fingerprint`` of a metric card and the ``fingerprint`` of a
    statistics file. Hashed ``chunk`` images at a time (the same digest as hashing all the
    bytes at once), so a memory-mapped or strided set is never copied whole.
    """
    h = hashlib.sha256(str(images.shape).encode())
    for i in range(0, len(images), chunk):
        h.update(np.ascontiguousarray(images[i : i + chunk]).data)
    return h.hexdigest()


def cache_key(kind: str, images_sha: str, extractor_card: dict[str, Any]) -> str:
    """Short hex key for (artefact kind, images, extractor)."""
    blob = json.dumps(
        {"v": CACHE_VERSION, "kind": kind, "images": images_sha, "extractor": extractor_card},
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def load_arrays(key: str) -> dict[str, np.ndarray] | None:
    """Cached arrays for a key, or None (also None if the file is unreadable)."""
    path = cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError):
        return None


def save_arrays(key: str, **arrays: np.ndarray | np.generic) -> Path | None:
    """Atomically write arrays under a key; a cache that cannot be written is skipped."""
    root = cache_dir()
    try:
        return write_atomically(root / f"{key}.npz", lambda tmp: _savez(tmp, arrays))
    except OSError:
        return None


def _savez(path: Path, arrays: dict[str, np.ndarray | np.generic]) -> None:
    with open(path, "wb") as fh:  # a file object: np.savez would append .npz to a name
        np.savez(fh, allow_pickle=False, **arrays)

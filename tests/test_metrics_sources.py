"""Evaluation reads images exactly as training does (folders, npz, dataset names)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.errors import GanlabError
from ganlab.metrics.sources import load_images


def _class_folder(root: Path) -> Path:
    for cls, value in (("cats", 40), ("dogs", 200)):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), value + i).save(root / cls / f"{i}.png")
    return root


def test_folder_with_class_subfolders_gives_images_and_labels(tmp_path: Path) -> None:
    root = _class_folder(tmp_path / "pets")
    for spec in (str(root), f"folder:{root}"):
        got = load_images(spec)
        assert got.images.shape == (6, 1, 8, 8) and got.images.dtype == np.uint8
        assert got.labels is not None and got.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_rgba_is_composited_over_white_as_in_training(tmp_path: Path) -> None:
    (tmp_path / "rgba").mkdir()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "rgba" / "clear.png")
    got = load_images(str(tmp_path / "rgba"))
    assert got.images.max() == 255 and got.images.min() == 255   # transparent = white


def test_float_npz_in_unit_range_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "f.npz"
    np.savez(path, images=np.full((5, 4, 4), 0.5, np.float32), labels=np.arange(5))
    for spec in (str(path), f"npz:{path}"):
        got = load_images(spec)
        assert got.images.shape == (5, 1, 4, 4) and int(got.images[0, 0, 0, 0]) == 128
        assert got.labels is not None and got.labels.tolist() == [0, 1, 2, 3, 4]


def test_unknown_name_lists_what_is_accepted() -> None:
    with pytest.raises(GanlabError, match="folder:PATH, npz:PATH, or one of fashion-mnist"):
        load_images("cifar-10:test")

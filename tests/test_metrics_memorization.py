"""Memorization flags a copied and a mirrored training image and draws the pairs."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganlab import metrics
from ganlab.metrics import nearest_train as mem


def _data(seed: int = 0, n: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 1, 8, 8), dtype=np.uint8)


def test_copy_and_mirror_flagged(tmp_path) -> None:
    train, test = _data(0), _data(1, 200)
    fake = _data(2, 10)
    fake[3] = train[7]  # exact copy
    fake[6] = train[12][..., ::-1]  # mirrored copy
    res = metrics.memorization(fake, train, test, grid_path=tmp_path / "pairs.png")
    v = res.values
    assert set(v["pixel_flagged"][:2]) == {3, 6}  # flagged, closest first
    assert v["pixel_nearest_index"][3] == 7 and not v["pixel_nearest_mirrored"][3]
    assert v["pixel_nearest_index"][6] == 12 and v["pixel_nearest_mirrored"][6]
    assert v["pixel_fraction_closer"] >= 0.2
    assert v["pixel_min_distance"] < 1e-6
    img = Image.open(v["grid"])
    assert img.size[0] > 16 and img.mode == "RGB"
    assert res.card.metric == "memorization" and res.card.n_fake == 10


def test_without_test_set_uses_leave_one_out() -> None:
    train = _data(3)
    ref = mem.reference_distances(train, None)
    assert ref.shape == (40,) and ref.min() > 0


def test_no_mirror_option() -> None:
    train = _data(4)
    fake = np.ascontiguousarray(train[:2, ..., ::-1])
    nn = mem.pixel_neighbours(fake, train, mirror=False)
    assert not nn.mirrored.any() and nn.distance.min() > 0
    nn = mem.pixel_neighbours(fake, train, mirror=True)
    assert nn.mirrored.all() and nn.distance.max() < 1e-6

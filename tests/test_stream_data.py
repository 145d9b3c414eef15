"""The streamed folder source: batches, epochs, workers, exact resume, augmentation, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.config import DataConfig
from ganlab.data import build_data
from ganlab.data.images import list_folder, read_folder
from ganlab.data.stream import StreamingImageSource
from ganlab.errors import GanlabError


def write_folder(root: Path, n: int = 7, classes: tuple[str, ...] = (), size: int = 12) -> Path:
    """``n`` small random RGB PNGs (12x14: not square), optionally in class subfolders."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / classes[i % len(classes)] if classes else root
        folder.mkdir(parents=True, exist_ok=True)
        a = rng.integers(0, 256, (size, size + 2, 3), dtype=np.uint8)  # non-square on purpose
        Image.fromarray(a).save(folder / f"img{i:02d}.png")
    return root


def source(root: Path, **kw: object) -> StreamingImageSource:
    fields = {"name": f"folder:{root}", "stream": True, "resolution": 8, "workers": 0} | kw
    src = build_data(DataConfig(**fields))  # type: ignore[arg-type]
    assert isinstance(src, StreamingImageSource)
    return src


def take(src: StreamingImageSource, sizes: list[int], seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [src.batch(n, g).x for n in sizes]  # type: ignore[misc]


def test_batches_shape_range_and_spec(tmp_path: Path) -> None:
    src = source(write_folder(tmp_path), channels=1)
    b = src.batch(5, torch.Generator().manual_seed(0))
    assert b.x is not None and b.x.shape == (5, 1, 8, 8) and b.x.dtype == torch.float32
    assert b.x.min() >= -1.0 and b.x.max() <= 1.0 and b.labels is None
    spec = src.spec()
    assert spec.kind == "images" and spec.sample_shape == (1, 8, 8) and spec.num_classes is None


def test_every_image_once_per_epoch(tmp_path: Path) -> None:
    # without augmentation an example is the file resized, as the in-memory reader makes it
    root = write_folder(tmp_path, n=7)
    reference, _ = read_folder(root, resolution=8, channels=3)
    ref = {r.tobytes(): i for i, r in enumerate(reference)}
    src = source(root)
    seen: list[list[int]] = []
    for _ in range(3):  # three epochs of 7 drawn in batches of 3, 4 (crossing boundaries)
        xs = torch.cat(take(src, [3, 4], seed=len(seen)))
        u8 = ((xs + 1) * 127.5).round().to(torch.uint8).numpy()
        seen.append([ref[a.tobytes()] for a in u8])
    for epoch in seen:
        assert sorted(epoch) == list(range(7))
    assert seen[0] != seen[1]  # a new permutation each epoch


def test_workers_give_identical_batches(tmp_path: Path) -> None:
    root = write_folder(tmp_path, n=6)
    kw = {"load_size": 11, "flip": True}
    sizes = [4, 5, 3, 4]
    a = take(source(root, workers=0, **kw), sizes)
    b = take(source(root, workers=2, **kw), sizes)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_gives_the_same_batches(tmp_path: Path, workers: int) -> None:
    root = write_folder(tmp_path, n=5)
    kw = {"load_size": 10, "flip": True, "workers": workers}
    g = torch.Generator().manual_seed(3)
    full = source(root, **kw)
    first = [full.batch(3, g).x for _ in range(2)]  # 6 of 5: into the second epoch
    state = full.state_dict()
    g_state = g.get_state()
    rest = [full.batch(n, g).x for n in (4, 2, 3)]  # crosses into the third epoch

    resumed = source(root, **kw)
    resumed.load_state_dict(state)
    g2 = torch.Generator()
    g2.set_state(g_state)
    again = [resumed.batch(n, g2).x for n in (4, 2, 3)]
    assert all(torch.equal(x, y) for x, y in zip(rest, again, strict=True))  # type: ignore[arg-type]
    assert not torch.equal(first[0], rest[0])  # type: ignore[arg-type]
    assert state["epoch"] == 1 and state["pos"] == 1


def test_augmentation_deterministic_and_varies_by_epoch(tmp_path: Path) -> None:
    # one image: every epoch shows it, with the crop and flip of (seed, epoch, position)
    root = write_folder(tmp_path, n=1, size=16)
    kw = {"load_size": 14, "flip": True}
    a = take(source(root, **kw), [1] * 6)
    b = take(source(root, **kw), [1] * 6)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert len({x.numpy().tobytes() for x in a}) > 1
    c = take(source(root, **kw), [1] * 6, seed=1)
    assert any(not torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_labels_from_class_subfolders(tmp_path: Path) -> None:
    root = write_folder(tmp_path, n=6, classes=("cat", "dog"))
    _, labels, names = list_folder(root)
    assert names == ["cat", "dog"] and labels is not None
    src = source(root, labels=True)
    spec = src.spec()
    assert spec.num_classes == 2 and spec.class_names == ["cat", "dog"]
    b = src.batch(6, torch.Generator().manual_seed(0))
    assert b.labels is not None and b.labels.dtype == torch.int64
    assert sorted(b.labels.tolist()) == [0, 0, 0, 1, 1, 1]


def test_missing_resolution_and_bad_load_size(tmp_path: Path) -> None:
    root = write_folder(tmp_path, n=2)
    with pytest.raises(GanlabError, match="data.resolution"):
        source(root, resolution=None)
    with pytest.raises(GanlabError, match="data.load_size"):
        source(root, load_size=6)


@pytest.mark.parametrize("workers", [0, 2])
def test_corrupt_png_names_the_file(tmp_path: Path, workers: int) -> None:
    root = write_folder(tmp_path, n=3)
    bad = root / "img01.png"
    bad.write_bytes(bad.read_bytes()[:40])
    src = source(root, workers=workers, channels=3)
    with pytest.raises(GanlabError, match="img01.png") as info:
        src.batch(3, torch.Generator().manual_seed(0))
    assert "Traceback" not in str(info.value)
    assert src.state_dict()["pos"] == 0

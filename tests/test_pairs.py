"""Image-to-image data: the edge builder, paired folders (matching, errors, streaming with one
crop and flip per pair), unpaired sets (independent, resumable), and domain names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab import config
from ganlab.config import DataConfig
from ganlab.data import build_data
from ganlab.data.pairs import (
    emoji_category,
    grey_of,
    match_pairs,
    sobel_edges,
)
from ganlab.errors import GanlabError


def _square(size: int = 32, lo: int = 10, hi: int = 22) -> torch.Tensor:
    img = torch.zeros(1, 1, size, size, dtype=torch.uint8)
    img[..., lo:hi, lo:hi] = 255
    return img


def test_edges_of_a_square_lie_on_its_border_only() -> None:
    edges = sobel_edges(_square())[0, 0] > 0
    lo, hi = 10, 22   # the square covers rows/cols lo .. hi-1
    # every pixel next to the boundary (just inside or just outside) is an edge ...
    for i in range(lo, hi):
        assert edges[lo - 1, i] and edges[lo, i] and edges[hi - 1, i] and edges[hi, i]
        assert edges[i, lo - 1] and edges[i, lo] and edges[i, hi - 1] and edges[i, hi]
    # ... and nothing well inside or well outside is
    assert not edges[lo + 2:hi - 2, lo + 2:hi - 2].any()
    outside = edges.clone()
    outside[lo - 2:hi + 2, lo - 2:hi + 2] = False
    assert not outside.any()


def test_edges_ignore_the_frame_and_flat_images() -> None:
    flat = torch.full((2, 3, 16, 16), 200, dtype=torch.uint8)
    assert sobel_edges(flat).sum() == 0    # replicated borders: the frame is no edge
    assert sobel_edges(flat).shape == (2, 1, 16, 16)


def test_grey_is_the_luma() -> None:
    img = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    img[:, 1] = 255   # pure green
    assert int(grey_of(img)[0, 0, 0, 0]) == round(0.587 * 255)


def _write(folder: Path, names: list[str], size: int = 40, grey: bool = True,
           seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        a = rng.integers(0, 256, (size, size), dtype=np.uint8)
        img = Image.fromarray(a) if grey else Image.fromarray(np.stack([a] * 3, -1))
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        img.save(folder / name)


def test_pairs_match_by_name_whatever_the_suffix(tmp_path: Path) -> None:
    _write(tmp_path / "a", ["x.png", "sub/y.png"])
    _write(tmp_path / "b", ["x.jpg", "sub/y.png"], grey=False)
    a, b = match_pairs(tmp_path / "a", tmp_path / "b")
    assert [p.stem for p in a] == [p.stem for p in b] == ["y", "x"]   # sorted by sub/y, x


def test_unmatched_names_are_one_line_listing_a_few(tmp_path: Path) -> None:
    _write(tmp_path / "a", [f"only{i}.png" for i in range(6)] + ["both.png"])
    _write(tmp_path / "b", ["both.png", "lonely.png"])
    with pytest.raises(GanlabError) as err:
        build_data(DataConfig(name=f"pairs:{tmp_path / 'a'},{tmp_path / 'b'}"))
    msg = str(err.value)
    assert "\n" not in msg
    assert "6 only in" in msg and "only0" in msg and "and 2 more" in msg
    assert "1 only in" in msg and "lonely" in msg


@pytest.mark.parametrize("name, needle", [
    ("pairs:{a}", "exactly two"),
    ("pairs:{a},{a},{a}", "exactly two"),
    ("pairs:{a},{missing}", "no such folder"),
    ("pairs:{a},{empty}", "holds no images"),
    ("unpaired:{a}", "exactly two"),
    ("unpaired:{a},nonsense-set", "unknown domain"),
    ("edges:emoji/Nope", "does not exist"),
])
def test_pairs_loader_errors(tmp_path: Path, name: str, needle: str) -> None:
    _write(tmp_path / "a", ["x.png"])
    (tmp_path / "empty").mkdir()
    spec = name.format(a=tmp_path / "a", missing=tmp_path / "missing", empty=tmp_path / "empty")
    with pytest.raises(GanlabError, match=needle) as err:
        build_data(DataConfig(name=spec))
    assert "\n" not in str(err.value)


def test_paired_folders_in_memory(tmp_path: Path) -> None:
    _write(tmp_path / "a", [f"{i}.png" for i in range(5)])
    _write(tmp_path / "b", [f"{i}.png" for i in range(5)], grey=False)
    src = build_data(DataConfig(name=f"pairs:{tmp_path / 'a'},{tmp_path / 'b'}",
                                resolution=32))
    spec = src.spec()
    assert spec.sample_shape == (1, 32, 32) and spec.target_shape == (3, 32, 32)
    assert spec.extra["paired"] is True
    b = src.batch(4, torch.Generator().manual_seed(0))
    assert b.x.shape == (4, 1, 32, 32) and b.target.shape == (4, 3, 32, 32)
    # the same picture on both sides: the pairs stayed together
    assert torch.allclose(b.x, b.target.mean(1, keepdim=True), atol=0.02)


def test_streamed_pairs_share_one_crop_and_flip_and_resume(tmp_path: Path) -> None:
    _write(tmp_path / "a", [f"{i}.png" for i in range(6)])
    _write(tmp_path / "b", [f"{i}.png" for i in range(6)], grey=False)
    cfg = DataConfig(name=f"pairs:{tmp_path / 'a'},{tmp_path / 'b'}", resolution=24,
                     load_size=32, flip=True, stream=True, workers=0)
    src = build_data(cfg)
    g = torch.Generator().manual_seed(0)
    first = src.batch(4, g)
    assert torch.allclose(first.x, first.target.mean(1, keepdim=True), atol=0.02)
    state, g_state = src.state_dict(), g.get_state()
    nxt = src.batch(5, g)
    again = build_data(cfg)
    again.load_state_dict(state)
    g.set_state(g_state)
    assert torch.equal(again.batch(5, g).x, nxt.x)


def test_unpaired_domains_are_independent_and_resumable(tmp_path: Path) -> None:
    _write(tmp_path / "a", [f"{i}.png" for i in range(7)], seed=1)
    _write(tmp_path / "b", [f"{i}.png" for i in range(5)], grey=False, seed=2)
    cfg = DataConfig(name=f"unpaired:{tmp_path / 'a'},folder:{tmp_path / 'b'}",
                     resolution=16)
    src = build_data(cfg)
    spec = src.spec()
    assert spec.extra["paired"] is False and len(spec.extra["domains"]) == 2
    assert spec.sample_shape == (1, 16, 16) and spec.target_shape == (3, 16, 16)
    g = torch.Generator().manual_seed(0)
    src.batch(3, g)
    state, g_state = src.state_dict(), g.get_state()
    assert set(state) == {"A", "B"}
    b1 = src.batch(6, g)
    other = build_data(cfg)
    other.load_state_dict(state)
    g.set_state(g_state)
    b2 = other.batch(6, g)
    assert torch.equal(b1.x, b2.x) and torch.equal(b1.target, b2.target)


def test_unpaired_sizes_must_agree(tmp_path: Path) -> None:
    _write(tmp_path / "a", ["x.png"], size=16)
    _write(tmp_path / "b", ["y.png"], size=20)
    with pytest.raises(GanlabError, match="data.resolution"):
        build_data(DataConfig(name=f"unpaired:{tmp_path / 'a'},{tmp_path / 'b'}"))


def test_emoji_aliases_and_gray_of_grey(tmp_path: Path) -> None:
    assert emoji_category("emoji-smileys") == "Smileys & Emotion"
    assert emoji_category("emoji/Animals & Nature") == "Animals & Nature"
    assert emoji_category("fashion-mnist") is None
    _write(tmp_path / "g", ["x.png"])
    with pytest.raises(GanlabError, match="already greyscale"):
        build_data(DataConfig(name=f"gray:folder:{tmp_path / 'g'}"))


def test_edges_of_a_folder_and_config_names(tmp_path: Path) -> None:
    _write(tmp_path / "f", [f"{i}.png" for i in range(3)], size=28)
    src = build_data(DataConfig(name=f"edges:{tmp_path / 'f'}"))
    b = src.batch(2, torch.Generator().manual_seed(0))
    assert set(b.x.unique().tolist()) <= {-1.0, 1.0}   # a binary edge map
    assert src.spec().extra["domains"][0].startswith("edges of")
    # the names pass config validation; stream is allowed for folder pairs only
    config.load(preset="edges2fashion", overrides=[f"data.name=pairs:{tmp_path},{tmp_path}",
                                                   "data.stream=true"])
    with pytest.raises(GanlabError, match="stream"):
        config.load(preset="edges2fashion", overrides=["data.stream=true"])


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="needs Debian's dataset-fashion-mnist")
def test_edges_of_fashion_mnist_and_its_held_out_split() -> None:
    from ganlab.data.pairs import held_out

    cfg = DataConfig(name="edges:fashion-mnist", limit=64)
    src = build_data(cfg)
    spec = src.spec()
    assert spec.sample_shape == spec.target_shape == (1, 28, 28)
    assert spec.num_classes == 10 and spec.class_names[0] == "T-shirt/top"
    b = src.batch(8, torch.Generator().manual_seed(0))
    assert b.labels is not None and b.labels.shape == (8,)
    test, note = held_out(cfg)
    assert note == "fashion-mnist test split" and len(test) == 64
    ex = test.examples(4)
    # each input is the edge map of its own target
    recomputed = sobel_edges(((ex.target + 1) * 127.5).round().to(torch.uint8))
    assert torch.equal(((ex.x + 1) * 127.5).round().to(torch.uint8), recomputed)

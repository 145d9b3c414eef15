"""Fuzzing the parsers and loaders with hypothesis: whatever the input (random nested data,
random override strings, random bytes, random arrays in an .npz, damaged images), the only
exception that may escape is :class:`GanlabError` (one line for the user), never another.

Examples are bounded and derandomised, so CI runs the same inputs every time; set
``GANLAB_FUZZ_EXAMPLES=2000`` (and ``GANLAB_FUZZ_RANDOM=1`` for fresh inputs) to search
harder locally.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ganlab import config
from ganlab.errors import GanlabError

EXAMPLES = int(os.environ.get("GANLAB_FUZZ_EXAMPLES", "40"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("GANLAB_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def only_ganlab_errors(fn: Callable[[], Any]) -> Any:
    """Call ``fn``; a GanlabError is fine (and must be one line), anything else fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    except GanlabError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return None


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


# -- the config parser --------------------------------------------------------------------------

KEYS = ["name", "seed", "family", "description", "out_dir", "data", "train", "eval", "gan",
        "steps", "batch_size", "lr_decay", "device", "threads", "precision", "keep_checkpoints",
        "model", "arch", "z_dim", "width", "objective", "optim", "G", "D", "lr", "betas", "ema",
        "decay", "n_critic", "means", "weights", "std", "resolution", "channels", "stream",
        "n_samples", "extractor", "reference", "conditional", "on_divergence"]
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
           | st.text(max_size=12) | st.sampled_from(["ring", "mlp", "dcgan", "ns", "cpu",
                                                      "1e-4", "folder:", "npz:x", "../x", ""]))
keys = st.sampled_from(KEYS) | st.text(max_size=8)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(keys, inner, max_size=5), max_leaves=20)


@fuzz
@given(st.dictionaries(keys, values, max_size=8))
def test_from_dict_on_random_trees(data: dict[str, Any]) -> None:
    only_ganlab_errors(lambda: config.from_dict(data))


flat_preset = config.flatten(config.preset_data("ring-ns"))


@fuzz
@given(st.lists(st.tuples(st.sampled_from(sorted(flat_preset)), values), min_size=1,
                max_size=4))
def test_from_dict_on_a_preset_with_values_replaced(changes: list[tuple[str, Any]]) -> None:
    data = config.preset_data("ring-ns")
    for key, value in changes:
        node = data
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    only_ganlab_errors(lambda: config.from_dict(data))


override_text = (st.text(max_size=40)
                 | st.builds(lambda k, v: f"{k}={v}", st.sampled_from(sorted(flat_preset)),
                             st.text(max_size=30))
                 | st.builds(lambda k, v: f"{k}={v}", st.sampled_from(sorted(flat_preset)),
                             st.sampled_from(["2001-13-45", "2001-02-30 25:61:00", "[1, 2",
                                              "{a: 1}", "!!python/object:os.system x",
                                              "&a [*a]", "1e999", "-.inf", ".nan", "0x7fff",
                                              "99999999999999999999999999", "~", "'''"])))


@fuzz
@given(st.lists(override_text, min_size=1, max_size=3))
def test_apply_override_on_random_strings(items: list[str]) -> None:
    def apply() -> None:
        data = config.preset_data("ring-ns")
        for item in items:
            data = config.apply_override(data, item)
        config.from_dict(data)

    only_ganlab_errors(apply)


@fuzz
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: t.encode()))
def test_config_files_of_random_bytes(raw: bytes) -> None:
    with folder() as d:
        path = d / "c.yaml"
        path.write_bytes(raw)
        only_ganlab_errors(lambda: config.load(path=path))


# -- image and text loaders ---------------------------------------------------------------------


def png_bytes(mode: str, w: int, h: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = Image.frombytes("RGBA", (w, h), rng.integers(0, 256, w * h * 4, np.uint8).tobytes())
    img = img.convert(mode) if mode != "P" else img.convert("RGB").quantize(4)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def damaged(raw: bytes, cut: int, flips: list[int]) -> bytes:
    out = bytearray(raw[:max(8, len(raw) - cut)])
    for i in flips:
        if out:
            out[i % len(out)] ^= 0xFF
    return bytes(out)


image_bytes = (st.binary(max_size=400)
               | st.builds(png_bytes, st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]),
                           st.integers(1, 9), st.integers(1, 9), st.integers(0, 9))
               | st.builds(damaged,
                           st.builds(png_bytes, st.sampled_from(["L", "RGB", "RGBA", "P"]),
                                     st.integers(2, 9), st.integers(2, 9), st.integers(0, 9)),
                           st.integers(0, 40), st.lists(st.integers(0, 10_000), max_size=4)))


@fuzz
@given(st.lists(image_bytes, min_size=1, max_size=4), st.sampled_from([None, 8]),
       st.sampled_from([None, 1, 3]))
def test_image_files_and_folders(files: list[bytes], resolution: int | None,
                                 channels: int | None) -> None:
    from ganlab.data.images import _open_image, read_folder

    with folder() as d:
        for i, raw in enumerate(files):
            (d / f"{i}.png").write_bytes(raw)
            only_ganlab_errors(lambda p=d / f"{i}.png": _open_image(p))
        only_ganlab_errors(lambda: read_folder(d, resolution, channels))


@fuzz
@given(st.lists(image_bytes, min_size=1, max_size=4))
def test_streamed_folder_of_random_files(files: list[bytes]) -> None:
    from ganlab.config import DataConfig
    from ganlab.data import build_data

    with folder() as d:
        for i, raw in enumerate(files):
            (d / f"{i}.png").write_bytes(raw)

        def stream() -> None:
            src = build_data(DataConfig(name=f"folder:{d}", stream=True, resolution=4,
                                        workers=0))
            src.batch(len(files) + 1, torch.Generator().manual_seed(0))

        only_ganlab_errors(stream)


@fuzz
@given(st.binary(max_size=300), st.booleans())
def test_idx_files_of_random_bytes(raw: bytes, gz: bool) -> None:
    import gzip

    from ganlab.data.images import read_idx

    with folder() as d:
        path = d / ("x.idx.gz" if gz else "x.idx")
        path.write_bytes(gzip.compress(raw) if gz and raw[:1] == b"\x00" else raw)
        only_ganlab_errors(lambda: read_idx(path))


idx_headers = st.builds(
    lambda dims, body: (bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big")
                                                                for d in dims) + body),
    st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 4), min_size=1, max_size=4),
    st.binary(max_size=64))


@fuzz
@given(idx_headers)
def test_idx_files_with_plausible_headers(raw: bytes) -> None:
    from ganlab.data.images import read_idx

    with folder() as d:
        (d / "x.idx").write_bytes(raw)
        only_ganlab_errors(lambda: read_idx(d / "x.idx"))


csv_text = st.lists(st.lists(st.integers(-10, 300) | st.sampled_from(["", "x", "1e999",
                                                                        "99999999999999999999"]),
                             min_size=0, max_size=790).map(lambda r: ",".join(map(str, r))),
                    max_size=3).map(lambda rows: "\n".join(rows).encode())


@fuzz
@given(st.binary(max_size=300) | csv_text, st.booleans())
def test_mnist_csv_of_random_bytes(raw: bytes, gz: bool) -> None:
    import gzip

    from ganlab.data.images import read_mnist_csv

    with folder() as d:
        path = d / ("x.csv.gz" if gz else "x.csv")
        path.write_bytes(damaged(gzip.compress(raw), 3, []) if gz and len(raw) % 2 else
                         gzip.compress(raw) if gz else raw)
        only_ganlab_errors(lambda: read_mnist_csv(path))


dtypes = st.sampled_from(["uint8", "float32", "float64", "int64", "bool", "complex64", "<U2",
                          "int8", "float16"])
def make_array(shape: tuple[int, ...], dtype: str, fill: float) -> np.ndarray:
    if dtype == "<U2":
        return np.full(shape, "a", dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # NaN cast to an integer type: garbage, on purpose
        return np.full(shape, fill).astype(dtype)


arrays = st.builds(
    make_array,
    st.lists(st.integers(0, 5), min_size=0, max_size=5).map(tuple), dtypes,
    st.sampled_from([0, 1, 0.5, 255, -1, 2.0, float("nan"), float("inf")]))


def npz_bytes(members: dict[str, np.ndarray], compressed: bool) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (np.savez_compressed if compressed else np.savez)(buf, **members)
    return buf.getvalue()


npz_files = (st.binary(max_size=300)
             | st.builds(npz_bytes, st.dictionaries(st.sampled_from(["images", "labels", "x"]),
                                                    arrays, max_size=3), st.booleans())
             | st.builds(lambda raw, cut: raw[:cut],
                         st.builds(npz_bytes, st.fixed_dictionaries({"images": arrays}),
                                   st.booleans()), st.integers(0, 400))
             | st.builds(lambda: b"PK\x05\x06" + b"\x00" * 18)
             | st.builds(lambda: np.lib.format.magic(1, 0) + b"{'descr': '<f4'}\n"))


def npy_in_npz_name() -> bytes:
    """A .npz whose member is not an .npy at all."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("images.npy", b"not an array")
    return buf.getvalue()


@fuzz
@given(npz_files | st.builds(npy_in_npz_name), st.sampled_from([None, 8]),
       st.sampled_from([None, 1, 3]))
def test_npz_files(raw: bytes, resolution: int | None, channels: int | None) -> None:
    from ganlab.data.images import load_images, read_npz

    with folder() as d:
        path = d / "x.npz"
        path.write_bytes(raw)
        only_ganlab_errors(lambda: read_npz(path))
        only_ganlab_errors(lambda: load_images(f"npz:{path}", resolution=resolution,
                                               channels=channels))


@fuzz
@given(npz_files)
def test_eval_inputs_from_random_npz(raw: bytes) -> None:
    from ganlab.metrics.sources import load_images

    with folder() as d:
        path = d / "x.npz"
        path.write_bytes(raw)
        only_ganlab_errors(lambda: load_images(str(path)))
        only_ganlab_errors(lambda: load_images(f"npz:{path}", n=3))


@pytest.mark.parametrize("raw", [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff"])
def test_tiny_image_headers(raw: bytes) -> None:
    from ganlab.data.images import _open_image

    with folder() as d:
        (d / "x.png").write_bytes(raw)
        with pytest.raises(GanlabError, match="x.png"):
            _open_image(d / "x.png")

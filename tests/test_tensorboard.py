"""TensorBoard logging through ``EventWriter`` (torch's SummaryWriter), read back by TensorBoard."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.cli import main
from ganlab.errors import GanlabError
from ganlab.report.tensorboard import EventWriter


def _accumulator(folder: Path):  # noqa: ANN202 (tensorboard's class; the package is optional)
    ea = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = ea.EventAccumulator(str(folder), size_guidance={ea.IMAGES: 0, ea.SCALARS: 0,
                                                          ea.TENSORS: 0})
    acc.Reload()
    return acc


def _decode(encoded: bytes) -> np.ndarray:
    assert encoded.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(encoded)) as im:
        return np.asarray(im)


def test_writer_reads_back_in_tensorboard(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3) * 3
    grey = np.array([[0, 255], [7, 128], [64, 32]], dtype=np.uint8)
    png = tmp_path / "grid.png"
    Image.fromarray(grey, "L").save(png)

    w = EventWriter(tmp_path / "tb")
    written = w.add_scalars(3, {"loss": 0.5, "n": 7, "name": "x", "bad": float("nan"),
                                "inf": float("inf"), "flag": True, "none": None,
                                "nested": {"a": 1.0}, "f32": np.float32(0.25)}, prefix="p/")
    assert written == 3
    w.add_scalars(4, {"loss": -1.25})
    w.add_image(3, "array", rgb)
    w.add_image(4, "array", rgb[:, :, 0])            # (H, W) greyscale
    w.add_image(3, "file", png)
    w.add_png(5, "file", str(png))                    # the loop's spelling, a str path
    w.add_text(6, "notes", "hello **tensorboard**")
    w.flush()
    w.close()
    w.close()                                         # idempotent

    acc = _accumulator(tmp_path / "tb")
    tags = acc.Tags()
    assert set(tags["scalars"]) == {"p/loss", "p/n", "p/f32", "loss"}
    assert [(e.step, e.value) for e in acc.Scalars("p/loss")] == [(3, 0.5)]
    assert [(e.step, e.value) for e in acc.Scalars("p/n")] == [(3, 7.0)]
    assert [(e.step, e.value) for e in acc.Scalars("p/f32")] == [(3, 0.25)]
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(4, -1.25)]

    assert set(tags["images"]) == {"array", "file"}
    arrays = acc.Images("array")
    assert [(e.step, e.height, e.width) for e in arrays] == [(3, 4, 5), (4, 4, 5)]
    np.testing.assert_array_equal(_decode(arrays[0].encoded_image_string), rgb)
    np.testing.assert_array_equal(_decode(arrays[1].encoded_image_string)[..., 0], rgb[:, :, 0])
    files = acc.Images("file")
    assert [(e.step, e.height, e.width) for e in files] == [(3, 3, 2), (5, 3, 2)]
    decoded = _decode(files[0].encoded_image_string)
    np.testing.assert_array_equal(decoded if decoded.ndim == 2 else decoded[..., 0], grey)

    (text_tag,) = tags["tensors"]
    assert text_tag.startswith("notes")
    (text,) = acc.Tensors(text_tag)
    assert text.step == 6
    assert text.tensor_proto.string_val == [b"hello **tensorboard**"]


def test_writer_rejects_bad_images(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    w = EventWriter(tmp_path)
    with pytest.raises(GanlabError, match="uint8"):
        w.add_image(0, "x", np.zeros((2, 2, 3), np.float32))
    with pytest.raises(GanlabError, match="shape"):
        w.add_image(0, "x", np.zeros((2, 2, 2), np.uint8))
    w.close()


def test_missing_tensorboard_is_a_ganlab_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules makes ``import`` of that name raise ImportError
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(GanlabError, match="pip install tensorboard") as info:
        EventWriter(tmp_path / "tb")
    assert "\n" not in str(info.value)
    assert "train.tensorboard=false" in str(info.value)


def test_run_log_reads_back_in_tensorboard(tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    args = ["train", "--preset", "ring-ns", "--out", str(tmp_path)]
    for o in [*tiny_ring_overrides, "train.steps=10", "train.snapshot_every=5",
              "train.tensorboard=true"]:
        args += ["--set", o]
    assert main(args) == 0
    (run,) = tmp_path.iterdir()
    acc = event_accumulator.EventAccumulator(
        str(run / "tensorboard"), size_guidance={event_accumulator.IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()
    assert {"d_loss", "g_loss", "final/modes_captured"} <= set(tags["scalars"])
    losses = acc.Scalars("d_loss")
    assert [e.step for e in losses] == [5, 10]
    metrics = (run / "metrics.jsonl").read_text().splitlines()
    assert abs(losses[0].value - float(metrics[0].split('"d_loss": ')[1].split(",")[0])) < 1e-5
    images = acc.Images("samples")
    assert [e.step for e in images] == [0, 5, 10]
    assert images[0].encoded_image_string.startswith(b"\x89PNG")

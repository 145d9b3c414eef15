"""TensorBoard event files written without TensorFlow: framing, CRCs, TensorBoard reading them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ganlab.cli import main
from ganlab.report.tensorboard import EventWriter, crc32c, masked_crc32c


def test_crc32c_check_value() -> None:
    # the standard CRC-32C check value (RFC 3720, B.4)
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0


def _records(path: Path) -> list[bytes]:
    """TFRecord reader that verifies both CRCs of every record."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        header = data[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[pos + 8 : pos + 12])[0] == masked_crc32c(header)
        payload = data[pos + 12 : pos + 12 + length]
        crc = struct.unpack("<I", data[pos + 12 + length : pos + 16 + length])[0]
        assert crc == masked_crc32c(payload)
        out.append(payload)
        pos += 16 + length
    return out


def test_writer_frames_records(tmp_path: Path) -> None:
    w = EventWriter(tmp_path)
    assert w.add_scalars(3, {"loss": 0.5, "flag": True, "name": "x", "bad": float("nan")}) == 1
    w.close()
    records = _records(w.path)
    assert len(records) == 2                  # file_version + one summary
    assert b"brain.Event:2" in records[0]
    assert b"loss" in records[1] and struct.pack("<f", 0.5) in records[1]


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

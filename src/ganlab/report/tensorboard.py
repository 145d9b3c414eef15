"""A TensorBoard event-file writer with no dependencies (scalars and PNG images).

TensorBoard reads ``events.out.tfevents.*`` files: TFRecord framing (length, masked CRC-32C of
the length, payload, masked CRC-32C of the payload) around serialised ``tensorflow.Event``
protocol buffers. ganlab writes the few fields it needs by hand, so a run can be watched with
``tensorboard --logdir runs/`` without ganlab depending on TensorFlow, tensorboard or protobuf
(``pip install tensorboard`` only where you want to *view* the logs).

Fields written (from tensorflow/core/util/event.proto and framework/summary.proto):
``Event{wall_time=1 (double), step=2 (int64), file_version=3 (string), summary=5 (Summary)}``,
``Summary{value=1 (repeated Value)}``, ``Value{tag=1 (string), simple_value=2 (float),
image=4 (Image)}``, ``Image{height=1, width=2, colorspace=3 (int32), encoded_image_string=4}``.
"""

from __future__ import annotations

import math
import os
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord uses it."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# -- protocol-buffer wire format (only what Event needs) ------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _int_field(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _event(step: int, wall_time: float, *, summary: bytes | None = None,
           file_version: str | None = None) -> bytes:
    out = _key(1, 1) + struct.pack("<d", wall_time) + _int_field(2, step)
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if summary is not None:
        out += _bytes_field(5, summary)
    return out


def _scalar_value(tag: str, value: float) -> bytes:
    return _bytes_field(1, _bytes_field(1, tag.encode()) + _key(2, 5) + struct.pack("<f", value))


def _image_value(tag: str, png: bytes, height: int, width: int, channels: int) -> bytes:
    image = (_int_field(1, height) + _int_field(2, width) + _int_field(3, channels)
             + _bytes_field(4, png))
    return _bytes_field(1, _bytes_field(1, tag.encode()) + _bytes_field(4, image))


class EventWriter:
    """Appends scalar and image summaries to one ``events.out.tfevents.*`` file in ``logdir``."""

    def __init__(self, logdir: str | Path) -> None:
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        self.path = self.logdir / name
        self._fh = open(self.path, "ab")  # noqa: SIM115 (kept open for the run)
        self._write(_event(0, time.time(), file_version="brain.Event:2"))

    def _write(self, record: bytes) -> None:
        header = struct.pack("<Q", len(record))
        self._fh.write(header + struct.pack("<I", masked_crc32c(header)) + record
                       + struct.pack("<I", masked_crc32c(record)))

    def add_scalars(self, step: int, values: Mapping[str, object], prefix: str = "") -> int:
        """Write every finite int/float of ``values`` as ``prefix + key``; returns how many."""
        parts = [_scalar_value(prefix + k, float(v)) for k, v in values.items()
                 if isinstance(v, int | float) and not isinstance(v, bool)
                 and math.isfinite(float(v))]
        if parts:
            self._write(_event(step, time.time(), summary=b"".join(parts)))
            self._fh.flush()
        return len(parts)

    def add_png(self, step: int, tag: str, png_path: str | Path) -> None:
        """Write a PNG file (as written by the snapshot code) as an image summary."""
        from PIL import Image

        data = Path(png_path).read_bytes()
        with Image.open(png_path) as im:
            width, height = im.size
            channels = len(im.getbands())
        self._write(_event(step, time.time(),
                           summary=_image_value(tag, data, height, width, channels)))
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

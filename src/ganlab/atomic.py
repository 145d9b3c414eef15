"""Atomic file writes: readers (resume, the report, a browser, another process) never see half
a file. The one home of this idea in ganlab; every writer of a file others read uses it."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to the disk; a no-op where
    folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not every platform opens folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_fsync_dir = fsync_dir  # the old private name


def write_atomically(path: str | Path, write: Callable[[Path], object], *,
                     durable: bool = False) -> Path:
    """Call ``write(tmp)`` on a unique temporary name beside ``path``, then rename it into
    place. With ``durable``, the file and its folder are fsynced (checkpoints, configs), so the
    rename survives a power cut. On any error the temporary file is removed and the old
    ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
    return path


def write_text(path: str | Path, text: str, *, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"),
                            durable=durable)


def _not_finite(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def finite_json(obj: Any) -> Any:
    """A copy of ``obj`` that strict JSON can hold: every non-finite float (NaN, Infinity)
    becomes None, and in a mapping a sibling key ``"<key>_note": "not finite (inf)"`` says what
    it was (a list element just becomes None). Tuples become lists; other values are kept."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            out[key] = finite_json(value)
            note = f"{key}_note"
            if isinstance(value, float) and not math.isfinite(value) and note not in obj:
                out[note] = f"not finite ({_not_finite(value)})"
        return out
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`finite_json`): never ``NaN`` or ``Infinity``."""
    return json.dumps(finite_json(obj), indent=indent, allow_nan=False)


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2,
               durable: bool = False) -> Path:
    """Write ``obj`` as strict JSON (non-finite floats -> null plus a ``<key>_note``) to
    ``path`` atomically, with a final newline."""
    return write_text(path, dumps_json(obj, indent=indent) + "\n", durable=durable)

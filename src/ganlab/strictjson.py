"""Strict JSON: what ganlab writes for other programs never holds ``NaN`` or ``Infinity``.

A non-finite number becomes ``null`` with a sibling ``"<key>_note"`` that says what it was, so
a collapsed run's reverse KL of +inf reads ``"reverse_kl": null, "reverse_kl_note": "not
finite (inf)"`` in any JSON parser. The one home of this idea: metric cards, ``--json`` output
and the run folder's ``summary.json`` all go through it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganlab.atomic import write_text


def _not_finite(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def json_safe(obj: Any) -> tuple[Any, dict[str, str]]:
    """``obj`` as plain JSON types that strict JSON can hold, and what had to change.

    NumPy scalars and arrays become Python numbers and lists, tuples lists, paths strings.
    Every non-finite float (NaN, +-inf) becomes None; in a mapping, the key that held it (or
    a list holding it) gets a sibling ``"<key>_note"``: ``"not finite (nan)"``, or for a
    list ``"not finite (nan) at [2]"``. ``notes`` maps each replaced value's path
    (``"values.fid"``, ``"fid_values[2]"``) to its reason, for a log line or a summary.
    Other objects are written as ``str(obj)``. Use with ``json.dumps(..., allow_nan=False)``,
    or call :func:`dumps_strict`.
    """
    notes: dict[str, str] = {}
    return _safe(obj, "", notes), notes


def _safe(obj: Any, path: str, notes: dict[str, str]) -> Any:
    if hasattr(obj, "tolist") and not isinstance(obj, str):  # NumPy scalar or array, tensor
        obj = obj.tolist()
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        if math.isfinite(obj):
            return obj
        notes[path or "value"] = f"not finite ({_not_finite(obj)})"
        return None
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            before = set(notes)
            out[str(key)] = _safe(value, sub, notes)
            note_key = f"{key}_note"
            if note_key in obj:
                continue
            direct = notes.get(sub)
            if direct is not None:
                out[note_key] = direct
            elif isinstance(value, list | tuple) or hasattr(value, "tolist"):
                inside = [p for p in notes if p not in before]
                if inside:
                    first = inside[0]
                    out[note_key] = f"{notes[first]} at {first[len(sub):]}" + (
                        f" and {len(inside) - 1} more" if len(inside) > 1 else ""
                    )
        return out
    if isinstance(obj, list | tuple):
        return [_safe(v, f"{path}[{i}]", notes) for i, v in enumerate(obj)]
    return str(obj)  # a path, an enum ...


def dumps_strict(obj: Any, indent: int | None = 2) -> str:
    """JSON text of :func:`json_safe` ``(obj)``: never ``NaN`` or ``Infinity``."""
    return json.dumps(json_safe(obj)[0], indent=indent, allow_nan=False)


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2,
               durable: bool = False) -> Path:
    """Write ``obj`` as strict JSON (see :func:`json_safe`) to ``path`` atomically, with a
    final newline."""
    return write_text(path, dumps_strict(obj, indent=indent) + "\n", durable=durable)

"""The metric card: what every reported number carries about how it was made."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import ganlab


@dataclass
class MetricCard:
    """How a metric value was produced.

    ``real_fingerprint`` / ``fake_fingerprint``: sha256 of each image set's shape and bytes in
    order (:func:`ganlab.metrics.cache.images_hash`), None when only features or statistics
    without one were given. Two numbers are comparable only when their fingerprints (of the
    real side at least) and extractor agree. ``notes``: anything a reader must know, e.g. that
    the real statistics are ``"unverified: made by another tool"``.
    """

    metric: str
    extractor: str | None = None
    weights_sha256: str | None = None
    resize: str | None = None
    n_real: int | None = None
    n_fake: int | None = None
    dtype: str = "float64"
    seed: int | None = None
    ganlab_version: str = ganlab.__version__
    real_fingerprint: str | None = None
    fake_fingerprint: str | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_extractor(
        cls, metric: str, extractor_card: dict[str, Any] | None, **kw: Any
    ) -> MetricCard:
        """A card filled from an extractor's own card."""
        if extractor_card is None:
            return cls(metric=metric, **kw)
        return cls(
            metric=metric,
            extractor=str(extractor_card.get("name")),
            weights_sha256=extractor_card.get("weights_sha256"),
            resize=extractor_card.get("resize"),
            **kw,
        )


@dataclass
class MetricResult:
    """A metric's values (flat, JSON-friendly) with its card."""

    values: dict[str, Any]
    card: MetricCard

    def to_dict(self) -> dict[str, Any]:
        return {"values": self.values, "card": asdict(self.card)}

    def to_json(self) -> str:
        """Strict JSON (non-finite values become null with a ``<key>_note``)."""
        return dumps_strict(self.to_dict())

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def joint_card(results: Mapping[str, MetricResult], **extra: Any) -> dict[str, Any]:
    """One JSON-ready card for several results of one evaluation.

    Fields every card agrees on (extractor, weights sha256, resize, usually N generated,
    ganlab version ...) sit at the top with ``extra`` (e.g. the reference set's name); under
    ``metrics``, each metric keeps the fields where it differs (those it has: ``None`` means
    "does not apply" and is left out) and its own ``extra`` (KID's subsets, PRDC's k ...).
    Written into ``metrics.jsonl`` by training-time evaluation.
    """
    cards = [asdict(r.card) for r in results.values()]
    fields = [k for k in (cards[0] if cards else {}) if k not in ("metric", "extra")]
    shared = {k: cards[0][k] for k in fields if all(c[k] == cards[0][k] for c in cards)}
    per_metric = {
        c["metric"]: {
            **{k: c[k] for k in fields if k not in shared and c[k] not in (None, [])},
            **c["extra"],
        }
        for c in cards
    }
    out = {**shared, **extra, "metrics": per_metric}
    return json_safe(out)[0]  # plain types only, strict JSON


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

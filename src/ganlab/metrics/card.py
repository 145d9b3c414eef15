"""The metric card: what every reported number carries about how it was made."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ganlab.strictjson import dumps_strict, json_safe
from ganlab.version import __version__

#: What a card made from bf16 features says (measured: docs/evaluation.md, "Features in bf16").
BF16_NOTE = ("features computed under bf16 autocast (opt-in, not the protocol): compare only "
             "with numbers made the same way. Measured deviation from fp32: Inception FID of "
             "Fashion-MNIST, 10,000 generated vs the 10,000 test images, 14.44 in bf16 against "
             "14.55 in fp32 (-0.75%); see docs/evaluation.md, 'Features in bf16'")


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
    ganlab_version: str = __version__
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
        precision = extractor_card.get("precision", "fp32")
        if precision != "fp32":
            kw["notes"] = [*kw.get("notes", []), BF16_NOTE if precision == "bf16"
                           else f"features computed in {precision}"]
            kw["extra"] = {**kw.get("extra", {}), "precision": precision}
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
    safe: dict[str, Any] = json_safe(out)[0]  # plain types only, strict JSON
    return safe

"""The metric card: what every reported number carries about how it was made."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import ganlab


@dataclass
class MetricCard:
    """How a metric value was produced."""

    metric: str
    extractor: str | None = None
    weights_sha256: str | None = None
    resize: str | None = None
    n_real: int | None = None
    n_fake: int | None = None
    dtype: str = "float64"
    seed: int | None = None
    ganlab_version: str = ganlab.__version__
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
        return json.dumps(self.to_dict(), indent=2, default=_jsonable)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x)}")

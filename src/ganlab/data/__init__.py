"""Data sources: each hands the trainer batches drawn with the trainer's random generator.

A source is built from a :class:`ganlab.config.DataConfig` by :func:`build_data`. Every name
belongs to one module (2-D mixtures in :mod:`ganlab.data.toy2d`, image sets in
:mod:`ganlab.data.images`), which registers a builder with :func:`register`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any, Protocol

import torch

from ganlab.data.batch import Batch, DataSpec
from ganlab.errors import GanlabError

__all__ = ["Batch", "DataSource", "DataSpec", "build_data", "data_names", "register"]


class DataSource(Protocol):
    """What a family needs from data: batches drawn with the family's random generator, a
    description (:class:`DataSpec`) and a resumable position."""

    kind: str  # "points" (N, 2), "images" (N, C, H, W) in [-1, 1], or "tokens"

    def spec(self) -> DataSpec:
        """Shapes, classes, vocabulary: what building networks needs (no data is read)."""
        ...

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        """``n`` examples drawn with ``generator`` (on the CPU; the family moves them)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs (e.g. an epoch's permutation and the position in it)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


_BUILDERS: dict[str, Callable[[Any], DataSource]] = {}
_PREFIX_BUILDERS: dict[str, Callable[[Any], DataSource]] = {}


def register(name: str, builder: Callable[[Any], DataSource], prefix: bool = False) -> None:
    """Register ``builder(data_config)`` under ``name`` (or every ``name:...`` if prefix)."""
    (_PREFIX_BUILDERS if prefix else _BUILDERS)[name] = builder


def _load_modules() -> None:
    for name in ("ganlab.data.toy2d", "ganlab.data.images", "ganlab.data.pairs",
                 "ganlab.data.text", "ganlab.data.oracle", "ganlab.data.stacked",
                 "ganlab.data.emoji"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def data_names() -> list[str]:
    """All registered data names (prefix names end with ':')."""
    _load_modules()
    return sorted(_BUILDERS) + sorted(f"{p}:PATH" for p in _PREFIX_BUILDERS)


def build_data(cfg: Any) -> DataSource:
    """Build the data source named by ``cfg.name``."""
    _load_modules()
    name = cfg.name
    if name in _BUILDERS:
        return _BUILDERS[name](cfg)
    prefix = name.split(":", 1)[0]
    if ":" in name and prefix in _PREFIX_BUILDERS:
        return _PREFIX_BUILDERS[prefix](cfg)
    raise GanlabError(f"data.name: unknown data {name!r}; allowed: {', '.join(data_names())}")

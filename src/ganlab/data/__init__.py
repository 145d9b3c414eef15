"""Data sources: each hands the trainer batches drawn with the trainer's random generator.

A source is built from a :class:`ganlab.config.DataConfig` by :func:`build_data`. Every name
belongs to one module (2-D mixtures in :mod:`ganlab.data.toy2d`, image sets in
:mod:`ganlab.data.images`, ...), which registers it once, with all its facts, in the dataset
registry (:mod:`ganlab.data.registry`: :func:`register_dataset`, :func:`register_prefix`).

Importing this package loads no torch (the config validates ``data.name`` through it);
:class:`Batch` and :class:`DataSpec` are loaded from :mod:`ganlab.data.batch` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ganlab.data.registry import (
    DatasetInfo,
    PrefixInfo,
    data_names,
    find_dataset,
    find_prefix,
    get_dataset,
    register_dataset,
    register_prefix,
)
from ganlab.errors import GanlabError

if TYPE_CHECKING:
    import torch

    from ganlab.data.batch import Batch, DataSpec

__all__ = ["Batch", "DataSource", "DataSpec", "DatasetInfo", "PrefixInfo", "build_data",
           "data_names", "find_dataset", "get_dataset", "register_dataset", "register_prefix"]


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


def build_data(cfg: Any) -> DataSource:
    """Build the data source named by ``cfg.name`` (a dataset or ``PREFIX:...``)."""
    name = cfg.name
    info = find_dataset(name)
    if info is not None:
        return info.build(cfg)
    prefix, colon, _ = name.partition(":")
    handler = find_prefix(prefix) if colon else None
    if handler is not None:
        return handler.build(cfg)
    raise GanlabError(f"data.name: unknown data {name!r}; allowed: {', '.join(data_names())}")


def __getattr__(name: str) -> Any:
    if name in ("Batch", "DataSpec"):   # they load torch: not before a family needs them
        from ganlab.data import batch

        return getattr(batch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

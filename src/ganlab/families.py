"""The family registry: which training families exist, and the config section each declares.

A family is registered before any config is validated, so ``family: NAME`` checks that
family's own keys. Built-in families are listed here by module (imported on first use, so the
registry costs nothing until a config is read); other packages add theirs through the
``ganlab.families`` entry-point group (``NAME = "package.module:FamilyClass"``); a test or a
notebook calls :func:`register_family` directly.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from ganlab.errors import GanlabError

# name -> module that registers it when imported
BUILTIN = {
    "gan": "ganlab.train.gan",
    "cgan": "ganlab.train.cgan",
    "pix2pix": "ganlab.train.pix2pix",
    "cyclegan": "ganlab.train.cyclegan",
    "seqgan": "ganlab.train.seqgan",
    "gumbelgan": "ganlab.train.gumbel",
}
ENTRY_POINT_GROUP = "ganlab.families"


@dataclass(frozen=True)
class FamilyEntry:
    """A registered family: its class (see :class:`ganlab.train.family.Family`) and the
    dataclass of its config section."""

    name: str
    family: type
    config: type


_REGISTRY: dict[str, FamilyEntry] = {}


def register_family(family: type, name: str | None = None) -> FamilyEntry:
    """Register a :class:`~ganlab.train.family.Family` subclass under ``name`` (default:
    ``family.name``); its section dataclass is ``family.config_class``."""
    name = name or getattr(family, "name", None)
    config = getattr(family, "config_class", None)
    if not name or config is None:
        raise GanlabError(f"{family!r}: a family class needs `name` and `config_class`")
    entry = FamilyEntry(name, family, config)
    _REGISTRY[name] = entry
    return entry


def _entry_points() -> dict[str, Any]:
    try:
        return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # a broken third-party distribution must not break ganlab
        return {}


def names() -> list[str]:
    """Every family that can be trained: built in, registered, or from an entry point."""
    return sorted(set(BUILTIN) | set(_REGISTRY) | set(_entry_points()))


def get(name: str) -> FamilyEntry:
    """The entry of family ``name`` (importing its module on first use)."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    elif name in (eps := _entry_points()):
        family = eps[name].load()   # an import error here is a broken install: let it show
        register_family(family, name)
    if name not in _REGISTRY:
        raise GanlabError(f"family: unknown family {name!r}; allowed: {', '.join(names())}")
    return _REGISTRY[name]

"""Registries: what can be named in a config or on the command line, with its facts.

A :class:`Registry` maps names to entries. Built-in entries are listed by the module that
registers them (imported on first use, so a registry costs nothing until a name is looked
up); other packages add theirs through an entry-point group; a test or a notebook calls
``register`` directly. This module is a leaf: it imports no other part of ganlab, so the
config (which validates ``family: NAME`` against the family's own section) can consult the
family registry without importing any family.

Families: ``FAMILIES``, filled by :func:`register_family`; datasets and metrics keep their own
registries beside their code (:mod:`ganlab.data.registry`, :mod:`ganlab.metrics.registry`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Generic, TypeVar

from ganlab.errors import GanlabError

E = TypeVar("E")


class Registry(Generic[E]):
    """Named entries of one kind (``what``: "family", "dataset", "metric").

    ``builtin`` maps a name to the module whose import registers it; ``group`` is the
    entry-point group other packages register through (the loaded object is turned into an
    entry by ``from_entry_point``)."""

    def __init__(self, what: str, builtin: dict[str, str] | None = None,
                 group: str | None = None,
                 from_entry_point: Callable[[Any, str], E] | None = None) -> None:
        self.what = what
        self.builtin = dict(builtin or {})
        self.group = group
        self._from_entry_point = from_entry_point
        self._entries: dict[str, E] = {}

    def register(self, name: str, entry: E) -> E:
        """Add (or replace) ``name``."""
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` if it was registered (tests use this to clean up)."""
        self._entries.pop(name, None)

    def _entry_points(self) -> dict[str, Any]:
        if self.group is None:
            return {}
        try:
            return {ep.name: ep for ep in metadata.entry_points(group=self.group)}
        except Exception:  # a broken third-party distribution must not break ganlab
            return {}

    def names(self) -> list[str]:
        """Every name that can be looked up: built in, registered, or from an entry point."""
        return sorted(set(self.builtin) | set(self._entries) | set(self._entry_points()))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        # registered and built-in names first: the entry-point scan reads every installed
        # distribution's metadata
        return name in self._entries or name in self.builtin or name in self._entry_points()

    def get(self, name: str) -> E:
        """The entry of ``name`` (importing its module on first use)."""
        if name in self._entries:
            return self._entries[name]
        if name in self.builtin:
            importlib.import_module(self.builtin[name])
        elif name in (eps := self._entry_points()):
            loaded = eps[name].load()   # an import error here is a broken install: let it show
            if self._from_entry_point is None:
                self.register(name, loaded)
            else:
                self.register(name, self._from_entry_point(loaded, name))
        if name not in self._entries:
            raise GanlabError(f"{self.what}: unknown {self.what} {name!r}; allowed: "
                              f"{', '.join(self.names())}")
        return self._entries[name]

    def loaded(self) -> dict[str, E]:
        """Every entry, with every built-in module imported."""
        return {name: self.get(name) for name in self.names()}


# -- families ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyEntry:
    """A registered family: its class (a :class:`ganlab.engine.family.Family` subclass) and
    the dataclass of its config section."""

    name: str
    family: type
    config: type


def _family_entry(family: Any, name: str | None = None) -> FamilyEntry:
    name = name or getattr(family, "name", None)
    config = getattr(family, "config_class", None)
    if not name or config is None:
        raise GanlabError(f"{family!r}: a family class needs `name` and `config_class`")
    return FamilyEntry(name, family, config)


FAMILIES: Registry[FamilyEntry] = Registry(
    "family",
    builtin={
        "gan": "ganlab.families.gan",
        "cgan": "ganlab.families.cgan",
        "pix2pix": "ganlab.families.pix2pix",
        "cyclegan": "ganlab.families.cyclegan",
        "seqgan": "ganlab.families.seqgan",
        "gumbelgan": "ganlab.families.gumbel",
    },
    group="ganlab.families",
    from_entry_point=_family_entry,
)


def register_family(family: type, name: str | None = None) -> FamilyEntry:
    """Register a :class:`~ganlab.engine.family.Family` subclass under ``name`` (default:
    ``family.name``); its section dataclass is ``family.config_class``."""
    entry = _family_entry(family, name)
    return FAMILIES.register(entry.name, entry)


def family_names() -> list[str]:
    """Every family that can be trained."""
    return FAMILIES.names()


def get_family(name: str) -> FamilyEntry:
    """The entry of family ``name``."""
    return FAMILIES.get(name)

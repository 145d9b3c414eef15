"""Random streams: every random number a family draws comes from a stream the engine owns.

A family asks for streams by name; the engine seeds each from the run's ``seed`` and the one
table below, saves every stream it handed out with each checkpoint and restores them on
resume. So exact resume holds by construction: no family seeds or saves a generator itself.

Two kinds:

- :meth:`Streams.generator`: a stateful stream (training draws, a history pool): the same
  object every time it is asked for, saved in checkpoints;
- :meth:`Streams.seed`: a fixed seed for draws that must be the same at every call (the
  snapshot grid's latents, an evaluation's samples); the caller makes a fresh generator
  from it, so there is nothing to save and evaluating never moves a training stream.

The offsets are the ones runs have always used, kept so that earlier results reproduce to
the bit; names, not offsets, are what is unique (``eval-classes`` and ``pool-a`` share 7 but
never meet in one family). A name missing from the table gets an offset from a hash of the
name, so an outside family can name its own streams.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import torch

from ganlab.errors import GanlabError

# name -> offset from the run's seed
OFFSETS: dict[str, int] = {
    # stateful streams, saved in checkpoints
    "train": 1,          # a training step's draws (latents, noise, wrong labels), on the device
    "data": 6,           # batch order, on the CPU; a CPU run draws it from "train" itself
    "pool-a": 7,         # CycleGAN's history pools
    "pool-b": 8,
    # fixed seeds: a fresh generator at each use
    "snapshot": 2,       # the fixed latents of the snapshot grid and the 2-D scatter
    "snapshot-real": 3,  # the real examples drawn beside a snapshot
    "eval": 4,           # what an evaluation generates
    "eval-real": 5,      # the real examples an evaluation draws
    "eval-classes": 7,   # a class-conditional run's samples for its per-class accuracy
}
HASHED_BASE = 1_000


def offset_of(name: str) -> int:
    """The offset of stream ``name`` from the run's seed (see :data:`OFFSETS`)."""
    if name in OFFSETS:
        return OFFSETS[name]
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return HASHED_BASE + int.from_bytes(digest[:4], "little") % 1_000_000


class Streams:
    """The named random streams of one run, seeded from ``seed``.

    ``device`` is where the ``train`` stream lives (the family's device); every other stream
    is on the CPU. ``log`` hears why a stream could not be restored."""

    def __init__(self, seed: int, device: torch.device | str = "cpu",
                 log: Callable[[str], None] = lambda _msg: None) -> None:
        self.base = int(seed)
        device = torch.device(device)
        self.device = torch.device("cpu") if device.type == "meta" else device
        self.log = log
        self._streams: dict[str, torch.Generator] = {}

    def seed(self, name: str) -> int:
        """The fixed seed ``name`` (a fresh ``torch.Generator().manual_seed(...)`` each use)."""
        return self.base + offset_of(name)

    def fixed(self, name: str) -> torch.Generator:
        """A fresh CPU generator from the fixed seed ``name``: the same draws at every call."""
        return torch.Generator().manual_seed(self.seed(name))

    def generator(self, name: str) -> torch.Generator:
        """The stateful stream ``name``: made on first request, then the same object; saved
        and restored with every checkpoint."""
        if name not in self._streams:
            where = self.device if name == "train" else torch.device("cpu")
            self._streams[name] = torch.Generator(device=where).manual_seed(self.seed(name))
        return self._streams[name]

    def data_generator(self) -> torch.Generator:
        """The CPU stream data sources draw batch indices from: the ``train`` stream itself
        when it is on the CPU (one stream, as CPU runs have always drawn), else ``data``."""
        train = self.generator("train")
        if train.device.type == "cpu":
            return train
        return self.generator("data")

    def names(self) -> list[str]:
        """The streams handed out so far."""
        return list(self._streams)

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Every stream's state, with the device kind of the ``train`` stream."""
        return {"device": self.device.type,
                "states": {name: g.get_state() for name, g in self._streams.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`state_dict`. A ``train`` stream saved on another device kind
        cannot be restored (a CUDA generator's state is not a CPU one's): it restarts from the
        seed, with a line saying the run is no longer bit-for-bit an uninterrupted one."""
        saved_on = state.get("device", "cpu")
        states = state.get("states", {})
        if not isinstance(states, dict):
            raise GanlabError("the checkpoint's random streams are unreadable")
        for name, value in states.items():
            g = self.generator(name)
            if name == "train" and saved_on != g.device.type:
                self.log(f"resume: the checkpoint's random streams were on {saved_on}, this run "
                         f"is on {g.device.type}; they restart from the seed, so the run goes "
                         "on correctly but no longer bit-for-bit like an uninterrupted one")
                continue
            if name == "data" and saved_on != self.device.type:
                continue   # the train stream it pairs with restarts too
            g.set_state(value)

    def load_legacy(self, family_state: dict[str, Any]) -> None:
        """Checkpoints written before the engine owned the streams kept them in the family's
        state (``gen``, ``gen_device``, ``data_gen``, and a pool's ``generator``)."""
        states: dict[str, Any] = {}
        if "gen" in family_state:
            states["train"] = family_state["gen"]
        if "data_gen" in family_state:
            states["data"] = family_state["data_gen"]
        for name, key in (("pool-a", "pool_a"), ("pool-b", "pool_b")):
            pool = family_state.get(key)
            if isinstance(pool, dict) and "generator" in pool:
                states[name] = pool["generator"]
        self.load_state_dict({"device": family_state.get("gen_device", "cpu"),
                              "states": states})

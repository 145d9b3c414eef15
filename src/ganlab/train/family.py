"""What a GAN family (unconditional GAN, pix2pix, CycleGAN, SeqGAN, ...) gives the loop.

A family owns its networks, optimisers and one training step; the loop
(:mod:`ganlab.train.loop`) owns the schedule, logging, snapshots, checkpoints and resume.
A new family is one module that calls :func:`register_family`; it never edits the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from ganlab import config as config_mod
from ganlab.errors import GanlabError


class Family(Protocol):
    """The contract between a family and the training loop."""

    def modules(self) -> dict[str, nn.Module]:
        """Every network whose weights a checkpoint must hold (e.g. G, D, G_ema)."""
        ...

    def optimizers(self) -> dict[str, tuple[torch.optim.Optimizer, float]]:
        """Each optimiser with its base learning rate (the loop applies lr decay)."""
        ...

    def weights_restored(self, loaded: list[str], stream: Any) -> None:
        """Called after a checkpoint loaded the modules named in ``loaded``; a family fills
        in any module the checkpoint lacked (e.g. an EMA copy switched on at resume)."""
        ...

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        """One generator update (with its discriminator updates); returns numbers to log
        (only needs to be complete when ``log`` is True)."""
        ...

    def extra_state(self) -> dict[str, Any]:
        """Random generators, data position: anything else resuming needs."""
        ...

    def load_extra_state(self, state: dict[str, Any]) -> None: ...

    def snapshot(self, run_dir: Path, step: int) -> list[Path]:
        """Write images that show the model now; return their paths."""
        ...

    def evaluate(self, run_dir: Path, final: bool) -> dict[str, Any]:
        """Diagnostics of the current model (logged; printed at the end of a run): numbers,
        plus short strings that say how they were made (e.g. the feature extractor)."""
        ...

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        """Human-readable lines for the end of a run."""
        ...


_FAMILIES: dict[str, Callable[[Any], Family]] = {}


def register_family(name: str, builder: Callable[[Any], Family]) -> None:
    """Register ``builder(config) -> Family`` under ``name`` (and allow it in configs)."""
    _FAMILIES[name] = builder
    config_mod.register_family(name)


def build_family(cfg: Any) -> Family:
    import ganlab.train.gan  # noqa: F401  (registers "gan")

    if cfg.family not in _FAMILIES:
        raise GanlabError(f"family: unknown family {cfg.family!r}; "
                          f"allowed: {', '.join(sorted(_FAMILIES))}")
    return _FAMILIES[cfg.family](cfg)

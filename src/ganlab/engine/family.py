"""The contract between a training family (GAN, pix2pix, CycleGAN, SeqGAN, ...) and the loop.

A family owns its networks, optimisers, its training step and how it shows its model; the
loop (:mod:`ganlab.engine.loop`) owns the schedule, lr decay, logging, snapshots on disk,
checkpoints, resume, the random streams (:mod:`ganlab.engine.streams`) and the report. A new
family is one module:

1. a config section dataclass (fields with :func:`ganlab.config.setting` constraints);
2. a ``Family[MyConfig]`` subclass with ``name`` and ``config_class``;
3. ``register_family(MyFamily)`` (or an entry point in the ``ganlab.families`` group).

It never edits the loop, the config module, the CLI or the report. See docs/architecture.md.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import torch
from torch import nn
from tqdm import tqdm

from ganlab.config import Config
from ganlab.data import DataSource, DataSpec
from ganlab.engine.runtime import Runtime
from ganlab.engine.streams import Streams
from ganlab.errors import GanlabError
from ganlab.report.artefacts import Artefact
from ganlab.report.curves import GAN_CURVES, CurveGroup
from ganlab.sampling import Sampler
from ganlab.translation import Translator


def log_line(message: str) -> None:
    """One line on stderr that does not break a running progress bar."""
    tqdm.write(message, file=sys.stderr)


@dataclass
class FamilyContext:
    """What a family is built from. ``data`` is None when the family is rebuilt only to
    sample a finished run (``ganlab sample``): ``spec`` (from ``run_info.json``) then stands in
    for it, so no training data is read."""

    cfg: Config
    runtime: Runtime
    spec: DataSpec
    data: DataSource | None = None
    log: Callable[[str], None] = field(default=log_line)
    streams: Streams | None = None   # default: the run's streams, from cfg.seed

    def __post_init__(self) -> None:
        if self.streams is None:
            self.streams = Streams(self.cfg.seed, self.runtime.device, self.log)


S = TypeVar("S")   # a family's config section (its ``config_class``)


class Family(ABC, Generic[S]):
    """Subclass this, naming the section: ``class MyFamily(Family[MyConfig])``.

    Required: :meth:`modules`, :meth:`optimizers`, :meth:`train_step`, :meth:`sampler`;
    everything else has a default that does nothing. What a family may offer beyond the
    contract is declared here with its type, so no caller has to guess:
    :meth:`translator` (image-to-image families), :attr:`num_classes` (class-conditional),
    :meth:`prompts` (text-conditional). What the loop and the report show of the logged
    numbers is declared too: :attr:`progress_keys` (the progress bar) and :attr:`curves`
    (which numbers share a figure; any other logged number is drawn as a metric)."""

    name: ClassVar[str]
    config_class: ClassVar[type]
    progress_keys: ClassVar[tuple[str, ...]] = ("d_loss", "g_loss")
    curves: ClassVar[tuple[CurveGroup, ...]] = GAN_CURVES
    num_classes: int | None = None   # the classes a conditional family generates
    # steering (ganlab.engine.steering): the keys of the section that may change between
    # steps (applied by reconfigure; ``optim.NAME.lr`` by the loop itself), and which networks
    # a step may update: the first mode is a whole step, ``updates`` the current one
    live_settings: ClassVar[tuple[str, ...]] = ()
    update_modes: ClassVar[tuple[str, ...]] = ("both",)
    updates: str = "both"

    def __init__(self, ctx: FamilyContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.cfg
        self.section: S = ctx.cfg.section   # this family's own config (its config_class)
        self.runtime = ctx.runtime
        self.spec = ctx.spec
        self.log = ctx.log
        assert ctx.streams is not None
        self.streams: Streams = ctx.streams   # every random draw: see ganlab.engine.streams

    @property
    def data(self) -> DataSource:
        if self.ctx.data is None:
            raise GanlabError(f"family {self.name}: built to sample only, it has no data")
        return self.ctx.data

    # -- required --------------------------------------------------------------------------------
    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """Every network a checkpoint holds, by name (e.g. G, D, G_ema)."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser, by name. The learning rates they are built with are the base
        rates; the loop scales them by ``train.lr_decay`` each step."""

    @abstractmethod
    def train_step(self, step: int, log: bool) -> dict[str, float]:
        """One step (``step`` counts from 0); returns numbers to log. They need only be
        complete when ``log`` is true, so a family can skip ``.item()`` syncs otherwise."""

    @abstractmethod
    def sampler(self) -> Sampler:
        """What ``ganlab sample``, ``eval RUN``, ``interpolate`` and the report draw from."""

    # -- optional capabilities ---------------------------------------------------------------
    def translator(self) -> Translator | None:
        """Both translation directions of an image-to-image family; None for the others."""
        return None

    def prompts(self) -> list[str] | None:
        """The held-out prompts of a text-conditional family; None for the others."""
        return None

    # -- optional --------------------------------------------------------------------------------
    def weights_restored(self, loaded: list[str]) -> None:
        """After a checkpoint loaded the modules named in ``loaded``: fill in any module it
        lacked (e.g. an EMA copy switched on at resume), or raise if one is required."""
        return None

    def extra_state(self) -> dict[str, Any]:
        """Anything else an exact resume needs (a phase, a pool of images); the engine saves
        the random streams and the data position itself. Tensors and plain containers only
        (read back with ``weights_only=True``)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`extra_state`."""
        return None

    def reconfigure(self, section: S) -> None:
        """Follow ``section`` (this family's config, checked) from the next step on: it
        differs from the current one in :attr:`live_settings` only. Networks and optimiser
        state are kept."""
        return None

    def snapshot(self, step: int) -> list[Artefact]:
        """What the model makes now, as typed artefacts (image grid, 2-D scatter, text); the
        loop saves them under ``samples/`` and hands them to the report and TensorBoard."""
        return []

    def evaluate(self, final: bool) -> dict[str, Any]:
        """Diagnostics of the current model: numbers (logged, plotted), plus strings or a
        ``card`` dict that say how they were made. Must not touch the training streams."""
        return {}

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        """Human-readable lines for the end of a run."""
        return []

    def run_info(self) -> dict[str, Any]:
        """Extra facts for ``run_info.json`` (e.g. the objective), shown by the report."""
        return {}


def timed_evaluation(family: Family[Any], final: bool) -> dict[str, Any]:
    """``family.evaluate(final)`` with ``eval_seconds`` (sampling included) added when it
    measured anything: the one place evaluations are timed; the key also marks a logged
    record as an evaluation (the report tables those rows)."""
    t0 = time.perf_counter()
    results = family.evaluate(final=final)
    if results:
        results = {**results, "eval_seconds": round(time.perf_counter() - t0, 3)}
    return results

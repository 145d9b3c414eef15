"""Steering: changes made to a run between its steps, kept as events and replayed on resume.

A run can be steered while it trains (the live page, :mod:`ganlab.live`): paused, advanced
one update at a time, its learning rates and its family's live settings changed (the
objective, ``n_critic``, penalty weights, EMA), snapshotted and forked. Every change is an
event in ``RUN/events.jsonl`` (:data:`ganlab.runs.EVENTS`), applied *before* step ``step``
(``step`` counts the steps completed)::

    {"step": 700, "what": "set", "key": "objective.name", "old": "ns", "new": "wgan-gp"}
    {"step": 910, "what": "step", "new": "d"}      # step 910 updated D only
    {"step": 950, "what": "pause"}                 # kept for the record, never replayed

The state of a run before step ``s`` is a pure function of its ``config.yaml`` and the
events before ``s`` (``config.yaml`` itself is never rewritten by steering). So a resumed run
first applies the settings of the events before its checkpoint's step (:meth:`restored`),
then applies the later events as the loop reaches their steps, and ends bit-exactly where the
uninterrupted steered run ends.

The loop calls :meth:`before_step` (which applies due events and commands, and blocks while
the run is paused) and :meth:`after_step`; any other thread sends commands with
:meth:`submit` and watches through :meth:`watch`. The loop never waits on a watcher.

Learning rates: a change sets the *base* rate of the optimiser (its rate at lr factor 1, what
``optim.NAME.lr`` means in the config); the loop's schedule (``train.lr_decay``) and the
divergence guard's ``lr_scale`` still multiply it, so a decaying run keeps decaying from the
new rate. Adam's moments are kept: only ``param_group["lr"]`` changes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ganlab import config as config_mod
from ganlab import runs
from ganlab.config import Config
from ganlab.data import build_data
from ganlab.engine import checkpoint as ckpt
from ganlab.engine.family import Family
from ganlab.errors import GanlabError

UPDATES = "updates"            # the pseudo-setting: which networks a step updates
REPLAYED = ("set", "step", "draw")   # the kinds of event that change the trajectory
COMMANDS = ("pause", "resume", "step", "set", "snapshot", "fork", "rewind", "draw")
MAX_DRAWN = 2000               # points of drawn 2-D data
LR_KEY = re.compile(r"^optim\.([A-Za-z0-9_]+)\.lr$")
PAUSE_POLL = 0.05              # seconds between looks at the command queue while paused


class Trainer(Protocol):
    """What steering uses of :class:`ganlab.engine.loop.Trainer` (which imports this module)."""

    cfg: Config
    run_dir: Path
    family: Family[Any]
    is_main: bool
    step: int
    _base_lrs: dict[str, list[float]]

    def _set_lr(self) -> None: ...
    def _state(self) -> dict[str, Any]: ...
    def _snapshot(self, step: int) -> None: ...
    def _write_run_info(self) -> None: ...
    def save_checkpoint(self) -> Path | None: ...


class Watcher(Protocol):
    """What watches a steered run (the live page's server): told after every step and, while
    the run is paused, a few times a second. Runs on the training thread: it must be quick."""

    def on_step(self, steering: Steering) -> None: ...


@dataclass
class Command:
    """A request from another thread; ``result`` gets the event it made (or the error)."""

    kind: str
    key: str = ""
    value: Any = None
    result: Future[dict[str, Any]] = field(default_factory=Future)


def _lookup(data: Any, key: str) -> Any:
    """The value at dotted ``key`` of nested dicts (a config as plain data)."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            raise GanlabError(f"{key}: no such setting")
        data = data[part]
    return data


class Steering:
    """The steering of one :class:`~ganlab.engine.loop.Trainer` (see the module docstring)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.family = trainer.family
        self.run_dir = trainer.run_dir
        self.section_name = trainer.cfg.family
        self._base_data = config_mod.to_dict(trainer.cfg)   # config.yaml, never changed here
        self._data = self._base_data                        # the config after the events so far
        self._orig_lrs = {k: list(v) for k, v in trainer._base_lrs.items()}
        self._base_source = self.family.ctx.data   # the data of config.yaml
        self._events = runs.read_events(self.run_dir) if trainer.is_main else []
        self._pending = [e for e in self._events if e.get("what") in REPLAYED]
        self._queue: queue.Queue[Command] = queue.Queue()
        self._watchers: list[Watcher] = []
        self._once_restore: str | None = None
        self._lock = threading.Lock()
        self.paused = False
        self.finished = False
        self.message = ""
        self.last_record: dict[str, Any] | None = None   # the newest logged record

    # -- what may change ------------------------------------------------------------------
    def live_keys(self) -> tuple[str, ...]:
        """The settings that may change between steps: the family's, and ``updates`` when
        the family can update its networks one at a time."""
        keys = tuple(self.family.live_settings)
        return keys + ((UPDATES,) if len(self.family.update_modes) > 1 else ())

    def settings(self) -> dict[str, Any]:
        """The current value of every live setting."""
        out = {k: _lookup(self._data[self.section_name], k) for k in self.family.live_settings}
        if UPDATES in self.live_keys():
            out[UPDATES] = self.family.updates
        return out

    def check(self, key: str, value: Any) -> tuple[dict[str, Any], Any]:
        """The config (plain data) with ``key`` set to ``value`` and the value as the config
        reads it, checked by the config's own constraints; a :class:`GanlabError` with one
        line when the key or the value is refused."""
        if key not in self.live_keys():
            allowed = ", ".join(self.live_keys()) or "none for this family"
            raise GanlabError(f"{key!r} cannot change while a run trains; allowed: {allowed}")
        if key == UPDATES:
            if value not in self.family.update_modes:
                raise GanlabError(f"updates: {value!r} is not one of "
                                  f"{', '.join(self.family.update_modes)}")
            return self._data, value
        full = f"{self.section_name}.{key}"
        if isinstance(value, (dict, list)):
            raise GanlabError(f"{full}: {value!r} is not a plain value")
        data = config_mod.apply_override(self._data, f"{full}={json.dumps(value)}")
        try:
            data = config_mod.to_dict(config_mod.from_dict(data))
        except GanlabError as exc:
            raise GanlabError(str(exc).splitlines()[0]) from None
        return data, _lookup(data[self.section_name], key)

    def check_draw(self, value: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """Drawn 2-D data (``{"points": [[x, y], ...], "std": s}``, inside the plane) as the
        config's ``data.name=mixture`` with those means: the config with it, and the value as
        recorded; a one-line refusal otherwise."""
        if self.family.spec.kind != "points" or tuple(self.family.spec.sample_shape) != (2,):
            raise GanlabError("draw: only a run on 2-D points takes drawn data")
        if not isinstance(value, dict) or not isinstance(value.get("points"), list):
            raise GanlabError('draw: give {"points": [[x, y], ...], "std": s}')
        pts = value["points"]
        if not 1 <= len(pts) <= MAX_DRAWN:
            raise GanlabError(f"draw: between 1 and {MAX_DRAWN} points, got {len(pts)}")
        x0, x1, y0, y1 = self.family.spec.extra.get("bounds") or (-1e9, 1e9, -1e9, 1e9)
        means = []
        for p in pts:
            ok = isinstance(p, list) and len(p) == 2 and all(
                isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                for c in p)
            if not ok or not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
                raise GanlabError(f"draw: {str(p)[:40]} is not a point [x, y] inside the plane "
                                  f"({x0:g}..{x1:g}, {y0:g}..{y1:g})")
            means.append([float(p[0]), float(p[1])])
        std = value.get("std", 0.02)
        data = self._data
        for item in ("data.name=mixture", f"data.means={json.dumps(means)}",
                     f"data.std={json.dumps(std)}", "data.weights=null"):
            data = config_mod.apply_override(data, item)
        try:
            data = config_mod.to_dict(config_mod.from_dict(data))
        except GanlabError as exc:
            raise GanlabError(str(exc).splitlines()[0]) from None
        return data, {"points": means, "std": data["data"]["std"]}

    # -- applying -------------------------------------------------------------------------
    def _apply_data(self, data: dict[str, Any]) -> None:
        """Make the family and the optimisers follow config ``data`` (its live settings)."""
        cfg = config_mod.from_dict(data)
        section = cfg.section
        self.family.reconfigure(section)
        if data["data"] != self._data["data"]:   # drawn data: a new source, stateless
            self.family.ctx.data = build_data(cfg.data)
        trainer = self.trainer
        for name, bases in self._orig_lrs.items():
            orig = self._lr_setting(self._base_data, name)
            new = self._lr_setting(data, name)
            if orig is None or new is None:
                continue
            trainer._base_lrs[name] = [b * new / orig for b in bases]
        trainer._set_lr()   # the optimiser's rate now; Adam's state is untouched
        self._data = data

    def _lr_setting(self, data: dict[str, Any], name: str) -> float | None:
        key = f"optim.{name}.lr"
        if key not in self.family.live_settings:
            return None
        return float(_lookup(data[self.section_name], key))

    def _apply(self, event: dict[str, Any]) -> None:
        """Apply a replayed or new event of kind ``set`` or ``step``."""
        if event["what"] == "draw":
            self._apply_data(self.check_draw(event["new"])[0])
        elif event["what"] == "step":
            if self._once_restore is None:
                self._once_restore = self.family.updates
            self.family.updates = str(event["new"])
        elif event["key"] == UPDATES:
            self.family.updates = str(event["new"])
        else:
            self._apply_data(self.check(str(event["key"]), event["new"])[0])

    def restored(self, step: int, path: Path, loaded: list[str]) -> list[str]:
        """After checkpoint ``path`` of ``step`` loaded (its modules ``loaded``): apply the
        settings of the events before ``step`` and keep the others for their steps. When that
        changes the family's networks (EMA switched on), their weights are read again from the
        checkpoint. Returns the module names the checkpoint filled."""
        before = set(self.family.modules())
        data = self._base_data
        updates = self.family.update_modes[0]
        self._data = self._base_data   # drawn data is set again below when it was drawn
        self.family.ctx.data = self._base_source
        for ev in self._events:
            if ev["step"] >= step or ev.get("what") not in ("set", "draw"):
                continue
            if ev.get("what") == "draw":
                for item in ("data.name=mixture", f"data.means={json.dumps(ev['new']['points'])}",
                             f"data.std={json.dumps(ev['new']['std'])}", "data.weights=null"):
                    data = config_mod.apply_override(data, item)
            elif ev["key"] == UPDATES:
                updates = str(ev["new"])
            else:
                data = config_mod.apply_override(
                    data, f"{self.section_name}.{ev['key']}={json.dumps(ev['new'])}")
        self._once_restore = None
        self.family.updates = updates
        self._apply_data(data)
        self._pending = [e for e in self._events
                         if e.get("what") in REPLAYED and e["step"] >= step]
        if set(self.family.modules()) != before:
            loaded = ckpt.load_weights(path, self.family.modules())
        return loaded

    def _record(self, event: dict[str, Any]) -> dict[str, Any]:
        """Append a new event to the run folder. A live change made while recorded changes
        of a resumed run are still ahead drops those (the run takes a new course)."""
        if self._pending:
            self._events = [e for e in self._events if e not in self._pending]
            self._pending = []
            if self.trainer.is_main:
                runs.write_events(self.run_dir, self._events)
            self.message = (f"the changes recorded after step {event['step']} were dropped: "
                            "the run takes a new course")
        self._events.append(event)
        if self.trainer.is_main:
            runs.append_event(self.run_dir, event)
        return event

    # -- the loop's side ----------------------------------------------------------------------
    def before_step(self, stop: Callable[[], int]) -> None:
        """Before step ``trainer.step``: apply the events recorded for it, then the commands
        sent; while paused, wait (watchers still told) until a command lets a step run or
        ``stop()`` reports a signal."""
        if self._once_restore is not None:
            self.family.updates = self._once_restore
            self._once_restore = None
        step = self.trainer.step
        while self._pending and self._pending[0]["step"] <= step:
            self._apply(self._pending.pop(0))
        if self._queue.empty() and not self.paused:
            return
        while True:
            if self._drain(step):
                return                                   # a single step was asked for
            if not self.paused or stop():
                return
            self._tell()
            try:
                cmd = self._queue.get(timeout=PAUSE_POLL)
            except queue.Empty:
                continue
            if self._handle(cmd, step):
                return

    def _drain(self, step: int) -> bool:
        """Handle every waiting command; True when one asked for a single step (the others
        wait for the next call)."""
        while True:
            try:
                cmd = self._queue.get_nowait()
            except queue.Empty:
                return False
            if self._handle(cmd, step):
                return True

    def _handle(self, cmd: Command, step: int) -> bool:
        """Carry out one command; True when it lets one step run."""
        try:
            event, go = self._carry_out(cmd, step)
        except GanlabError as exc:
            cmd.result.set_exception(exc)
            return False
        except Exception as exc:   # never let a command stop the training
            cmd.result.set_exception(GanlabError(f"{cmd.kind}: {exc}"))
            return False
        cmd.result.set_result(event)
        self._tell()
        return go

    def _carry_out(self, cmd: Command, step: int) -> tuple[dict[str, Any], bool]:
        if cmd.kind == "pause":
            self.paused = True
            return self._record({"step": step, "what": "pause"}), False
        if cmd.kind == "resume":
            self.paused = False
            return self._record({"step": step, "what": "resume"}), False
        if cmd.kind == "set":
            old = self.settings()[cmd.key] if cmd.key in self.live_keys() else None
            _, new = self.check(cmd.key, cmd.value)
            event = {"step": step, "what": "set", "key": cmd.key, "old": old, "new": new}
            self._apply(event)
            return self._record(event), False
        if cmd.kind == "step":
            mode = self.family.update_modes[0] if cmd.value == "full" else cmd.value
            if mode not in self.family.update_modes:
                raise GanlabError(f"step: {cmd.value!r} is not one of full, "
                                  f"{', '.join(self.family.update_modes[1:])}")
            if not self.paused:
                self.paused = True
                self._record({"step": step, "what": "pause"})
            event = {"step": step, "what": "step", "new": mode}
            self._apply(event)
            return self._record(event), True
        if cmd.kind == "draw":
            _, new = self.check_draw(cmd.value)
            event = {"step": step, "what": "draw", "new": new}
            self._apply(event)
            return self._record(event), False
        if cmd.kind == "snapshot":
            path = self.trainer.save_checkpoint()
            self.trainer._snapshot(step)
            return self._record({"step": step, "what": "snapshot", "new": str(path)}), False
        if cmd.kind == "fork":
            child = self.fork(step)
            return self._record({"step": step, "what": "fork", "new": str(child)}), False
        if cmd.kind == "rewind":
            source = self._checkpoint(cmd.value)
            child = self.fork(step, source)
            return self._record({"step": step, "what": "rewind", "from": cmd.value,
                                 "new": str(child)}), False
        raise GanlabError(f"unknown command {cmd.kind!r}; known: {', '.join(COMMANDS)}")

    def after_step(self, record: dict[str, Any] | None) -> None:
        """After a step (``record``: what it logged, None when it logged nothing)."""
        if record is not None:
            self.last_record = record
        self._tell()

    def _tell(self) -> None:
        for w in self._watchers:
            try:
                w.on_step(self)
            except Exception as exc:   # a failing view never stops the training
                self.message = f"live view failed: {type(exc).__name__}: {exc}"

    # -- other threads' side --------------------------------------------------------------------
    def submit(self, kind: str, key: str = "", value: Any = None) -> Future[dict[str, Any]]:
        """Queue a command for the loop; the future gets its event or its error."""
        if kind not in COMMANDS:
            raise GanlabError(f"unknown command {kind!r}; known: {', '.join(COMMANDS)}")
        cmd = Command(kind, key, value)
        if self.finished:
            cmd.result.set_exception(GanlabError("the run has ended; nothing more can change"))
        else:
            self._queue.put(cmd)
        return cmd.result

    def watch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers = [*self._watchers, watcher]

    def events(self) -> list[dict[str, Any]]:
        """The events recorded so far (and those of a resumed run still ahead)."""
        return list(self._events)

    def begin(self) -> None:
        """The loop starts (again, after an earlier ``run(until=...)``)."""
        self.finished = False

    def end(self) -> None:
        """The loop is done: refuse further commands, answer those waiting."""
        self.finished = True
        self.paused = False
        while True:
            try:
                cmd = self._queue.get_nowait()
            except queue.Empty:
                break
            cmd.result.set_exception(GanlabError("the run has ended; nothing more can change"))
        self._tell()

    # -- forks ----------------------------------------------------------------------------------
    def checkpoint_steps(self) -> list[int]:
        """The steps of the run's checkpoints, oldest first (what a rewind can go back to)."""
        return [ckpt.step_of(p) for p in ckpt.folders(self.run_dir / runs.CHECKPOINTS)]

    def _checkpoint(self, step: Any) -> Path:
        """The complete checkpoint folder of ``step``, or a one-line refusal."""
        if not isinstance(step, int) or isinstance(step, bool):
            raise GanlabError(f"rewind: give the step of a checkpoint, not {step!r}")
        for path in ckpt.folders(self.run_dir / runs.CHECKPOINTS):
            if ckpt.step_of(path) == step:
                why = ckpt.problem(path)
                if why is not None:
                    raise GanlabError(f"rewind: the checkpoint of step {step} is unreadable "
                                      f"({why})")
                return path
        steps = ", ".join(map(str, self.checkpoint_steps())) or "none yet"
        raise GanlabError(f"rewind: no checkpoint of step {step}; there are: {steps}")

    def fork(self, step: int, source: Path | None = None) -> Path:
        """A new run folder beside this one that starts from this run's state now (or from
        its checkpoint ``source``: a rewind): the same config, the events up to that step,
        its checkpoint, the metrics logged up to it and ``parent`` in its ``run_info.json``.
        ``ganlab resume FOLDER`` trains it on, taking the same course this run took from
        there until someone steers it."""
        trainer = self.trainer
        if source is not None:
            step = ckpt.step_of(source)
        cfg = config_mod.from_dict(self._base_data)
        cfg = dataclasses.replace(cfg, name=f"{cfg.name}-fork")
        child = runs.new_run(cfg, self.run_dir.parent)
        trainer._write_run_info()
        info = runs.read_run_info(self.run_dir)
        info["parent"] = {"run": str(self.run_dir), "step": step}
        (child / runs.RUN_INFO).write_text(json.dumps(info) + "\n", encoding="utf-8")
        metrics = self.run_dir / runs.METRICS
        if metrics.is_file():
            shutil.copyfile(metrics, child / runs.METRICS)
            runs.truncate_metrics(child, step)
        kept = [e for e in self._events if e.get("what") in REPLAYED and e["step"] <= step
                and e not in self._pending]
        runs.write_events(child, [*kept, {"step": step, "what": "forked",
                                          "new": str(self.run_dir), "time": time.time()}])
        if source is None:
            ckpt.save(child / runs.CHECKPOINTS, step, self.family.modules(), trainer._state(),
                      keep=trainer.cfg.train.keep_checkpoints)
        else:
            shutil.copytree(source, child / runs.CHECKPOINTS / source.name)
        return child

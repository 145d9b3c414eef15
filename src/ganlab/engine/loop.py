"""The training loop: schedule, logging, snapshots, checkpoints, exact resume, Ctrl-C.

The loop knows nothing of losses or architectures; it drives a :class:`Family`. A run that is
stopped (Ctrl-C, a crash, ``until=``) and resumed from its checkpoint ends bit-for-bit equal to
an uninterrupted run: the checkpoint holds every random generator's state, the optimisers'
state and the data position, and the learning rate is a pure function of the step.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ganlab.config import Config
from ganlab.engine import checkpoint as ckpt
from ganlab.engine.family import Family, timed_evaluation
from ganlab.engine.guard import REMEDIES, non_finite
from ganlab.engine.schedule import lr_factor
from ganlab.engine.steering import Steering
from ganlab.errors import GanlabError
from ganlab.report.artefacts import artefact_path
from ganlab.report.html import write_report
from ganlab.report.tensorboard import EventWriter
from ganlab.runs import (
    CHECKPOINTS,
    METRICS,
    RUN_INFO,
    SAMPLES,
    SUMMARY,
    TENSORBOARD,
    truncate_metrics,
    write_run_info,
)
from ganlab.strictjson import write_json

INTERRUPTED = 130        # Ctrl-C (128 + SIGINT)
TERMINATED = 143         # SIGTERM, as schedulers and `docker stop` send (128 + SIGTERM)
DIVERGED = 3             # the divergence guard stopped the run


@contextlib.contextmanager
def _deferred_stop() -> Iterator[Callable[[], int]]:
    """While active, the first SIGINT or SIGTERM only records the signal (the yielded function
    returns its number, 0 when none came); a second one raises KeyboardInterrupt. Outside the
    main thread, signals are left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: 0
        return
    hits: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: hits[0] if hits else 0
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def seed_everything(seed: int) -> None:
    """Seed torch's global generator; ganlab draws everything else from explicit generators."""
    torch.manual_seed(seed)


class Trainer:
    """Runs ``cfg.train.steps`` steps of ``family`` and writes into ``run_dir``.

    Only the main process (``runtime.is_main``) writes files: metrics, snapshots,
    checkpoints, the summary and the report.
    """

    def __init__(self, cfg: Config, run_dir: Path, family: Family[Any], stream: Any = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.family = family
        self.runtime = family.runtime
        self.is_main = self.runtime.is_main
        self.runtime.attach(family.optimizers())  # gradients averaged over processes
        # the rates the optimisers were built with are the base of the lr schedule
        self._base_lrs = {name: [g["lr"] for g in opt.param_groups]
                          for name, opt in family.optimizers().items()}
        self.lr_scale = 1.0     # lowered by each divergence rollback; saved in checkpoints
        self.rollbacks = 0
        self.step = 0
        self.wall_before = 0.0
        self.stream = stream if stream is not None else sys.stderr
        self.ckpt_root = self.run_dir / CHECKPOINTS
        self._last_eval: tuple[int, dict[str, Any]] | None = None
        self._t0 = time.perf_counter()
        self._tb: Any = None
        if cfg.train.tensorboard and self.is_main:
            self._tb = EventWriter(self.run_dir / TENSORBOARD)
        # changes made between steps (the live page) and their replay on resume
        self.steering = Steering(self)

    # -- state ------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "wall_time": self.wall_before + (time.perf_counter() - self._t0),
            "torch_rng": self.runtime.rng_state(),
            "lr_scale": self.lr_scale,
            "rollbacks": self.rollbacks,
            "optimizers": {k: o.state_dict() for k, o in self.family.optimizers().items()},
            "streams": self.family.streams.state_dict(),
            "data": None if self.family.ctx.data is None else self.family.ctx.data.state_dict(),
            "family": self.family.extra_state(),
        }

    def _write_run_info(self) -> None:
        """What `ganlab sample` needs to rebuild the family without the training data."""
        if self.is_main and not (self.run_dir / RUN_INFO).exists():
            facts = {"curves": [c.to_json() for c in self.family.curves],
                     **self.family.run_info()}
            write_run_info(self.run_dir, self.family.name, self.family.spec.to_json(), facts)

    def save_checkpoint(self) -> Path | None:
        if not self.is_main:
            return None
        self._write_run_info()
        return ckpt.save(self.ckpt_root, self.step, self.family.modules(), self._state(),
                         keep=self.cfg.train.keep_checkpoints)

    def restore(self) -> bool:
        """Load the newest checkpoint of the run folder, if any. Returns whether one was found."""
        found = ckpt.load_latest(self.ckpt_root, self.family.modules())
        if found is None:
            if self.is_main:   # a crash before the first checkpoint: start over
                truncate_metrics(self.run_dir, 0)
            return False
        path, state, loaded = found   # an unreadable newest one falls back, with a warning
        # the settings the run was steered to before this checkpoint
        loaded = self.steering.restored(int(state["step"]), path, loaded)
        self.family.weights_restored(loaded)
        for name, opt in self.family.optimizers().items():
            if name not in state["optimizers"]:
                raise GanlabError(f"{path}: the checkpoint has no state for optimiser {name!r} "
                                  f"(it has {', '.join(state['optimizers'])}); was the config "
                                  "changed since this run was made?")
            opt.load_state_dict(state["optimizers"][name])
        family_state = state["family"]
        if "streams" in state:
            self.family.streams.load_state_dict(state["streams"])
        else:   # a checkpoint from before the engine owned the streams and the data position
            self.family.streams.load_legacy(family_state)
        data_state = state.get("data", family_state.get("data"))
        if data_state is not None and self.family.ctx.data is not None:
            self.family.ctx.data.load_state_dict(data_state)
        self.family.load_extra_state(family_state)
        self.runtime.set_rng_state(state["torch_rng"])
        self.lr_scale = float(state.get("lr_scale", 1.0))
        self.rollbacks = int(state.get("rollbacks", 0))
        self.step = int(state["step"])
        self.wall_before = float(state["wall_time"])
        truncate_metrics(self.run_dir, self.step)
        return True

    # -- loop -------------------------------------------------------------------------------
    def _set_lr(self) -> None:
        f = lr_factor(self.cfg.train.lr_decay, self.step, self.cfg.train.steps) * self.lr_scale
        for name, opt in self.family.optimizers().items():
            for group, base in zip(opt.param_groups, self._base_lrs[name], strict=True):
                group["lr"] = base * f

    def _log(self, record: dict[str, Any]) -> None:
        if not self.is_main:
            return
        with open(self.run_dir / METRICS, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._tb is not None:
            self._tb.add_scalars(int(record["step"]),
                                 {k: v for k, v in record.items() if k != "step"})

    def _snapshot(self, step: int) -> None:
        if not self.is_main:   # the others go on and wait at the next gradient average
            return
        artefacts = self.family.snapshot(step)
        folder = self.run_dir / SAMPLES
        for art in artefacts:
            path = art.save(artefact_path(folder, art, step))
            if self._tb is None:
                continue
            tag = f"samples/{art.name}" if art.name else "samples"
            if art.kind == "text":
                self._tb.add_text(step, tag, path.read_text(encoding="utf-8"))
            else:
                self._tb.add_image(step, tag, path)

    def run(self, until: int | None = None) -> int:
        """Train to ``cfg.train.steps`` (or stop after step ``until``). Returns an exit code.

        Ctrl-C (SIGINT) and SIGTERM are deferred to the end of the current step, so the
        checkpoint they save holds a whole number of steps and ``ganlab resume`` stays exact
        (exit codes 130 and 143). A second signal stops at once, without saving (the last
        periodic checkpoint remains). The divergence guard (``train.on_divergence``) stops the
        run at the first step whose weights, gradients or logged numbers are not finite, before
        anything of that step is written (exit code 3), or rolls back to the last checkpoint.
        """
        self.steering.begin()
        try:
            return self._run(until)
        finally:
            self.steering.end()   # commands sent after the end are refused

    def _run(self, until: int | None) -> int:
        tc = self.cfg.train
        stop_at = min(tc.steps, until) if until is not None else tc.steps
        self._t0 = time.perf_counter()
        self._write_run_info()
        bar = tqdm(total=tc.steps, initial=self.step, desc=self.cfg.name, unit="step",
                   disable=not (tc.progress and self.is_main), file=self.stream, dynamic_ncols=True,
                   mininterval=0.5)
        if self.step == 0 and tc.snapshot_every:
            self._snapshot(0)
        with _deferred_stop() as stop_signal:
            try:
                while self.step < stop_at:
                    self.steering.before_step(stop_signal)   # may wait while paused
                    signum = self.runtime.agree_max(stop_signal())
                    if signum:
                        bar.close()
                        path = self.save_checkpoint()
                        what = "terminated (SIGTERM)" if signum == signal.SIGTERM else \
                            "interrupted"
                        self._say(f"\n{what} at step {self.step}; checkpoint saved to {path}\n"
                                  f"continue with: ganlab resume {self.run_dir}")
                        self._close_tb()
                        return TERMINATED if signum == signal.SIGTERM else INTERRUPTED
                    diverged = self._one_step(bar, stop_at)
                    if diverged and not self._rollback(diverged):
                        bar.close()
                        self._close_tb()
                        return DIVERGED
            except KeyboardInterrupt:
                bar.close()
                last = ckpt.latest(self.ckpt_root)
                where = f"the last checkpoint is {last}" if last else "no checkpoint was saved"
                self._say(f"\nstopped inside step {self.step + 1} without saving ({where})\n"
                          f"continue with: ganlab resume {self.run_dir}")
                self._close_tb()
                return INTERRUPTED
        bar.close()
        self.save_checkpoint()
        if self.step < tc.steps:
            self._close_tb()
            self._say(f"stopped at step {self.step} of {tc.steps}; "
                      f"continue with: ganlab resume {self.run_dir}")
            return 0
        self.finish()
        return 0

    def _one_step(self, bar: Any, stop_at: int) -> list[str]:
        """One step, then its logs, snapshot and checkpoint; returns what was not finite
        (and writes nothing of the step) when the divergence guard trips."""
        tc = self.cfg.train
        self._set_lr()
        evaluate = self._eval_due(self.step + 1)
        log = (self.step + 1) % tc.log_every == 0 or self.step + 1 == tc.steps or evaluate
        logs = self.family.train_step(self.step, log)
        if log:
            logs = self.runtime.mean(logs)
        if tc.on_divergence != "ignore":
            bad = non_finite(self.family.modules(), logs)
            if self.runtime.agree_max(int(bool(bad))):
                return bad or ["the weights on another process"]
        self.step += 1
        bar.update(1)
        if log:
            record = {"step": self.step, **logs,
                      "lr_factor": lr_factor(tc.lr_decay, self.step - 1, tc.steps) * self.lr_scale,
                      "wall_time": round(self.wall_before + time.perf_counter() - self._t0, 3)}
            if evaluate and self.is_main:
                results = timed_evaluation(self.family, final=False)
                self._last_eval = (self.step, results)
                record.update(results)
            self._log(record)
            bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()
                             if k in self.family.progress_keys}, refresh=False)
        if tc.snapshot_every and self.step % tc.snapshot_every == 0:
            self._snapshot(self.step)
        if self.step % tc.checkpoint_every == 0 and self.step < stop_at:
            self.save_checkpoint()
        self.steering.after_step(record if log else None)
        return []

    def _say(self, message: str) -> None:
        if self.is_main:
            print(message, file=self.stream, flush=True)

    def _rollback(self, bad: list[str]) -> bool:
        """After a non-finite step: go back to the last checkpoint with lower learning rates
        (``train.on_divergence=rollback``) and return True, or say why the run stops and
        return False. Nothing of the bad step was written."""
        tc = self.cfg.train
        step = self.step + 1
        last = ckpt.latest(self.ckpt_root)
        where = (f"the last checkpoint, {last}, holds finite weights (step "
                 f"{ckpt.step_of(last)})" if last else "no checkpoint was written yet")
        what = ", ".join(bad)
        if tc.on_divergence == "rollback" and last is not None and \
                self.rollbacks < tc.max_rollbacks:
            rollbacks, scale = self.rollbacks, self.lr_scale   # restore() reads older ones
            try:
                self.restore()
            except GanlabError as exc:   # no checkpoint reads back: stop, saying why
                self._say(f"\ndiverged at step {step}: {what} not finite; cannot roll back "
                          f"({exc})")
                return False
            self.rollbacks = rollbacks + 1
            self.lr_scale = scale * tc.rollback_lr
            self._say(f"\nstep {step}: {what} not finite; rolled back to step {self.step} "
                      f"with the learning rates times {self.lr_scale:g} (rollback "
                      f"{self.rollbacks} of {tc.max_rollbacks})")
            return True
        tried = (f" after {self.rollbacks} rollback(s)" if tc.on_divergence == "rollback"
                 else "")
        self._say(f"\ndiverged at step {step}{tried}: {what} not finite; stopped without "
                  f"writing anything of this step; {where}.\nUsual remedies: {REMEDIES}; then "
                  f"`ganlab resume {self.run_dir} --set ...`, or set "
                  "train.on_divergence=rollback to go back and lower the learning rates "
                  "automatically")
        return False

    def _close_tb(self) -> None:
        if self._tb is not None:
            self._tb.close()

    def _eval_due(self, step: int) -> bool:
        """Evaluate after ``step``: every ``eval.every`` steps, and at the last step."""
        every = self.cfg.eval.every
        return bool(every) and (step % every == 0 or step == self.cfg.train.steps)

    def finish(self) -> dict[str, Any]:
        """Final snapshot, evaluation, summary.json and report for a completed run."""
        if not (self.cfg.train.snapshot_every and self.step % self.cfg.train.snapshot_every == 0):
            self._snapshot(self.step)
        if not self.is_main:   # the main process evaluates and writes; the others are done
            self.results: dict[str, Any] = {}
            return self.results
        last = self._last_eval
        if last is not None and last[0] == self.step:
            results = last[1]  # the loop has just evaluated this very model
        else:
            results = timed_evaluation(self.family, final=True)
        self.results = results
        summary = {"name": self.cfg.name, "steps": self.step,
                   "wall_time": round(self.wall_before + time.perf_counter() - self._t0, 3),
                   **results}
        write_json(self.run_dir / SUMMARY, summary)   # strict JSON: inf -> null + a note
        if self._tb is not None:
            self._tb.add_scalars(self.step, results, prefix="final/")
            self._close_tb()
        write_report(self.run_dir)
        return results

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
from ganlab.train import checkpoint as ckpt
from ganlab.train.family import Family, build_family
from ganlab.train.rundir import METRICS, SUMMARY, truncate_metrics
from ganlab.train.schedule import lr_factor

INTERRUPTED = 130


@contextlib.contextmanager
def _deferred_sigint() -> Iterator[Callable[[], bool]]:
    """While active, the first SIGINT only sets a flag (read with the yielded function); a
    second one raises KeyboardInterrupt. Outside the main thread, SIGINT is left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


def seed_everything(seed: int) -> None:
    """Seed torch's global generator; ganlab draws everything else from explicit generators."""
    torch.manual_seed(seed)


class Trainer:
    """Runs ``cfg.train.steps`` generator updates of ``family`` and writes into ``run_dir``."""

    def __init__(self, cfg: Config, run_dir: Path, family: Family | None = None,
                 stream: Any = None) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        if family is None:
            seed_everything(cfg.seed)
            family = build_family(cfg)
        self.family = family
        self.step = 0
        self.wall_before = 0.0
        self.stream = stream if stream is not None else sys.stderr
        self.ckpt_root = self.run_dir / "checkpoints"
        self._last_eval: tuple[int, dict[str, Any]] | None = None
        self._t0 = time.perf_counter()
        self._tb: Any = None
        if cfg.train.tensorboard:
            from ganlab.report.tensorboard import EventWriter

            self._tb = EventWriter(self.run_dir / "tensorboard")

    # -- state ------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "wall_time": self.wall_before + (time.perf_counter() - self._t0),
            "torch_rng": torch.get_rng_state(),
            "optimizers": {k: o.state_dict() for k, (o, _) in self.family.optimizers().items()},
            "family": self.family.extra_state(),
        }

    def save_checkpoint(self) -> Path:
        # what `ganlab sample` needs to rebuild the generator, even when no snapshot was taken
        write_info = getattr(self.family, "write_run_info", None)
        if write_info is not None and not (self.run_dir / "run_info.json").exists():
            write_info(self.run_dir)
        return ckpt.save(self.ckpt_root, self.step, self.family.modules(), self._state(),
                         keep=self.cfg.train.keep_checkpoints)

    def restore(self) -> bool:
        """Load the newest checkpoint of the run folder, if any. Returns whether one was found."""
        path = ckpt.latest(self.ckpt_root)
        if path is None:
            truncate_metrics(self.run_dir, 0)  # a crash before the first checkpoint: start over
            return False
        loaded = ckpt.load_weights(path, self.family.modules())
        self.family.weights_restored(loaded, self.stream)
        state = ckpt.load_state(path)
        for name, (opt, _) in self.family.optimizers().items():
            opt.load_state_dict(state["optimizers"][name])
        self.family.load_extra_state(state["family"])
        torch.set_rng_state(state["torch_rng"])
        self.step = int(state["step"])
        self.wall_before = float(state["wall_time"])
        truncate_metrics(self.run_dir, self.step)
        return True

    # -- loop -------------------------------------------------------------------------------
    def _set_lr(self) -> None:
        f = lr_factor(self.cfg.train.lr_decay, self.step, self.cfg.train.steps)
        for opt, base in self.family.optimizers().values():
            for group in opt.param_groups:
                group["lr"] = base * f

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / METRICS, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._tb is not None:
            self._tb.add_scalars(int(record["step"]),
                                 {k: v for k, v in record.items() if k != "step"})

    def _snapshot(self, step: int) -> None:
        paths = self.family.snapshot(self.run_dir, step)
        if self._tb is not None:
            for path in paths:
                self._tb.add_png(step, "samples", path)

    def run(self, until: int | None = None) -> int:
        """Train to ``cfg.train.steps`` (or stop after step ``until``). Returns an exit code.

        Ctrl-C (SIGINT) is deferred to the end of the current step, so the checkpoint it saves
        holds a whole number of steps and ``ganlab resume`` stays exact. A second Ctrl-C stops
        at once, without saving (the last periodic checkpoint remains).
        """
        tc = self.cfg.train
        stop_at = min(tc.steps, until) if until is not None else tc.steps
        self._t0 = time.perf_counter()
        bar = tqdm(total=tc.steps, initial=self.step, desc=self.cfg.name, unit="step",
                   disable=not tc.progress, file=self.stream, dynamic_ncols=True,
                   mininterval=0.5)
        if self.step == 0 and tc.snapshot_every:
            self._snapshot(0)
        with _deferred_sigint() as interrupted:
            try:
                while self.step < stop_at:
                    if interrupted():
                        bar.close()
                        path = self.save_checkpoint()
                        print(f"\ninterrupted at step {self.step}; checkpoint saved to {path}\n"
                              f"continue with: ganlab resume {self.run_dir}", file=self.stream)
                        self._close_tb()
                        return INTERRUPTED
                    self._one_step(bar, stop_at)
            except KeyboardInterrupt:
                bar.close()
                last = ckpt.latest(self.ckpt_root)
                where = f"the last checkpoint is {last}" if last else "no checkpoint was saved"
                print(f"\nstopped inside step {self.step + 1} without saving ({where})\n"
                      f"continue with: ganlab resume {self.run_dir}", file=self.stream)
                self._close_tb()
                return INTERRUPTED
        bar.close()
        self.save_checkpoint()
        if self.step < tc.steps:
            self._close_tb()
            print(f"stopped at step {self.step} of {tc.steps}; "
                  f"continue with: ganlab resume {self.run_dir}", file=self.stream)
            return 0
        self.finish()
        return 0

    def _one_step(self, bar: Any, stop_at: int) -> None:
        tc = self.cfg.train
        self._set_lr()
        evaluate = self._eval_due(self.step + 1)
        log = (self.step + 1) % tc.log_every == 0 or self.step + 1 == tc.steps or evaluate
        logs = self.family.train_step(self.step, log)
        self.step += 1
        bar.update(1)
        if log:
            record = {"step": self.step, **logs,
                      "lr_g_factor": lr_factor(tc.lr_decay, self.step - 1, tc.steps),
                      "wall_time": round(self.wall_before + time.perf_counter() - self._t0, 3)}
            if evaluate:
                results = self.family.evaluate(self.run_dir, final=False)
                self._last_eval = (self.step, results)
                record.update(results)
            self._log(record)
            bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()
                             if k in ("d_loss", "g_loss")}, refresh=False)
        if tc.snapshot_every and self.step % tc.snapshot_every == 0:
            self._snapshot(self.step)
        if self.step % tc.checkpoint_every == 0 and self.step < stop_at:
            self.save_checkpoint()

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
        last = self._last_eval
        if last is not None and last[0] == self.step:
            results = last[1]  # the loop has just evaluated this very model
        else:
            results = self.family.evaluate(self.run_dir, final=True)
        summary = {"name": self.cfg.name, "steps": self.step,
                   "wall_time": round(self.wall_before + time.perf_counter() - self._t0, 3),
                   **results}
        (self.run_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
        self.results = results
        if self._tb is not None:
            self._tb.add_scalars(self.step, results, prefix="final/")
            self._close_tb()
        try:
            from ganlab.report.html import write_report
        except ImportError:
            write_report = None
        if write_report is not None:
            write_report(self.run_dir)
        return results

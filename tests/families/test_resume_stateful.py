"""Every family, SIGKILLed at a random step of a run on data served in epochs (images, pairs,
text: a permutation and a position that a resume must restore) and resumed from its last
checkpoint, ends bit-exactly equal to the same run left alone: weights, optimiser-driven
numbers, the logged metrics.

The step is drawn at random each session; ``GANLAB_KILL_SEED`` replays a draw (the seed is in
every failure message)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from stepcheck import FAMILIES, tiny_run

from ganlab import config
from ganlab.api import build_trainer
from ganlab.engine import checkpoint as ckpt
from ganlab.runs import new_run, open_run
from helpers import untimed_metrics

STEPS = 8
KILL_SEED = int(os.environ.get("GANLAB_KILL_SEED", random.randrange(2**31)))

# runs in a child process: train the run folder given, SIGKILL itself as step `k` begins
CHILD = """
import os, signal, sys
from ganlab.api import build_trainer
from ganlab.runs import open_run
run, k = sys.argv[1], int(sys.argv[2])
cfg, _ = open_run(run)
trainer = build_trainer(cfg, run)
real_step = trainer.family.train_step
def step(i, log):
    if i == k:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_step(i, log)
trainer.family.train_step = step
trainer.run()
"""


def _weights(run: Path) -> dict[str, torch.Tensor]:
    path = ckpt.latest(run / "checkpoints")
    assert path is not None
    return load_file(str(path / ckpt.WEIGHTS))


@pytest.mark.parametrize("family", FAMILIES)
def test_sigkill_at_a_random_step_then_resume_is_bit_exact(tmp_path: Path, family: str) -> None:
    kill_at = random.Random(f"{KILL_SEED}-{family}").randint(3, STEPS - 1)
    why = f"{family} killed at step {kill_at} (GANLAB_KILL_SEED={KILL_SEED})"
    preset, overrides = tiny_run(family, tmp_path)
    cfg = config.load(preset=preset, overrides=[*overrides, f"train.steps={STEPS}",
                                                "train.checkpoint_every=2"])
    full = new_run(cfg, tmp_path / "full")
    assert build_trainer(cfg, full).run() == 0

    run = new_run(cfg, tmp_path / "killed")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parent), str(Path(__file__).parents[1]),
         os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(run), str(kill_at)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"{why}: {proc.stderr[-2000:]}"
    last = ckpt.latest(run / "checkpoints")
    assert last is not None and last.name != f"step-{STEPS:07d}", why

    cfg2, _ = open_run(run)
    resumed = build_trainer(cfg2, run)
    assert resumed.restore(), why
    assert 0 < resumed.step <= kill_at, why
    assert resumed.run() == 0 and resumed.step == STEPS, why
    wa, wb = _weights(full), _weights(run)
    assert wa.keys() == wb.keys(), why
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{why}: {key} differs"
    assert untimed_metrics(full) == untimed_metrics(run), why

"""The divergence guard and SIGTERM: a diverging run stops (or rolls back) before writing
anything non-finite; SIGTERM saves a checkpoint like Ctrl-C."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.engine.guard import non_finite
from helpers import untimed_metrics

TINY = ["gan.model.width=16", "gan.model.depth=2", "train.batch_size=32", "train.log_every=1",
        "train.snapshot_every=0", "train.checkpoint_every=5", "train.progress=false",
        "eval.n_samples=100", "train.steps=20", "gan.ema.enabled=false"]
HUGE_LR = ["gan.optim.G.lr=1e6", "gan.optim.D.lr=1e6"]


def _sets(items: list[str]) -> list[str]:
    return [a for o in items for a in ("--set", o)]


def _first_ten(tmp_path: Path, extra: list[str] = ()) -> Path:
    argv = ["train", "--preset", "ring-ns", "--out", str(tmp_path), "--until", "10",
            *_sets([*TINY, *extra])]
    assert main(argv) == 0
    (run,) = tmp_path.iterdir()
    return run


def test_non_finite_names_the_network_and_what() -> None:
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    assert non_finite({"G": a, "D": b}, {"d_loss": 0.5}) == []
    with torch.no_grad():
        b.weight[0, 0] = float("nan")
    a(torch.ones(1, 2)).sum().backward()
    a.weight.grad[0, 0] = float("inf")
    assert non_finite({"G": a, "D": b}, {"g_loss": math.inf}) == [
        "logged g_loss", "gradients of G", "weights of D"]


def test_a_diverging_run_stops_with_its_last_finite_checkpoint_intact(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _first_ten(tmp_path)
    capsys.readouterr()
    code = main(["resume", str(run), *_sets(HUGE_LR)])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 3
    assert "diverged at step" in out and "not finite" in out and "step 10" in out
    assert "Usual remedies: lower the learning rates" in out
    latest = ckpt.latest(run / "checkpoints")
    assert latest is not None and latest.name == "step-0000010"
    weights = load_file(str(latest / "weights.safetensors"))
    assert all(bool(torch.isfinite(t).all()) for t in weights.values())
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(math.isfinite(v) for r in records for v in r.values()
               if isinstance(v, float))
    assert not (run / "summary.json").exists()
    # the run can be finished with sane learning rates
    assert main(["resume", str(run), "--set", "gan.optim.G.lr=1e-3",
                 "--set", "gan.optim.D.lr=1e-3"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 20


def test_rollback_lowers_the_learning_rates_and_finishes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _first_ten(tmp_path)
    capsys.readouterr()
    code = main(["resume", str(run), *_sets([*HUGE_LR, "train.on_divergence=rollback",
                                            "train.rollback_lr=1e-9"])])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 0, out
    assert "rolled back to step 10 with the learning rates times 1e-09" in out
    state = ckpt.load_state(ckpt.latest(run / "checkpoints"))
    assert state["step"] == 20 and state["rollbacks"] == 1 and state["lr_scale"] == 1e-9


def test_rollback_gives_up_after_max_rollbacks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _first_ten(tmp_path)
    capsys.readouterr()
    code = main(["resume", str(run), *_sets([*HUGE_LR, "train.on_divergence=rollback",
                                            "train.rollback_lr=0.5", "train.max_rollbacks=2"])])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 3 and out.count("rolled back to step 10") == 2
    assert "after 2 rollback(s)" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "ganlab", "train", "--preset", "ring-ns", "--out",
            str(tmp_path), *_sets([*TINY, "train.steps=100000", "train.checkpoint_every=100000",
                                   "train.log_every=1"])]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    deadline = time.time() + 60
    metrics = None
    while time.time() < deadline:
        found = list(tmp_path.glob("*/metrics.jsonl"))
        if found and found[0].stat().st_size > 0:
            metrics = found[0]
            break
        time.sleep(0.1)
    assert metrics is not None, "training did not start"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (out, err)
    out += err
    assert "terminated (SIGTERM) at step" in out
    run = metrics.parent
    latest = ckpt.latest(run / "checkpoints")
    assert latest is not None
    state = ckpt.load_state(latest)
    assert state["step"] >= 1 and f"continue with: ganlab resume {run}" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigkill_at_a_random_step_then_resume_equals_an_uninterrupted_run(
        tmp_path: Path) -> None:
    import random

    sets = _sets([*TINY, "train.steps=40", "train.checkpoint_every=5", "train.threads=1",
                  "gan.ema.enabled=true"])
    whole = tmp_path / "whole"
    assert main(["train", "--preset", "ring-ns", "--out", str(whole), *sets]) == 0
    (whole,) = whole.iterdir()
    kill_after = random.Random(os.getpid()).randint(6, 34)   # a different step on each run
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "ganlab", "train", "--preset", "ring-ns",
                             "--out", str(killed), *sets],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        found = list(killed.glob("*/metrics.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= kill_after:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (run,) = killed.iterdir()
    assert main(["resume", str(run), "--no-progress"]) == 0, f"killed after {kill_after}"

    def final(r: Path) -> dict[str, torch.Tensor]:
        return load_file(str(ckpt.latest(r / "checkpoints") / "weights.safetensors"))

    a, b = final(whole), final(run)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), kill_after

    assert untimed_metrics(whole) == untimed_metrics(run)

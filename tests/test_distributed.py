"""Data-parallel training on the CPU (gloo): two processes with half the batch each follow one
process with the whole batch, and a run moves between one and two processes when resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TINY = ["gan.model.width=32", "gan.model.depth=2", "train.batch_size=64", "train.log_every=1",
        "train.snapshot_every=0", "train.checkpoint_every=4", "train.progress=false",
        "eval.n_samples=100", "train.steps=8", "train.threads=1"]
KEYS = ("d_loss", "g_loss", "d_adv", "d_real", "d_fake", "r1")


def _sets(items: list[str]) -> list[str]:
    return [a for o in items for a in ("--set", o)]


def _ganlab(args: list[str], nproc: int = 1) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "ganlab", *args]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _train(out: Path, nproc: int, until: int | None = None) -> Path:
    extra = ["--until", str(until)] if until else []
    done = _ganlab(["train", "--preset", "ring-ns", "--out", str(out), *extra, *_sets(TINY)],
                   nproc)
    if until:   # one voice: the main process alone says where the run stopped
        assert (done.stdout + done.stderr).count("stopped at step") == 1, done.stderr
    (run,) = out.iterdir()
    return run


def _losses(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: r[k] for k in KEYS} | {"step": r["step"]} for r in rows]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    latest = (run / "checkpoints" / "latest").read_text().strip()
    return load_file(str(run / "checkpoints" / latest / "weights.safetensors"))


def _close(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("one"), 1)


def test_two_processes_follow_one_with_the_same_global_batch(
        one_process: Path, tmp_path: Path) -> None:
    two = _train(tmp_path, 2)
    a, b = _losses(one_process), _losses(two)
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, 9))
    for ra, rb in zip(a, b, strict=True):
        for k in KEYS:
            assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-6), (ra["step"], k)
    _close(_weights(one_process), _weights(two))
    # one run folder, written by the main process only
    assert len(list(tmp_path.iterdir())) == 1
    assert json.loads((two / "summary.json").read_text())["steps"] == 8


def test_a_run_moves_from_two_processes_to_one_and_back(
        one_process: Path, tmp_path: Path) -> None:
    two_then_one = _train(tmp_path / "a", 2, until=4)
    _ganlab(["resume", str(two_then_one), "--no-progress"], 1)
    _close(_weights(one_process), _weights(two_then_one))
    one_then_two = _train(tmp_path / "b", 1, until=4)
    _ganlab(["resume", str(one_then_two), "--no-progress"], 2)
    _close(_weights(one_process), _weights(one_then_two))


def test_a_process_of_several_ends_without_python_teardown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's gloo threads may still free the last collective's tensors when a process ends;
    Python's teardown would abort them (SIGABRT), so such a process ends with ``os._exit``,
    keeping its exit code. A single process ends normally."""
    import types

    from ganlab import cli

    ended: list[int] = []
    monkeypatch.setattr(cli.os, "_exit", ended.append)
    alone = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: False)
    monkeypatch.setitem(sys.modules, "torch.distributed", alone)
    assert cli.main(["presets"]) == 0
    assert ended == []
    joined = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True)
    monkeypatch.setitem(sys.modules, "torch.distributed", joined)
    assert cli.main(["presets"]) == 0
    assert cli.main(["train", "--preset", "no-such-preset"]) == 2
    assert ended == [0, 2]

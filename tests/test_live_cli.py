"""``ganlab train --live`` from the command line: the address, the missing extra, the run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ganlab import extras, runs
from ganlab.cli import main


def test_live_without_the_extra_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(extras.importlib.util, "find_spec",
                        lambda name, *a: None if name == "starlette" else real(name, *a))
    code = main(["train", "--preset", "ring-ns", "--live", "--out", str(tmp_path)])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "ganlab: error: --live (the live page) needs starlette: pip install 'ganlab[live]' "
        "(or pip install starlette)")
    assert not list(tmp_path.iterdir())   # refused before any run folder


def test_train_live_prints_the_address_and_trains_as_usual(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        tiny_ring_overrides: list[str]) -> None:
    pytest.importorskip("uvicorn")
    argv = ["train", "--preset", "ring-ns", "--live", "--port", "0", "--out", str(tmp_path)]
    for o in [*tiny_ring_overrides, "train.steps=10", "train.threads=1"]:
        argv += ["--set", o]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("live page: ")]
    assert line.startswith("live page: http://127.0.0.1:") and "/?token=" in line
    (run,) = tmp_path.iterdir()
    assert (run / runs.REPORT).is_file() and not (run / runs.EVENTS).exists()


def test_live_is_one_process_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--preset", "ring-ns", "--live", "--nproc", "2",
                 "--out", str(tmp_path)]) == 2
    assert "--live: one process only" in capsys.readouterr().err

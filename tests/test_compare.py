"""``ganlab compare``: groups of training runs, their spread, and differences beyond it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from ganlab.cli import main
from ganlab.metrics.compare import Group, compare


def _run(root: Path, name: str, seed: int, fid: float | None, family: str = "gan") -> Path:
    run = root / f"{name}-s{seed}"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump(
        {"name": name, "seed": seed, "family": family, family: {"objective": {"name": name}}}))
    if fid is not None:
        (run / "summary.json").write_text(json.dumps({"name": name, "fid": fid, "steps": 10}))
    return run


def test_welch_difference_and_verdict() -> None:
    a, b = Group("a", (10.0, 11.0, 12.0)), Group("b", (20.0, 21.0, 22.0))
    d = compare(a, b)
    assert d.diff == pytest.approx(10.0) and d.stderr == pytest.approx(math.sqrt(2 / 3))
    assert d.exceeds_spread and d.p_value < 0.01
    close = compare(a, Group("c", (10.5, 12.5, 11.5)))
    assert not close.exceeds_spread and close.p_value > 0.3
    single = compare(a, Group("d", (50.0,)))
    assert math.isnan(single.stderr) and not single.exceeds_spread


def test_compare_groups_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for s, v in enumerate((30.0, 31.0, 29.0)):
        _run(tmp_path / "runs", "baseline", s, v)
    for s, v in enumerate((20.0, 21.5, 19.0)):
        _run(tmp_path / "runs", "better", s, v)
    assert main(["compare", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "fid over 6 runs" in out and "baseline  n=3  30 ± 1" in out
    assert "better - baseline: -9.833, exceeds the spread" in out
    assert main(["compare", str(tmp_path / "runs"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [g["n"] for g in data["groups"]] == [3, 3]
    assert data["differences"][0]["exceeds_spread"] is True


def test_compare_by_a_config_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = [_run(tmp_path, "x", s, 5.0 + s, family=f) for s, f in
            enumerate(("gan", "cgan", "gan", "cgan"))]
    assert main(["compare", *map(str, runs), "--by", "family"]) == 0
    out = capsys.readouterr().out
    assert "gan  n=2" in out and "cgan  n=2" in out and "within the spread" in out


def test_compare_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = _run(tmp_path, "a", 0, 1.0)
    unfinished = _run(tmp_path, "a", 1, None)
    cases = [([str(tmp_path / "nowhere")], "no such folder"),
             ([str(done), str(unfinished)], "has not finished"),
             ([str(done), "--metric", "kid"], "no number 'kid'; it has fid, steps"),
             ([str(done), "--by", "gan.model.arch"], "no key 'gan.model.arch'"),
             ([str(tmp_path / "empty")], "neither a run folder")]
    (tmp_path / "empty").mkdir()
    for argv, words in cases:
        assert main(["compare", *argv]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err

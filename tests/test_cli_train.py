"""The `ganlab` command end to end on the 2-D lab."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ganlab import config
from ganlab.cli import main


def test_presets_lists_every_preset_with_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(config.preset_names())
    assert any(line.startswith("ring-wgan-gp ") for line in lines)
    assert any("(default)" in line for line in lines)


def test_short_ring_run_captures_all_modes(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--preset", "ring-ns", "--out", str(tmp_path), "--no-progress",
                 "--set", "train.steps=600", "--set", "gan.model.width=64",
                 "--set", "train.batch_size=256", "--set", "gan.ema.decay=0.99",
                 "--set", "train.snapshot_every=300", "--set", "train.threads=1"])
    out = capsys.readouterr().out
    assert code == 0
    match = re.search(r"modes captured: (\d+)/(\d+), high quality: ([\d.]+)%, "
                      r"reverse KL: ([\d.]+)", out)
    assert match, out
    assert match.group(1) == "8" and match.group(2) == "8"
    (run,) = tmp_path.iterdir()
    assert (run / "config.yaml").is_file()
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == [
        "step-0000000.png", "step-0000300.png", "step-0000600.png"]
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(50, 601, 50))
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm",
                "wall_time", "r1"):
        assert key in records[-1], key
    summary = json.loads((run / "summary.json").read_text())
    assert summary["modes_captured"] == 8 and summary["steps"] == 600
    assert f"run folder: {run}" in out


def test_resume_of_a_finished_run_says_so(tmp_path: Path, tiny_ring_overrides: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--preset", "ring-ns", "--out", str(tmp_path)]
    for o in [*tiny_ring_overrides, "train.steps=5"]:
        args += ["--set", o]
    assert main(args) == 0
    (run,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["resume", str(run)]) == 0
    assert "already trained 5 of 5 steps" in capsys.readouterr().out


def test_resume_of_a_non_run_folder_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resume", str(tmp_path)]) == 2
    assert "not a ganlab run folder (no config.yaml)" in capsys.readouterr().err

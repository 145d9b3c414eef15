"""Exact resume: N steps == N/2 steps + resume + N/2 steps, bit for bit."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganlab import config
from ganlab.api import build_trainer
from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.engine.loop import INTERRUPTED
from ganlab.runs import new_run, open_run

VARIANTS = {
    "ns-r1-ema": ["gan.objective.name=ns", "gan.objective.r1_gamma=1.0", "gan.ema.enabled=true"],
    "wgan-gp": ["gan.objective.name=wgan-gp", "gan.n_critic=2"],
    "wgan-clip": ["gan.objective.name=wgan", "gan.n_critic=3"],
    "hinge-sn-linear-decay": ["gan.objective.name=hinge", "gan.model.spectral_norm=true",
                              "train.lr_decay=linear"],
    "lsgan-cosine": ["gan.objective.name=lsgan", "train.lr_decay=cosine", "gan.ema.enabled=true"],
    "bf16-autocast": ["train.precision=bf16", "gan.ema.enabled=true"],
}


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    path = ckpt.latest(run_dir / "checkpoints")
    assert path is not None
    return load_file(str(path / ckpt.WEIGHTS))


def losses_by_step(run_dir: Path) -> list[tuple[int, float, float]]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["d_loss"], r["g_loss"]) for r in rows]


def assert_identical(a: Path, b: Path) -> None:
    wa, wb = final_weights(a), final_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{key} differs after resume"
    assert losses_by_step(a) == losses_by_step(b)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_resume_is_bit_exact(variant: str, tmp_path: Path,
                             tiny_ring_overrides: list[str]) -> None:
    overrides = [*tiny_ring_overrides, "train.steps=20", *VARIANTS[variant]]
    cfg = config.load(preset="ring-ns", overrides=overrides)
    full = new_run(cfg, tmp_path / "full")
    assert build_trainer(cfg, full).run() == 0

    half = new_run(cfg, tmp_path / "half")
    assert build_trainer(cfg, half).run(until=10) == 0
    cfg2, _ = open_run(half)
    resumed = build_trainer(cfg2, half)
    assert resumed.restore() and resumed.step == 10
    assert resumed.run() == 0 and resumed.step == 20
    assert_identical(full, half)


def test_resume_through_the_cli(tmp_path: Path, tiny_ring_overrides: list[str],
                                capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--preset", "ring-ns", "--no-progress"]
    for o in [*tiny_ring_overrides, "train.steps=16", "gan.ema.enabled=true"]:
        args += ["--set", o]
    assert main(["train", *args, "--out", str(tmp_path / "a")]) == 0
    assert main(["train", *args, "--out", str(tmp_path / "b"), "--until", "8"]) == 0
    out = capsys.readouterr()
    assert "continue with: ganlab resume" in out.err
    (run_b,) = (tmp_path / "b").iterdir()
    assert main(["resume", str(run_b), "--no-progress"]) == 0
    (run_a,) = (tmp_path / "a").iterdir()
    assert_identical(run_a, run_b)
    assert (run_b / "summary.json").is_file()


def _interrupt_then_resume(tmp_path: Path, overrides: list[str], wrap, resumed_at: int) -> None:
    """Train 20 steps straight, and again with ``wrap(real_train_step)`` stopping the loop;
    resume from the checkpoint found at ``resumed_at`` and compare bit for bit."""
    cfg = config.load(preset="ring-ns", overrides=[*overrides, "train.steps=20"])
    full = new_run(cfg, tmp_path / "full")
    build_trainer(cfg, full).run()
    run = new_run(cfg, tmp_path / "int")
    trainer = build_trainer(cfg, run)
    trainer.family.train_step = wrap(trainer.family.train_step)  # type: ignore[method-assign]
    assert trainer.run() == INTERRUPTED
    resumed = build_trainer(cfg, run)
    assert resumed.restore() and resumed.step == resumed_at
    resumed.run()
    assert_identical(full, run)


def test_ctrl_c_mid_step_finishes_the_step_then_checkpoints(
        tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    def wrap(real_step):
        def ctrl_c_inside_step(step: int, log: bool) -> dict[str, float]:
            if step == 12:  # a real SIGINT while the 13th step is running
                os.kill(os.getpid(), signal.SIGINT)
            return real_step(step, log)
        return ctrl_c_inside_step

    _interrupt_then_resume(tmp_path, [*tiny_ring_overrides, "train.checkpoint_every=100"],
                           wrap, resumed_at=13)


def test_forced_stop_inside_a_step_saves_nothing_and_resumes_exactly(
        tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    def wrap(real_step):
        def half_a_step(step: int, log: bool) -> dict[str, float]:
            out = real_step(step, log)          # the weights have moved ...
            if step == 13:
                raise KeyboardInterrupt         # ... but the step never completes
            return out
        return half_a_step

    # the half-done step is not saved: resume starts from the step-10 checkpoint
    _interrupt_then_resume(tmp_path, [*tiny_ring_overrides, "train.checkpoint_every=10"],
                           wrap, resumed_at=10)


def test_crash_before_the_first_checkpoint_starts_over_cleanly(
        tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    cfg = config.load(preset="ring-ns",
                      overrides=[*tiny_ring_overrides, "train.steps=20",
                                 "train.checkpoint_every=100"])
    full = new_run(cfg, tmp_path / "full")
    build_trainer(cfg, full).run()
    run = new_run(cfg, tmp_path / "crash")
    with open(run / "metrics.jsonl", "w") as fh:   # logged steps 5 and 10, then died
        fh.write('{"step": 5}\n{"step": 10}\n')
    resumed = build_trainer(cfg, run)
    assert not resumed.restore()
    resumed.run()
    assert_identical(full, run)
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15, 20]


def test_crash_after_checkpoint_drops_stale_log_lines(
        tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    cfg = config.load(preset="ring-ns", overrides=[*tiny_ring_overrides, "train.steps=20"])
    run = new_run(cfg, tmp_path)
    build_trainer(cfg, run).run(until=10)
    with open(run / "metrics.jsonl", "a") as fh:  # a crashed run logged past its checkpoint
        fh.write(json.dumps({"step": 15, "d_loss": 0.0, "g_loss": 0.0}) + "\n{\"step\": 1")
    resumed = build_trainer(cfg, run)
    resumed.restore()
    assert max(s for s, _, _ in losses_by_step(run)) == 10


def test_half_written_checkpoint_is_ignored(tmp_path: Path,
                                            tiny_ring_overrides: list[str]) -> None:
    cfg = config.load(preset="ring-ns", overrides=[*tiny_ring_overrides, "train.steps=10"])
    run = new_run(cfg, tmp_path)
    build_trainer(cfg, run).run(until=5)
    root = run / "checkpoints"
    (root / ".tmp-crashed").mkdir()
    (root / ".tmp-crashed" / ckpt.WEIGHTS).write_bytes(b"partial")
    (root / "step-0000009").mkdir()  # no files: a crash before the rename cannot leave this,
    assert ckpt.latest(root) == root / "step-0000005"  # but it must not be picked either


def test_corrupt_checkpoint_error_names_the_file(tmp_path: Path,
                                                 tiny_ring_overrides: list[str]) -> None:
    from ganlab.errors import GanlabError

    cfg = config.load(preset="ring-ns", overrides=[*tiny_ring_overrides, "train.steps=10"])
    run = new_run(cfg, tmp_path)
    build_trainer(cfg, run).run(until=5)
    path = ckpt.latest(run / "checkpoints")
    (path / ckpt.WEIGHTS).write_bytes(b"\x00" * 10)
    with pytest.raises(GanlabError, match="weights.safetensors: cannot read"):
        build_trainer(cfg, run).restore()


def _tiny_run(tmp_path: Path, overrides: list[str], steps: int = 10) -> Path:
    args = ["train", "--preset", "ring-ns", "--out", str(tmp_path)]
    for o in [*overrides, f"train.steps={steps}"]:
        args += ["--set", o]
    assert main(args) == 0
    (run,) = tmp_path.iterdir()
    return run


def test_rejected_resume_override_leaves_the_run_intact(
        tmp_path: Path, tiny_ring_overrides: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    run = _tiny_run(tmp_path, tiny_ring_overrides)
    before = (run / "config.yaml").read_text()
    capsys.readouterr()
    code = main(["resume", str(run), "--set", "gan.model.width=48", "--set", "train.steps=20"])
    err = capsys.readouterr().err
    assert code != 0
    assert "shape" in err and "gan.model.width" in err and "weights.safetensors" in err
    assert "Traceback" not in err
    assert (run / "config.yaml").read_text() == before      # not rewritten
    assert main(["resume", str(run), "--set", "train.steps=12"]) == 0   # still resumable


def test_ema_switched_on_at_resume_starts_from_g(
        tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    run = _tiny_run(tmp_path, [*tiny_ring_overrides, "gan.ema.enabled=false"])
    cfg = config.load(path=str(run / "config.yaml"), overrides=["gan.ema.enabled=true"])
    trainer = build_trainer(cfg, run)
    assert trainer.restore()
    g, g_ema = trainer.family.G.state_dict(), trainer.family.G_ema.state_dict()
    for key in g:
        assert torch.equal(g[key], g_ema[key]), key


def test_resume_finishes_a_run_whose_end_was_interrupted(
        tmp_path: Path, tiny_ring_overrides: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    run = _tiny_run(tmp_path, tiny_ring_overrides)
    (run / "summary.json").unlink()       # as if Ctrl-C hit the final evaluation
    (run / "report.html").unlink(missing_ok=True)
    capsys.readouterr()
    assert main(["resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "writing the summary" in out and "modes captured" in out
    assert (run / "summary.json").is_file()

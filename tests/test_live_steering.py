"""Steering a run between its steps: events in the run folder, replayed bit-exactly on resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from ganlab import config, runs
from ganlab.api import build_trainer, resume_run
from ganlab.engine import checkpoint as ckpt
from ganlab.engine.loop import Trainer
from ganlab.engine.steering import Steering
from ganlab.errors import GanlabError

# step -> the commands sent after that step (applied before the next one)
PLAN: dict[int, list[tuple[str, str, Any]]] = {
    3: [("set", "optim.G.lr", 5e-4), ("set", "optim.D.lr", 2e-3)],
    6: [("set", "objective.name", "wgan-gp"), ("set", "n_critic", 2)],
    8: [("step", "", "d")],          # pauses, then one D-only step
    9: [("step", "", "g")],          # one G-only step
    10: [("step", "", "full"), ("set", "ema.enabled", False)],
    11: [("resume", "", None)],
    12: [("draw", "", {"points": [[0.5, 0.5], [-0.5, 0.5], [0.0, -0.6]], "std": 0.05})],
    13: [("set", "ema.enabled", True), ("set", "objective.gp_weight", 5.0)],
    17: [("set", "updates", "d")],
    19: [("set", "updates", "both"), ("set", "objective.name", "hinge"),
          ("set", "objective.r1_gamma", 0.5)],
    23: [("set", "n_critic", 1), ("set", "objective.name", "ns")],
}


class Plan:
    """Sends the PLAN's commands once each, from the training thread (deterministic)."""

    def __init__(self) -> None:
        self.sent: set[int] = set()

    def on_step(self, steering: Steering) -> None:
        step = steering.trainer.step
        if step in PLAN and step not in self.sent:
            self.sent.add(step)
            for kind, key, value in PLAN[step]:
                steering.submit(kind, key, value)


def _cfg(overrides: list[str], steps: int = 26) -> config.Config:
    return config.load(preset="ring-ns",
                       overrides=[*overrides, f"train.steps={steps}", "train.threads=1",
                                  "train.keep_checkpoints=5"])


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.detach().clone() for m, mod in trainer.family.modules().items()
            for k, v in mod.state_dict().items()}


def _steered(tmp: Path, overrides: list[str], until: int | None = None) -> Trainer:
    cfg = _cfg(overrides)
    trainer = build_trainer(cfg, runs.new_run(cfg, tmp))
    trainer.steering.watch(Plan())
    assert trainer.run(until=until) == 0
    return trainer


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def test_steered_run_records_every_change(tmp_path: Path,
                                          tiny_ring_overrides: list[str]) -> None:
    trainer = _steered(tmp_path, tiny_ring_overrides)
    events = runs.read_events(trainer.run_dir)
    sets = [(e["step"], e["key"], e["old"], e["new"]) for e in events if e["what"] == "set"]
    assert (3, "optim.G.lr", 0.001, 5e-4) in sets
    assert (6, "objective.name", "ns", "wgan-gp") in sets
    assert (11, "ema.enabled", True, False) in sets   # the command after a step waits for it
    assert [(e["step"], e["new"]) for e in events if e["what"] == "step"] == \
        [(8, "d"), (9, "g"), (10, "both")]
    assert [e["step"] for e in events if e["what"] == "pause"] == [8]
    # the rate the optimiser uses is the new one; the run's config.yaml is never rewritten
    assert trainer.family.optimizers()["G"].param_groups[0]["lr"] == 5e-4
    assert config.load(path=trainer.run_dir / runs.CONFIG).section.objective.name == "ns"
    assert trainer.family.objective.name == "ns" and trainer.family.G_ema is not None
    assert trainer.family.data.mixture.n_modes == 3    # the drawn data, from step 12 on
    # the report lists them (and marks them on its curves)
    report = (trainer.run_dir / runs.REPORT).read_text(encoding="utf-8")
    assert "Steering events" in report and "step 6: objective.name" in report


def test_steered_run_resumed_from_a_checkpoint_is_bit_exact(
        tmp_path: Path, tiny_ring_overrides: list[str]) -> None:
    full = _steered(tmp_path / "full", tiny_ring_overrides)
    # the same steered run, stopped at step 24 ...
    part = _steered(tmp_path / "part", tiny_ring_overrides, until=24)
    # ... as if killed after step 24: its newest checkpoint is step 15 (EMA was switched back
    # on at 13, n_critic is 2, the objective wgan-gp with gp 5, the data drawn at 12); the
    # events after it replay
    for path in (part.run_dir / runs.CHECKPOINTS).glob("step-00000[2]*"):
        shutil.rmtree(path)
    assert ckpt.step_of(ckpt.latest(part.run_dir / runs.CHECKPOINTS)) == 15
    seen: list[Trainer] = []
    assert resume_run(part.run_dir, progress=False, say=lambda _m: None,
                      attach=seen.append) == 0
    _assert_same(_weights(full), _weights(seen[0]))
    # and from step 0, with no checkpoint at all: config.yaml + events.jsonl are the run
    again = runs.new_run(_cfg(tiny_ring_overrides), tmp_path / "again")
    shutil.copyfile(full.run_dir / runs.EVENTS, again / runs.EVENTS)
    replay = build_trainer(_cfg(tiny_ring_overrides), again)
    assert replay.run() == 0
    _assert_same(_weights(full), _weights(replay))


def test_refused_values_say_why_in_one_line(tmp_path: Path,
                                            tiny_ring_overrides: list[str]) -> None:
    cfg = _cfg(tiny_ring_overrides)
    trainer = build_trainer(cfg, runs.new_run(cfg, tmp_path))
    s = trainer.steering
    for key, value, words in [("n_critic", 0, "must be > 0"),
                              ("optim.G.lr", -1, "must be > 0"),
                              ("objective.name", "nope", "unknown objective"),
                              ("model.width", 8, "cannot change while a run trains"),
                              ("updates", "x", "not one of"),
                              ("n_critic", [1], "not a plain value")]:
        with pytest.raises(GanlabError, match=words) as info:
            s.check(key, value)
        assert "\n" not in str(info.value)


def test_a_fork_starts_from_the_state_now_and_trains_on(tmp_path: Path,
                                                       tiny_ring_overrides: list[str]) -> None:
    cfg = _cfg(tiny_ring_overrides)
    trainer = build_trainer(cfg, runs.new_run(cfg, tmp_path))
    forks: list[Any] = []

    class Forker:
        def on_step(self, steering: Steering) -> None:
            if steering.trainer.step == 12 and not forks:
                forks.append(steering.submit("set", "n_critic", 2))
                forks.append(steering.submit("fork"))

    trainer.steering.watch(Forker())
    assert trainer.run() == 0
    child = Path(forks[1].result()["new"])
    assert runs.read_run_info(child)["parent"] == {"run": str(trainer.run_dir), "step": 12}
    assert [r["step"] for r in runs.read_metrics(child)][-1] == 10
    seen: list[Trainer] = []
    assert resume_run(child, progress=False, say=lambda _m: None, attach=seen.append) == 0
    assert seen[0].step == 26 and seen[0].family.section.n_critic == 2
    # the fork took the same course as its parent (nothing else was steered)
    _assert_same(_weights(trainer), _weights(seen[0]))

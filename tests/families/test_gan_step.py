"""The GAN family's step, pinned to its docs (style: stepcheck): D minimises the objective's
``d_loss`` plus ``gp_weight * GP`` plus ``r1_gamma / 2 * R1``, G the objective's ``g_loss`` on
the fakes of the last critic step; the EMA generator follows ``decay`` from ``ema.start``;
the loop scales every learning rate by ``train.lr_decay``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from stepcheck import GradTap, assert_grads, build, expected_grads, frozen_copy, tap_calls, tiny_run

import ganlab.families.gan as gan_module
from ganlab import config
from ganlab.api import build_trainer
from ganlab.engine.schedule import lr_factor
from ganlab.runs import new_run


@pytest.mark.parametrize("gp_weight", [10.0, 2.5])
def test_critic_total_is_the_loss_plus_the_weighted_gradient_penalty(tmp_path: Path,
                                                                     gp_weight: float) -> None:
    fam = build("gan", tmp_path, "gan.objective.name=wgan-gp",
                f"gan.objective.gp_weight={gp_weight}",
                "gan.model.batch_norm_d=false")
    logs = fam.train_step(0, log=True)
    assert logs["gp"] > 0
    assert logs["d_loss"] == pytest.approx(logs["d_adv"] + gp_weight * logs["gp"], rel=1e-5)


@pytest.mark.parametrize("gamma", [1.0, 4.0])
def test_total_is_the_loss_plus_half_gamma_r1(tmp_path: Path, gamma: float) -> None:
    fam = build("gan", tmp_path, f"gan.objective.r1_gamma={gamma}", "gan.model.batch_norm_d=false")
    logs = fam.train_step(0, log=True)
    assert logs["r1"] > 0
    assert logs["d_loss"] == pytest.approx(logs["d_adv"] + 0.5 * gamma * logs["r1"], rel=1e-5)


def test_gradients_are_those_of_the_objective(tmp_path: Path) -> None:
    fam = build("gan", tmp_path)                        # ns
    fam.train_step(0, log=False)
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    tap_g = GradTap(fam.opt_g, keep=lambda: frozen_copy(fam.D))
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents:
        fam.train_step(1, log=True)
    real, z = batches.results[0].x, latents.results[0]
    fake = G0(z)
    d_loss = F.softplus(-D0(real)).mean() + F.softplus(D0(fake.detach())).mean()
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    (D1,) = tap_g.kept
    g_loss = F.softplus(-D1(fake)).mean()              # non-saturating: -log D(G(z))
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")


def test_the_generator_loss_falls_on_a_fixed_batch(tmp_path: Path) -> None:
    fam = build("gan", tmp_path)
    z = fam._latents(8)
    D = frozen_copy(fam.D).eval()

    def g_loss() -> float:
        with torch.no_grad():
            return float(F.softplus(-D(fam.G(z))).mean())

    before = g_loss()
    fam.D.requires_grad_(False)
    loss = F.softplus(-fam.D.eval()(fam.G(z))).mean()
    fam.opt_g.zero_grad()
    loss.backward()
    fam.opt_g.step()
    assert g_loss() < before


@pytest.mark.parametrize("start", [0, 2])
def test_ema_is_updated_every_step_with_its_decay_from_its_start(tmp_path: Path,
                                                                 start: int) -> None:
    decay = 0.9
    fam = build("gan", tmp_path, "gan.ema.enabled=true", f"gan.ema.decay={decay}",
                f"gan.ema.start={start}")
    for step in range(4):
        ema_before = [p.clone() for p in fam.G_ema.parameters()]
        with tap_calls(gan_module, "update_ema") as calls:
            fam.train_step(step, log=False)
        assert len(calls) == 1 and calls.args[0][0] is fam.G_ema and calls.args[0][1] is fam.G
        want_decay = decay if step >= start else 0.0
        assert calls.args[0][2] == want_decay
        for e0, e, g in zip(ema_before, fam.G_ema.parameters(), fam.G.parameters(), strict=True):
            torch.testing.assert_close(e, want_decay * e0 + (1 - want_decay) * g)


@pytest.mark.parametrize(("kind", "values"), [
    ("none", (1.0, 1.0, 1.0)),
    ("linear", (1.0, 0.5, 0.0)),
    ("hold-linear", (1.0, 1.0, 0.0)),
    ("cosine", (1.0, 0.5, 0.0)),
])
def test_lr_decay_at_its_end_points_and_midpoint(kind: str, values: tuple[float, ...]) -> None:
    got = tuple(lr_factor(kind, step, 100) for step in (0, 50, 100))
    assert got == pytest.approx(values, abs=1e-12)
    if kind == "hold-linear":
        assert lr_factor(kind, 75, 100) == pytest.approx(0.5)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_the_loop_gives_each_step_the_decayed_rate(tmp_path: Path, kind: str) -> None:
    preset, overrides = tiny_run("gan", tmp_path)
    cfg = config.load(preset=preset, overrides=[*overrides, "train.steps=4",
                                                f"train.lr_decay={kind}",
                                                "train.checkpoint_every=100"])
    trainer = build_trainer(cfg, new_run(cfg, tmp_path / "runs"))
    fam = trainer.family
    base = fam.opt_g.param_groups[0]["lr"]
    seen: list[float] = []
    real_step = fam.train_step

    def step(i: int, log: bool) -> dict[str, float]:
        seen.append(fam.opt_g.param_groups[0]["lr"])
        return real_step(i, log)

    fam.train_step = step  # type: ignore[method-assign]
    trainer.run()
    assert seen == pytest.approx([base * lr_factor(kind, i, 4) for i in range(4)])

"""The GAN family's step, pinned to its docs (style: stepcheck): D minimises the objective's
``d_loss`` plus ``gp_weight * GP`` plus ``r1_gamma / 2 * R1``, G the objective's ``g_loss`` on
the fakes of the last critic step; the EMA generator follows ``decay`` from ``ema.start``;
the loop scales every learning rate by ``train.lr_decay``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from stepcheck import (
    GradTap,
    assert_grads,
    build,
    expected_grads,
    frozen_copy,
    norm_of,
    tap_calls,
    tiny_run,
)

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
        logs = fam.train_step(1, log=True)
    assert batches.args[0][1] is fam.data_gen          # the data's own stream
    real, z = batches.results[0].x, latents.results[0]
    fake = G0(z)
    s_r, s_f = D0(real), D0(fake.detach())
    d_loss = F.softplus(-s_r).mean() + F.softplus(s_f).mean()
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    (D1,) = tap_g.kept
    g_loss = F.softplus(-D1(fake)).mean()              # non-saturating: -log D(G(z))
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")
    # what is logged is what was computed (no penalty is on by default)
    want = {"d_loss": d_loss, "d_adv": d_loss, "g_loss": g_loss,
            "d_real": torch.sigmoid(s_r).mean(), "d_fake": torch.sigmoid(s_f).mean(),
            "d_grad_norm": norm_of(tap_d.last), "g_grad_norm": norm_of(tap_g.last)}
    assert logs == pytest.approx({k: float(torch.as_tensor(v).detach()) for k, v in want.items()},
                                 rel=1e-4)


def _weights(net: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]   # (not BN's running statistics)


def _d_grads(fam: object) -> list[torch.Tensor]:
    return [p.grad.clone() for p in fam.D.parameters()]   # type: ignore[attr-defined]


@pytest.mark.parametrize("n_critic", [1, 2])
def test_g_steps_on_the_last_critic_batch_and_leaves_d_gradients_alone(tmp_path: Path,
                                                                       n_critic: int) -> None:
    fam = build("gan", tmp_path, f"gan.n_critic={n_critic}")
    G0 = frozen_copy(fam.G)
    tap_d = GradTap(fam.opt_d)
    tap_g = GradTap(fam.opt_g, keep=lambda: (frozen_copy(fam.D), _d_grads(fam)))
    with tap_calls(fam, "_latents") as latents:
        logs = fam.train_step(0, log=True)
    assert len(tap_d.calls) == n_critic and len(tap_g.calls) == 1
    ((D1, d_grads),) = tap_g.kept
    # G's loss on the fakes of the last critic step, D as that step left it
    g_loss = F.softplus(-D1(G0(latents.results[-1]))).mean()
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")
    # G's backward put nothing into D's gradients (those of D's last step)
    assert all(torch.equal(g, w) for g, w in zip(d_grads, tap_d.last, strict=True))
    assert logs["d_grad_norm"] == pytest.approx(norm_of(tap_d.last), rel=1e-5)


@pytest.mark.parametrize("updates", ["d", "g"])
def test_a_steered_half_step_updates_one_network(tmp_path: Path, updates: str) -> None:
    fam = build("gan", tmp_path, "gan.n_critic=2")
    fam.updates = updates
    g_before, d_before = _weights(fam.G), _weights(fam.D)
    tap_d, tap_g = GradTap(fam.opt_d), GradTap(fam.opt_g)
    logs = fam.train_step(0, log=True)
    g_same = all(torch.equal(a, b) for a, b in zip(g_before, _weights(fam.G), strict=True))
    d_same = all(torch.equal(a, b) for a, b in zip(d_before, _weights(fam.D), strict=True))
    if updates == "d":
        assert len(tap_d.calls) == 2 and not tap_g.calls and g_same and not d_same
        assert set(logs) == {"d_loss", "d_adv", "d_real", "d_fake", "d_grad_norm"}
    else:
        assert not tap_d.calls and len(tap_g.calls) == 1 and d_same and not g_same
        assert set(logs) == {"g_loss", "g_grad_norm"}
        assert logs["g_grad_norm"] == pytest.approx(norm_of(tap_g.last), rel=1e-5)


def test_gradient_penalty_on_the_runs_stream_and_r1_by_hand(tmp_path: Path) -> None:
    fam = build("gan", tmp_path, "gan.objective.name=wgan-gp", "gan.objective.gp_weight=3",
                "gan.objective.r1_gamma=4", "gan.model.batch_norm_d=false")
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents, \
            tap_calls(gan_module, "interpolation_weights") as weights:
        logs = fam.train_step(0, log=True)
    real, fake = batches.results[0].x, G0(latents.results[0]).detach()
    (args,) = weights.args
    assert args[0] is real and args[1] is fam.gen and args[2] == len(real)
    (eps,) = weights.results
    assert eps.shape == (len(real), 1, 1, 1)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D0(x_hat).sum(), x_hat, create_graph=True)
    gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    real_in = real.clone().requires_grad_(True)
    s_r = D0(real_in)
    (g_r,) = torch.autograd.grad(s_r.sum(), real_in, create_graph=True)
    r1 = g_r.flatten(1).pow(2).sum(1).mean()
    d_loss = D0(fake).mean() - s_r.mean() + 3 * gp + 0.5 * 4 * r1
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    assert logs["gp"] == pytest.approx(float(gp.detach()), rel=1e-4)
    assert logs["r1"] == pytest.approx(float(r1.detach()), rel=1e-4)


def test_wgan_clips_d_after_its_step_and_others_do_not(tmp_path: Path) -> None:
    fam = build("gan", tmp_path, "gan.objective.name=wgan", "gan.objective.clip=0.02")
    with tap_calls(gan_module, "clip_weights") as clips:
        fam.train_step(0, log=False)
    assert len(clips) == 1 and clips.args[0] == (fam.D, 0.02)
    assert max(float(p.detach().abs().max()) for p in fam.D.parameters()) <= 0.02
    fam = build("gan", tmp_path)
    with tap_calls(gan_module, "clip_weights") as clips:
        fam.train_step(0, log=False)
    assert len(clips) == 0


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


def test_conditional_critic_and_its_penalty_see_the_labels(tmp_path: Path) -> None:
    fam = build("gan", tmp_path, "gan.conditional=true", "data.labels=true",
                "gan.objective.name=wgan-gp", "gan.objective.gp_weight=3",
                "gan.model.batch_norm_d=false")
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents, \
            tap_calls(fam, "_fake_labels") as fake_labels, \
            tap_calls(gan_module, "interpolation_weights") as weights:
        fam.train_step(0, log=False)
    real, y = batches.results[0].x, batches.results[0].labels
    y_fake = fake_labels.results[0]
    fake = G0(latents.results[0], y_fake).detach()
    eps = weights.results[0]
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)   # scored with the real labels
    (grad,) = torch.autograd.grad(D0(x_hat, y).sum(), x_hat, create_graph=True)
    gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    d_loss = D0(fake, y_fake).mean() - D0(real, y).mean() + 3 * gp
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")


def test_packed_critic_and_its_penalty_see_packs(tmp_path: Path) -> None:
    fam = build("gan", tmp_path, "gan.pack=2", "gan.objective.name=wgan-gp",
                "gan.objective.gp_weight=3", "gan.model.batch_norm_d=false")
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents, \
            tap_calls(gan_module, "interpolation_weights") as weights:
        fam.train_step(0, log=False)

    def critic(x: torch.Tensor) -> torch.Tensor:   # pairs of samples as one input
        n, c, *rest = x.shape
        return D0(x.reshape(n // 2, 2 * c, *rest))

    real, fake = batches.results[0].x, G0(latents.results[0]).detach()
    eps = weights.results[0]
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    gp = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    d_loss = critic(fake).mean() - critic(real).mean() + 3 * gp
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")


def test_a_steered_g_step_of_a_conditional_gan_by_hand(tmp_path: Path) -> None:
    fam = build("gan", tmp_path, "gan.conditional=true", "data.labels=true")
    fam.updates = "g"
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_g = GradTap(fam.opt_g)
    with tap_calls(fam, "_latents") as latents, tap_calls(fam, "_fake_labels") as labels:
        fam.train_step(0, log=False)
    z, y_fake = latents.results[0], labels.results[0]
    assert labels.args[0] == (8,) and y_fake is not None
    g_loss = F.softplus(-D0(G0(z, y_fake), y_fake)).mean()
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")


def test_a_critic_objective_logs_raw_scores(tmp_path: Path) -> None:
    fam = build("gan", tmp_path, "gan.objective.name=wgan")
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents:
        logs = fam.train_step(0, log=True)
    with torch.no_grad():
        s_r, s_f = D0(batches.results[0].x), D0(G0(latents.results[0]))
    assert logs["d_real"] == pytest.approx(float(s_r.mean()), rel=1e-5)
    assert logs["d_fake"] == pytest.approx(float(s_f.mean()), rel=1e-5)

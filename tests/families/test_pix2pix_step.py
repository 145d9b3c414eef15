"""pix2pix's step, pinned to its module doc: ``L_D = 0.5 * d_loss(D(x, y), D(x, G(x)))`` and
``L_G = gan_weight * g_loss(D(x, G(x))) + l1_weight * mean |y - G(x)|`` (style: stepcheck)."""

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
    state,
    tap_calls,
)

from ganlab.errors import GanlabError


@pytest.mark.parametrize(("l1_weight", "gan_weight"), [(100.0, 1.0), (7.0, 0.5)])
def test_total_is_the_weighted_parts(tmp_path: Path, l1_weight: float, gan_weight: float) -> None:
    fam = build("pix2pix", tmp_path, f"pix2pix.l1_weight={l1_weight}",
                f"pix2pix.gan_weight={gan_weight}")
    for step in range(2):
        logs = fam.train_step(step, log=True)
        want = gan_weight * logs["g_adv"] + l1_weight * logs["l1"]
        assert logs["g_loss"] == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("weights", [("100", "1"), ("3", "2")])
def test_gradients_are_those_of_the_documented_losses(tmp_path: Path,
                                                      weights: tuple[str, str]) -> None:
    l1_weight, gan_weight = map(float, weights)
    fam = build("pix2pix", tmp_path, f"pix2pix.l1_weight={l1_weight}",
                f"pix2pix.gan_weight={gan_weight}")
    fam.train_step(0, log=False)                       # away from the initial weights
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    # D as the G step saw it, and its gradients then
    tap_g = GradTap(fam.opt_g, keep=lambda: (frozen_copy(fam.D),
                                             [p.grad.clone() for p in fam.D.parameters()]))
    with tap_calls(fam.data, "batch") as batches:
        logs = fam.train_step(1, log=True)
    (batch,) = batches.results
    assert batches.args[0][1] is fam.data_gen          # the data's own stream
    x, y = batch.x, batch.target
    # D: half the objective's loss on (x, y) against (x, G(x)), G's output detached
    fake = G0(x)
    s_r, s_f = D0(torch.cat([x, y], 1)), D0(torch.cat([x, fake.detach()], 1))
    d_loss = 0.5 * (F.softplus(-s_r).mean() + F.softplus(s_f).mean())   # ns
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    # G: the weighted sum, D after its own step
    ((D1, d_grads),) = tap_g.kept
    # G's backward put nothing into D's gradients (those of D's own step)
    assert all(torch.equal(g, w) for g, w in zip(d_grads, tap_d.last, strict=True))
    g_adv = F.softplus(-D1(torch.cat([x, fake], 1))).mean()
    l1 = (fake - y).abs().mean()
    g_loss = gan_weight * g_adv + l1_weight * l1
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")
    # what is logged is what was computed
    want = {"d_loss": d_loss, "g_loss": g_loss, "g_adv": g_adv, "l1": l1,
            "d_real": torch.sigmoid(s_r).mean(), "d_fake": torch.sigmoid(s_f).mean(),
            "d_grad_norm": norm_of(tap_d.last), "g_grad_norm": norm_of(tap_g.last)}
    assert logs == pytest.approx({k: float(torch.as_tensor(v).detach()) for k, v in want.items()},
                                 rel=1e-4)


def test_l1_only_and_gan_only_drop_the_other_term(tmp_path: Path) -> None:
    fam = build("pix2pix", tmp_path, "pix2pix.gan_weight=0")
    logs = fam.train_step(0, log=True)
    assert logs["g_loss"] == pytest.approx(100.0 * logs["l1"], rel=1e-6)
    fam = build("pix2pix", tmp_path, "pix2pix.l1_weight=0")
    logs = fam.train_step(0, log=True)
    assert logs["g_loss"] == pytest.approx(logs["g_adv"], rel=1e-6)


def test_a_critic_objective_logs_raw_scores(tmp_path: Path) -> None:
    fam = build("pix2pix", tmp_path, "pix2pix.objective=lsgan")
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    with tap_calls(fam.data, "batch") as batches:
        logs = fam.train_step(0, log=True)
    x, y = batches.results[0].x, batches.results[0].target
    with torch.no_grad():
        s_r, s_f = D0(torch.cat([x, y], 1)), D0(torch.cat([x, G0(x)], 1))
    assert logs["d_real"] == pytest.approx(float(s_r.mean()), rel=1e-5)
    assert logs["d_fake"] == pytest.approx(float(s_f.mean()), rel=1e-5)


def test_gan_weight_0_leaves_d_alone(tmp_path: Path) -> None:
    fam = build("pix2pix", tmp_path, "pix2pix.gan_weight=0")
    before = state(fam.D)
    logs = fam.train_step(0, log=True)
    assert "d_loss" not in logs and "g_adv" not in logs
    assert all(torch.equal(before[k], v) for k, v in state(fam.D).items())


def test_a_batch_without_targets_is_named(tmp_path: Path) -> None:
    fam = build("pix2pix", tmp_path)
    batch = fam.data.batch(3, torch.Generator().manual_seed(0))
    batch.target = None
    fam.data.batch = lambda n, gen: batch                # type: ignore[method-assign]
    with pytest.raises(GanlabError, match="^family pix2pix needs paired targets"):
        fam.train_step(0, log=False)


def test_the_generator_loss_falls_on_a_fixed_batch(tmp_path: Path) -> None:
    fam = build("pix2pix", tmp_path, "pix2pix.gan_weight=0")
    batch = fam.data.batch(3, torch.Generator().manual_seed(0))
    fam.data.batch = lambda n, gen: batch                # type: ignore[method-assign]
    first = fam.train_step(0, log=True)["l1"]
    for step in range(1, 4):
        last = fam.train_step(step, log=True)["l1"]
    assert last < first

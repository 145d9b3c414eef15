"""The Gumbel-softmax GAN's step, pinned to its module doc (style: stepcheck): the
temperature falls geometrically from ``tau_start`` (first adversarial step) to ``tau_end``
(last step); G's adversarial loss is ``-log sigmoid(D(relaxed rows))``; there is no roll-out
policy to update."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from stepcheck import GradTap, assert_grads, build, expected_grads, frozen_copy, state, tap_calls

ADV = 3    # the first adversarial step (2 MLE + 1 D pre-training)
STEPS = 11  # so the last step is ADV + 7 and the midpoint ADV + 3.5


@pytest.mark.parametrize(("start", "end"), [(1.0, 0.1), (2.0, 0.5)])
def test_temperature_at_its_end_points_and_midpoint(tmp_path: Path, start: float,
                                                    end: float) -> None:
    fam = build("gumbelgan", tmp_path, f"gumbelgan.tau_start={start}",
                f"gumbelgan.tau_end={end}", steps=STEPS)
    assert fam.tau(0) == pytest.approx(start)                  # before the adversarial phase
    assert fam.tau(ADV) == pytest.approx(start)
    assert fam.tau(STEPS - 1) == pytest.approx(end)
    span = STEPS - 1 - ADV
    mid = ADV + span / 2
    assert fam.tau(mid) == pytest.approx(math.sqrt(start * end))   # geometric
    taus = [fam.tau(s) for s in range(ADV, STEPS)]
    assert all(a > b for a, b in zip(taus, taus[1:], strict=False))   # falls every step


def test_the_logged_temperature_is_the_schedule(tmp_path: Path) -> None:
    fam = build("gumbelgan", tmp_path, steps=STEPS)
    for step in range(ADV + 2):
        logs = fam.train_step(step, log=True)
    assert logs["tau"] == pytest.approx(fam.tau(ADV + 1))


def test_generator_gradient_is_the_non_saturating_loss_on_relaxed_rows(tmp_path: Path) -> None:
    fam = build("gumbelgan", tmp_path, steps=STEPS)
    for step in range(ADV):
        fam.train_step(step, log=False)
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap = GradTap(fam.opts["G"])
    with tap_calls(fam.G, "gumbel", on_call=lambda *a, **k: fam.gen.get_state()) as calls:
        logs = fam.train_step(ADV, log=True)
    (args,), (kw,), (gen_state,) = calls.args, calls.kwargs, calls.before
    gen = torch.Generator().set_state(gen_state)
    n, length, tau = args[:3]
    assert tau == pytest.approx(fam.tau(ADV)) == logs["tau"]
    rows, _ = G0.gumbel(n, length, tau, gen, *args[4:], **kw)
    loss = F.softplus(-D0(rows)).mean()
    assert_grads(tap.calls[0], expected_grads(loss, list(G0.parameters())), "G")
    assert logs["g_loss"] == pytest.approx(float(loss.detach()), rel=1e-5)


def test_no_rollout_policy_is_trained(tmp_path: Path) -> None:
    fam = build("gumbelgan", tmp_path, steps=STEPS)
    for step in range(ADV + 1):     # the first adversarial step loads G into it (unused)
        fam.train_step(step, log=False)
    before = state(fam.G_rollout)
    with tap_calls(fam, "rewards") as calls:
        fam.train_step(ADV + 1, log=False)
    assert len(calls) == 0
    assert all(torch.equal(before[k], v) for k, v in fam.G_rollout.state_dict().items())


@pytest.mark.parametrize("loss", ["standard", "rsgan"])
def test_soft_rows_train_both_networks_by_hand(tmp_path: Path, loss: str) -> None:
    # RelGAN's options: soft rows that D also trains on; with rsgan the relativistic loss and
    # G's adversarial steps on their own Adam
    more = ["gumbelgan.hard=false", f"gumbelgan.loss={loss}"]
    if loss == "rsgan":
        more.append("gumbelgan.adv_lr=0.001")
    fam = build("gumbelgan", tmp_path, *more, steps=STEPS)
    for step in range(ADV):
        fam.train_step(step, log=False)
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    opt_g = fam.opts["G_adv" if loss == "rsgan" else "G"]
    tap_g = GradTap(opt_g)
    tap_d = GradTap(fam.opts["D"], keep=lambda: frozen_copy(fam.G))
    with tap_calls(fam.G, "gumbel", on_call=lambda *a, **k: fam.gen.get_state()) as calls, \
            tap_calls(fam.data, "batch") as batches:
        logs = fam.train_step(ADV, log=True)
    assert len(tap_g.calls) == 1 and len(tap_d.calls) == 1 and len(calls) == 2
    assert all(a[2] == fam.tau(ADV) and a[4:] == (False,) for a in calls.args)

    def rows(G: torch.nn.Module, k: int) -> torch.Tensor:
        gen = torch.Generator().set_state(calls.before[k])
        return G.gumbel(*calls.args[k][:3], gen, *calls.args[k][4:])[0]

    reals = [b.tokens for b in batches.results]
    d_fake = D0(rows(G0, 0))
    if loss == "rsgan":
        g_loss = F.softplus(-(d_fake - D0(reals[0]))).mean()
    else:
        g_loss = F.softplus(-d_fake).mean()
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")
    assert logs["g_loss"] == pytest.approx(float(g_loss.detach()), rel=1e-5)
    assert logs["reward"] == pytest.approx(float(torch.sigmoid(d_fake).mean().detach()), rel=1e-5)
    # D on the real batch against the rows of G after its step, at the same temperature
    (G1,) = tap_d.kept
    s_r, s_f = D0(reals[-1]), D0(rows(G1, 1).detach())
    if loss == "rsgan":
        d_loss = F.softplus(-(s_r - s_f)).mean()
    else:
        d_loss = F.softplus(-s_r).mean() + F.softplus(s_f).mean()
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    assert logs["d_loss"] == pytest.approx(float(d_loss.detach()), rel=1e-5)


def test_d_pretraining_on_soft_rows_sees_sampled_tokens(tmp_path: Path) -> None:
    fam = build("gumbelgan", tmp_path, "gumbelgan.hard=false", steps=STEPS)
    for step in range(ADV - 1):
        fam.train_step(step, log=False)
    with tap_calls(fam, "_fake") as fakes, tap_calls(fam.G, "gumbel") as relaxed:
        fam.train_step(ADV - 1, log=False)                     # D pre-training
    assert len(fakes) == 1 and len(relaxed) == 0


def test_temperature_with_one_adversarial_step_left_and_past_the_end(tmp_path: Path) -> None:
    fam = build("gumbelgan", tmp_path, "gumbelgan.tau_start=1", "gumbelgan.tau_end=0.25",
                steps=ADV + 2)
    assert fam.tau(ADV + 1) == pytest.approx(0.25)            # a span of one step
    assert fam.tau(ADV + 9) == pytest.approx(0.25)            # held past the last step


def test_hard_rows_d_step_is_seqgans_on_sampled_tokens(tmp_path: Path) -> None:
    fam = build("gumbelgan", tmp_path, steps=STEPS)            # hard, standard: the defaults
    for step in range(ADV):
        fam.train_step(step, log=False)
    tap_d = GradTap(fam.opts["D"], keep=lambda: frozen_copy(fam.D))
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_fake") as fakes:
        fam.train_step(ADV, log=False)
    (D0,) = tap_d.kept
    real, fake = batches.results[-1].tokens, fakes.results[-1]
    logits = D0(torch.cat([real, fake]))
    target = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    d_loss = F.binary_cross_entropy_with_logits(logits, target)
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")

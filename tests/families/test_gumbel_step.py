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

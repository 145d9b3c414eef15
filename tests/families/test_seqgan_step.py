"""SeqGAN's step, pinned to its module doc (style: stepcheck): phases by step; G's
adversarial step is REINFORCE on ``-(log p(token) * (Q - baseline))``; the roll-out policy is
a delayed copy ``theta_r <- beta * theta_r + (1 - beta) * theta``, loaded from G once at the
first adversarial step; the rewards come from the roll-out policy's completions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from stepcheck import GradTap, assert_grads, build, expected_grads, frozen_copy, state, tap_calls

ADV = 3   # the first adversarial step of stepcheck's seqgan run (2 MLE + 1 D pre-training)


def _to_adversarial(fam: object) -> None:
    for step in range(ADV):
        fam.train_step(step, log=False)   # type: ignore[attr-defined]


def test_phases_change_at_their_boundaries(tmp_path: Path) -> None:
    fam = build("seqgan", tmp_path)
    assert [fam.phase(s) for s in range(5)] == ["mle", "mle", "d_pretrain", "adversarial",
                                                "adversarial"]


@pytest.mark.parametrize("baseline", ["mean", "none"])
def test_policy_gradient_is_reinforce_with_a_stubbed_reward(tmp_path: Path,
                                                            baseline: str) -> None:
    fam = build("seqgan", tmp_path, f"seqgan.baseline={baseline}")
    _to_adversarial(fam)
    n, length = 4, fam.seq_len
    # a reward that is no function of the tokens, with a column mean far from 0
    q = torch.linspace(0.1, 0.9, n * length).reshape(n, length) ** 2
    fam.rewards = lambda tokens: q              # type: ignore[method-assign]
    G0 = frozen_copy(fam.G)
    tap = GradTap(fam.opts["G"])
    with tap_calls(fam, "_fake") as fakes:
        logs = fam.train_step(ADV, log=True)
    tokens = fakes.results[0]
    # by hand: log p(token_t | tokens < t) from G's logits, then the REINFORCE loss
    inputs = torch.cat([torch.full((n, 1), fam.vocab_size), tokens[:, :-1]], 1)
    h, _ = G0.rnn(G0.embed(inputs))
    logp = torch.log_softmax(G0.out(h), -1).gather(2, tokens.unsqueeze(2)).squeeze(2)
    advantage = q - q.mean(0, keepdim=True) if baseline == "mean" else q
    loss = -(logp * advantage).sum() / (n * length)
    want = torch.autograd.grad(loss, list(G0.parameters()))
    assert_grads(tap.calls[0], list(want), "G")
    assert logs["g_loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    assert logs["reward"] == pytest.approx(float(q[:, -1].mean()), rel=1e-6)


def test_adversarial_steps_can_have_their_own_adam(tmp_path: Path) -> None:
    """With ``adv_lr`` the policy-gradient step uses a fresh Adam at that rate (the official
    code's separate optimiser): its first step moves each weight by adv_lr against the sign of
    its gradient (Adam's first step), and the pre-training optimiser is not stepped."""
    fam = build("seqgan", tmp_path, "seqgan.adv_lr=0.003")
    _to_adversarial(fam)
    assert fam.adversarial_optimizer is fam.opts["G_adv"]
    assert fam.opts["G_adv"].param_groups[0]["lr"] == 0.003 and not fam.opts["G_adv"].state
    pre_steps = [int(s["step"]) for s in fam.opts["G"].state.values()]
    G0 = frozen_copy(fam.G)
    tap = GradTap(fam.opts["G_adv"])
    fam.train_step(ADV, log=False)
    assert len(tap.calls) == 1
    eps = fam.opts["G_adv"].param_groups[0]["eps"]
    for p0, p1, g in zip(G0.parameters(), fam.G.parameters(), tap.last, strict=True):
        assert g is not None and bool(g.abs().max() > 0)
        # Adam's first step: m_hat = g, v_hat = g^2, so the move is -lr * g / (|g| + eps)
        torch.testing.assert_close(p1.detach() - p0, -0.003 * g / (g.abs() + eps),
                                   rtol=1e-4, atol=1e-9)
    assert [int(s["step"]) for s in fam.opts["G"].state.values()] == pre_steps


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.8])
def test_rollout_policy_is_the_delayed_copy(tmp_path: Path, beta: float) -> None:
    fam = build("seqgan", tmp_path, f"seqgan.rollout_update={beta}")
    _to_adversarial(fam)
    # the first adversarial step: loaded from G, then one delayed update towards G's new
    g_before = state(fam.G)
    fam.train_step(ADV, log=False)
    g_after = state(fam.G)
    for name, r in fam.G_rollout.state_dict().items():
        torch.testing.assert_close(r, beta * g_before[name] + (1 - beta) * g_after[name])
    # a later step: from where the roll-out policy was, not from G
    r_before = state(fam.G_rollout)
    fam.train_step(ADV + 1, log=False)
    g_after = state(fam.G)
    for name, r in fam.G_rollout.state_dict().items():
        torch.testing.assert_close(r, beta * r_before[name] + (1 - beta) * g_after[name])
    if beta > 0:
        assert any(not torch.allclose(r, g_after[k]) for k, r in fam.G_rollout.state_dict().items())


def test_rewards_come_from_the_rollout_policy_and_d(tmp_path: Path) -> None:
    fam = build("seqgan", tmp_path)
    _to_adversarial(fam)
    fam.train_step(ADV, log=False)            # G and the roll-out policy now differ
    tokens = fam._fake(4)
    start = fam.gen.get_state()

    def rewards() -> torch.Tensor:
        fam.gen.set_state(start)                # the same roll-out draws each time
        return fam.rewards(tokens)

    q = rewards()
    assert q.shape == tokens.shape and ((q >= 0) & (q <= 1)).all()
    fam.D.eval()
    torch.testing.assert_close(q[:, -1], torch.sigmoid(fam.D(tokens)))
    fam.D.train()
    with torch.no_grad():                       # G's own weights play no part ...
        for p in fam.G.parameters():
            p.add_(torch.randn_like(p))
    torch.testing.assert_close(rewards(), q)
    with torch.no_grad():                       # ... the roll-out policy's do
        for p in fam.G_rollout.parameters():
            p.add_(torch.randn_like(p))
    assert not torch.allclose(rewards()[:, :-1], q[:, :-1])


def test_rewards_are_used_by_the_adversarial_step(tmp_path: Path) -> None:
    fam = build("seqgan", tmp_path)
    _to_adversarial(fam)
    with tap_calls(fam, "rewards") as calls, tap_calls(fam, "_g_adversarial_step") as steps:
        fam.train_step(ADV, log=False)
    assert len(calls) == 1
    assert steps.args == [(ADV,)]     # the step number (the Gumbel family's temperature reads it)


def test_each_phase_steps_its_networks_and_logs_its_losses(tmp_path: Path) -> None:
    fam = build("seqgan", tmp_path, "seqgan.d_steps=2", "seqgan.mle_every=2")
    tap_g, tap_d = GradTap(fam.opts["G"]), GradTap(fam.opts["D"])
    seen = []
    for step in range(5):
        g0, d0 = len(tap_g.calls), len(tap_d.calls)
        logs = fam.train_step(step, log=True)
        seen.append((logs.pop("phase"), sorted(logs), len(tap_g.calls) - g0,
                     len(tap_d.calls) - d0))
    assert seen == [(0.0, ["mle_loss"], 1, 0), (0.0, ["mle_loss"], 1, 0),
                    (1.0, ["d_loss"], 0, 1),
                    (2.0, ["d_loss", "g_loss", "reward"], 1, 2),            # 3 % 2: no MLE
                    (2.0, ["d_loss", "g_loss", "mle_loss", "reward"], 2, 2)]
    assert fam.train_step(5, log=False) == {}


def test_mle_and_d_steps_by_hand(tmp_path: Path) -> None:
    fam = build("seqgan", tmp_path)
    G0 = frozen_copy(fam.G)
    tap_g = GradTap(fam.opts["G"])
    with tap_calls(fam.data, "batch") as batches:
        logs = fam.train_step(0, log=True)                      # MLE
    assert batches.args[0][1] is fam.data_gen
    tokens, mask = batches.results[0].tokens, batches.results[0].mask
    nll = G0.nll(tokens, mask)
    assert_grads(tap_g.last, expected_grads(nll, list(G0.parameters())), "G")
    assert logs["mle_loss"] == pytest.approx(float(nll.detach()), rel=1e-5)
    fam.train_step(1, log=False)
    D0 = frozen_copy(fam.D)
    tap_d = GradTap(fam.opts["D"])
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_fake") as fakes:
        logs = fam.train_step(2, log=True)                      # D pre-training
    real, fake = batches.results[0].tokens, fakes.results[0]
    assert fakes.args[0][0] == len(real)
    logits = D0(torch.cat([real, fake]))
    target = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    d_loss = F.binary_cross_entropy_with_logits(logits, target)
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    assert logs["d_loss"] == pytest.approx(float(d_loss.detach()), rel=1e-5)


def test_mle_counts_only_the_masked_tokens(tmp_path: Path) -> None:
    fam = build("seqgan", tmp_path)
    batch = fam.data.batch(4, torch.Generator().manual_seed(0))
    batch.mask = batch.mask.clone()
    batch.mask[:2, -2:] = False                        # two rows end in padding
    fam.data.batch = lambda n, gen: batch                # type: ignore[method-assign]
    G0 = frozen_copy(fam.G)
    tap_g = GradTap(fam.opts["G"])
    logs = fam.train_step(0, log=True)
    logp = G0.log_probs(batch.tokens)
    nll = -(logp * batch.mask).sum() / batch.mask.sum()
    assert_grads(tap_g.last, expected_grads(nll, list(G0.parameters())), "G")
    assert logs["mle_loss"] == pytest.approx(float(nll.detach()), rel=1e-5)

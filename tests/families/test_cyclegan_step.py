"""CycleGAN's step, pinned to its module doc (style: stepcheck): the generators minimise
``adv_weight * (adv_AB + adv_BA) + lambda_cycle * (cycle_A + cycle_B) + lambda_identity *
lambda_cycle * (identity_A + identity_B)``; the discriminators see real images against fakes
drawn from the history pools."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from stepcheck import GradTap, assert_grads, build, expected_grads, frozen_copy, tap_calls


def _total(logs: dict[str, float], adv: float, lam: float, idt: float) -> float:
    return (adv * (logs["g_adv_AB"] + logs["g_adv_BA"])
            + lam * (logs["cycle_A"] + logs["cycle_B"])
            + idt * lam * (logs["identity_A"] + logs["identity_B"]))


@pytest.mark.parametrize(("adv", "lam", "idt"), [(2.0, 10.0, 0.5), (1.0, 3.0, 2.0)])
def test_total_is_the_weighted_parts(tmp_path: Path, adv: float, lam: float, idt: float) -> None:
    fam = build("cyclegan", tmp_path, f"cyclegan.adv_weight={adv}",
                f"cyclegan.lambda_cycle={lam}", f"cyclegan.lambda_identity={idt}")
    for step in range(2):
        logs = fam.train_step(step, log=True)
        assert logs["g_loss"] == pytest.approx(_total(logs, adv, lam, idt), rel=1e-5)
        assert logs["d_loss"] == pytest.approx(logs["d_A"] + logs["d_B"], rel=1e-6)
        # (near the start cycle and identity L1 can be nearly equal, so exchanging their
        # weights may leave the total alone: the gradient test below tells them apart)


def _lsgan_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake ** 2).mean()


def test_gradients_are_those_of_the_documented_losses_with_pooled_fakes(tmp_path: Path) -> None:
    lam, idt, adv = 10.0, 0.5, 2.0
    fam = build("cyclegan", tmp_path, "cyclegan.pool_size=2")
    for step in range(3):                   # fill the pools, so that they start swapping
        fam.train_step(step, log=False)
    nets = {k: frozen_copy(v) for k, v in fam.modules().items()}
    tap_g, tap_d = GradTap(fam.opt_g), GradTap(fam.opt_d)
    with tap_calls(fam.data, "batch") as batches, \
            tap_calls(fam.pool_a, "query") as qa, tap_calls(fam.pool_b, "query") as qb:
        fam.train_step(3, log=True)
    (batch,) = batches.results
    a, b = batch.x, batch.target
    G_AB, G_BA, D_A, D_B = nets["G_AB"], nets["G_BA"], nets["D_A"], nets["D_B"]
    fake_b, fake_a = G_AB(a), G_BA(b)
    g_loss = (adv * 0.5 * (((D_B(fake_b) - 1) ** 2).mean() + ((D_A(fake_a) - 1) ** 2).mean())
              + lam * ((G_BA(fake_b) - a).abs().mean() + (G_AB(fake_a) - b).abs().mean())
              + idt * lam * ((G_AB(b) - b).abs().mean() + (G_BA(a) - a).abs().mean()))
    g_params = [*G_AB.parameters(), *G_BA.parameters()]
    assert_grads(tap_g.last, expected_grads(g_loss, g_params), "G")
    # the pools were asked with this step's fakes, and what they answered is what D saw
    assert len(qa) == 1 and len(qb) == 1
    torch.testing.assert_close(qa.args[0][0], fake_a.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(qb.args[0][0], fake_b.detach(), rtol=1e-5, atol=1e-6)
    pooled_a, pooled_b = qa.results[0], qb.results[0]
    assert not torch.allclose(pooled_a, fake_a.detach()) or \
        not torch.allclose(pooled_b, fake_b.detach()), "the pools returned only new fakes"
    d_loss = _lsgan_d(D_A(a), D_A(pooled_a)) + _lsgan_d(D_B(b), D_B(pooled_b))
    assert_grads(tap_d.last, expected_grads(d_loss, [*D_A.parameters(), *D_B.parameters()]),
                 "D")


def test_gan_alone_has_no_cycle_or_identity_term(tmp_path: Path) -> None:
    fam = build("cyclegan", tmp_path, "cyclegan.lambda_cycle=0")
    logs = fam.train_step(0, log=True)
    assert logs["cycle_A"] == logs["identity_A"] == 0.0
    assert logs["g_loss"] == pytest.approx(2.0 * (logs["g_adv_AB"] + logs["g_adv_BA"]), rel=1e-6)


def test_pool_size_zero_shows_d_the_current_fakes(tmp_path: Path) -> None:
    fam = build("cyclegan", tmp_path, "cyclegan.pool_size=0")
    with tap_calls(fam.pool_a, "query") as qa:
        fam.train_step(0, log=False)
    assert torch.equal(qa.results[0], qa.args[0][0].detach())

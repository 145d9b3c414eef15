"""CycleGAN's step, pinned to its module doc (style: stepcheck): the generators minimise
``adv_weight * (adv_AB + adv_BA) + lambda_cycle * (cycle_A + cycle_B) + lambda_identity *
lambda_cycle * (identity_A + identity_B)``; the discriminators see real images against fakes
drawn from the history pools."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from stepcheck import GradTap, assert_grads, build, expected_grads, frozen_copy, norm_of, tap_calls

from ganlab.errors import GanlabError


def _total(logs: dict[str, float], adv: float, lam: float, idt: float) -> float:
    return (adv * (logs["g_adv_AB"] + logs["g_adv_BA"])
            + lam * (logs["cycle_A"] + logs["cycle_B"])
            + idt * lam * (logs["identity_A"] + logs["identity_B"]))


# the second setting has lambda_cycle and lambda_identity * lambda_cycle in (0, 1]
@pytest.mark.parametrize(("adv", "lam", "idt"), [(2.0, 10.0, 0.5), (1.0, 1.0, 0.5)])
def test_total_is_the_weighted_parts(tmp_path: Path, adv: float, lam: float, idt: float) -> None:
    fam = build("cyclegan", tmp_path, f"cyclegan.adv_weight={adv}",
                f"cyclegan.lambda_cycle={lam}", f"cyclegan.lambda_identity={idt}")
    for step in range(2):
        logs = fam.train_step(step, log=True)
        assert logs["g_loss"] == pytest.approx(_total(logs, adv, lam, idt), rel=1e-5)
        assert min(logs["cycle_A"], logs["cycle_B"], logs["identity_A"], logs["identity_B"]) > 0
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
    d_params = [*fam.D_A.parameters(), *fam.D_B.parameters()]

    def d_grads() -> list[torch.Tensor]:
        return [p.grad.clone() for p in d_params]   # type: ignore[union-attr]

    d_grads_before = d_grads()                      # left by the last step's D update
    tap_g, tap_d = GradTap(fam.opt_g, keep=d_grads), GradTap(fam.opt_d)
    with tap_calls(fam.data, "batch") as batches, \
            tap_calls(fam.pool_a, "query") as qa, tap_calls(fam.pool_b, "query") as qb:
        logs = fam.train_step(3, log=True)
    (batch,) = batches.results
    assert batches.args[0][1] is fam.data_gen          # the data's own stream
    a, b = batch.x, batch.target
    G_AB, G_BA, D_A, D_B = nets["G_AB"], nets["G_BA"], nets["D_A"], nets["D_B"]
    fake_b, fake_a = G_AB(a), G_BA(b)
    adv_ab = 0.5 * ((D_B(fake_b) - 1) ** 2).mean()
    adv_ba = 0.5 * ((D_A(fake_a) - 1) ** 2).mean()
    cyc_a, cyc_b = (G_BA(fake_b) - a).abs().mean(), (G_AB(fake_a) - b).abs().mean()
    idt_a, idt_b = (G_BA(a) - a).abs().mean(), (G_AB(b) - b).abs().mean()
    g_loss = adv * (adv_ab + adv_ba) + lam * (cyc_a + cyc_b) + idt * lam * (idt_a + idt_b)
    g_params = [*G_AB.parameters(), *G_BA.parameters()]
    assert_grads(tap_g.last, expected_grads(g_loss, g_params), "G")
    # the G step left D's gradients as they were (D needs none from it)
    (d_grads_at_g_step,) = tap_g.kept
    assert all(torch.equal(g, w) for g, w in zip(d_grads_at_g_step, d_grads_before, strict=True))
    # the pools were asked with this step's fakes, and what they answered is what D saw
    assert len(qa) == 1 and len(qb) == 1
    torch.testing.assert_close(qa.args[0][0], fake_a.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(qb.args[0][0], fake_b.detach(), rtol=1e-5, atol=1e-6)
    pooled_a, pooled_b = qa.results[0], qb.results[0]
    assert not torch.allclose(pooled_a, fake_a.detach()) or \
        not torch.allclose(pooled_b, fake_b.detach()), "the pools returned only new fakes"
    d_a, d_b = _lsgan_d(D_A(a), D_A(pooled_a)), _lsgan_d(D_B(b), D_B(pooled_b))
    d_loss = d_a + d_b
    assert_grads(tap_d.last, expected_grads(d_loss, [*D_A.parameters(), *D_B.parameters()]),
                 "D")
    # what is logged is what was computed
    want = {"d_loss": d_loss, "g_loss": g_loss, "d_A": d_a, "d_B": d_b,
            "g_adv_AB": adv_ab, "g_adv_BA": adv_ba, "cycle_A": cyc_a, "cycle_B": cyc_b,
            "identity_A": idt_a, "identity_B": idt_b, "d_real_B": D_B(b).mean(),
            "d_fake_B": D_B(pooled_b).mean(), "d_grad_norm": norm_of(tap_d.last),
            "g_grad_norm": norm_of(tap_g.last)}
    assert logs == pytest.approx({k: float(torch.as_tensor(v).detach()) for k, v in want.items()},
                                 rel=1e-4)


def test_gan_alone_has_no_cycle_or_identity_term(tmp_path: Path) -> None:
    fam = build("cyclegan", tmp_path, "cyclegan.lambda_cycle=0")
    logs = fam.train_step(0, log=True)
    assert logs["cycle_A"] == logs["identity_A"] == 0.0
    assert logs["g_loss"] == pytest.approx(2.0 * (logs["g_adv_AB"] + logs["g_adv_BA"]), rel=1e-6)


def test_a_batch_without_domain_b_is_named(tmp_path: Path) -> None:
    fam = build("cyclegan", tmp_path)
    batch = fam.data.batch(2, torch.Generator().manual_seed(0))
    batch.target = None
    fam.data.batch = lambda n, gen: batch                # type: ignore[method-assign]
    with pytest.raises(GanlabError, match=r"^family cyclegan \(the images of domain B\) needs "):
        fam.train_step(0, log=False)


def test_pool_size_zero_shows_d_the_current_fakes(tmp_path: Path) -> None:
    fam = build("cyclegan", tmp_path, "cyclegan.pool_size=0")
    with tap_calls(fam.pool_a, "query") as qa:
        fam.train_step(0, log=False)
    assert torch.equal(qa.results[0], qa.args[0][0].detach())

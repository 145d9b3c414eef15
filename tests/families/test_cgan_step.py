"""The cgan family's step, pinned to its module doc (style: stepcheck): the matching-aware
``L_D = (d_loss(s_r, s_f) + w * d_loss(s_r, s_w)) / (1 + w) + a * CE`` with mismatched pairs
``s_w = D(x, c_wrong)``; ``L_G = g_loss(s_f) + a * CE + m / (r + 1e-5)``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from stepcheck import GradTap, assert_grads, build, expected_grads, frozen_copy, norm_of, tap_calls

import ganlab.families.cgan as cgan_module


@pytest.mark.parametrize(("a", "m"), [(0.5, 0.3), (2.0, 1.0)])
def test_totals_are_the_weighted_parts(tmp_path: Path, a: float, m: float) -> None:
    fam = build("cgan", tmp_path, f"cgan.aux_classifier_weight={a}",
                f"cgan.mode_seeking_weight={m}")
    for step in range(2):
        logs = fam.train_step(step, log=True)
        assert logs["d_loss"] == pytest.approx(logs["d_adv"] + a * logs["d_aux"], rel=1e-5)
        want = logs["g_adv"] + a * logs["g_aux"] + m / (logs["g_ms"] + 1e-5)
        assert logs["g_loss"] == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("w", [1.0, 0.25])
def test_d_gradient_is_the_matching_aware_loss_on_the_mismatched_labels(tmp_path: Path,
                                                                         w: float) -> None:
    fam = build("cgan", tmp_path, f"cgan.mismatch_weight={w}")
    fam.train_step(0, log=False)
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    tap_g = GradTap(fam.opt_g, keep=lambda: frozen_copy(fam.D))
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents, \
            tap_calls(fam, "_fake_labels") as fake_labels, \
            tap_calls(cgan_module, "mismatched_labels") as wrong:
        fam.train_step(1, log=True)
    batch = batches.results[0]
    x, y = batch.x, batch.labels
    z, y_fake = latents.results[0], fake_labels.results[0]
    assert len(wrong) == 1 and wrong.args[0][0] is y      # the helper saw the real labels
    y_wrong = wrong.results[0]
    assert (y_wrong != y).all()
    fake = G0(z, y_fake)
    s_r, s_f, s_w = D0(x, y), D0(fake.detach(), y_fake), D0(x, y_wrong)

    def bce(r, f):   # the ns discriminator loss
        return F.softplus(-r).mean() + F.softplus(f).mean()

    d_loss = (bce(s_r, s_f) + w * bce(s_r, s_w)) / (1 + w)
    assert_grads(tap_d.last, expected_grads(d_loss, list(D0.parameters())), "D")
    (D1,) = tap_g.kept
    g_loss = F.softplus(-D1(fake, y_fake)).mean()
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")


def test_mismatch_weight_0_draws_no_mismatched_labels(tmp_path: Path) -> None:
    fam = build("cgan", tmp_path, "cgan.mismatch_weight=0")
    with tap_calls(cgan_module, "mismatched_labels") as wrong:
        logs = fam.train_step(0, log=True)
    assert len(wrong) == 0 and logs["d_adv"] == logs["d_match"]
    # nothing is computed or logged for the parts weighted 0 (stepcheck: a = m = 0)
    assert not {"d_mismatch", "d_aux", "d_aux_acc", "g_aux", "g_ms"} & set(logs)


def _bce(r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:   # the ns discriminator loss
    return F.softplus(-r).mean() + F.softplus(f).mean()


def test_aux_classifier_and_mode_seeking_by_hand(tmp_path: Path) -> None:
    a, m, w = 0.5, 0.3, 0.5
    fam = build("cgan", tmp_path, f"cgan.aux_classifier_weight={a}",
                f"cgan.mode_seeking_weight={m}", f"cgan.mismatch_weight={w}")
    G0, D0 = frozen_copy(fam.G), frozen_copy(fam.D)
    tap_d = GradTap(fam.opt_d)
    tap_g = GradTap(fam.opt_g, keep=lambda: frozen_copy(fam.D))
    with tap_calls(fam.data, "batch") as batches, tap_calls(fam, "_latents") as latents, \
            tap_calls(fam, "_fake_labels") as fake_labels, \
            tap_calls(cgan_module, "mismatched_labels") as wrong:
        logs = fam.train_step(0, log=True)
    x, y = batches.results[0].x, batches.results[0].labels
    z, y_fake, y_wrong = latents.results[0], fake_labels.results[0], wrong.results[0]
    fake = G0(z, y_fake)
    s_r, logits_r = D0(x, y, with_classes=True)
    s_f, s_w = D0(fake.detach(), y_fake), D0(x, y_wrong)
    d_adv = (_bce(s_r, s_f) + w * _bce(s_r, s_w)) / (1 + w)
    d_aux = F.cross_entropy(logits_r, y)
    assert_grads(tap_d.last, expected_grads(d_adv + a * d_aux, list(D0.parameters())), "D")
    (D1,) = tap_g.kept
    score, logits_f = D1(fake, y_fake, with_classes=True)
    g_adv, g_aux = F.softplus(-score).mean(), F.cross_entropy(logits_f, y_fake)
    r = cgan_module.mode_seeking_ratio(fake, z)
    g_loss = g_adv + a * g_aux + m / (r + 1e-5)
    assert_grads(tap_g.last, expected_grads(g_loss, list(G0.parameters())), "G")
    want = {"d_loss": d_adv + a * d_aux, "d_adv": d_adv, "d_match": _bce(s_r, s_f),
            "d_aux": d_aux, "d_aux_acc": (logits_r.argmax(1) == y).float().mean(),
            "d_mismatch": torch.sigmoid(s_w).mean(), "d_real": torch.sigmoid(s_r).mean(),
            "d_fake": torch.sigmoid(s_f).mean(), "g_loss": g_loss, "g_adv": g_adv,
            "g_aux": g_aux, "g_ms": r, "d_grad_norm": norm_of(tap_d.last),
            "g_grad_norm": norm_of(tap_g.last)}
    assert logs == pytest.approx({k: float(torch.as_tensor(v).detach()) for k, v in want.items()},
                                 rel=1e-4)


def test_wrong_labels_are_every_other_class_from_the_runs_stream(tmp_path: Path) -> None:
    fam = build("cgan", tmp_path)
    y = torch.zeros(300, dtype=torch.long)
    start = fam.gen.get_state()
    wrong = fam._wrong_labels(y)
    assert set(wrong.tolist()) == {1, 2, 3}            # offsets 1 .. K-1, K = 4
    gen = torch.Generator().set_state(start)
    assert torch.equal(wrong, torch.randint(1, 4, (300,), generator=gen))


def test_wrong_texts_come_from_other_groups_on_the_runs_stream(tmp_path: Path) -> None:
    fam = build("cgan", tmp_path)
    fam.section.condition = "text"                      # the text branch, on a hand-made batch
    fam._groups = torch.tensor([0, 0, 1, 1, 2, 2])
    emb = torch.arange(6.0).unsqueeze(1)
    start = fam.gen.get_state()
    wrong = fam._wrong_labels(emb)
    rows = wrong.squeeze(1).long()
    assert (fam._groups[rows] != fam._groups).all()
    gen = torch.Generator().set_state(start)
    assert torch.equal(wrong, emb[cgan_module.mismatched_rows(fam._groups, gen)])


def test_d_adversarial_asserts_both_conditions(tmp_path: Path) -> None:
    fam = build("cgan", tmp_path)
    x, y = fam._real_labelled(8)
    for y_real, y_fake in ((y, None), (None, y)):
        with pytest.raises(AssertionError):
            fam._d_adversarial(x, x, x, y_real, y_fake)

"""Each objective against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from ganlab import losses
from ganlab.errors import GanlabError

LOG2 = math.log(2.0)


def t(*xs: float) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


def test_bce_discriminator_at_chance() -> None:
    # D = 1/2 everywhere: -log(1/2) - log(1 - 1/2) = 2 log 2
    assert losses.bce_d_loss(t(0.0, 0.0), t(0.0, 0.0)).item() == pytest.approx(2 * LOG2)


def test_bce_discriminator_hand_values() -> None:
    # real logit log(3) -> D = 3/4; fake logit -log(3) -> D = 1/4
    real, fake = t(math.log(3)), t(-math.log(3))
    expected = -math.log(0.75) - math.log(1 - 0.25)
    assert losses.bce_d_loss(real, fake).item() == pytest.approx(expected)


def test_minimax_and_nonsaturating_generator_values() -> None:
    fake = t(math.log(3))  # D(G(z)) = 3/4
    assert losses.minimax_g_loss(fake).item() == pytest.approx(math.log(1 - 0.75))
    assert losses.nonsaturating_g_loss(fake).item() == pytest.approx(-math.log(0.75))


def test_minimax_saturates_where_nonsaturating_does_not() -> None:
    # D confidently rejects the fake: D(G(z)) = sigmoid(-10) ~ 4.5e-5
    logit = t(-10.0).requires_grad_(True)
    (g_mm,) = torch.autograd.grad(losses.minimax_g_loss(logit), logit)
    logit2 = t(-10.0).requires_grad_(True)
    (g_ns,) = torch.autograd.grad(losses.nonsaturating_g_loss(logit2), logit2)
    assert abs(g_mm.item()) == pytest.approx(torch.sigmoid(t(-10.0)).item())  # ~4.5e-5
    assert g_ns.item() == pytest.approx(-(1 - torch.sigmoid(t(-10.0)).item()))  # ~ -1
    assert abs(g_ns.item()) > 1e4 * abs(g_mm.item())


def test_lsgan_hand_values() -> None:
    real, fake = t(1.0, 3.0), t(0.0, 2.0)
    # 1/2 mean((1-1)^2, (3-1)^2) + 1/2 mean((0-0)^2, (2-0)^2) = 1 + 1
    assert losses.lsgan_d_loss(real, fake).item() == pytest.approx(2.0)
    # a=-1, b=1: 1/2 mean(0, 4) + 1/2 mean(1, 9) = 1 + 2.5
    assert losses.lsgan_d_loss(real, fake, a=-1.0, b=1.0).item() == pytest.approx(3.5)
    # c=1: 1/2 mean(1, 1) = 1/2 ; c=0: 1/2 mean(0, 4) = 1
    assert losses.lsgan_g_loss(fake).item() == pytest.approx(0.5)
    assert losses.lsgan_g_loss(fake, c=0.0).item() == pytest.approx(1.0)
    obj = losses.get_objective("lsgan", a=-1.0, b=1.0, c=0.0)
    assert obj.d_loss(real, fake).item() == pytest.approx(3.5)


def test_wasserstein_hand_values() -> None:
    real, fake = t(2.0, 4.0), t(-1.0, 1.0)
    assert losses.wasserstein_d_loss(real, fake).item() == pytest.approx(0.0 - 3.0)
    assert losses.wasserstein_g_loss(fake).item() == pytest.approx(0.0)
    assert losses.wasserstein_g_loss(t(1.0, 2.0)).item() == pytest.approx(-1.5)


def test_hinge_hand_values() -> None:
    real, fake = t(0.5, 2.0), t(-2.0, 0.0)
    # mean(relu(0.5), relu(-1)) + mean(relu(-1), relu(1)) = 0.25 + 0.5
    assert losses.hinge_d_loss(real, fake).item() == pytest.approx(0.75)


def test_registry_names_and_defaults() -> None:
    for name in losses.OBJECTIVES:
        obj = losses.get_objective(name)
        assert obj.name == name and obj.summary
    assert losses.get_objective("wgan").default_penalties == {"clip": 0.01}
    assert losses.get_objective("wgan-gp").default_penalties == {"gp_weight": 10.0}
    assert losses.get_objective("wgan").critic and not losses.get_objective("ns").critic
    assert losses.get_objective("lsgan").critic   # regression outputs, logged raw, not sigmoid


def test_registry_pairs_each_name_with_its_losses_and_output_kind() -> None:
    want = {"minimax": (losses.bce_d_loss, losses.minimax_g_loss, False),
            "ns": (losses.bce_d_loss, losses.nonsaturating_g_loss, False),
            "wgan": (losses.wasserstein_d_loss, losses.wasserstein_g_loss, True),
            "wgan-gp": (losses.wasserstein_d_loss, losses.wasserstein_g_loss, True),
            "hinge": (losses.hinge_d_loss, losses.wasserstein_g_loss, True)}
    for name, (d_loss, g_loss, critic) in want.items():
        obj = losses.get_objective(name)
        assert (obj.d_loss, obj.g_loss, obj.critic) == (d_loss, g_loss, critic), name
        assert obj.summary == losses.OBJECTIVES[name] and obj.divergence, name
        if not name.startswith("wgan"):
            assert obj.default_penalties == {}, name


def test_lsgan_registry_passes_each_target_to_its_loss() -> None:
    real, fake = t(1.0, 3.0), t(0.0, 2.0)
    obj = losses.get_objective("lsgan", a=-1.0, b=2.0, c=0.5)
    # 1/2 mean(1, 1) + 1/2 mean(1, 9) = 0.5 + 2.5 ; 1/2 mean(0.25, 2.25) = 0.625
    assert obj.d_loss(real, fake).item() == pytest.approx(3.0)
    assert obj.g_loss(fake).item() == pytest.approx(0.625)


def test_lsgan_registry_defaults_to_the_0_1_coding() -> None:
    obj = losses.get_objective("lsgan")                  # a = 0, b = c = 1
    real, fake = t(1.0, 3.0), t(0.0, 2.0)
    assert obj.d_loss(real, fake).item() == pytest.approx(2.0)
    assert obj.g_loss(fake).item() == pytest.approx(0.5)


def test_d_outputs_logged_as_probabilities_or_raw() -> None:
    x = t(0.0, math.log(3))                              # D = 1/2 and 3/4
    assert losses.d_outputs_as_probability(x, critic=False) == pytest.approx(0.625)
    assert losses.d_outputs_as_probability(x, critic=True) == pytest.approx(math.log(3) / 2)


def test_unknown_objective_lists_allowed() -> None:
    with pytest.raises(GanlabError, match="allowed: minimax, ns, lsgan"):
        losses.get_objective("wgan_gp")

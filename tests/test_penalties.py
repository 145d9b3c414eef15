"""Gradient penalty, R1, weight clipping and spectral normalisation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganlab.nn.layers import maybe_sn
from ganlab.penalties import clip_weights, gradient_penalty, interpolation_weights, r1_penalty


def linear_critic(weight: list[float]) -> nn.Linear:
    lin = nn.Linear(len(weight), 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([weight]))
        lin.bias.fill_(0.3)
    return lin


def test_gradient_penalty_zero_for_unit_norm_linear_critic() -> None:
    critic = linear_critic([0.6, 0.8])  # ||w|| = 1
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_positive_otherwise() -> None:
    critic = linear_critic([1.2, 1.6])  # ||w|| = 2 -> (2 - 1)^2 = 1 at every interpolate
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(1.0, rel=1e-5)
    mlp = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    assert gradient_penalty(mlp, real, fake).item() > 0


def test_gradient_penalty_differentiable_wrt_critic() -> None:
    critic = linear_critic([1.2, 1.6])
    gp = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2))
    gp.backward()
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = w for ||w|| = 2
    assert torch.allclose(critic.weight.grad, torch.tensor([[1.2, 1.6]]), atol=1e-5)


def half_square(x: torch.Tensor) -> torch.Tensor:
    """``f(x) = ||x||^2 / 2`` per sample: its gradient at ``x`` is ``x`` itself."""
    return 0.5 * x.flatten(1).pow(2).sum(1)


def test_gradient_penalty_is_taken_at_the_interpolates() -> None:
    # grad f(x_hat) = x_hat = eps * real + (1 - eps) * fake, so the penalty pins x_hat
    real = torch.tensor([[3.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    fake = torch.tensor([[1.0, 0.0], [0.0, 6.0]], dtype=torch.float64)
    eps = torch.tensor([[0.25], [0.5]], dtype=torch.float64)
    # x_hat = (1.5, 0) and (0, 4): norms 1.5 and 4 -> ((0.5)^2 + 3^2) / 2
    gp = gradient_penalty(half_square, real, fake, eps=eps)
    assert gp.item() == pytest.approx((0.25 + 9.0) / 2)


def test_gradient_penalty_draws_its_weights_from_the_generator_given() -> None:
    real, fake = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    eps = interpolation_weights(real, torch.Generator().manual_seed(5))
    torch.manual_seed(0)     # the global stream differs from the generator's
    drawn = gradient_penalty(half_square, real, fake, torch.Generator().manual_seed(5))
    assert drawn.item() == pytest.approx(gradient_penalty(half_square, real, fake, eps=eps).item())


def test_interpolation_weights_shape_stream_dtype_and_device() -> None:
    real = torch.zeros(4, 1, 2, 2, dtype=torch.float64)
    eps = interpolation_weights(real, torch.Generator().manual_seed(3))
    assert eps.shape == (4, 1, 1, 1) and eps.dtype == torch.float64
    torch.manual_seed(0)
    want = torch.rand((4, 1, 1, 1), generator=torch.Generator().manual_seed(3),
                      dtype=torch.float64)
    assert torch.equal(eps, want)
    assert interpolation_weights(real, None, n=8).shape == (8, 1, 1, 1)
    on_meta = interpolation_weights(torch.empty(4, 2, device="meta"), None)
    assert on_meta.device.type == "meta"


def test_r1_penalty_is_differentiable_wrt_the_discriminator() -> None:
    d = linear_critic([3.0, 4.0])
    x = torch.randn(16, 2, requires_grad=True)
    r1_penalty(d(x), x).backward()
    # d/dw ||w||^2 = 2 w
    assert torch.allclose(d.weight.grad, torch.tensor([[6.0, 8.0]]))


def test_r1_penalty_of_linear_discriminator() -> None:
    d = linear_critic([3.0, 4.0])
    x = torch.randn(16, 2, requires_grad=True)
    assert r1_penalty(d(x), x).item() == pytest.approx(25.0)


def test_weight_clipping_clips_and_keeps_small_weights() -> None:
    lin = nn.Linear(4, 4)
    with torch.no_grad():
        lin.weight.copy_(torch.linspace(-1, 1, 16).reshape(4, 4))
        lin.bias.copy_(torch.tensor([0.005, -0.5, 0.2, -0.001]))
    clip_weights(lin, 0.01)
    for p in lin.parameters():
        assert p.abs().max().item() <= 0.01 + 1e-12
    assert lin.bias[0].item() == pytest.approx(0.005)
    assert lin.bias[3].item() == pytest.approx(-0.001)
    assert lin.bias[1].item() == pytest.approx(-0.01)


def test_spectral_norm_bounds_top_singular_value() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(32, 16)
    with torch.no_grad():
        lin.weight.mul_(10.0)
    before = torch.linalg.matrix_norm(lin.weight.detach(), 2).item()
    assert before > 2.0
    sn = maybe_sn(lin, True)
    x = torch.randn(4, 32)
    for _ in range(30):  # power iterations run in training-mode forwards
        sn(x)
    top = torch.linalg.matrix_norm(sn.weight.detach(), 2).item()
    assert top == pytest.approx(1.0, abs=1e-3)
    assert maybe_sn(nn.Linear(2, 2), False).__class__ is nn.Linear

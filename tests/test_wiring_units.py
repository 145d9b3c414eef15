"""Exact values of small functions whose wrong wiring would still "run": slerp, to_uint8,
lr_factor, update_ema. Each test pins hand-computed numbers that a plausible mistake changes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlab.engine.ema import make_ema, update_ema
from ganlab.engine.schedule import lr_factor
from ganlab.report.grid import to_uint8


# -- sampling.slerp -------------------------------------------------------------------------------
def _slerp():  # noqa: ANN202 (imported here so the other tests run while sampling.py is edited)
    from ganlab.sampling import slerp

    return slerp


def test_slerp_keeps_the_norm_of_orthogonal_unit_vectors() -> None:
    slerp = _slerp()
    a = torch.tensor([[1.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0]])
    out = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert out.shape == (1, 3, 3)
    torch.testing.assert_close(out[0, 0], a[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[0, 2], b[0], atol=1e-6, rtol=0)
    # spherical midpoint: on the unit circle, (a + b) / sqrt(2); a linear one has norm 1/sqrt(2)
    torch.testing.assert_close(out[0, 1], (a[0] + b[0]) / math.sqrt(2), atol=1e-6, rtol=0)
    assert abs(out[0, 1].norm().item() - 1.0) < 1e-6


def test_slerp_moves_at_constant_angular_speed_row_by_row() -> None:
    slerp = _slerp()
    third = math.pi / 3
    # row 0: 90 degrees apart, norm 2; row 1: 60 degrees apart, norm 0.5 (the angle is that of
    # the directions, not of the raw dot product)
    a = torch.tensor([[2.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    b = torch.tensor([[0.0, 0.0, 2.0], [0.5 * math.cos(third), 0.5 * math.sin(third), 0.0]])
    t = torch.tensor([0.0, 1 / 3, 0.5, 1.0])
    out = slerp(a, b, t)
    assert out.shape == (2, 4, 3)
    for row, angle in ((0, math.pi / 2), (1, third)):
        for j, tj in enumerate(t.tolist()):
            theta = tj * angle   # the angle from a grows linearly with t
            u = a[row] / a[row].norm()
            v = (b[row] - (b[row] @ u) * u)
            v = v / v.norm()
            want = a[row].norm() * (math.cos(theta) * u + math.sin(theta) * v)
            torch.testing.assert_close(out[row, j], want, atol=1e-5, rtol=0)


def test_slerp_of_parallel_vectors_is_finite_and_linear() -> None:
    slerp = _slerp()
    # random directions: for some, the normalised dot product rounds above 1 in float32
    a = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    for b in (a.clone(), 2 * a):
        out = slerp(a, b, t)
        assert torch.isfinite(out).all()
        want = (1 - t)[None, :, None] * a[:, None] + t[None, :, None] * b[:, None]
        torch.testing.assert_close(out, want, atol=1e-4, rtol=1e-4)


# -- report.grid.to_uint8 -------------------------------------------------------------------------
def test_to_uint8_maps_minus_one_one_with_127_5() -> None:
    x = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, -2.0]).reshape(1, 1, 1, 7)
    out = to_uint8(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 1, 1, 7)
    # (x + 1) * 127.5, rounded half to even, clamped: 0 -> 127.5 -> 128, 0.5 -> 191.25 -> 191.
    # Scaling by 127 would give [0, 64, 127, 190, 254, 254, 0]; truncating, [0, 63, 127, 191, ...]
    assert out.flatten().tolist() == [0, 64, 128, 191, 255, 255, 0]


def test_to_uint8_passes_uint8_through_and_keeps_shape() -> None:
    u = torch.tensor([[[[0, 7], [128, 255]]]], dtype=torch.uint8)
    assert to_uint8(u) is u
    x = torch.linspace(-1, 1, 2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    out = to_uint8(x)
    assert out.shape == (2, 3, 4, 5)
    assert out.flatten()[0].item() == 0 and out.flatten()[-1].item() == 255


# -- train.schedule.lr_factor ---------------------------------------------------------------------
def test_linear_schedule_decays_from_one_to_one_over_steps() -> None:
    steps = 10
    assert lr_factor("linear", 0, steps) == 1.0
    assert lr_factor("linear", 5, steps) == pytest.approx(0.5)
    assert lr_factor("linear", steps - 1, steps) == pytest.approx(1 / steps)  # the last step
    assert lr_factor("linear", steps, steps) == pytest.approx(0.0)
    assert lr_factor("linear", 3 * steps, steps) == pytest.approx(0.0)        # never negative
    values = [lr_factor("linear", s, steps) for s in range(steps)]
    assert all(x > y for x, y in zip(values, values[1:], strict=False))
    assert values == pytest.approx([1 - s / steps for s in range(steps)])


def test_cosine_schedule_endpoints_and_middle() -> None:
    steps = 10
    assert lr_factor("cosine", 0, steps) == 1.0
    assert lr_factor("cosine", 5, steps) == pytest.approx(0.5)
    assert lr_factor("cosine", steps - 1, steps) == pytest.approx(
        0.5 * (1 + math.cos(math.pi * 0.9)))
    assert lr_factor("cosine", steps, steps) == pytest.approx(0.0, abs=1e-12)
    values = [lr_factor("cosine", s, steps) for s in range(steps + 1)]
    assert all(x > y for x, y in zip(values, values[1:], strict=False))


def test_no_schedule_is_one_and_unknown_is_an_error() -> None:
    assert [lr_factor("none", s, 10) for s in (0, 5, 9, 10)] == [1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="step"):
        lr_factor("stepwise", 0, 10)


# -- train.ema.update_ema -------------------------------------------------------------------------
def _net(weight: list[float], bias: float, mean: float, var: float, batches: int) -> nn.Module:
    net = nn.Sequential(nn.Linear(2, 1), nn.BatchNorm1d(1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([weight]))
        net[0].bias.fill_(bias)
        net[1].weight.fill_(1.0)
        net[1].bias.fill_(0.0)
        net[1].running_mean.fill_(mean)
        net[1].running_var.fill_(var)
        net[1].num_batches_tracked.fill_(batches)
    return net


def test_update_ema_averages_parameters_and_copies_buffers() -> None:
    model = _net([5.0, -2.0], 1.0, mean=0.5, var=4.0, batches=7)
    ema = make_ema(_net([1.0, 2.0], 3.0, mean=-1.0, var=1.0, batches=2))
    update_ema(ema, model, 0.75)
    # ema = 0.75 * ema + 0.25 * model (exact in binary floating point)
    assert ema[0].weight.tolist() == [[2.0, 1.0]]
    assert ema[0].bias.tolist() == [2.5]
    # buffers are copied from the model, not averaged
    assert ema[1].running_mean.tolist() == [0.5]
    assert ema[1].running_var.tolist() == [4.0]
    assert ema[1].num_batches_tracked.item() == 7
    # the model is left alone, and a second step moves on from the averaged weights
    assert model[0].weight.tolist() == [[5.0, -2.0]] and model[0].bias.tolist() == [1.0]
    update_ema(ema, model, 0.5)
    assert ema[0].weight.tolist() == [[3.5, -0.5]]
    assert ema[0].bias.tolist() == [1.75]


def test_update_ema_refuses_a_model_whose_buffers_do_not_match() -> None:
    # the same parameters, but one network tracks running statistics and the other does not
    ema = make_ema(nn.BatchNorm1d(2, track_running_stats=False))
    with pytest.raises(ValueError, match="zip"):
        update_ema(ema, nn.BatchNorm1d(2), 0.5)


def test_update_ema_decay_zero_copies_and_one_keeps() -> None:
    model = _net([5.0, -2.0], 1.0, mean=0.5, var=4.0, batches=7)
    ema = make_ema(_net([1.0, 2.0], 3.0, mean=-1.0, var=1.0, batches=2))
    update_ema(ema, model, 1.0)
    assert ema[0].weight.tolist() == [[1.0, 2.0]] and ema[0].bias.tolist() == [3.0]
    update_ema(ema, model, 0.0)
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        assert torch.equal(p_ema, p)
        assert p_ema.data_ptr() != p.data_ptr()


def test_make_ema_is_a_frozen_independent_copy() -> None:
    model = _net([5.0, -2.0], 1.0, mean=0.5, var=4.0, batches=7).train()
    ema = make_ema(model)
    assert not ema.training and model.training
    assert all(not p.requires_grad for p in ema.parameters())
    assert all(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        model[0].weight.fill_(9.0)
    assert ema[0].weight.tolist() == [[5.0, -2.0]]

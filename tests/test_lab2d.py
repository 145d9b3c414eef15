"""The 2-D lab: ring/grid geometry, mode diagnostics, divergence estimators, `ganlab lab`."""

from __future__ import annotations

import json
import math

import pytest
import torch

from ganlab import config as config_mod
from ganlab.cli import main
from ganlab.data.toy2d import grid, ring
from ganlab.metrics.divergences import binned_js, binned_kl, sliced_wasserstein1, wasserstein1
from ganlab.metrics.modes2d import mode_diagnostics

# -- geometry ---------------------------------------------------------------------------------


def test_ring_has_eight_distinct_means_on_the_unit_circle():
    mix = ring()
    m = mix.means.double()
    assert m.shape == (8, 2)
    assert torch.allclose(m.norm(dim=1), torch.ones(8, dtype=torch.float64), atol=1e-6)
    d = torch.cdist(m, m) + torch.eye(8, dtype=torch.float64) * 10
    # neighbours are 2 sin(pi/8) apart; no two means coincide
    assert float(d.min()) == pytest.approx(2 * math.sin(math.pi / 8), abs=1e-5)
    angles = torch.atan2(m[:, 1], m[:, 0]) % (2 * math.pi)
    expected = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    assert torch.allclose(angles.sort().values, expected, atol=1e-6)
    assert mix.std == 0.01
    assert torch.allclose(mix.weights, torch.full((8,), 1 / 8))


def test_the_linspace_trap_makes_only_seven_modes():
    # the bug ganlab avoids: linspace(0, 2 pi, 8) puts the first and last mode on one point
    bad = torch.linspace(0, 2 * math.pi, 8, dtype=torch.float64)
    pts = torch.stack([bad.cos(), bad.sin()], 1)
    assert len({(round(x, 6) + 0.0, round(y, 6) + 0.0) for x, y in pts.tolist()}) == 7
    good = {(round(x, 6) + 0.0, round(y, 6) + 0.0) for x, y in ring().means.double().tolist()}
    assert len(good) == 8


def test_grid_has_25_means_on_the_lattice():
    mix = grid()
    got = sorted((round(x, 6), round(y, 6)) for x, y in mix.means.tolist())
    want = sorted((float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4))
    assert got == want
    assert mix.std == 0.05


def test_samples_sit_near_their_means():
    mix = ring()
    x = mix.sample(4000, torch.Generator().manual_seed(0))
    d = torch.cdist(x, mix.means).min(1).values
    assert float(d.mean()) == pytest.approx(0.01 * math.sqrt(math.pi / 2), rel=0.1)


# -- mode diagnostics -------------------------------------------------------------------------


def test_all_samples_in_one_mode():
    mix = ring()
    x = mix.means[3].repeat(2500, 1)
    r = mode_diagnostics(x, mix.means, mix.std, mix.weights)
    assert r.modes_captured == 1
    assert r.high_quality == 1.0
    assert r.reverse_kl == pytest.approx(math.log(8))


def test_perfect_samples():
    mix = ring()
    x = mix.sample(2500, torch.Generator().manual_seed(1))
    r = mode_diagnostics(x, mix.means, mix.std, mix.weights)
    assert r.modes_captured == 8
    assert r.high_quality > 0.97           # 1 - exp(-4.5) = 98.9% of a 2-D Gaussian is in 3 std
    assert r.reverse_kl < 0.01
    exact = mix.means.repeat(100, 1)
    r = mode_diagnostics(exact, mix.means, mix.std)
    assert (r.modes_captured, r.high_quality) == (8, 1.0)
    assert r.reverse_kl == pytest.approx(0.0, abs=1e-12)


def test_samples_between_modes_are_not_high_quality():
    mix = grid()
    x = torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.2]])   # a gap, a centre, just outside 3 std
    r = mode_diagnostics(x, mix.means, mix.std)
    assert r.modes_captured == 1
    assert r.high_quality == pytest.approx(1 / 3)


# -- divergence estimators --------------------------------------------------------------------


def _segment(n: int = 300, seed: int = 0) -> torch.Tensor:
    y = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return torch.stack([torch.zeros(n, dtype=torch.float64), y], 1)


def test_js_is_log2_for_disjoint_sets_and_zero_for_the_same_set():
    p = _segment()
    for theta in (0.01, 1.0, 5.0):
        q = p + torch.tensor([theta, 0.0], dtype=torch.float64)
        assert binned_js(p, q) == pytest.approx(math.log(2), abs=1e-9)
        assert binned_kl(q, p) > 10
    assert binned_js(p, p) == pytest.approx(0.0, abs=1e-12)
    assert binned_kl(p, p) == pytest.approx(0.0, abs=1e-5)   # eps in empty bins


def test_js_of_two_samples_of_one_distribution_is_small():
    mix = grid()
    a = mix.sample(2000, torch.Generator().manual_seed(0))
    b = mix.sample(2000, torch.Generator().manual_seed(1))
    assert binned_js(a, b) < 0.1


@pytest.mark.parametrize("theta", [0.0, 0.05, 0.5, 2.0])
def test_w1_of_a_shift_is_the_shift(theta):
    p = _segment(200)
    q = p + torch.tensor([theta, 0.0], dtype=torch.float64)
    assert wasserstein1(p, q) == pytest.approx(theta, abs=1e-9)
    # sliced W1 of a shift is E|<u, shift>| = (2 / pi) |theta| over random directions
    assert sliced_wasserstein1(p, q, n_directions=2000) == pytest.approx(
        2 / math.pi * theta, rel=0.05, abs=1e-9)
    q2 = p + torch.tensor([0.0, theta], dtype=torch.float64)   # along the segment: also |theta|
    assert wasserstein1(p, q2) <= theta + 1e-9


def test_w1_needs_equal_sizes():
    with pytest.raises(ValueError):
        wasserstein1(torch.zeros(3, 2), torch.zeros(4, 2))


# -- the command and the training hook --------------------------------------------------------


def test_lab_supports_command(tmp_path, capsys):
    out = tmp_path / "supports.png"
    assert main(["lab", "supports", "--out", str(out), "--n", "200"]) == 0
    text = capsys.readouterr().out
    rows = [line.split() for line in text.splitlines() if line[:7].strip()[:1].isdigit()]
    table = {float(r[0]): (float(r[1]), float(r[3])) for r in rows}
    assert table[2.0] == (pytest.approx(math.log(2), abs=1e-4), pytest.approx(2.0, abs=1e-4))
    assert table[0.01][0] == pytest.approx(math.log(2), abs=1e-4)
    assert table[0.0] == (pytest.approx(0.0, abs=1e-4), pytest.approx(0.0, abs=1e-4))
    assert out.is_file() and out.stat().st_size > 1000


def test_evaluate_logs_js_and_w1(tmp_path, tiny_ring_overrides):
    from ganlab.api import build_trainer
    from ganlab.runs import new_run

    cfg = config_mod.load(preset="ring-ns", overrides=[*tiny_ring_overrides, "train.steps=20",
                                                       "eval.every=5"])
    run_dir = new_run(cfg, tmp_path)
    trainer = build_trainer(cfg, run_dir)
    assert trainer.run(until=10) == 0          # stop early: no final report to render
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10]
    assert all("js" in r and "w1" in r for r in records)
    gen_state = trainer.family.gen.get_state().clone()
    results = trainer.family.evaluate(final=True)   # what summary.json holds
    assert 0.0 <= results["js"] <= math.log(2) + 1e-9
    assert results["w1"] > 0
    assert torch.equal(trainer.family.gen.get_state(), gen_state)   # resume stays exact

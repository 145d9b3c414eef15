"""PSNR and SSIM on uint8 images."""

from __future__ import annotations

import numpy as np
import pytest

from ganlab.errors import GanlabError
from ganlab.metrics import psnr, ssim


def test_psnr_known_value() -> None:
    a = np.full((2, 1, 16, 16), 100, np.uint8)
    b = a + np.uint8(5)  # MSE = 25
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 25))


def test_ssim_identity_and_order() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(2, 3, 32, 32), dtype=np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    small = np.clip(a.astype(int) + rng.integers(-10, 11, size=a.shape), 0, 255).astype(np.uint8)
    large = np.clip(a.astype(int) + rng.integers(-80, 81, size=a.shape), 0, 255).astype(np.uint8)
    assert 1.0 > ssim(a, small) > ssim(a, large)


def test_shape_mismatch() -> None:
    with pytest.raises(GanlabError):
        psnr(np.zeros((1, 1, 4, 4), np.uint8), np.zeros((1, 1, 5, 5), np.uint8))

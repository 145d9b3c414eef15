"""TF1 bilinear resize against a NumPy transcription of its formula; clean resize basics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlab.features.resize import clean_resize, resize_images, tf1_bilinear_resize


def tf1_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """src = dst * in/out; lower = floor(src), upper = min(lower+1, in-1); lerp along W, then H."""
    h, w = img.shape
    out = np.zeros((out_h, out_w))
    for y in range(out_h):
        sy = y * h / out_h
        y0 = int(np.floor(sy))
        y1 = min(y0 + 1, h - 1)
        fy = sy - y0
        for x in range(out_w):
            sx = x * w / out_w
            x0 = int(np.floor(sx))
            x1 = min(x0 + 1, w - 1)
            fx = sx - x0
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * fx
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * fx
            out[y, x] = top + (bottom - top) * fy
    return out


@pytest.mark.parametrize(
    ("size_in", "size_out"), [((7, 5), (23, 31)), ((28, 28), (61, 61)), ((16, 12), (5, 7))]
)
def test_tf1_bilinear_matches_numpy_reference(size_in, size_out) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(2, 3, *size_in), dtype=np.uint8)
    out = tf1_bilinear_resize(torch.from_numpy(img), size_out).numpy()
    assert out.shape == (2, 3, *size_out) and out.dtype == np.float32
    for i in range(2):
        for c in range(3):
            ref = tf1_reference(img[i, c].astype(np.float64), *size_out)
            np.testing.assert_allclose(out[i, c], ref, atol=1e-3)  # float32 vs float64


def test_tf1_is_not_half_pixel() -> None:
    # Upsampling 2 -> 4: asymmetric mapping keeps pixel 0 exactly, torch's half-pixel would not.
    x = torch.tensor([[[[0.0, 100.0]]]])
    out = tf1_bilinear_resize(x, (1, 4))
    assert out.flatten().tolist() == [0.0, 50.0, 100.0, 100.0]


def test_same_size_is_identity_and_clean_shape() -> None:
    x = torch.randint(0, 256, (2, 1, 9, 9), dtype=torch.uint8)
    assert torch.equal(tf1_bilinear_resize(x, 9), x.float())
    out = clean_resize(x, 20)
    assert out.shape == (2, 1, 20, 20) and float(out.min()) >= 0 and float(out.max()) <= 255
    flat = torch.full((1, 1, 6, 6), 77, dtype=torch.uint8)
    assert torch.allclose(resize_images(flat, 13, "clean"), torch.full((1, 1, 13, 13), 77.0))
    with pytest.raises(ValueError):
        resize_images(x, 4, "lanczos")

"""Stacked digits: the data source and the end-of-run evaluation by 1,000 modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganlab.config import load
from ganlab.errors import GanlabError


@pytest.fixture(scope="module")
def source():
    from ganlab.data import build_data

    try:
        return build_data(load(preset="stacked-dcgan").data)
    except GanlabError as exc:
        pytest.skip(f"MNIST-5k is not installed: {exc}")


def test_batches_are_three_real_digits(source) -> None:
    spec = source.spec()
    assert spec.sample_shape == (3, 28, 28) and spec.num_classes is None
    b = source.batch(16, torch.Generator().manual_seed(0))
    assert b.x.shape == (16, 3, 28, 28) and -1.0 <= float(b.x.min()) < float(b.x.max()) <= 1.0
    pool = {bytes(img.numpy()) for img in source.images[:, 0]}
    assert all(bytes(((c + 1) * 127.5).round().to(torch.uint8).numpy()) in pool
               for c in b.x[:4].reshape(-1, 28, 28))
    again = source.batch(16, torch.Generator().manual_seed(0))
    assert torch.equal(b.x, again.x) and source.state_dict() == {}


def test_real_stacks_cover_the_modes_a_uniform_draw_would(source) -> None:
    from ganlab.families.image_eval import ImageEvaluator

    cfg = load(preset="stacked-dcgan", overrides=["eval.n_samples=3000"])
    ev = ImageEvaluator(cfg.eval, cfg.data, (3, 28, 28), log=lambda m: None)
    out = ev(lambda n: source.batch(n, torch.Generator().manual_seed(1)).x)
    # 3,000 uniform draws over 1,000 modes reach 1000 * (1 - e^-3) = 950 distinct on average
    assert 900 < out["stacked_modes"] <= 1000 and out["stacked_kl"] < 0.2
    assert out["extractor"] == "digits-classifier"
    assert out["stacked_confidence"] > 0.85  # real digits are read with confidence
    assert out["stacked_confident_fraction"] > 0.8
    assert out["stacked_kl_channels_confident"] < 0.05  # confident readings even too
    assert out["stacked_kl"] == pytest.approx(out["stacked_kl_channels"]
                                              + out["stacked_kl_dependence"])
    collapsed = ev(lambda n: source.batch(1, torch.Generator().manual_seed(2)).x.expand(n, -1,
                                                                                       -1, -1))
    assert collapsed["stacked_modes"] == 1 and np.isclose(collapsed["stacked_kl"], np.log(1000))
    # one triple: all of the KL is uneven digits per channel, none is dependence
    assert np.isclose(collapsed["stacked_kl_channels"], np.log(1000))
    assert abs(collapsed["stacked_kl_dependence"]) < 1e-9

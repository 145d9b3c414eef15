"""PacGAN packing: D judges ``gan.pack`` samples at once, stacked along the channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ganlab import config
from ganlab.cli import main
from ganlab.errors import GanlabError
from ganlab.families import build_family
from helpers import untimed_metrics

TINY = ["gan.model.width=8", "train.batch_size=8", "train.threads=1", "train.steps=4",
        "train.log_every=2", "train.snapshot_every=0", "train.checkpoint_every=2",
        "eval.every=0", "eval.n_samples=100", "gan.ema.enabled=false"]


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, images=np.random.default_rng(0).integers(0, 256, (32, 28, 28), np.uint8))
    return path


def test_packed_discriminator_sees_pack_times_the_channels(data: Path) -> None:
    cfg = config.load(preset="fashion-dcgan-ns",
                      overrides=[f"data.name=npz:{data}", "gan.pack=2", *TINY])
    fam = build_family(cfg)
    first = next(m for m in fam.D.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 2
    x = torch.randn(8, 1, 28, 28)
    packed = fam._packed(x)
    assert packed.shape == (4, 2, 28, 28) and torch.equal(packed[1, 1], x[3, 0])
    assert fam._D(x, None).shape == (4,)


def test_packed_run_trains_and_resumes_exactly(data: Path, tmp_path: Path) -> None:
    def run(out: str, *more: str) -> Path:
        argv = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path / out),
                "--no-progress", *more]
        for o in [f"data.name=npz:{data}", "gan.pack=2", *TINY]:
            argv += ["--set", o]
        assert main(argv) == 0
        (r,) = (tmp_path / out).iterdir()
        return r

    full = run("full")
    half = run("half", "--until", "2")
    assert main(["resume", str(half), "--no-progress"]) == 0
    rows = [untimed_metrics(r) for r in (full, half)]
    assert rows[0] == rows[1] and len(rows[0]) == 2


def test_pack_errors(data: Path) -> None:
    with pytest.raises(GanlabError, match="not a multiple of gan.pack=3"):
        build_family(config.load(preset="fashion-dcgan-ns",
                                 overrides=[f"data.name=npz:{data}", "gan.pack=3", *TINY]))
    with pytest.raises(GanlabError, match="gan.pack: packing is for unconditional"):
        config.load(preset="fashion-dcgan-ns", overrides=["gan.pack=2", "gan.conditional=true"])

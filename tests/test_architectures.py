"""DCGAN and ResNet shapes at every resolution, and a short CLI run of each Fashion preset."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from ganlab import config
from ganlab.cli import main
from ganlab.data.images import FASHION_SYSTEM_DIR
from ganlab.errors import GanlabError
from ganlab.nn import arch_names, build_models


def model_cfg(arch: str, **kw: object) -> SimpleNamespace:
    base = {"arch": arch, "z_dim": 16, "width": 8, "g_width": None, "d_width": None,
            "spectral_norm": False, "batch_norm_g": True, "batch_norm_d": True}
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
@pytest.mark.parametrize("res", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(arch: str, res: int, channels: int) -> None:
    assert arch in arch_names()
    g, d = build_models(model_cfg(arch, spectral_norm=res == 32), (channels, res, res))
    z = g.sample_latent(3, torch.Generator().manual_seed(0))
    assert z.shape == (3, 16) and g.z_dim == 16
    x = g(z)
    assert x.shape == (3, channels, res, res)
    assert float(x.detach().abs().max()) <= 1.0
    assert d(x).shape == (3,)


def test_spectral_norm_and_batch_norm_switches() -> None:
    _, d = build_models(model_cfg("dcgan", spectral_norm=True), (1, 28, 28))
    assert any(hasattr(m, "parametrizations") for m in d.modules())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())  # SN replaces BN
    _, d = build_models(model_cfg("dcgan", batch_norm_d=False), (1, 28, 28))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    _, d = build_models(model_cfg("dcgan"), (1, 28, 28))
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    _, d = build_models(model_cfg("resnet", spectral_norm=True), (3, 32, 32))
    assert sum(hasattr(m, "parametrizations") for m in d.modules()) >= 9


def test_width_is_configurable() -> None:
    small = sum(p.numel() for p in build_models(model_cfg("dcgan"), (1, 28, 28))[0].parameters())
    big = sum(p.numel() for p in build_models(model_cfg("dcgan", width=16),
                                              (1, 28, 28))[0].parameters())
    assert big > 2 * small


@pytest.mark.parametrize("shape", [(2,), (1, 28, 20), (1, 30, 30)])
def test_bad_shapes_are_refused(shape: tuple[int, ...]) -> None:
    for arch in ("dcgan", "resnet"):
        with pytest.raises(GanlabError, match="gan.model.arch|data.resolution"):
            build_models(model_cfg(arch), shape)


FASHION_PRESETS = [n for n in config.preset_names() if n.startswith("fashion-")]


@pytest.fixture(scope="module")
def data_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Real Fashion-MNIST when installed, else a small random npz of the same shape."""
    if FASHION_SYSTEM_DIR.is_dir():
        return "fashion-mnist"
    path = tmp_path_factory.mktemp("data") / "fake.npz"
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (256, 28, 28)).astype(np.uint8),
             labels=np.arange(256) % 10)   # the class-conditional presets need labels
    return f"npz:{path}"


def test_every_fashion_preset_is_listed_and_default() -> None:
    assert set(FASHION_PRESETS) >= {"fashion-dcgan-ns", "fashion-dcgan-hinge-sn",
                                    "fashion-dcgan-wgan-gp", "fashion-dcgan-lsgan",
                                    "fashion-resnet-hinge-sn"}
    assert config.DEFAULT_PRESET == "fashion-dcgan-ns"


@pytest.mark.parametrize("preset", FASHION_PRESETS)
def test_preset_smoke_run(preset: str, data_name: str, tmp_path: Path) -> None:
    family = config.load(preset=preset).family   # its section: gan, cgan ...
    args = ["train", "--preset", preset, "--out", str(tmp_path), "--no-progress"]
    for o in (f"data.name={data_name}", "data.limit=256", "train.threads=1", "train.steps=20",
              f"{family}.model.width=8", "train.batch_size=16", "train.log_every=10",
              "train.snapshot_every=10", "train.checkpoint_every=20", "eval.n_samples=100"):
        args += ["--set", o]
    assert main(args) == 0
    (run,) = tmp_path.iterdir()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-0000000.png", "step-0000010.png", "step-0000020.png"]
    assert (run / "report.html").is_file()

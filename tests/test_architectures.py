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
from ganlab.nn.layers import MinibatchStd


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


def test_minibatch_std_appends_each_groups_spread() -> None:
    """The extra channel is, for sample i, the mean over features of the std over its group
    (samples i mod N/G), as ProGAN computes it; the features pass through unchanged."""
    x = torch.randn(6, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    out = MinibatchStd(group=3)(x)
    assert out.shape == (6, 4, 2, 2)
    assert torch.equal(out[:, :3], x)
    for i in range(6):
        members = x[i % 2::2]            # N/G = 2 groups: samples {0, 2, 4} and {1, 3, 5}
        want = (members.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[i, 3], want.expand(2, 2), atol=1e-6)
    # a group of identical samples has (almost) no spread; a batch not divisible by the group
    # size uses the largest divisor below it
    same = MinibatchStd(4)(x[:1].expand(4, 3, 2, 2))
    assert float(same[:, 3].max()) < 1e-3
    assert MinibatchStd(4)(x[:5]).shape == (5, 4, 2, 2)


def test_minibatch_std_lets_d_see_the_rest_of_the_batch() -> None:
    """With it, one sample's score depends on the other members of its group (what lets D
    punish a collapsed batch); without it, in eval mode, it does not."""
    torch.manual_seed(0)
    x = torch.randn(4, 1, 28, 28)
    varied = x.clone()
    varied[1:] = torch.randn(3, 1, 28, 28) * 3
    for mbstd, depends in ((4, True), (0, False)):
        _, d = build_models(model_cfg("dcgan", minibatch_std=mbstd), (1, 28, 28))
        d.eval()
        with torch.no_grad():
            moved = float((d(x)[0] - d(varied)[0]).abs())
        assert (moved > 1e-4) == depends, (mbstd, moved)
    # the same parameters but the last layer's one extra input channel
    _, plain = build_models(model_cfg("dcgan"), (1, 28, 28))
    _, with_std = build_models(model_cfg("dcgan", minibatch_std=4), (1, 28, 28))
    assert plain.state_dict().keys() == with_std.state_dict().keys()
    last = [k for k in plain.state_dict() if k.endswith("weight")][-1]
    assert with_std.state_dict()[last].shape[1] == plain.state_dict()[last].shape[1] + 1


@pytest.mark.parametrize(("sets", "message"), [
    ({"gan.model.arch": "mlp", "gan.model.minibatch_std": 4}, "only the dcgan"),
    ({"gan.model.minibatch_std": 1}, "a group of 1"),
    ({"gan.model.minibatch_std": -2}, "minibatch_std"),
])
def test_minibatch_std_settings_are_checked(sets: dict[str, object], message: str) -> None:
    with pytest.raises(GanlabError, match=message):
        config.load(preset="fashion-dcgan-ns", overrides=[f"{k}={v}" for k, v in sets.items()])

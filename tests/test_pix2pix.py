"""pix2pix: U-Net and PatchGAN shapes, the receptive field, the family's config checks and
loss switches, the translator, and a smoke run through the CLI with exact resume,
``ganlab translate`` and ``ganlab eval translation`` on folders the test writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from ganlab import config
from ganlab.api import load_run
from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.errors import GanlabError
from ganlab.families import build_family
from ganlab.nn.patchgan import PatchDiscriminator, min_input_size, receptive_field
from ganlab.nn.unet import UNet, auto_depth
from ganlab.translation import ModuleTranslator, side_by_side

SIZES = (28, 32, 64, 128)


@pytest.fixture(autouse=True)
def _restore_threads() -> object:
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("c_in, c_out", [(1, 1), (1, 3), (3, 3)])
def test_unet_keeps_the_size_at_every_resolution(size: int, c_in: int, c_out: int) -> None:
    g = UNet(c_in, c_out, size, width=4)
    y = g(torch.randn(2, c_in, size, size))
    assert y.shape == (2, c_out, size, size)
    assert y.abs().max() <= 1.0
    assert g.depth == {28: 5, 32: 5, 64: 6, 128: 7}[size] == auto_depth(size)


def test_unet_skips_reach_the_output() -> None:
    """A change of one input pixel moves the output at that pixel through the shortest skip."""
    g = UNet(1, 1, 32, width=4, dropout=0.0)
    x = torch.zeros(1, 1, 32, 32, requires_grad=True)
    g(x)[0, 0, 5, 7].backward()
    assert x.grad is not None and x.grad[0, 0, 5, 7] != 0


def test_dropout_at_sampling_is_the_noise_and_can_be_switched_off() -> None:
    x = torch.randn(3, 1, 28, 28)
    noisy = UNet(1, 1, 28, width=4, dropout_at_sampling=True).eval()
    assert not torch.equal(noisy(x), noisy(x))
    plain = UNet(1, 1, 28, width=4, dropout_at_sampling=False).eval()
    assert torch.equal(plain(x), plain(x))
    tr = ModuleTranslator({"AtoB": noisy}, {"AtoB": ((1, 28, 28), (1, 28, 28))}, seed=3)
    assert torch.equal(tr(x), tr(x))          # the noise comes from the translator's seed


def test_receptive_field_is_computed_from_the_layers() -> None:
    assert receptive_field(3) == 70           # pix2pix's 70x70 PatchGAN
    assert [receptive_field(n) for n in (1, 2, 4, 5)] == [16, 34, 142, 286]
    assert min_input_size(3) == 24


@pytest.mark.parametrize("n_layers", [1, 2])
def test_receptive_field_matches_the_gradient_support(n_layers: int) -> None:
    """With positive weights and no normalisation nothing cancels: the input pixels a centre
    output depends on form a square exactly receptive_field wide."""
    d = PatchDiscriminator(1, width=2, n_layers=n_layers, norm="none")
    for m in d.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 0.1)
            nn.init.constant_(m.bias, 0.1)
    x = torch.zeros(1, 1, 96, 96, requires_grad=True)
    out = d(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    assert x.grad is not None
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    assert int(rows.max() - rows.min() + 1) == receptive_field(n_layers)
    assert int(cols.max() - cols.min() + 1) == receptive_field(n_layers)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_patchgan_shapes(size: int, norm: str) -> None:
    d = PatchDiscriminator(4, width=4, n_layers=3, norm=norm)
    out = d(torch.randn(2, 4, size, size))
    side = {28: 1, 32: 2, 64: 6, 128: 14}[size]
    assert out.shape == (2, 1, side, side)


def test_patchgan_refuses_what_it_cannot_score() -> None:
    with pytest.raises(GanlabError, match="at least 24x24"):
        PatchDiscriminator(2, width=4, n_layers=3)(torch.randn(1, 2, 16, 16))
    with pytest.raises(GanlabError, match="input channels"):
        PatchDiscriminator(2, width=4)(torch.randn(1, 3, 32, 32))
    with pytest.raises(GanlabError, match="norm"):
        PatchDiscriminator(2, norm="layer")
    d = PatchDiscriminator(2, width=4, spectral=True, norm="none")
    assert d(torch.randn(1, 2, 32, 32)).shape == (1, 1, 2, 2)


def test_side_by_side_rows_and_channels() -> None:
    grey = torch.zeros(3, 1, 8, 8)
    colour = torch.ones(3, 3, 8, 8)
    grid = side_by_side([grey, colour, colour])
    assert grid.images.shape == (9, 3, 8, 8) and grid.nrow == 3
    assert torch.equal(grid.images[0], torch.zeros(3, 8, 8))   # row 0: input, output, target
    with pytest.raises(GanlabError):
        side_by_side([grey, torch.zeros(2, 1, 8, 8)])


# ---------------------------------------------------------------------------------------------
# The family


def _pairs(tmp_path: Path, n: int = 12, size: int = 28) -> tuple[Path, Path]:
    """Folders a (grey squares) and b (the same squares, inverted, in colour)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.zeros((size, size), np.uint8)
        lo, hi = sorted(rng.integers(2, size - 2, 2))
        img[lo:hi + 2, lo:hi + 2] = 255
        Image.fromarray(img).save(a / f"{i:02d}.png")
        Image.fromarray(np.stack([255 - img] * 3, -1)).save(b / f"{i:02d}.png")
    return a, b


def _overrides(a: Path, b: Path, *extra: str) -> list[str]:
    return [f"data.name=pairs:{a},{b}", "pix2pix.generator.width=4",
            "pix2pix.discriminator.width=4", "pix2pix.discriminator.n_layers=2",
            "train.batch_size=4", "train.steps=6", "train.log_every=2",
            "train.snapshot_every=3", "train.checkpoint_every=3", "train.threads=1",
            "train.progress=false", "eval.n_samples=10", *extra]


def _args(overrides: list[str]) -> list[str]:
    out = ["--preset", "edges2fashion", "--no-progress"]
    for o in overrides:
        out += ["--set", o]
    return out


def test_config_checks(tmp_path: Path) -> None:
    a, b = _pairs(tmp_path, n=2)
    with pytest.raises(GanlabError, match="both 0"):
        config.load(preset="edges2fashion", overrides=["pix2pix.l1_weight=0",
                                                       "pix2pix.gan_weight=0"])
    with pytest.raises(GanlabError, match="gp_weight"):
        config.load(preset="edges2fashion", overrides=["pix2pix.objective=wgan-gp"])
    cfg = config.load(preset="edges2fashion",
                      overrides=_overrides(a, b, f"data.name=unpaired:{a},{b}"))
    with pytest.raises(GanlabError, match="paired"):
        build_family(cfg, log=lambda _m: None)
    cfg = config.load(preset="edges2fashion",
                      overrides=_overrides(a, b, "pix2pix.discriminator.n_layers=4"))
    with pytest.raises(GanlabError, match="n_layers=4"):
        build_family(cfg, log=lambda _m: None)


def test_l1_only_never_trains_the_discriminator(tmp_path: Path) -> None:
    a, b = _pairs(tmp_path)
    cfg = config.load(preset="edges2fashion", overrides=_overrides(a, b, "pix2pix.gan_weight=0"))
    fam = build_family(cfg, log=lambda _m: None)
    d0 = {k: v.clone() for k, v in fam.D.state_dict().items()}
    g0 = {k: v.clone() for k, v in fam.G.state_dict().items()}
    for step in range(2):
        logs = fam.train_step(step, log=True)
    assert "d_loss" not in logs and logs["l1"] > 0
    assert all(torch.equal(d0[k], v) for k, v in fam.D.state_dict().items())
    assert any(not torch.equal(g0[k], v) for k, v in fam.G.state_dict().items())
    cfg = config.load(preset="edges2fashion", overrides=_overrides(a, b, "pix2pix.l1_weight=0"))
    logs = build_family(cfg, log=lambda _m: None).train_step(0, log=True)
    assert {"d_loss", "g_adv", "d_real", "d_fake"} <= set(logs)


def test_smoke_resume_translate_and_eval(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pairs(tmp_path)
    args = _args(_overrides(a, b))
    assert main(["train", *args, "--out", str(tmp_path / "full")]) == 0
    assert main(["train", *args, "--out", str(tmp_path / "half"), "--until", "3"]) == 0
    (half,) = (tmp_path / "half").iterdir()
    assert main(["resume", str(half), "--no-progress"]) == 0
    (full,) = (tmp_path / "full").iterdir()
    wa = load_file(ckpt.latest(full / "checkpoints") / ckpt.WEIGHTS)
    wb = load_file(ckpt.latest(half / "checkpoints") / ckpt.WEIGHTS)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert "psnr" in (full / "summary.json").read_text()
    assert (full / "samples" / "step-0000006.png").is_file()

    # translate a folder (with a subfolder and an odd-sized colour image) and one file
    inputs = tmp_path / "inputs"
    (inputs / "sub").mkdir(parents=True)
    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(inputs / "wide.png")
    Image.open(a / "00.png").save(inputs / "sub" / "x.jpg")
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["translate", str(full), str(inputs), str(out)]) == 0
    assert "translated 2 image(s) AtoB" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "grid.png", "sub/x.png", "wide.png"]
    with Image.open(out / "wide.png") as im:
        assert im.size == (28, 28) and im.mode == "RGB"    # the run's target shape
    assert main(["translate", str(full), str(a / "01.png"), str(tmp_path / "one")]) == 0
    assert (tmp_path / "one" / "01.png").is_file()

    # one-line errors: wrong direction, not an image, empty folder, missing input
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    for argv, needle in [
        (["--direction", "BtoA", str(a)], "translates only AtoB"),
        ([str(tmp_path / "notes.txt")], "not an image file"),
        ([str(tmp_path / "empty")], "holds no images"),
        ([str(tmp_path / "nope")], "no such file or folder"),
    ]:
        paths = [p for p in argv if not p.startswith("--") and p != "BtoA"]
        opts = [p for p in argv if p not in paths]
        assert main(["translate", str(full), *paths, str(tmp_path / "o"), *opts]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1

    assert main(["eval", "translation", str(full), "--n", "8"]) == 0
    text = capsys.readouterr().out
    assert "psnr:" in text and "ssim:" in text and "FID skipped" in text

    # the sampler points at `translate` when rebuilt without data
    with pytest.raises(GanlabError, match="ganlab translate"):
        load_run(full).sampler().sample(2)


def test_paired_metrics_of_perfect_and_poor_translations() -> None:
    from ganlab.metrics.translation import paired_metrics, psnr_ssim

    g = torch.Generator().manual_seed(0)
    targets = torch.rand(40, 1, 28, 28, generator=g) * 2 - 1
    perfect = psnr_ssim(targets, targets)
    assert perfect["psnr"] == 100.0 and perfect["ssim"] == pytest.approx(1.0)
    noisy = (targets + 0.2 * torch.randn(40, 1, 28, 28, generator=g)).clamp(-1, 1)
    worse = psnr_ssim(noisy, targets)
    # noise of std 0.1 in [0, 1] units (a little less after clamping): MSE ~0.01, ~20 dB
    assert 19.5 < worse["psnr"] < 21.5 and worse["ssim"] < 0.99
    labels = torch.arange(40) % 10
    res = paired_metrics(targets, targets, "fashion-classifier", labels)
    assert res["fid"] == pytest.approx(0.0, abs=1e-6)
    assert res["class_accuracy"] == res["target_class_accuracy"]
    assert res["extractor"] == "fashion-classifier" and "card" in res
    with pytest.raises(GanlabError, match="differ in shape"):
        psnr_ssim(targets, targets[:, :, :20])

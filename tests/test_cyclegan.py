"""CycleGAN: the losses, the history pool, the generator's shapes, and a whole run through the
CLI on unpaired folders the test writes (train, bit-exact resume, translate, sample)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from ganlab.cli import main
from ganlab.errors import GanlabError
from ganlab.families.cyclegan.family import cycle_loss, identity_loss
from ganlab.families.cyclegan.pool import HistoryPool
from ganlab.metrics.faithfulness import class_dependence, cycle_error, pixel_correlation
from ganlab.nn.resnet_translator import ResnetTranslator

# -- losses ------------------------------------------------------------------------------------


def test_cycle_loss_is_zero_for_identity_generators() -> None:
    real = torch.rand(4, 1, 8, 8) * 2 - 1
    ident = nn.Identity()
    assert float(cycle_loss(real, ident(real), ident)) == 0.0
    assert float(identity_loss(real, ident)) == 0.0


def test_cycle_loss_is_the_mean_absolute_round_trip_error() -> None:
    real = torch.zeros(2, 1, 4, 4)
    assert float(cycle_loss(real, real, lambda t: t + 0.25)) == pytest.approx(0.25)
    assert float(identity_loss(real, lambda t: t - 0.5)) == pytest.approx(0.5)


# -- the history pool ---------------------------------------------------------------------------


def _images(start: int, n: int) -> torch.Tensor:
    """Images whose every pixel holds their id, so a returned image says where it came from."""
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2)


def _ids(batch: torch.Tensor) -> list[int]:
    return [int(v) for v in batch[:, 0, 0, 0]]


def test_pool_returns_new_images_while_filling_and_stays_bounded() -> None:
    pool = HistoryPool(size=5, generator=torch.Generator().manual_seed(0))
    assert _ids(pool.query(_images(0, 3))) == [0, 1, 2]
    assert _ids(pool.query(_images(3, 2))) == [3, 4]
    assert len(pool) == 5
    for start in range(5, 200, 7):
        pool.query(_images(start, 7))
        assert len(pool) == 5


def test_pool_swaps_half_the_time_with_a_seeded_generator() -> None:
    pool = HistoryPool(size=50, generator=torch.Generator().manual_seed(3))
    pool.query(_images(0, 50))                     # full: ids 0..49
    out = _ids(pool.query(_images(1000, 2000)))
    swapped = [k for k, o in enumerate(out) if o != 1000 + k]
    # each image is swapped with probability 1/2: 2000 draws give 1000 +- 3 sigma (67)
    assert 930 < len(swapped) < 1070
    # what comes back is either the new image itself or one the pool held before it
    assert all(o == 1000 + k or o < 1000 + k for k, o in enumerate(out))
    stored = _ids(torch.stack(pool.images))
    assert len(stored) == 50 and len(set(stored)) == 50
    # the same seed gives the same choices
    again = HistoryPool(size=50, generator=torch.Generator().manual_seed(3))
    again.query(_images(0, 50))
    assert _ids(again.query(_images(1000, 2000))) == out


def test_pool_state_round_trips_and_size_zero_passes_through() -> None:
    pool = HistoryPool(size=4, generator=torch.Generator().manual_seed(1))
    pool.query(_images(0, 6))
    copy = HistoryPool(size=4, generator=torch.Generator().manual_seed(99))
    copy.load_state_dict(pool.state_dict())   # the images; the stream is the engine's to save
    copy.generator.set_state(pool.generator.get_state())
    assert _ids(copy.query(_images(10, 20))) == _ids(pool.query(_images(10, 20)))
    off = HistoryPool(size=0)
    assert _ids(off.query(_images(0, 3))) == [0, 1, 2] and len(off) == 0
    with pytest.raises(GanlabError, match="pool size"):
        HistoryPool(size=1).load_state_dict(pool.state_dict())


# -- the generator -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [28, 32, 64])
def test_generator_keeps_the_image_size(size: int) -> None:
    g = ResnetTranslator(1, 3, width=4, n_blocks=1)
    g.check_input((1, size, size))
    y = g(torch.randn(2, 1, size, size))
    assert y.shape == (2, 3, size, size)
    assert float(y.detach().abs().max()) <= 1.0


def test_generator_refuses_a_size_it_cannot_halve() -> None:
    with pytest.raises(GanlabError, match="divisible by 4"):
        ResnetTranslator(1, 1, width=4, n_blocks=1).check_input((1, 30, 30))


# -- faithfulness metrics ------------------------------------------------------------------------


def test_class_dependence_sees_a_copy_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 10, 2000)
    copy = class_dependence(a, (a + 3) % 10)
    assert copy["map_accuracy"] == 1.0 and copy["mi_bits"] > 3.2
    noise = class_dependence(a, rng.integers(0, 10, 2000))
    assert noise["map_accuracy"] < 0.15
    assert abs(noise["mi_bits"] - noise["mi_shuffled_bits"]) < 0.03


def test_cycle_error_and_pixel_correlation() -> None:
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    assert cycle_error(x, x)["l1"] == 0.0
    assert cycle_error(x, x.clamp(-0.5, 0.5))["psnr"] < 100
    corr = pixel_correlation(x, -x)
    assert corr["corr"] == pytest.approx(-1.0)
    assert abs(corr["corr_shuffled"]) < 0.5


# -- a whole run ---------------------------------------------------------------------------------


def _write_domain(folder: Path, n: int, seed: int, kind: str) -> None:
    """Tiny grey 28x28 images: bars (A) or blobs (B)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = np.zeros((28, 28), np.uint8)
        c = rng.integers(6, 22)
        if kind == "bars":
            img[4:24, c - 2:c + 2] = 255
        else:
            img[c - 5:c + 5, c - 5:c + 5] = 200
        Image.fromarray(img, "L").save(folder / f"{i:03d}.png")


def _run_overrides(a: Path, b: Path) -> list[str]:
    sets = [f"data.name=unpaired:{a},{b}", "family=cyclegan", "name=cg-test",
            "train.steps=6", "train.batch_size=2", "train.log_every=2",
            "train.checkpoint_every=3", "train.snapshot_every=3", "train.progress=false",
            "train.lr_decay=hold-linear", "eval.n_samples=10",
            "cyclegan.generator.width=4", "cyclegan.generator.n_blocks=1",
            "cyclegan.discriminator.width=4", "cyclegan.discriminator.n_layers=2",
            "cyclegan.pool_size=3"]
    return [arg for s in sets for arg in ("--set", s)]


def _losses(run: Path) -> list[dict[str, float]]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k.startswith(("d_", "g_", "cycle_"))
             and k != "cycle_psnr_A"} for r in records if "d_loss" in r]


@pytest.fixture
def domains(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "bars", tmp_path / "blobs"
    _write_domain(a, 12, 0, "bars")
    _write_domain(b, 12, 1, "blobs")
    return a, b


def test_run_resumes_bit_exactly_and_translates(tmp_path: Path, domains: tuple[Path, Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    a, b = domains
    args = _run_overrides(a, b)
    assert main(["train", "--out", str(tmp_path / "full"), *args]) == 0
    assert main(["train", "--out", str(tmp_path / "split"), "--until", "3", *args]) == 0
    (split,) = (tmp_path / "split").iterdir()
    assert main(["resume", str(split)]) == 0
    (full,) = (tmp_path / "full").iterdir()
    last = Path("checkpoints") / "step-0000006" / "weights.safetensors"
    w_full, w_split = load_file(str(full / last)), load_file(str(split / last))
    assert set(w_full) == set(w_split) and any(k.startswith("G_BA.") for k in w_full)
    for key in w_full:
        assert torch.equal(w_full[key], w_split[key]), key
    # the logged losses (after the history pools' draws) agree too
    assert _losses(full) == _losses(split)
    summary = json.loads((full / "summary.json").read_text())
    assert {"cycle_l1_A", "cycle_psnr_B", "corr_AtoB"} <= set(summary)
    assert (full / "samples" / "step-0000006.png").is_file()
    assert (full / "samples" / "btoa-step-0000006.png").is_file()
    # translate B -> A with the shared command, on the test's own folder
    out = tmp_path / "translated"
    capsys.readouterr()
    assert main(["translate", str(full), str(b), str(out), "--direction", "BtoA"]) == 0
    made = [np.asarray(Image.open(p)) for p in sorted(out.rglob("0*.png"))]
    assert len(made) == 12 and made[0].shape == (28, 28)   # B (grey) -> A (grey)
    # ganlab sample translates held-out inputs; eval translation reaches evaluate()
    assert main(["sample", str(full), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    capsys.readouterr()
    assert main(["eval", "translation", str(full), "--json"]) == 0
    assert "cycle_l1_A" in capsys.readouterr().out


def test_identity_loss_refuses_domains_with_different_channels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "grey", tmp_path / "colour"
    _write_domain(a, 4, 0, "bars")
    b.mkdir()
    for i in range(4):
        Image.fromarray(np.full((28, 28, 3), 50 * i, np.uint8), "RGB").save(b / f"{i}.png")
    args = _run_overrides(a, b)
    assert main(["train", "--out", str(tmp_path / "runs"), *args]) == 2
    assert "cyclegan.lambda_identity" in capsys.readouterr().err

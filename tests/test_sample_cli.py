"""``ganlab sample`` / ``ganlab interpolate`` and :func:`ganlab.api.Run.generator`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.api import load_run
from ganlab.cli import main
from ganlab.errors import GanlabError
from ganlab.sampling import slerp


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 8-step image run (random 28x28 data, tiny DCGAN, EMA on)."""
    n = torch.get_num_threads()
    root = tmp_path_factory.mktemp("sample")
    data = root / "d.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (32, 28, 28), np.uint8))
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(root / "runs"), "--no-progress"]
    for o in (f"data.name=npz:{data}", "train.steps=8", "gan.model.width=8", "train.threads=1",
              "train.batch_size=8", "train.snapshot_every=0", "gan.ema.enabled=true"):
        args += ["--set", o]
    assert main(args) == 0
    torch.set_num_threads(n)
    (run,) = (root / "runs").iterdir()
    return run


def test_load_generator_uses_ema(run_dir: Path) -> None:
    gen = load_run(run_dir).generator()
    assert gen.uses_ema and gen.sample_shape == (1, 28, 28) and gen.z_dim == 100
    a = gen.sample(5, seed=3)
    assert a.dtype == torch.uint8 and a.shape == (5, 1, 28, 28)
    assert torch.equal(a, gen.sample(5, seed=3)) and not torch.equal(a, gen.sample(5, seed=4))


def test_sample_grid_folder_and_npz(run_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.png"
    assert main(["sample", str(run_dir), "-n", "6", "--out", str(grid), "--nrow", "3",
                 "--scale", "1"]) == 0
    assert Image.open(grid).size == (3 * 30 + 2, 2 * 30 + 2)
    assert "G_ema" in capsys.readouterr().out
    folder = tmp_path / "each"
    npz = tmp_path / "s.npz"
    assert main(["sample", str(run_dir), "-n", "4", "--out", str(folder), "--npz", str(npz),
                 "--seed", "1"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:05d}.png" for i in range(4)]
    arr = np.load(npz)["images"]
    assert arr.shape == (4, 1, 28, 28) and arr.dtype == np.uint8
    assert np.array_equal(np.asarray(Image.open(folder / "00002.png")), arr[2, 0])


def test_interpolate_strip(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "interp.png"
    assert main(["interpolate", str(run_dir), "--rows", "2", "--steps", "5", "--out", str(out),
                 "--scale", "1"]) == 0
    assert Image.open(out).size == (5 * 30 + 2, 2 * 30 + 2)
    assert main(["interpolate", str(run_dir), "--linear", "--out", str(out)]) == 0


def test_slerp_ends_and_norms() -> None:
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    path = slerp(a, b, torch.linspace(0, 1, 4))
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)
    same = slerp(a, a, torch.tensor([0.5]))
    assert torch.allclose(same[:, 0], a, atol=1e-5)


def test_bad_input(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", str(tmp_path)]) == 2
    assert "not a ganlab run folder" in capsys.readouterr().err
    assert main(["sample", str(run_dir), "-n", "0"]) == 2
    assert main(["interpolate", str(run_dir), "--steps", "1"]) == 2
    assert main(["interpolate", str(run_dir), "--out", str(tmp_path / "x.txt")]) == 2
    with pytest.raises(GanlabError, match="no checkpoint"):
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        (fresh / "config.yaml").write_text((run_dir / "config.yaml").read_text())
        (fresh / "run_info.json").write_text((run_dir / "run_info.json").read_text())
        load_run(fresh).generator()


def test_points_run_is_refused(tmp_path: Path) -> None:
    n = torch.get_num_threads()
    args = ["train", "--preset", "ring-ns", "--out", str(tmp_path), "--no-progress"]
    for o in ("train.steps=4", "gan.model.width=8", "train.snapshot_every=0", "train.threads=1",
              "eval.n_samples=100"):
        args += ["--set", o]
    assert main(args) == 0
    torch.set_num_threads(n)
    (run,) = tmp_path.iterdir()
    (run / "run_info.json").write_text('{"sample_shape": [2], "kind": "points"}')
    with pytest.raises(GanlabError, match="not images"):
        load_run(run).generator().sample(3)


def test_sample_works_before_any_snapshot(tmp_path: Path) -> None:
    n = torch.get_num_threads()
    data = tmp_path / "d.npz"
    np.savez(data, images=np.random.default_rng(0).integers(0, 256, (16, 28, 28), np.uint8))
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path / "runs"),
            "--no-progress", "--until", "2"]
    for o in (f"data.name=npz:{data}", "train.steps=8", "gan.model.width=8", "train.threads=1",
              "train.batch_size=8", "train.snapshot_every=0", "eval.every=0"):
        args += ["--set", o]
    assert main(args) == 0
    torch.set_num_threads(n)
    (run,) = (tmp_path / "runs").iterdir()
    assert not (run / "samples").exists()            # stopped early: no snapshot yet
    assert main(["sample", str(run), "-n", "4", "--npz", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape[0] == 4

"""Fixed-seed short runs of every family, whose logged numbers must not change when code moves.

``python tests/golden_runs.py --write`` records ``tests/golden/metrics.json`` (the untimed
``metrics.jsonl`` records of each run); ``tests/test_same_numbers.py`` trains the same runs and
compares. The data is made here (tiny image folders, an npz, the oracle), so nothing needs a
Debian package. Regenerate the file only for a change that is meant to alter the numbers, and
say so in the commit.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
GOLDEN = HERE / "golden" / "metrics.json"
TIMINGS = ("wall_time", "eval_seconds")
COMMON = ["train.threads=1", "train.progress=false"]


def _domain(folder: Path, n: int, seed: int, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = np.zeros((28, 28), np.uint8)
        c = int(rng.integers(6, 22))
        if kind == "bars":
            img[4:24, c - 2:c + 2] = 255
        else:
            img[c - 5:c + 5, c - 5:c + 5] = 200
        Image.fromarray(img, "L").save(folder / f"{i:03d}.png")
    return folder


def _npz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (40, 28, 28), np.uint8),
             labels=np.arange(40) % 10)
    return path


def _seq(fam: str) -> list[str]:
    return ["data.name=oracle", "data.vocab_size=40", "data.seq_len=8", "data.limit=300",
            "train.steps=10", "train.batch_size=16", "train.log_every=1",
            "train.snapshot_every=5", "train.checkpoint_every=5",
            f"{fam}.mle_steps=4", f"{fam}.d_pretrain_steps=2", f"{fam}.rollouts=2",
            f"{fam}.d_steps=1", f"{fam}.eval_samples=64", f"{fam}.model.d_filters=4",
            f"{fam}.model.d_widths=[1,2,3]", f"{fam}.model.hidden=16"]


def runs(data: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (preset, overrides) for one short run of each family."""
    a = _domain(data / "bars", 12, 0, "bars")
    b = _domain(data / "blobs", 12, 1, "blobs")
    npz = _npz(data / "labelled.npz")
    return {
        "gan-ring": ("ring-ns", [
            "gan.model.width=16", "gan.model.depth=2", "train.batch_size=64", "train.steps=12",
            "train.log_every=3", "train.snapshot_every=0", "train.checkpoint_every=6",
            "eval.n_samples=200", "eval.every=6"]),
        "gan-ring-wgan-gp": ("ring-wgan-gp", [
            "gan.model.width=16", "gan.model.depth=2", "train.batch_size=64", "train.steps=8",
            "train.log_every=2", "train.snapshot_every=0", "train.checkpoint_every=4",
            "eval.n_samples=200", "eval.every=0"]),
        "gan-images": ("fashion-dcgan-ns", [
            f"data.name=npz:{npz}", "gan.model.width=8", "gan.model.z_dim=8",
            "train.batch_size=8", "train.steps=6", "train.log_every=2", "train.snapshot_every=3",
            "train.checkpoint_every=3", "eval.every=0", "gan.ema.start=2"]),
        "cgan": ("fashion-cgan", [
            f"data.name=npz:{npz}", "data.labels=true", "cgan.model.width=8",
            "cgan.model.z_dim=8", "train.batch_size=8", "train.steps=6",
            "train.checkpoint_every=3", "train.log_every=2", "train.snapshot_every=3",
            "eval.every=0", "eval.n_samples=40", "eval.extractor=digits-classifier"]),
        "pix2pix": ("edges2fashion", [
            f"data.name=pairs:{a},{b}", "pix2pix.generator.width=4",
            "pix2pix.discriminator.width=4", "pix2pix.discriminator.n_layers=2",
            "train.batch_size=4", "train.steps=6", "train.log_every=2",
            "train.snapshot_every=3", "train.checkpoint_every=3", "eval.n_samples=10"]),
        "cyclegan": ("emoji-cyclegan", [
            f"data.name=unpaired:{a},{b}", "family=cyclegan", "train.steps=6",
            "train.batch_size=2", "train.log_every=2", "train.checkpoint_every=3",
            "train.snapshot_every=3", "train.lr_decay=hold-linear", "eval.n_samples=10",
            "cyclegan.generator.width=4", "cyclegan.generator.n_blocks=1",
            "cyclegan.discriminator.width=4", "cyclegan.discriminator.n_layers=2",
            "cyclegan.pool_size=3"]),
        "seqgan": ("oracle-seqgan", _seq("seqgan")),
        "gumbelgan": ("oracle-gumbel", _seq("gumbelgan")),
    }


def train_all(tmp: Path) -> dict[str, list[dict]]:
    """Train every run under ``tmp``; name -> untimed metrics records."""
    from ganlab.cli import main

    out: dict[str, list[dict]] = {}
    for name, (preset, overrides) in runs(tmp / "data").items():
        folder = tmp / "runs" / name
        argv = ["train", "--preset", preset, "--out", str(folder), "--no-progress"]
        for o in [*COMMON, *overrides]:
            argv += ["--set", o]
        code = main(argv)
        if code != 0:
            raise RuntimeError(f"{name}: ganlab train exited {code}")
        (run,) = folder.iterdir()
        out[name] = [{k: v for k, v in json.loads(line).items() if k not in TIMINGS}
                     for line in (run / "metrics.jsonl").read_text().splitlines()]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="record tests/golden/metrics.json")
    args = parser.parse_args()
    import tempfile

    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        got = train_all(Path(tmp))
    if args.write:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}: {', '.join(f'{k} ({len(v)} records)' for k, v in got.items())}")
        return 0
    want = json.loads(GOLDEN.read_text())
    bad = [name for name in want if want[name] != got.get(name)]
    print("same numbers" if not bad else f"changed: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

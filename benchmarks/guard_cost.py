"""What the divergence guard costs: training steps per second with ``train.on_divergence``
``stop`` (the default: one finiteness check and one host sync per step) vs ``ignore``.

Both variants train in this process, interleaved over ``--rounds``; the median rate of each
is reported, with their ratio.

    python benchmarks/guard_cost.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ganlab import config
from ganlab.api import build_trainer
from ganlab.runs import new_run

CASES = {
    "ring-ns (MLP, batch 512)": ("ring-ns", ["train.steps=200"]),
    "fashion-dcgan-ns (28 px DCGAN, batch 64)": (
        "fashion-dcgan-ns", ["train.steps=30", "data.limit=5000"]),
}
COMMON = ["train.snapshot_every=0", "eval.every=0", "train.checkpoint_every=100000",
          "train.progress=false", "train.device=cpu", "train.threads=1", "train.log_every=50"]


def rate(preset: str, overrides: list[str], guard: str, out: Path) -> float:
    cfg = config.load(preset=preset, overrides=[*overrides, *COMMON,
                                                f"train.on_divergence={guard}"])
    trainer = build_trainer(cfg, new_run(cfg, out))
    t = time.perf_counter()
    trainer.run(until=cfg.train.steps - 1)   # no final evaluation
    return (cfg.train.steps - 1) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| run | guard off (steps/s) | guard on (steps/s) | on / off |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (preset, overrides) in CASES.items():
            rates: dict[str, list[float]] = {"ignore": [], "stop": []}
            for _ in range(args.rounds):
                for guard in rates:
                    rates[guard].append(rate(preset, overrides, guard, Path(tmp)))
            off, on = statistics.median(rates["ignore"]), statistics.median(rates["stop"])
            print(f"| {name} | {off:.1f} | {on:.1f} | {on / off:.3f} |")
    print(f"\nmedian of {args.rounds} interleaved rounds, one thread, this process")


if __name__ == "__main__":
    main()

"""Data-parallel scaling: training steps per second with 1 and 2 processes, same global batch.

Runs ``ganlab train`` (one thread per process) and ``ganlab train --nproc 2`` on the same preset
and global batch, interleaved over ``--rounds``, and reads each run's training wall time from
its ``summary.json`` (process start-up and the launcher are not counted). On a 2-core machine
two processes can at best double the rate; the gradient all-reduce (gloo) and the duplicated
data draws are the cost.

    python benchmarks/ddp_scaling.py --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {
    "ring-ns (MLP, batch 512)": ["--preset", "ring-ns", "--set", "train.steps=300",
                                 "--set", "train.batch_size=512"],
    "fashion-dcgan-ns (28 px DCGAN, batch 64)": [
        "--preset", "fashion-dcgan-ns", "--set", "train.steps=40", "--set", "data.limit=5000",
        "--set", "gan.model.width=32"],
}
COMMON = ["--set", "train.threads=1", "--set", "train.snapshot_every=0", "--set",
          "eval.every=0", "--set", "train.checkpoint_every=100000", "--set",
          "train.progress=false", "--set", "train.device=cpu"]


def steps_per_second(args: list[str], nproc: int, out: Path) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganlab", "train", "--out", str(out), *args, *COMMON]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    (run,) = out.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    return summary["steps"] / summary["wall_time"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in CASES.items():
            rates: dict[int, list[float]] = {1: [], 2: []}
            for r in range(args.rounds):
                for nproc in (1, 2):
                    out = Path(tmp) / f"{len(rows)}-{r}-{nproc}"
                    rates[nproc].append(steps_per_second(case, nproc, out))
            one, two = statistics.median(rates[1]), statistics.median(rates[2])
            rows.append((name, one, two, two / one))
    print("| run | 1 process steps/s | 2 processes steps/s | speed-up |")
    print("|---|---|---|---|")
    for name, one, two, ratio in rows:
        print(f"| {name} | {one:.1f} | {two:.1f} | {ratio:.2f}x |")
    print(f"\nmedian of {args.rounds} interleaved rounds; 1 thread per process; "
          f"{os.cpu_count()} CPU cores")


if __name__ == "__main__":
    main()

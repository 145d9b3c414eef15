"""What the live page costs: training steps per second with ``--live`` (the page served and
watched) vs without, on a 2-D preset and an image preset.

Both variants train in this process, interleaved round by round; the live one serves its page
from Uvicorn's thread, and a client reads the page's event stream throughout (as an open page
does), so the views (points, heat map, push arrows, 2-D metrics; the sample grid of an image
run) are computed as they are for a watcher. The median rate of each variant is reported, with
their ratio, the seconds the views took and the CPU model.

    python benchmarks/live_overhead.py --rounds 3
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ganlab import config  # noqa: E402
from ganlab.api import build_trainer  # noqa: E402
from ganlab.live.server import LiveServer  # noqa: E402
from ganlab.live.views import LiveView  # noqa: E402
from ganlab.runs import new_run  # noqa: E402
from train_speed import cpu_model  # noqa: E402

CASES = {
    "ring-ns (MLP 3x256, batch 512)": ("ring-ns", 200, []),
    "fashion-dcgan-ns (28 px DCGAN, batch 64)": ("fashion-dcgan-ns", 30, ["data.limit=5000"]),
}
COMMON = ["train.snapshot_every=0", "eval.every=0", "train.checkpoint_every=100000",
          "train.progress=false", "train.device=cpu", "train.threads=1", "train.log_every=10"]


def watch(url: str, stop: threading.Event) -> None:
    """Read the page's event stream until ``stop`` (what an open page does)."""
    base, token = url.split("/?token=")
    with httpx.Client(timeout=None) as client, client.stream(
            "GET", f"{base}/api/stream", params={"token": token}) as r:
        for _ in r.iter_bytes():
            if stop.is_set():
                return


def one_run(preset: str, steps: int, extra: list[str], live: bool, out: Path
            ) -> tuple[float, float]:
    """Steps per second of ``steps`` steps, and the seconds spent on views."""
    cfg = config.load(preset=preset, overrides=[*COMMON, *extra, f"train.steps={steps}"])
    trainer = build_trainer(cfg, new_run(cfg, out), stream=io.StringIO())
    stop = threading.Event()
    server = view = None
    if live:
        view = LiveView(trainer.steering)
        trainer.steering.watch(view)
        server = LiveServer(view, "127.0.0.1", 0)
        server.start()
        threading.Thread(target=watch, args=(server.url, stop), daemon=True).start()
        end = time.monotonic() + 30
        while view.watchers == 0 and time.monotonic() < end:
            time.sleep(0.05)
    trainer.run(until=1)   # the first step (warm-up) is not timed
    t0 = time.perf_counter()
    trainer.run(until=steps - 1)
    rate = (steps - 2) / (time.perf_counter() - t0)
    stop.set()
    if server is not None:
        server.stop()
    return rate, (view.view_seconds if view is not None else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"CPU: {cpu_model()}; torch {torch.__version__}; 1 thread; {args.rounds} rounds")
    print("| run | without --live (steps/s) | with --live, watched (steps/s) | live / plain |"
          " views (s per round) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (preset, steps, extra) in CASES.items():
            rates: dict[bool, list[float]] = {False: [], True: []}
            spent: list[float] = []
            for r in range(args.rounds):
                order = (False, True) if r % 2 == 0 else (True, False)
                for live in order:
                    rate, views = one_run(preset, steps, extra, live, Path(tmp) / str(r))
                    rates[live].append(rate)
                    if live:
                        spent.append(views)
            plain, watched = statistics.median(rates[False]), statistics.median(rates[True])
            print(f"| {name} | {plain:.1f} | {watched:.1f} | {watched / plain:.3f} | "
                  f"{statistics.median(spent):.2f} |", flush=True)


if __name__ == "__main__":
    main()

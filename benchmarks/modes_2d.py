"""Mode collapse on the 2-D ring and grid (PROTOCOLS.md section 1, PacGAN / VEEGAN protocol).

Every objective of ganlab (minimax, ns, lsgan, wgan, wgan-gp, hinge + spectral norm) with its
standard settings, on the 8-Gaussian ring and the 25-Gaussian grid, over several seeds, plus the
best recipe found here (presets ``ring-best`` / ``grid-best``) over 10 seeds. For each run:
2,500 samples from the generator (the EMA copy when the recipe has one), no truncation and no
filtering; a sample is high quality within 3 std of its nearest mode centre; modes captured;
reverse KL over the nearest-mode histogram of the high-quality samples. Reported: mean +- standard
error over seeds, how many seeds missed a mode, and wall time per run.

    .venv/bin/python benchmarks/modes_2d.py                  # the full benchmark (see --help)
    .venv/bin/python benchmarks/modes_2d.py --quick          # seconds-long smoke run

Writes ``docs/benchmarks/modes_2d.md`` and ``docs/figures/modes_2d_{ring,grid}.png``
(scatter of seed 0 of every objective).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "modes_2d.md"
FIG = ROOT / "docs" / "figures" / "modes_2d_{data}.png"

# Shared by every baseline so that only the objective differs: a 3 x WIDTH MLP for G and D,
# batch 256, Adam; no EMA, no R1, constant learning rate (the objectives as published).
BASE = ["train.batch_size=256", "gan.ema.enabled=false", "gan.objective.r1_gamma=0",
        "train.lr_decay=none"]
# Each objective's standard settings (the presets hold them; see `ganlab config --preset ...`):
OBJECTIVES = {
    "minimax": ("ring-minimax", []),                         # Adam 1e-3, betas (0.5, 0.999)
    "ns": ("ring-ns", []),                                   # Adam 1e-3, betas (0.5, 0.999)
    "lsgan": ("ring-lsgan", []),                             # a=0, b=c=1
    "wgan": ("ring-wgan", []),                               # clip 0.01, n_critic 5, lr 1e-4
    "wgan-gp": ("ring-wgan-gp", []),                         # lambda 10, n_critic 5, lr 1e-4
    "hinge+SN": ("ring-hinge", []),                          # spectral norm on D
}

# Quoted from the papers (PROTOCOLS.md section 1): modes / % high quality / reverse KL.
PUBLISHED = [
    ("GAN", "6.3 / 98.2 / 0.45", "17.3 / 94.8 / 0.70", "PacGAN Table 1"),
    ("ALI", "6.6 / 97.6 / 0.36", "24.1 / 95.7 / 0.14", "PacGAN Table 1"),
    ("PacGAN2", "7.9 / 95.6 / 0.07", "23.8 / 91.3 / 0.13", "PacGAN Table 1"),
    ("PacGAN4", "7.8 / 95.9 / 0.07", "24.8 / 93.6 / 0.04", "PacGAN Table 1"),
    ("Unrolled GAN", "7.6 / 35.6 / –", "23.6 / 16 / –", "VEEGAN Table 1"),
    ("VEEGAN", "8 / 52.9 / –", "24.6 / 40 / –", "VEEGAN Table 1"),
    ("WGAN-GP", "6.8 / 59.6 / –", "24.2 / 28.7 / –", "GDPP Table 1"),
]


def run_one(job: dict) -> dict:
    """Train one configuration through the library (Trainer + GANFamily) and evaluate it."""
    import torch

    from ganlab import config as config_mod
    from ganlab.api import build_trainer
    from ganlab.runs import new_run

    torch.set_num_threads(1)
    overrides = [*job["overrides"], f"seed={job['seed']}", "train.threads=1",
                 "train.progress=false", "train.snapshot_every=0",
                 "train.checkpoint_every=1000000", "train.log_every=1000000",
                 "eval.every=0", "eval.n_samples=2500"]
    cfg = config_mod.load(preset=job["preset"], overrides=overrides)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = new_run(cfg, tmp)
        t0 = time.perf_counter()
        trainer = build_trainer(cfg, run_dir)
        trainer.run()
        wall = time.perf_counter() - t0
        results = dict(trainer.results)
        points = None
        if job["seed"] == 0:   # the same 2,500 samples evaluate() scored
            points = trainer.family.generate(cfg.eval.n_samples, cfg.seed + 4).tolist()
    return {**job, "results": results, "wall": wall, "points": points}


def jobs_for(args: argparse.Namespace) -> list[dict]:
    jobs = []
    width = f"gan.model.width={args.width}"
    for data in args.data:
        for label, (preset, extra) in OBJECTIVES.items():
            for seed in range(args.seeds):
                jobs.append({"data": data, "label": label, "preset": preset, "seed": seed,
                             "overrides": [*BASE, width, f"data.name={data}",
                                           f"train.steps={args.steps}", *extra]})
        for seed in range(args.best_seeds):
            over = [] if args.best_steps is None else [f"train.steps={args.best_steps}"]
            jobs.append({"data": data, "label": "best", "preset": f"{data}-best", "seed": seed,
                         "overrides": over})
    if args.quick:
        for j in jobs:
            j["overrides"] += ["train.steps=20", "gan.model.width=32", "train.batch_size=64"]
    # longest first (n_critic 5 objectives), so two workers finish together
    jobs.sort(key=lambda j: (j["label"] not in ("wgan", "wgan-gp"), j["label"] != "best"))
    return jobs


def _key(job: dict) -> str:
    return json.dumps([job["data"], job["label"], job["preset"], job["seed"], job["overrides"]])


def mean_se(xs: list[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, float("nan")
    var = sum((x - m) ** 2 for x in xs) / (n - 1)
    return m, math.sqrt(var / n)


def fmt(xs: list[float], digits: int, scale: float = 1.0) -> str:
    m, se = mean_se([x * scale for x in xs])
    if math.isinf(m):
        return "inf"
    if math.isnan(se):
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {se:.{digits}f}"


def summarise(rows: list[dict], data: str, labels: list[str]) -> list[dict]:
    out = []
    for label in labels:
        rs = [r for r in rows if r["data"] == data and r["label"] == label]
        if not rs:
            continue
        res = [r["results"] for r in rs]
        n_modes = int(res[0]["n_modes"])
        out.append({
            "label": label, "n": len(rs), "n_modes": n_modes,
            "modes": fmt([x["modes_captured"] for x in res], 1),
            "hq": fmt([x["high_quality"] for x in res], 1, 100.0),
            "rkl": fmt([x["reverse_kl"] for x in res], 3),
            "w1": fmt([x["w1"] for x in res], 3),
            "missed": sum(x["modes_captured"] < n_modes for x in res),
            "wall": fmt([r["wall"] for r in rs], 0),
            "preset": rs[0]["preset"], "overrides": rs[0]["overrides"],
        })
    return out


def table(summary: list[dict], data: str) -> str:
    col = {"ring": 1, "grid": 2}[data]
    lines = [f"| model | modes (of {summary[0]['n_modes'] if summary else '?'}) | % high quality "
             "| reverse KL | W1 (500 pts) | seeds missing a mode | wall s / run | source |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        name = "**best recipe** (`" + s["preset"] + "`)" if s["label"] == "best" else s["label"]
        lines.append(f"| {name} | {s['modes']} | {s['hq']} | {s['rkl']} | {s['w1']} | "
                     f"{s['missed']}/{s['n']} | {s['wall']} | this run, {s['n']} seeds |")
    for model, ring, grid, src in PUBLISHED:
        vals = (ring if col == 1 else grid).split(" / ")
        lines.append(f"| {model} | {vals[0]} | {vals[1]} | {vals[2]} | – | – | – | "
                     f"quoted: {src} |")
    return "\n".join(lines)


def figure(rows: list[dict], data: str, labels: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from ganlab.data.toy2d import grid, ring

    mix = ring() if data == "ring" else grid()
    picks = [r for label in labels for r in rows
             if r["data"] == data and r["label"] == label and r["points"] is not None]
    if not picks:
        return
    cols = 4
    nrows = math.ceil(len(picks) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 3.2 * nrows), dpi=100,
                             squeeze=False)
    lim = float(mix.means.abs().max()) + 0.6
    for ax in axes.flat:
        ax.axis("off")
    for ax, r in zip(axes.flat, picks, strict=False):
        pts = torch.tensor(r["points"])
        ax.axis("on")
        ax.scatter(pts[:, 0], pts[:, 1], s=1, c="red", alpha=0.4)
        ax.scatter(mix.means[:, 0], mix.means[:, 1], s=12, marker="x", c="black", lw=0.8)
        res = r["results"]
        ax.set_title(f"{r['label']}: {res['modes_captured']:.0f}/{res['n_modes']:.0f} modes, "
                     f"{100 * res['high_quality']:.0f}% HQ", fontsize=9)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.suptitle(f"{data}: 2,500 samples of seed 0 (x = mode centres)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def machine() -> str:
    import torch

    return (f"{platform.platform()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs (shared with other work while this ran), "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def write_doc(rows: list[dict], args: argparse.Namespace, command: str, elapsed: float,
              doc: Path) -> str:
    labels = [*OBJECTIVES, "best"]
    parts = [f"Command: `{command}`  \nDate: {datetime.date.today().isoformat()}  \n"
             f"Machine: {machine()}  \nWall time of this invocation: {elapsed / 60:.1f} min "
             f"({args.jobs} worker processes, 1 thread each); sum of all runs' wall times: "
             f"{sum(r['wall'] for r in rows) / 60:.1f} min\n"]
    for data in args.data:
        summ = summarise(rows, data, labels)
        parts.append(f"### {data}\n\n{table(summ, data)}\n")
        best = [s for s in summ if s["label"] == "best"]
        if best:
            extra = " ".join(best[0]["overrides"])
            parts.append(f"Best recipe: preset `{best[0]['preset']}`"
                         f"{' with ' + extra if extra else ''}.\n")
        fig = Path(str(FIG).format(data=data))
        if doc == DOC:
            figure(rows, data, labels, fig)
            parts.append(f"![{data}](../figures/{fig.name})\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5, help="seeds per objective (default 5)")
    p.add_argument("--best-seeds", type=int, default=10,
                   help="seeds of the best recipe (default 10)")
    p.add_argument("--steps", type=int, default=1000,
                   help="generator steps of every objective (default 1000)")
    p.add_argument("--best-steps", type=int, default=None,
                   help="steps of the best recipe (default: its preset's)")
    p.add_argument("--width", type=int, default=128,
                   help="hidden units of the objectives' G and D MLPs (default 128)")
    p.add_argument("--data", nargs="+", default=["ring", "grid"], choices=["ring", "grid"])
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: 1 seed, 20 steps, tiny nets; writes no doc")
    p.add_argument("--cache", default=None, metavar="FILE.jsonl",
                   help="append every finished run here, and reuse the runs it already holds "
                        "(same data, objective, seed and settings) instead of training again")
    p.add_argument("--skip-best", action="store_true", help="leave the best recipe out")
    p.add_argument("--skip-objectives", action="store_true", help="run only the best recipe")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.best_seeds = 1, 1
    command = "python benchmarks/modes_2d.py " + " ".join(argv if argv is not None
                                                          else sys.argv[1:])
    jobs = jobs_for(args)
    if args.skip_best:
        jobs = [j for j in jobs if j["label"] != "best"]
    if args.skip_objectives:
        jobs = [j for j in jobs if j["label"] == "best"]
    rows = []
    if args.cache and Path(args.cache).exists():
        done = {}
        for line in Path(args.cache).read_text().splitlines():
            r = json.loads(line)
            done[_key(r)] = r
        rows = [done[_key(j)] for j in jobs if _key(j) in done]
        jobs = [j for j in jobs if _key(j) not in done]
        print(f"{len(rows)} runs reused from {args.cache}", flush=True)
    print(f"{len(jobs)} runs on {args.jobs} workers", flush=True)
    t0 = time.perf_counter()
    raw = open(args.cache, "a") if args.cache else None   # noqa: SIM115
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, j) for j in jobs]
        for fut in as_completed(futures):
            r = fut.result()
            rows.append(r)
            res = r["results"]
            line = (f"[{len(rows)}/{len(jobs)}] {r['data']:<4} {r['label']:<9} seed {r['seed']}: "
                    f"modes {res['modes_captured']:.0f}/{res['n_modes']:.0f}, "
                    f"HQ {100 * res['high_quality']:.1f}%, rKL {res['reverse_kl']:.3f}, "
                    f"W1 {res['w1']:.3f}, JS {res['js']:.3f}, {r['wall']:.0f} s")
            print(line, flush=True)
            if raw:
                raw.write(json.dumps(r) + "\n")
                raw.flush()
    elapsed = time.perf_counter() - t0
    doc = DOC if not args.quick else Path(tempfile.gettempdir()) / "modes_2d_quick.md"
    text = write_doc(rows, args, command, elapsed, doc)
    print(text)
    if args.quick:
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    marker = "<!-- results -->"
    if DOC.exists() and marker in DOC.read_text():
        head, _, tail = DOC.read_text().partition(marker)
        tail = tail.partition("<!-- /results -->")[2]
        DOC.write_text(f"{head}{marker}\n{text}\n<!-- /results -->{tail}")
    else:
        DOC.write_text(f"## Mode collapse on 2-D mixtures\n\n{marker}\n{text}\n<!-- /results -->\n")
    print(f"wrote {DOC}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

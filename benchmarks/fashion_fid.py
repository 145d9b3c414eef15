"""FID / KID of the Fashion-MNIST presets against the 10k test set (PROTOCOLS.md section 3).

For each preset: ``ganlab train --preset NAME`` (or reuse --runs-from), sample N images for each
of K seeds through ``ganlab.load_run(RUN).generator()``, and report FID (mean ± std over seeds and
every value) and KID against ``fashion-mnist:test`` with the chosen extractor. Real statistics
are computed once and cached. Lucic et al. 2018 report Fashion-MNIST FID 21.5-30.7 with 10k
samples (Inception features); compare only numbers made with the same extractor, resize and N.

    .venv/bin/python benchmarks/fashion_fid.py --presets fashion-dcgan-ns fashion-dcgan-lsgan \
        --extractor fashion-classifier --n 10000 --seeds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_PRESETS = (
    "fashion-dcgan-ns",
    "fashion-dcgan-lsgan",
    "fashion-dcgan-wgan-gp",
    "fashion-dcgan-hinge-sn",
    "fashion-resnet-hinge-sn",
)


# PROTOCOLS.md section 3: Lucic et al. 2018, Table 2 (best FID over a large hyper-parameter
# search, 10k samples, Inception features), as quoted in two later papers. Not measured here.
QUOTED = [
    "Published, for orientation only (**quoted, not measured here**; Lucic et al. 2018, "
    '"Are GANs Created Equal?", Table 2: best Inception FID over a large hyper-parameter '
    "search, 10k samples). The table above uses the extractor named in its header; numbers "
    "from different extractors are not comparable.",
    "",
    "| model | Fashion-MNIST FID (Inception) |",
    "|---|---|",
    "| MM GAN | 29.6 ± 1.6 |",
    "| NS GAN | 26.5 ± 1.6 |",
    "| LSGAN | 30.7 ± 2.2 |",
    "| WGAN | 21.5 ± 1.6 |",
    "| WGAN-GP | 24.5 ± 2.1 |",
    "| DRAGAN | 27.7 ± 1.2 |",
    "",
]


def train(preset: str, out: Path, overrides: list[str]) -> tuple[Path, float]:
    """Run ``ganlab train --preset``; return the run folder it prints and the wall time."""
    cmd = [sys.executable, "-m", "ganlab", "train", "--preset", preset, "--out", str(out)]
    for o in overrides:
        cmd += ["--set", o]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"training {preset} failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"run folder: (\S+)", proc.stdout)
    if match is None:
        raise SystemExit(f"training {preset}: no run folder in output:\n{proc.stdout[-2000:]}")
    return Path(match.group(1)), wall


def evaluate(run_dir: Path, real: np.ndarray, args: argparse.Namespace) -> dict[str, float]:
    """FID over seeds and KID, precision and recall (first seed) of one run.

    Each image set goes through the extractor once (features cached on disk, so the 10,000
    test images are read once for every run): FID, KID and precision/recall all come from
    those features. With Inception on a CPU, one pass over 10,000 images is ~20 minutes.
    """
    from ganlab import metrics
    from ganlab.api import load_run
    from ganlab.metrics.extract import as_extractor, extract_features

    ext = as_extractor(args.extractor)
    gen = load_run(run_dir).generator()
    real_fs = extract_features(real, ext, args.batch_size, progress=True)
    fakes = [extract_features(gen.sample(args.n, seed).numpy(), ext, args.batch_size,
                              progress=True) for seed in range(args.seeds)]
    fid = metrics.fid_over_seeds(real_fs.stats(), fakes, ext)
    kid = metrics.kid(real_fs, fakes[0], ext)
    pr = metrics.prdc(real_fs, fakes[0], ext, max_n=5000)
    return {
        "precision": pr["precision"],
        "recall": pr["recall"],
        "fid_mean": fid["fid_mean"],
        "fid_std": fid["fid_std"],
        "fid_values": fid["fid_values"],
        "kid_mean": kid["kid_mean"],
        "kid_std": kid["kid_std"],
        "sha": ext.weights_sha256[:12],
        "resize": ext.resize,
    }


def finished_run(runs: Path, preset: str, seed: int, steps: str | None) -> Path | None:
    """A finished run of ``preset`` with ``seed`` (and ``steps``, when given) under ``runs``."""
    from ganlab.cli.compare import group_of  # a run's config value by dotted key

    for summary in sorted(runs.glob("*/summary.json")):
        run = summary.parent
        if ((group_of(run, "name"), group_of(run, "seed")) == (preset, str(seed))
                and (steps is None or group_of(run, "train.steps") == steps)):
            return run
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=list(DEFAULT_PRESETS))
    ap.add_argument(
        "--runs-from",
        type=Path,
        default=None,
        help="reuse runs: a folder with one run folder per preset, named as the preset",
    )
    ap.add_argument("--set", action="append", default=[], help="training override KEY=VALUE")
    ap.add_argument(
        "--steps",
        action="append",
        default=[],
        metavar="PRESET=N",
        help="train PRESET for N steps instead of its default (e.g. to equalise CPU budgets)",
    )
    ap.add_argument("--extractor", default="fashion-classifier")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=3, help="sampling seeds per trained model")
    ap.add_argument("--train-seeds", type=int, nargs="+", default=None, metavar="SEED",
                    help="train each preset once per seed and report the spread over training "
                         "seeds (mean ± std, Welch comparison of the presets); the table goes "
                         "to --out")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-fashion"))
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/fashion_fid.md"))
    args = ap.parse_args()

    from ganlab.metrics.sources import load_images

    real = load_images("fashion-mnist:test").images
    if args.train_seeds:
        return over_training_seeds(args, real)
    steps = dict(item.split("=", 1) for item in args.steps)
    rows = []
    for preset in args.presets:
        if args.runs_from:
            run_dir, wall = args.runs_from / preset, float("nan")
        else:
            extra = [f"train.steps={steps[preset]}"] if preset in steps else []
            run_dir, wall = train(preset, args.runs, [*args.set, *extra])
        summary = json.loads((run_dir / "summary.json").read_text())
        n_steps, wall = summary.get("steps", "?"), summary.get("wall_time", wall)
        r = evaluate(run_dir, real, args)
        values = ", ".join(f"{v:.2f}" for v in r["fid_values"])
        rows.append(
            f"| {preset} | {n_steps} | {wall:.0f} | {r['fid_mean']:.2f} ± {r['fid_std']:.2f} | "
            f"{values} | {r['kid_mean'] * 1e3:.2f} ± {r['kid_std'] * 1e3:.2f} |"
        )
        print(rows[-1], flush=True)
    text = [
        "## Fashion-MNIST presets: FID and KID",
        "",
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores  ",
        f"Extractor: {args.extractor} (weights sha256 {r['sha']}..., resize {r['resize']}); "
        f"real: fashion-mnist:test (10,000); generated: {args.n:,} per seed, {args.seeds} seeds.",
        "",
        "| preset | steps | train wall s | FID mean ± std | FID per seed | KID x1e3 |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *QUOTED,
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")


def over_training_seeds(args: argparse.Namespace, real: np.ndarray) -> None:
    """Each preset trained with every seed of ``--train-seeds``: FID (mean over ``--seeds``
    sampling seeds), KID, precision and recall per run; mean ± std over training seeds per
    preset and ``ganlab compare``'s test of each difference against that spread."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from ganlab.metrics.compare import Group, compare_all

    steps = dict(item.split("=", 1) for item in args.steps)
    started = time.time()
    per: dict[str, list[dict]] = {}
    for preset in args.presets:
        for seed in args.train_seeds:
            extra = [f"train.steps={steps[preset]}"] if preset in steps else []
            found = None if args.set else finished_run(args.runs, preset, seed, steps.get(preset))
            if found is not None:  # reuse: its wall time is the one it recorded
                run_dir = found
                wall = json.loads((found / "summary.json").read_text())["wall_time"]
            else:
                run_dir, wall = train(preset, args.runs, [*args.set, *extra, f"seed={seed}"])
            r = evaluate(run_dir, real, args)
            r.update(seed=seed, wall=wall, fid=float(np.mean(r["fid_values"])),
                     steps=json.loads((run_dir / "summary.json").read_text()).get("steps"))
            per.setdefault(preset, []).append(r)
            print(f"{preset} seed {seed}: FID {r['fid']:.3f} ({wall / 60:.1f} min)", flush=True)

    def ms(key: str, runs: list[dict], scale: float = 1.0) -> str:
        g = Group(key, tuple(scale * r[key] for r in runs))
        return f"{g.mean:.3f} ± {g.std:.3f}"

    groups = [Group(p, tuple(r["fid"] for r in runs)) for p, runs in per.items()]
    first = next(iter(per.values()))[0]
    lines = [
        "## Fashion-MNIST presets over training seeds: FID, KID, precision, recall", "",
        f"Command: `python {' '.join(sys.argv)}`", "",
        f"Measured: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.machine()}, {os.cpu_count()} cores; {(time.time() - started) / 60:.0f} min "
        f"in all.", "",
        f"Extractor: {args.extractor} (weights sha256 {first['sha']}..., resize "
        f"{first['resize']}); real: fashion-mnist:test (10,000); generated: {args.n:,} per "
        f"sampling seed, {args.seeds} sampling seed{'s' if args.seeds > 1 else ''} per "
        "trained model; "
        f"{len(args.train_seeds)} training seeds per preset. Spread: sample std over training "
        "seeds.", "",
        "| preset | steps | train min | FID | FID per training seed | KID x1e3 | precision "
        "| recall |", "|---|---|---|---|---|---|---|---|"]
    for preset, runs in per.items():
        lines.append(
            f"| {preset} | {runs[0]['steps']} | "
            f"{np.mean([r['wall'] for r in runs]) / 60:.1f} | {ms('fid', runs)} | "
            + ", ".join(f"{r['fid']:.3f}" for r in runs)
            + f" | {ms('kid_mean', runs, 1e3)} | {ms('precision', runs)} | "
            f"{ms('recall', runs)} |")
    lines.append("")
    for d in compare_all(groups):
        verdict = "exceeds" if d.exceeds_spread else "is within"
        lines.append(f"- {d.b} - {d.a}: FID {d.diff:+.3f}, {verdict} the spread over training "
                     f"seeds (2 x stderr {2 * d.stderr:.3f}; Welch p {d.p_value:.3g}).")
    lines += ["", *QUOTED]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

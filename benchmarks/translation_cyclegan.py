"""CycleGAN with and without the cycle loss on MNIST-5k <-> Fashion-MNIST: does the translation
keep its input? (the ablation of Zhu et al. 2017, Table 4, "GAN alone" vs "CycleGAN").

For each seed, ``ganlab train --preset mnist2fashion`` twice: as it is (cycle loss lambda 10,
identity 0.5 x lambda) and with ``cyclegan.lambda_cycle=0`` (which also turns the identity loss
off: the paper's "GAN alone"). Each run's final evaluation (``summary.json``; the family's
``evaluate``, see ``ganlab.families.cyclegan.evaluate``) gives, per direction on 1,000
held-out inputs:
FID in the target domain's classifier features against its test split, the round-trip class
accuracy (the digit / fashion classifier reading ``F(G(x))`` as ``x``'s class), the mutual
information between the input's class and the class read in the output (with its shuffled-label
baseline) and the accuracy of predicting the input class from the output class (cross-fitted),
and the input/output pixel correlation (with a mismatched-pairs baseline). The figure shows the
same held-out inputs (one per class) through both models of the first seed.

Scale-down from the paper: 28 px instead of 256, 2,000 steps of batch 16 (the paper: 200 epochs
of batch 1), generators of width 16 with 4 residual blocks (paper: 64 and 9), 34-px patches
(paper: 70). Run by ``python benchmarks/translation.py cyclegan`` or directly:

    .venv/bin/python benchmarks/translation_cyclegan.py --seeds 0 1 2
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

ROOT = Path(__file__).resolve().parent.parent
PRESET = "mnist2fashion"
VARIANTS = {"cycle": [], "no cycle": ["cyclegan.lambda_cycle=0"]}
FIGURE = ROOT / "docs" / "figures" / "translation_cyclegan.png"
SECTION = ROOT / "docs" / "benchmarks" / "translation_cyclegan.md"
# (column title, summary key, format)
COLUMNS = [
    ("FID A→B (fashion clf.)", "fid_AtoB", ".2f"),
    ("FID B→A (digit clf.)", "fid_BtoA", ".2f"),
    ("round trip A: digit kept", "roundtrip_acc_A", ".3f"),
    ("round trip B: garment kept", "roundtrip_acc_B", ".3f"),
    ("MI(digit; garment of G(x)) bits", "mi_AtoB_bits", ".3f"),
    ("digit from garment, acc.", "map_acc_AtoB", ".3f"),
    ("MI(garment; digit of F(y)) bits", "mi_BtoA_bits", ".3f"),
    ("garment from digit, acc.", "map_acc_BtoA", ".3f"),
    ("pixel corr. A→B (shuffled)", "corr_AtoB", ".3f"),
    ("cycle L1 A / B", "cycle_l1_A", ".3f"),
]


def train(out: Path, seed: int, overrides: list[str], extra: list[str]) -> tuple[Path, float]:
    """One ``ganlab train --preset mnist2fashion`` run; its folder and wall time."""
    cmd = [sys.executable, "-m", "ganlab", "train", "--preset", PRESET, "--out", str(out),
           "--no-progress", "--set", f"seed={seed}"]
    for o in [*overrides, *extra]:
        cmd += ["--set", o]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"run folder: (\S+)", proc.stdout)
    if match is None:
        raise SystemExit(f"no run folder in the output of {' '.join(cmd)}")
    return Path(match.group(1)), wall


def one_per_class(images: object, labels: object, k: int = 10) -> list[int]:
    """Index of the first held-out image of each class 0..k-1."""
    lab = np.asarray(labels)
    return [int(np.flatnonzero(lab == c)[0]) for c in range(k)]


def figure(runs: dict[str, Path], path: Path) -> None:
    """Rows: one held-out input per class. Left panel A -> B, right panel B -> A; columns:
    input, then per model its translation and round trip."""
    from PIL import Image

    from ganlab.api import load_run
    from ganlab.report.grid import make_grid

    families = {name: load_run(run).family for name, run in runs.items()}
    panels = []
    for direction, back in (("AtoB", "BtoA"), ("BtoA", "AtoB")):
        first = next(iter(families.values()))
        images, labels, _ = first.held_out(direction)
        idx = one_per_class(images, labels)
        x = images[idx].float() / 127.5 - 1.0
        cols = [x]
        for fam in families.values():
            y = fam.translate(x, direction)
            cols += [y, fam.translate(y, back)]
        import torch

        grid = torch.stack(cols, dim=1).flatten(0, 1)
        panels.append(make_grid(grid, nrow=len(cols), pad=2))
    gap = np.full((panels[0].shape[0], 12, panels[0].shape[2]), 255, np.uint8)
    canvas = np.concatenate([panels[0], gap, panels[1]], axis=1)[:, :, 0]
    img = Image.fromarray(canvas, "L")
    img = img.resize((img.width * 3, img.height * 3), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def fmt_cell(values: list[float], spec: str) -> str:
    if not values:
        return "-"
    mean = float(np.mean(values))
    if len(values) == 1:
        return format(mean, spec)
    return f"{format(mean, spec)} ± {format(float(np.std(values, ddof=1)), spec)}"


def table(results: dict[str, list[dict]]) -> list[str]:
    head = "| variant | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |"
    rows = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for variant, summaries in results.items():
        cells = []
        for _, key, spec in COLUMNS:
            vals = [s[key] for s in summaries if key in s]
            cell = fmt_cell(vals, spec)
            if key == "corr_AtoB":
                cell += f" ({fmt_cell([s['corr_AtoB_shuffled'] for s in summaries], spec)})"
            if key == "mi_AtoB_bits" or key == "mi_BtoA_bits":
                base = key.replace("_bits", "_shuffled_bits")
                cell += f" (shuffled {fmt_cell([s[base] for s in summaries], spec)})"
            if key == "map_acc_AtoB" or key == "map_acc_BtoA":
                maj = key.replace("map_acc", "majority_acc")
                cell += f" (majority {fmt_cell([s[maj] for s in summaries], spec)})"
            if key == "cycle_l1_A":
                cell += f" / {fmt_cell([s['cycle_l1_B'] for s in summaries], spec)}"
            cells.append(cell)
        rows.append(f"| {variant} | {len(summaries)} | " + " | ".join(cells) + " |")
    return rows


def write_section(results: dict[str, list[dict]], walls: dict[str, list[float]],
                  args: argparse.Namespace, steps: object, note: str) -> None:
    wall = ", ".join(f"{v}: {np.mean(w):.0f} s" for v, w in walls.items() if w)
    text = [
        "## CycleGAN: what the cycle loss keeps (MNIST-5k ↔ Fashion-MNIST)",
        "",
        f"Command: `python {' '.join(sys.argv)}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        f"(shared with other jobs; one thread per run)  ",
        f"Protocol: preset `{PRESET}` ({steps} steps of batch 16, 28 px), with the cycle "
        "loss (λ = 10, identity 0.5 λ) and without (`cyclegan.lambda_cycle=0`, the paper's "
        "\"GAN alone\"); evaluation on 1,000 held-out inputs per direction (MNIST-5k test, "
        "Fashion-MNIST test), FID against the target domain's test split in its classifier's "
        f"features (fashion-classifier for A→B, digits-classifier for B→A). Mean ± std over "
        f"seeds. Mean wall time of a run (training + evaluation): {wall}.{note}",
        "",
        *table(results),
        "",
        f"![translations]({FIGURE.relative_to(ROOT / 'docs').as_posix()})",
        "",
        "Figure (first seed): left, one held-out MNIST digit per class (column 1) through the "
        "model with the cycle loss (columns 2-3: G(x), F(G(x))) and without it (columns 4-5); "
        "right, one Fashion-MNIST image per class the other way.",
        "",
    ]
    args.section.parent.mkdir(parents=True, exist_ok=True)
    args.section.write_text("\n".join(text))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--set", action="append", default=[], help="training override KEY=VALUE")
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-cyclegan"))
    ap.add_argument("--section", type=Path, default=SECTION)
    ap.add_argument("--figure", type=Path, default=FIGURE)
    ap.add_argument("--note", default="", help="a sentence appended to the protocol line")
    args = ap.parse_args(argv)
    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
    first: dict[str, Path] = {}
    steps: object = "?"
    for seed in args.seeds:
        for variant, overrides in VARIANTS.items():
            run, wall = train(args.runs / variant.replace(" ", "-"), seed, overrides, args.set)
            summary = json.loads((run / "summary.json").read_text())
            steps = summary.get("steps", steps)
            results[variant].append(summary)
            walls[variant].append(wall)
            first.setdefault(variant, run)
            print(f"seed {seed} {variant}: {run} ({wall:.0f} s) " + ", ".join(
                f"{k} {summary[k]:.3f}" for _, k, _ in COLUMNS if k in summary), flush=True)
            # the section after every run: a cut-short benchmark still leaves what it measured
            write_section(results, walls, args, steps, f" {args.note}" if args.note else "")
        if seed == args.seeds[0]:
            figure(first, args.figure)
    print(f"wrote {args.section} and {args.figure}")


if __name__ == "__main__":
    main()

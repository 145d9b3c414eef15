"""pix2pix ablation on edges -> Fashion-MNIST: L1 only, cGAN only, L1 + cGAN (PROTOCOLS.md §5).

The shape of Table 1 of Isola et al. (2017), with the metrics this machine can compute in
place of the Cityscapes FCN score: PSNR and SSIM of held-out translations against their
targets, FID of the outputs vs the targets in the shipped Fashion-MNIST classifier's features,
and the accuracy with which that classifier reads each output as its target's class (beside
its accuracy on the targets themselves, the "ground truth" row).

Each variant trains the ``edges2fashion`` preset (``--steps`` steps, default 1500) for every
seed, with ``pix2pix.gan_weight=0`` (L1 only) or ``pix2pix.l1_weight=0`` (cGAN only); the
final evaluation of each run (2,000 held-out Fashion-MNIST test pairs, dropout noise from the
run's seed) lands in its ``summary.json`` and is averaged over seeds here. A figure shows the
same held-out inputs through the three seed-0 models.

    .venv/bin/python benchmarks/translation.py pix2pix --seeds 0 1 --steps 1500
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
from pathlib import Path

import numpy as np

PRESET = "edges2fashion"
VARIANTS = {
    "L1": ["pix2pix.gan_weight=0"],
    "cGAN": ["pix2pix.l1_weight=0"],
    "L1+cGAN": [],
}
N_FIGURE = 8

QUOTED = [
    "Published, for the shape only (**quoted, not measured here**; Isola et al. 2017, Table 1:",
    "Cityscapes labels -> photo, FCN scores of the outputs):",
    "",
    "| loss | per-pixel acc. | per-class acc. | class IoU |",
    "|---|---|---|---|",
    "| L1 | 0.42 | 0.15 | 0.11 |",
    "| cGAN | 0.57 | 0.22 | 0.16 |",
    "| L1 + cGAN | 0.66 | 0.23 | 0.17 |",
    "| ground truth | 0.80 | 0.26 | 0.21 |",
]


def train(variant: str, seed: int, steps: int, out: Path) -> Path:
    """``ganlab train --preset edges2fashion`` with the variant's overrides; its run folder."""
    sets = [*VARIANTS[variant], f"seed={seed}", f"train.steps={steps}",
            f"name=p2p-{variant.lower().replace('+', '-')}-s{seed}"]
    cmd = [sys.executable, "-m", "ganlab", "train", "--preset", PRESET, "--out", str(out),
           "--no-progress"]
    for s in sets:
        cmd += ["--set", s]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"training {variant} seed {seed} failed:\n{proc.stderr[-2000:]}")
    match = re.search(r"run folder: (\S+)", proc.stdout)
    if match is None:
        raise SystemExit(f"no run folder in the output:\n{proc.stdout[-2000:]}")
    return Path(match.group(1))


def figure(runs: dict[str, Path], path: Path) -> None:
    """input | L1 | cGAN | L1+cGAN | target on the same held-out inputs (seed-0 models)."""
    from ganlab.api import load_run
    from ganlab.report.grid import save_grid
    from ganlab.translation import side_by_side

    columns, examples = [], None
    for variant in VARIANTS:
        family = load_run(runs[variant]).family
        if examples is None:
            from ganlab.data.pairs import held_out

            source, _ = held_out(family.cfg.data)
            examples = source.examples(N_FIGURE)
        columns.append(family.translator()(examples.x, "AtoB"))
    assert examples is not None
    grid = side_by_side([examples.x, *columns, examples.target])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(grid.images, path, nrow=grid.nrow, scale=3)


def noise_effect(run: Path, seed: int, n: int = 500) -> list[str]:
    """How much the dropout noise kept at sampling changes the outputs of one model: two
    noise seeds against each other, and dropout on / off against the targets."""
    from ganlab.api import load_run
    from ganlab.data.pairs import held_out
    from ganlab.metrics.translation import psnr_ssim

    family = load_run(run).family
    source, note = held_out(family.cfg.data)
    ex = source.examples(n)
    tr = family.translator()
    a = tr(ex.x, "AtoB")
    tr.seed += 1
    b = tr(ex.x, "AtoB")
    for m in family.G.modules():
        if hasattr(m, "at_sampling"):
            m.at_sampling = False
    off = tr(ex.x, "AtoB")
    ab, at, ot = psnr_ssim(a, b), psnr_ssim(a, ex.target), psnr_ssim(off, ex.target)
    return [
        f"Dropout noise at sampling (the L1+cGAN seed-{seed} model, "
        f"{len(ex.x)} held-out inputs of the {note}): two noise seeds differ by a mean "
        f"|difference| of {(a - b).abs().mean():.3f} (PSNR {ab['psnr']:.1f} dB, SSIM "
        f"{ab['ssim']:.3f} between them), against {(a - ex.target).abs().mean():.3f} "
        f"from the targets; outputs vs targets: PSNR {at['psnr']:.2f} dB, SSIM "
        f"{at['ssim']:.3f} with the noise, {ot['psnr']:.2f} dB, {ot['ssim']:.3f} with "
        "dropout off at sampling (pixel range [-1, 1]).",
    ]


def _fmt(values: list[float], digits: int, scale: float = 1.0) -> str:
    v = np.array(values) * scale
    per = ", ".join(f"{x:.{digits}f}" for x in v)
    return f"{v.mean():.{digits}f} ({per})"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="translation.py pix2pix",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-pix2pix"))
    ap.add_argument("--reuse", action="store_true",
                    help="reuse finished runs under --runs (named p2p-VARIANT-sSEED-*)")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/translation_pix2pix.md"))
    ap.add_argument("--figure", type=Path, default=Path("docs/figures/pix2pix_ablation.png"))
    args = ap.parse_args(argv)

    results: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    seed0: dict[str, Path] = {}
    for seed in args.seeds:
        for variant in VARIANTS:
            name = f"p2p-{variant.lower().replace('+', '-')}-s{seed}"
            found = sorted(args.runs.glob(f"{name}-*/summary.json")) if args.reuse else []
            run = found[-1].parent if found else train(variant, seed, args.steps, args.runs)
            summary = json.loads((run / "summary.json").read_text())
            results[variant].append(summary)
            if seed == args.seeds[0]:
                seed0[variant] = run
            print(f"{variant} seed {seed}: {run} wall {summary['wall_time']:.0f} s, PSNR "
                  f"{summary['psnr']:.2f}, SSIM {summary['ssim']:.3f}, FID "
                  f"{summary.get('fid', float('nan')):.2f}, class acc "
                  f"{summary.get('class_accuracy', float('nan')):.3f}", flush=True)
    figure(seed0, args.figure)
    noise = noise_effect(seed0["L1+cGAN"], args.seeds[0])

    rows = []
    for variant, res in results.items():
        rows.append(
            f"| {variant} | {_fmt([r['psnr'] for r in res], 2)} | "
            f"{_fmt([r['ssim'] for r in res], 3)} | {_fmt([r['fid'] for r in res], 2)} | "
            f"{_fmt([r['class_accuracy'] for r in res], 1, 100)} | "
            f"{np.mean([r['wall_time'] for r in res]):.0f} |")
    truth = [r["target_class_accuracy"] for res in results.values() for r in res]
    rows.append(f"| ground truth (the targets) | - | - | - | {100 * np.mean(truth):.1f} | - |")
    total = sum(r["wall_time"] for res in results.values() for r in res)
    first = results["L1+cGAN"][0]
    card = first.get("card", {})
    text = [
        "## pix2pix: L1, cGAN and L1 + cGAN on edges -> Fashion-MNIST",
        "",
        f"Command: `python benchmarks/translation.py pix2pix {' '.join(argv or sys.argv[2:])}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; training and final evaluation "
        f"of the {len(args.seeds) * len(VARIANTS)} runs: {total / 60:.0f} min of wall time"
        + (" (this page re-rendered from the finished runs with --reuse)" if args.reuse
           else "") + "  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
        "(shared), one thread per run, runs one after another  ",
        f"Protocol: preset `{PRESET}` for {args.steps} steps (batch 32), seeds "
        f"{', '.join(map(str, args.seeds))}; evaluated on {first['n_pairs']} held-out pairs "
        f"({first['held_out']}); FID/KID in {card.get('extractor', '?')} features (weights "
        f"sha256 {str(card.get('weights_sha256', '?'))[:12]}...), outputs vs their targets; "
        "class accuracy: the same classifier's argmax on each output against the target's "
        "label. Each cell: mean over seeds (per-seed values).",
        "",
        "| loss | PSNR dB | SSIM | FID (fashion-classifier) | class accuracy % "
        "| wall s (train + eval) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *noise,
        "",
        *QUOTED,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text))
    print("\n".join(text))
    print(f"wrote {args.out} and {args.figure}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Stacked digits: 1,000 modes (PROTOCOLS.md section 2, the PacGAN Table 2 protocol).

Trains the ``stacked-dcgan`` preset (DCGAN, non-saturating loss, EMA generator) on three-channel
stacks of MNIST-5k digits for each training seed, through ``ganlab train``; each run's final
evaluation draws 26,000 samples, reads each channel with the shipped digit classifier and
reports the modes captured (of 1,000) and KL(p_gen || uniform). The table gives mean ± std over
training seeds (``ganlab compare``'s statistics) beside the published rows, quoted.

The published protocol draws the digits from MNIST's 60,000 training images; only a 5,000-digit
subset installs offline here, so the pool is 5,000 digits (the 1,000 modes are the same).

    .venv/bin/python benchmarks/stacked_modes.py                   # 3 seeds, the preset's steps
    .venv/bin/python benchmarks/stacked_modes.py --steps 200 --seeds 0 --no-write   # smoke
    .venv/bin/python benchmarks/stacked_modes.py --runs DIR       # keep runs; finished ones reused
    .venv/bin/python benchmarks/stacked_modes.py --reference-only # real stacks through the counter

Writes ``docs/benchmarks/stacked_modes.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "stacked_modes.md"

# Quoted (PROTOCOLS.md section 2): modes captured / KL to uniform.
PUBLISHED = [("DCGAN", "99 / 3.4", "VEEGAN"), ("DCGAN", "78.9 / 4.50", "PacGAN Table 2"),
             ("Unrolled GAN", "48.7 / 4.32", "PacGAN Table 2"),
             ("VEEGAN", "150 / 2.95", "VEEGAN"), ("PacDCGAN2", "1000 / 0.06", "PacGAN Table 2"),
             ("WGAN-GP", "995 / 0.148", "GDPP")]


def train(preset: str, seed: int, out: Path, sets: list[str]) -> tuple[Path, float]:
    """A finished run of ``preset`` with ``seed`` under ``out`` (reused when there is one)."""
    done = [p for p in out.glob("*/summary.json")] if out.is_dir() else []
    if done:
        summary = json.loads(done[0].read_text())
        return done[0].parent, float(summary.get("wall_time", float("nan")))
    args = [sys.executable, "-m", "ganlab", "train", "--preset", preset, "--out", str(out),
            "--no-progress", "--set", f"seed={seed}"]
    for s in sets:
        args += ["--set", s]
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run, time.perf_counter() - t0


def real_reference(seeds: list[int], n: int = 26000) -> list[tuple[float, float]]:
    """Modes and KL of ``n`` *real* stacks (drawn as the data source draws them) read by the
    same counter: what a perfect generator would score here, classifier errors included."""
    from ganlab.data.images import load_images
    from ganlab.metrics.api import mode_counts
    from ganlab.metrics.modes import make_stacked_digits

    images, labels = load_images("mnist-5k", "all")
    assert labels is not None
    out = []
    for seed in seeds:
        x, _ = make_stacked_digits(images.numpy(), labels.numpy(), n, seed=seed)
        r = mode_counts(x, "digits-classifier", stacked=True, use_cache=False)
        out.append((float(r["modes_captured"]), float(r["kl_gen_data"])))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--presets", nargs="+", default=["stacked-dcgan", "stacked-pacdcgan2"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=None, help="override train.steps")
    ap.add_argument("--runs", default=None, help="keep the run folders here")
    ap.add_argument("--other", default="nothing else ran on the machine")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--reference-only", action="store_true",
                    help="only print the real-stacks reference row (no training)")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from ganlab.metrics.compare import Group, compare_all

    ref = real_reference(a.seeds)
    ref_row = (f"| real stacks through the same counter (seeds {', '.join(map(str, a.seeds))}) "
               f"| | {sum(r[0] for r in ref) / len(ref):.1f} | "
               f"{sum(r[1] for r in ref) / len(ref):.3f} | "
               + ", ".join(f"{r[0]:.0f} / {r[1]:.3f}" for r in ref) + " | |")
    if a.reference_only:
        print(ref_row)
        return 0

    sets = [f"train.steps={a.steps}"] if a.steps else []
    root = Path(a.runs) if a.runs else Path(tempfile.mkdtemp(prefix="stacked-"))
    started = time.time()
    results: dict[str, list[tuple[int, float, float, float, int]]] = {}
    for preset in a.presets:
        for seed in a.seeds:
            run, secs = train(preset, seed, root / preset / f"seed{seed}", sets)
            summary = json.loads((run / "summary.json").read_text())
            results.setdefault(preset, []).append(
                (seed, summary["stacked_modes"], summary["stacked_kl"], secs, summary["steps"]))
            print(f"{preset} seed {seed}: {summary['stacked_modes']:.0f} modes, KL "
                  f"{summary['stacked_kl']:.3f} ({secs / 60:.1f} min)", file=sys.stderr,
                  flush=True)
    lines = [
        "## Stacked digits: 1,000 modes", "",
        "Command: `.venv/bin/python benchmarks/stacked_modes.py"
        + (f" --steps {a.steps}" if a.steps else "") + "`", "",
        f"Measured: {datetime.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, one thread per run; {(time.time() - started) / 60:.0f} min "
        f"for the runs trained by this invocation; {a.other}.", "",
        "Protocol: 26,000 samples per trained model, each channel classified by the shipped "
        "digit classifier; modes = distinct class triples (of 1,000); KL(p_gen || uniform). "
        "The digits come from MNIST-5k (5,000 images) rather than MNIST's 60,000. Presets: "
        "`stacked-dcgan` (DCGAN, non-saturating loss, EMA generator, batch 64) and "
        "`stacked-pacdcgan2` (the same with D judging pairs of samples: `gan.pack: 2`).", "",
        "| model | steps | modes (of 1,000) | KL to uniform | per seed (modes / KL) | "
        "minutes per run |", "|---|---|---|---|---|---|",
    ]
    verdicts = []
    for preset, rows in results.items():
        modes = Group(preset, tuple(r[1] for r in rows))
        kl = Group(preset, tuple(r[2] for r in rows))
        lines.append(
            f"| ganlab `{preset}` (mean ± std over {modes.n} training seeds) | {rows[0][4]} | "
            f"{modes.mean:.1f} ± {modes.std:.1f} | {kl.mean:.3f} ± {kl.std:.3f} | "
            + ", ".join(f"{r[1]:.0f} / {r[2]:.3f}" for r in rows)
            + f" | {sum(r[3] for r in rows) / len(rows) / 60:.1f} |")
        met = modes.mean >= 990 and kl.mean <= 0.1
        verdicts.append(f"`{preset}`: {'met' if met else 'not met'}")
    lines.append(ref_row)
    lines += [f"| {name} (quoted, {src}) | | {v.split(' / ')[0]} | {v.split(' / ')[1]} | | |"
              for name, v, src in PUBLISHED]
    groups = [Group(p, tuple(r[2] for r in rows)) for p, rows in results.items()]
    lines += ["", "Target (>= 990 modes and KL <= 0.1, mean over 3 seeds): "
              + "; ".join(verdicts) + "."]
    lines += [f"KL, {d.b} - {d.a}: {d.diff:+.3f} ("
              + ("exceeds" if d.exceeds_spread else "within")
              + f" the spread over training seeds; Welch p {d.p_value:.3g})."
              for d in compare_all(groups)]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stacked digits: 1,000 modes (PROTOCOLS.md section 2, the PacGAN Table 2 protocol).

Trains each preset (default ``stacked-dcgan``: DCGAN, non-saturating loss, EMA generator) on
three-channel stacks of MNIST-5k digits for each training seed, through ``ganlab train``, then
scores each run's final generator with ``ganlab eval modes RUN --stacked --n 26000`` (26,000
samples, each channel read by the shipped digit classifier): modes captured (of 1,000), KL(p_gen
|| uniform) and its two exact parts (uneven digits per channel; dependence between channels),
and the classifier's mean confidence. The table gives mean ± std over training seeds (``ganlab
compare``'s statistics) beside the published rows, quoted, and a real-data reference through the
same counter; below it, the evaluations each run logged during training, if any.

The published protocol draws the digits from MNIST's 60,000 training images; only a 5,000-digit
subset installs offline here, so the pool is 5,000 digits (the 1,000 modes are the same).

    .venv/bin/python benchmarks/stacked_modes.py                   # 3 seeds, the preset's steps
    .venv/bin/python benchmarks/stacked_modes.py --steps 200 --seeds 0 --no-write   # smoke
    .venv/bin/python benchmarks/stacked_modes.py --runs DIR       # keep runs; finished ones reused
    .venv/bin/python benchmarks/stacked_modes.py --reference-only # real stacks through the counter
    .venv/bin/python benchmarks/stacked_modes.py --runs DIR --ablations wide-g=0,1 lr-decay  # tried
    .venv/bin/python benchmarks/stacked_modes.py --runs DIR --steps 5000 --seeds 0 --ablations r1

Runs are looked for (and trained) in ``DIR/PRESET/seedN`` (ablations:
``DIR/ablation-NAME/seedN``); a run's score is kept beside it in ``stacked_eval.json`` and
reused while its checkpoint is the same; the real-data reference is kept in ``DIR`` too. Writes
``docs/benchmarks/stacked_modes.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ganlab.config import preset_data
from ganlab.data.images import load_images
from ganlab.engine.checkpoint import latest
from ganlab.engine.runtime import cpu_model
from ganlab.metrics.api import mode_counts
from ganlab.metrics.compare import Group, compare_all
from ganlab.metrics.modes import CONFIDENT, make_stacked_digits

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "stacked_modes.md"

# Quoted (PROTOCOLS.md section 2): modes captured / KL to uniform.
PUBLISHED = [("DCGAN", "99 / 3.4", "VEEGAN"), ("DCGAN", "78.9 / 4.50", "PacGAN Table 2"),
             ("Unrolled GAN", "48.7 / 4.32", "PacGAN Table 2"),
             ("VEEGAN", "150 / 2.95", "VEEGAN"), ("PacDCGAN2", "1000 / 0.06", "PacGAN Table 2"),
             ("WGAN-GP", "995 / 0.148", "GDPP")]


def at_lr(rate: str) -> list[str]:
    """Adam at ``rate`` for G and D, in bf16 autocast (the base of the lr ablations)."""
    return [f"gan.optim.G.lr={rate}", f"gan.optim.D.lr={rate}", "train.precision=bf16"]


# The Fashion-MNIST protocol's learning rate (the base of the lr8 ablations).
LR8 = at_lr("0.0008")

# Variants of the first preset tried in search of a lower KL (its other settings unchanged):
# name -> (what the row says, --set overrides). Trained only when asked (--ablations).
ABLATIONS = {
    "wide-g": ("G twice as wide as D (`gan.model.g_width=128`)", ["gan.model.g_width=128"]),
    "lr-decay": ("learning rate held 5,000 steps, then decayed linearly "
                 "(`train.lr_decay=hold-linear`)", ["train.lr_decay=hold-linear"]),
    "pack2-lr-decay": ("D judging pairs of samples (`gan.pack=2`, PacGAN) and the learning "
                       "rate decayed as above", ["gan.pack=2", "train.lr_decay=hold-linear"]),
    "n-critic-2": ("two D updates per G update (`gan.n_critic=2`, 1.6x the step time)",
                   ["gan.n_critic=2"]),
    "ttur": ("two time-scale learning rates, D 4e-4 and G 1e-4 (TTUR)",
             ["gan.optim.D.lr=0.0004", "gan.optim.G.lr=0.0001"]),
    "lr8": ("Adam at lr 8e-4 for G and D, the Fashion-MNIST protocol's lever, in bf16 autocast "
            "(`train.precision=bf16`)", LR8),
    "lr8-20k": ("as `lr8`, trained twice as long (20,000 steps)", [*LR8, "train.steps=20000"]),
    "lr8-mbstd": ("as `lr8`, and D sees the minibatch standard deviation in groups of 4 "
                  "(`gan.model.minibatch_std=4`, ProGAN)", [*LR8, "gan.model.minibatch_std=4"]),
    "lr8-ema95": ("as `lr8`, with the EMA of G's weights at decay 0.9995 instead of 0.999 "
                  "(`gan.ema.decay=0.9995`, the Fashion-MNIST protocol's last lever)",
                  [*LR8, "gan.ema.decay=0.9995"]),
    "lr8-wide-g": ("as `lr8`, with G twice as wide as D (`gan.model.g_width=128`)",
                   [*LR8, "gan.model.g_width=128"]),
    "lr8-pack2": ("as `lr8`, with D judging pairs of samples (`gan.pack=2`, PacGAN)",
                  [*LR8, "gan.pack=2"]),
    "lr12": ("as `lr8`, at lr 1.2e-3 for G and D", at_lr("0.0012")),
    "lr16": ("as `lr8`, at lr 1.6e-3 for G and D", at_lr("0.0016")),
    "r1": ("R1 penalty on real images (gamma 0.1) instead of BatchNorm in D "
           "(`gan.objective.r1_gamma=0.1`, `gan.model.batch_norm_d=false`)",
           ["gan.objective.r1_gamma=0.1", "gan.model.batch_norm_d=false"]),
}


def train(preset: str, seed: int, out: Path, sets: list[str]) -> tuple[Path, float]:
    """A finished run of ``preset`` with ``seed`` under ``out`` (reused when there is one) and
    its wall time in seconds (training and final evaluation, from its summary.json)."""
    done = [p for p in out.glob("*/summary.json")] if out.is_dir() else []
    if not done:
        args = [sys.executable, "-m", "ganlab", "train", "--preset", preset, "--out", str(out),
                "--no-progress", "--set", f"seed={seed}"]
        for s in sets:
            args += ["--set", s]
        subprocess.run(args, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        done = [p for p in out.glob("*/summary.json")]
    summary = json.loads(done[0].read_text())
    return done[0].parent, float(summary.get("wall_time", float("nan")))


N_SAMPLES = 26000
Score = dict[str, float]
SCORE_KEYS = {"modes", "kl", "kl_channels", "kl_dependence", "confidence",
              "kl_channels_confident", "confident_fraction"}


def as_score(values: dict) -> Score:
    """The numbers the table shows, from ``mode_counts``' values."""
    return {"modes": float(values["modes_captured"]), "kl": float(values["kl_gen_data"]),
            "kl_channels": float(values["kl_channels"]),
            "kl_dependence": float(values["kl_dependence"]),
            "confidence": float(values["confidence"]),
            "kl_channels_confident": float("nan") if values["kl_channels_confident"] is None
            else float(values["kl_channels_confident"]),
            "confident_fraction": float(values["confident_fraction"])}


def score(run: Path) -> Score:
    """``ganlab eval modes RUN --stacked --n 26000`` of the run's final generator (cached beside
    the run while its latest checkpoint is the same)."""
    cache = run / "stacked_eval.json"
    newest = latest(run / "checkpoints")
    if newest is None:
        raise SystemExit(f"{run}: no checkpoint to score")
    checkpoint = newest.name
    if cache.is_file():
        kept = json.loads(cache.read_text())
        if kept.get("checkpoint") == checkpoint and set(kept["score"]) >= SCORE_KEYS:
            return kept["score"]
    proc = subprocess.run(
        [sys.executable, "-m", "ganlab", "eval", "modes", str(run), "--stacked", "--n",
         str(N_SAMPLES), "--batch-size", "256", "--no-cache", "--json"],
        check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    result = as_score(json.loads(proc.stdout)["modes"]["values"])
    cache.write_text(json.dumps({"checkpoint": checkpoint, "score": result}, indent=1))
    return result


def logged_evaluations(run: Path) -> list[tuple[int, float, float]]:
    """(step, modes, KL) of the evaluations the run logged during training."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
            if line.strip()]
    return [(int(r["step"]), float(r["stacked_modes"]), float(r["stacked_kl"]))
            for r in rows if "stacked_modes" in r]


def real_reference(seeds: list[int], n: int = N_SAMPLES) -> list[Score]:
    """The scores of ``n`` *real* stacks (drawn as the data source draws them) read by the
    same counter: what a perfect generator would score here, classifier errors included."""
    images, labels = load_images("mnist-5k", "all")
    assert labels is not None
    out = []
    for seed in seeds:
        x, _ = make_stacked_digits(images.numpy(), labels.numpy(), n, seed=seed)
        out.append(as_score(mode_counts(x, "digits-classifier", stacked=True,
                                        use_cache=False).values))
    return out


def mean_std(values: list[float], digits: int) -> str:
    g = Group("", tuple(values))
    return f"{g.mean:.{digits}f} ± {g.std:.{digits}f}" if g.n > 1 else f"{g.mean:.{digits}f}"


def row(name: str, steps: str, scores: list[Score], minutes: str) -> str:
    """One table row: mean ± std of each score, then modes / KL per seed."""
    cols = [mean_std([s[k] for s in scores], d) for k, d in
            (("modes", 1), ("kl", 3), ("kl_channels", 3), ("kl_dependence", 3),
             ("confidence", 2), ("kl_channels_confident", 3), ("confident_fraction", 2))]
    per_seed = ", ".join(f"{s['modes']:.0f} / {s['kl']:.3f}" for s in scores)
    return f"| {name} | {steps} | {' | '.join(cols)} | {per_seed} | {minutes} |"


def ablation(text: str) -> tuple[str, list[int]]:
    """``NAME`` or ``NAME=0,1,2`` -> (name, seeds)."""
    name, _, seeds = text.partition("=")
    if name not in ABLATIONS:
        raise argparse.ArgumentTypeError(f"unknown ablation {name!r}; choose from "
                                         + ", ".join(sorted(ABLATIONS)))
    try:
        return name, [int(x) for x in seeds.split(",")] if seeds else [0]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: seeds are integers, e.g. {name}=0,1,2") from None


def avg(scores: list[Score], key: str) -> float:
    """Mean of one score over runs."""
    return Group(key, tuple(s[key] for s in scores)).mean


def where_the_kl_is(preset: str, scores: list[Score], ref: list[Score]) -> str:
    """A sentence on the split of the preset's KL beside the real-data reference."""
    kl, ch, dep, conf, sure, frac = (
        avg(scores, k) for k in ("kl", "kl_channels", "kl_dependence", "confidence",
                                 "kl_channels_confident", "confident_fraction"))
    ref_ch, ref_dep, ref_conf = (avg(ref, k) for k in ("kl_channels", "kl_dependence",
                                                       "confidence"))
    text = (f"Where the KL comes from: of `{preset}`'s {kl:.3f} (mean), {ch:.3f} is the "
            f"channels' part and {dep:.3f} the dependence part; real stacks give {ref_ch:.3f} "
            f"and {ref_dep:.3f} (the dependence part there is the sampling noise of "
            f"{N_SAMPLES:,} draws). The classifier's mean confidence is {conf:.2f} on the "
            f"generated channels and {ref_conf:.2f} on real digits.")
    if ch - ref_ch > 2 * max(dep - ref_dep, 0.0):
        text += (" Most of the excess is uneven digit frequencies within a channel, not "
                 "favoured combinations of digits.")
        text += (f" Over the {frac:.0%} of channels read with confidence (top probability "
                 f">= {CONFIDENT}) the channels' part is {sure:.3f}")
        if sure >= 0.8 * ch:
            text += (", no smaller: the digits the generator draws clearly are themselves "
                     "uneven, so guessing at ambiguous digits does not explain the KL; some "
                     "digits are drawn less often, or less clearly, than others (a classifier "
                     "cannot tell which).")
        elif sure <= 0.5 * ch:
            text += (": much of the unevenness is the classifier guessing at ambiguous "
                     "digits; clearer digits, not more modes, are what is missing.")
        else:
            text += ": uneven drawing and guessing at ambiguous digits both contribute."
    return text


def command_line(a: argparse.Namespace) -> str:
    parts = [".venv/bin/python benchmarks/stacked_modes.py", "--presets", *a.presets,
             "--seeds", *map(str, a.seeds)]
    if a.steps:
        parts += ["--steps", str(a.steps)]
    if a.ablations:
        parts += ["--ablations", *(f"{n}={','.join(map(str, seeds))}" for n, seeds in a.ablations)]
    if a.ablations_only:
        parts.append("--ablations-only")
    if a.runs:
        parts += ["--runs", "DIR"]
    return " ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--presets", nargs="+", default=["stacked-dcgan"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps", type=int, default=None, help="override train.steps")
    ap.add_argument("--ablations", nargs="*", default=[], type=ablation, metavar="NAME[=SEEDS]",
                    help="also train and score these variants of the first preset ("
                    + ", ".join(sorted(ABLATIONS)) + "), on seed 0 or the listed seeds "
                    "(wide-g=0,1)")
    ap.add_argument("--ablations-only", action="store_true",
                    help="train and score only the ablations, not the presets' own seeds "
                    "(their rows come from an earlier invocation)")
    ap.add_argument("--runs", default=None, help="keep the run folders here")
    ap.add_argument("--other", default="nothing else ran on the machine")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--reference-only", action="store_true",
                    help="only print the real-stacks reference row (no training)")
    a = ap.parse_args(argv)
    root = Path(a.runs) if a.runs else Path(tempfile.mkdtemp(prefix="stacked-"))
    kept = root / f"real_reference_seeds{'-'.join(map(str, a.seeds))}.json"
    ref = json.loads(kept.read_text()) if kept.is_file() else None
    if not ref or not all(set(r) >= SCORE_KEYS for r in ref):  # none kept, or an older kind
        ref = real_reference(a.seeds)
        root.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(ref, indent=1))
    ref_row = row(f"real stacks through the same counter (seeds {', '.join(map(str, a.seeds))})",
                  "", ref, "")
    if a.reference_only:
        print(ref_row)
        return 0

    sets = [f"train.steps={a.steps}"] if a.steps else []
    base = a.presets[0]
    # (row label, group key, preset, extra --set overrides, seeds, folder of the arm's runs)
    arms: list[tuple[str, str, str, list[str], list[int], Path]] = [] if a.ablations_only else [
        (f"ganlab `{p}`", p, p, [], a.seeds, root / p) for p in a.presets]
    arms += [(f"ablation of `{base}`: {ABLATIONS[n][0]}", n, base, ABLATIONS[n][1], seeds,
              root / f"ablation-{n}") for n, seeds in a.ablations]
    started = time.time()
    results: dict[str, list[tuple[int, Score, float, int, Path]]] = {}
    for _, key, preset, extra, seeds, folder in arms:
        for seed in seeds:
            run, secs = train(preset, seed, folder / f"seed{seed}", sets + extra)
            summary = json.loads((run / "summary.json").read_text())
            sc = score(run)
            results.setdefault(key, []).append((seed, sc, secs, summary["steps"], run))
            print(f"{key} seed {seed}: {sc['modes']:.0f} modes, KL {sc['kl']:.3f} "
                  f"({secs / 60:.1f} min)", file=sys.stderr, flush=True)
    described = "; ".join(f"`{p}`: {preset_data(p).get('description', '')}" for p in a.presets)
    lines = [
        "## Stacked digits: 1,000 modes", "",
        f"Command: `{command_line(a)}`", "",
        f"Measured: {datetime.date.today().isoformat()}, {cpu_model()}, "
        f"{os.cpu_count()} cores, one thread per run; {(time.time() - started) / 60:.0f} min "
        f"for the runs trained and scored by this invocation; {a.other}.", "",
        f"Protocol: each run's final generator scored by `ganlab eval modes RUN --stacked --n "
        f"{N_SAMPLES}` ({N_SAMPLES:,} samples, sampling seed 0; each channel read by the "
        "shipped digit classifier); modes = distinct class triples (of 1,000); KL(p_gen || "
        "uniform), split exactly into the channels' part (each channel's digit frequencies "
        "against uniform, summed) and the dependence part (the joint against the product of "
        "the channels); confidence = the classifier's mean top-class probability (low: "
        "ambiguous digits, read by guess); the channels' part again over the confident readings "
        f"only (top probability >= {CONFIDENT}; the fraction of them beside it): near zero "
        "when the "
        "digits are even where they are clear and only the ambiguous ones are read unevenly. The "
        "digits come from MNIST-5k (5,000 images) "
        f"rather than MNIST's 60,000. Presets: {described}.", "",
        "| model | steps | modes (of 1,000) | KL to uniform | KL: channels | KL: dependence "
        "| confidence | KL: channels, confident readings | confident fraction "
        "| per seed (modes / KL) | minutes per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for label, key, *_ in arms:
        rs = results[key]
        scores = [r[1] for r in rs]
        seeds_text = f"{len(rs)} training seed" + ("s" if len(rs) > 1 else "")
        lines.append(row(f"{label} (mean ± std over {seeds_text})" if len(rs) > 1
                         else f"{label} (seed {rs[0][0]})", str(rs[0][3]), scores,
                         f"{sum(r[2] for r in rs) / len(rs) / 60:.1f}"))
        modes, kl = avg(scores, "modes"), avg(scores, "kl")
        verdict = "met" if modes >= 990 and kl <= 0.1 else "not met"
        if len(rs) < 3:  # the target is a mean over 3 seeds; fewer only show where it stands
            verdict = (f"not judged, fewer than 3 seeds (mean KL {kl:.3f} so far, "
                       f"{'under' if kl <= 0.1 else 'over'} 0.1)")
        verdicts.append(f"`{key}` ({seeds_text}): {verdict}")
    lines.append(ref_row)
    lines += [f"| {name} (quoted, {src}) | | {v.split(' / ')[0]} | {v.split(' / ')[1]} "
              "| | | | | | | |" for name, v, src in PUBLISHED]
    groups = [Group(k, tuple(r[1]["kl"] for r in rs)) for k, rs in results.items()
              if len(rs) > 1]
    lines += ["", "Target (>= 990 modes and KL <= 0.1, mean over 3 seeds): "
              + "; ".join(verdicts) + "."]
    lines += [f"KL, {d.b} - {d.a}: {d.diff:+.3f} ("
              + ("exceeds" if d.exceeds_spread else "within")
              + f" the spread over training seeds; Welch p {d.p_value:.3g})."
              for d in compare_all(groups)]
    first = base if base in results else next(iter(results))
    lines += ["", where_the_kl_is(first, [r[1] for r in results[first]], ref)]
    logged = [(key, seed, logged_evaluations(run)) for key, rs in results.items()
              for seed, _, _, _, run in rs]
    logged = [x for x in logged if len(x[2]) > 1]
    if logged:
        lines += ["", "Evaluations logged during training (step: modes / KL, each on the run's "
                  "own samples; `eval.every` set for these runs):", ""]
        lines += [f"- `{key}` seed {seed}: "
                  + ", ".join(f"{step}: {m:.0f} / {kl:.3f}" for step, m, kl in evs)
                  for key, seed, evs in logged]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        doc = DOC.with_name("stacked_modes_ablations.md") if a.ablations_only else DOC
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

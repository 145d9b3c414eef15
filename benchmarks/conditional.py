"""Conditional GANs: what the matching-aware discriminator and the conditioning mode buy.

Arms: the mismatch term off (``mismatch_weight=0``, a plain conditional GAN) or on (1), with D
conditioned by concatenation or by projection, over training seeds; each arm is a
``ganlab train`` run of a preset with overrides.

* **Fashion-MNIST, class-conditional** (preset ``fashion-cgan``): conditional accuracy (the
  shipped Fashion classifier reads back the asked class), FID in that classifier's features,
  and the classification accuracy score (CAS: a classifier trained only on generated images,
  tested on the real test set, beside the same classifier trained on as many real images),
  from ``ganlab eval conditional fashion-mnist:test RUN --cas``.
* **Emoji, text-conditional** (preset ``emoji-t2i``): retrieval top-1 / top-5 of the
  generated images' own texts among 99 texts of other held-out emoji, from
  ``ganlab eval retrieval RUN`` (its scorer, trained on real images only, is cached after the
  first run), with the real-image ceiling and the shuffled floor.

Steps are scaled down from the presets to fit a 2-core CPU (the table says how many), but for
the last Fashion row: the shipped preset at its full length, with its AC-GAN head (the
ablation rows turn it off). Finished runs under ``--runs`` are reused, so several invocations
(``--sets``, ``--arms``) can train in parallel and a last one writes the page.

    .venv/bin/python benchmarks/conditional.py                          # both sets, 3 seeds
    .venv/bin/python benchmarks/conditional.py --sets fashion --steps-fashion 300 --seeds 0
    .venv/bin/python benchmarks/conditional.py --sets fashion --arms "the preset" --no-write

Writes ``docs/benchmarks/conditional.md`` and ``docs/figures/conditional.png``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ganlab.engine.runtime import cpu_model
from ganlab.metrics.compare import Group

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "conditional.md"
FIG = ROOT / "docs" / "figures" / "conditional.png"
# (label, overrides, steps: "short" for the ablation's scaled-down steps, "preset" for the
# preset's own). The Fashion ablation arms turn AC-GAN off (its class head would read the label
# from a concatenation-conditioned D's input, see docs/objectives.md) to isolate the mismatch
# term and D's conditioning; the last row is the shipped preset at its full length.
Arm = tuple[str, dict[str, float | str], str]
# What a run's cached ``ablation.json`` was measured with: a change of a metric that the cache
# would hide bumps it (2: the retrieval floor no longer draws a text's own row as a distractor).
MEASURED_BY = 2
ARMS: dict[str, list[Arm]] = {
    "fashion": [
        ("concat, no mismatch", {"d_conditioning": "concat", "mismatch_weight": 0.0,
                                 "aux_classifier_weight": 0.0}, "short"),
        ("concat, mismatch", {"d_conditioning": "concat", "mismatch_weight": 1.0,
                              "aux_classifier_weight": 0.0}, "short"),
        ("projection, no mismatch", {"d_conditioning": "projection", "mismatch_weight": 0.0,
                                     "aux_classifier_weight": 0.0}, "short"),
        ("projection, mismatch", {"d_conditioning": "projection", "mismatch_weight": 1.0,
                                  "aux_classifier_weight": 0.0}, "short"),
        ("the preset: projection, mismatch, AC-GAN", {}, "preset"),
    ],
    "emoji": [
        ("projection, no mismatch", {"d_conditioning": "projection", "mismatch_weight": 0.0},
         "short"),
        ("projection, mismatch", {"d_conditioning": "projection", "mismatch_weight": 1.0},
         "short"),
        ("the preset: projection, mismatch", {}, "preset"),
    ],
}
PRESETS = {"fashion": "fashion-cgan", "emoji": "emoji-t2i"}


def preset_steps(which: str) -> int:
    """``train.steps`` of the set's preset, as shipped."""
    from ganlab.config import preset_data

    return int(preset_data(PRESETS[which])["train"]["steps"])


def ganlab(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "ganlab", *args], capture_output=True,
                          text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if proc.returncode != 0:
        raise SystemExit(f"ganlab {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def discard(run: Path) -> None:
    """Remove a run folder that has no checkpoint, unless a live process holds its lock."""
    from ganlab.errors import GanlabError
    from ganlab.runs import is_run_folder, lock_run

    if not is_run_folder(run):
        shutil.rmtree(run)
        return
    try:
        with lock_run(run):
            shutil.rmtree(run)
    except GanlabError as exc:
        raise SystemExit(str(exc)) from None


def train(which: str, arm: Arm, seed: int, steps: int | None, root: Path) -> Path:
    """A finished run of the arm (``steps`` None: the preset's own), reused when there is one;
    a run stopped part-way (no ``summary.json`` yet) goes on from its latest checkpoint."""
    from ganlab import runs
    from ganlab.engine import checkpoint as ckpt

    slug = arm[0].split(":")[0].replace(", ", "-").replace(" ", "_")
    out = root / which / slug / f"seed{seed}"
    started = [p for p in out.iterdir() if p.is_dir()] if out.is_dir() else []
    done = [p for p in started if (p / "summary.json").is_file()]
    if done:
        return done[0]
    resumable = [p for p in started if ckpt.latest(p / runs.CHECKPOINTS) is not None]
    if len(resumable) > 1:
        raise SystemExit(f"{out}: {len(resumable)} unfinished runs ("
                         + ", ".join(p.name for p in resumable) + "); keep one and rerun")
    for p in started:  # killed before its first checkpoint: nothing to resume
        if p not in resumable:
            discard(p)
    if resumable:
        ganlab("resume", str(resumable[0]), "--no-progress")
        return resumable[0]
    sets = [f"seed={seed}", "eval.every=0", "train.snapshot_every=0",
            *(f"cgan.{k}={v}" for k, v in arm[1].items())]
    if steps is not None:
        sets.append(f"train.steps={steps}")
    args = ["train", "--preset", PRESETS[which], "--out", str(out), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    ganlab(*args)
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def measure(which: str, run: Path) -> dict[str, float]:
    """The arm's numbers for one run, kept in the run folder with :data:`MEASURED_BY`, so a
    rerun reuses them while the measurement is unchanged and measures again once it changed."""
    saved = run / "ablation.json"
    if saved.is_file():
        kept = json.loads(saved.read_text())
        if kept.pop("measured_by", None) == MEASURED_BY:
            return kept
    m = _measure(which, run)
    saved.write_text(json.dumps({**m, "measured_by": MEASURED_BY}))
    return m


def _measure(which: str, run: Path) -> dict[str, float]:
    if which == "fashion":
        r = json.loads(ganlab("eval", "conditional", "fashion-mnist:test", str(run),
                              "--n-per-class", "1000", "--cas", "--cas-epochs", "3", "--json"))
        return {"accuracy": r["accuracy"]["values"]["accuracy"],
                "fid": r["distances"]["values"]["fid"], "cas": r["cas"]["values"]["cas"],
                "cas_real": r["cas"]["values"]["real_accuracy"]}
    r = json.loads(ganlab("eval", "retrieval", str(run), "--json"))
    return {k: float(r[k]) for k in ("generated_top1", "generated_top5", "real_top1",
                                     "real_top5", "shuffled_top1", "shuffled_top5")}


def mean_std(values: list[float], scale: float = 1.0) -> str:
    g = Group("x", tuple(scale * v for v in values))
    return f"{g.mean:.1f} ± {g.std:.1f}" if scale != 1.0 else f"{g.mean:.3f} ± {g.std:.3f}"


def steps_and_minutes(which: str, arm: str, ms: list[dict[str, float]],
                      short: int) -> tuple[int, str]:
    """An arm's steps (the scaled-down ``short`` or the preset's own) and its runs' minutes
    as "min-max", for the tables."""
    kind = next(x[2] for x in ARMS[which] if x[0] == arm)
    steps = short if kind == "short" else preset_steps(which)
    return steps, f"{min(m['minutes'] for m in ms):.0f}-{max(m['minutes'] for m in ms):.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sets", nargs="+", default=["fashion", "emoji"], choices=list(ARMS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--steps-fashion", type=int, default=500)
    ap.add_argument("--steps-emoji", type=int, default=600)
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-conditional"))
    ap.add_argument("--other", default="nothing else ran on the machine")
    ap.add_argument("--arms", nargs="+", default=None,
                    help="only the arms whose label starts with one of these (e.g. 'the preset')")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    if a.arms and not any(arm[0].startswith(x) for w in a.sets for arm in ARMS[w]
                          for x in a.arms):
        ap.error(f"--arms {' '.join(a.arms)}: no arm of {', '.join(a.sets)} starts with that; "
                 f"arms: {'; '.join(arm[0] for w in a.sets for arm in ARMS[w])}")
    started = time.time()
    steps = {"fashion": a.steps_fashion, "emoji": a.steps_emoji}
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for which in a.sets:
        for arm in ARMS[which]:
            if a.arms and not any(arm[0].startswith(x) for x in a.arms):
                continue
            for seed in a.seeds:
                run = train(which, arm, seed, steps[which] if arm[2] == "short" else None,
                            a.runs)
                m = {**measure(which, run), "minutes": json.loads(
                    (run / "summary.json").read_text())["wall_time"] / 60}
                results.setdefault(which, {}).setdefault(arm[0], []).append(m)
                print(f"{which} {arm[0]} seed {seed}: {m}", file=sys.stderr, flush=True)
    lines = ["## Conditional GANs: the mismatch term and the conditioning of D", "",
             f"Command: `.venv/bin/python benchmarks/conditional.py --sets {' '.join(a.sets)} "
             f"--seeds {' '.join(map(str, a.seeds))} --steps-fashion {a.steps_fashion} "
             f"--steps-emoji {a.steps_emoji}"
             + (" --arms " + " ".join(f'"{x}"' for x in a.arms) if a.arms else "") + "`", "",
             f"Measured: {datetime.date.today().isoformat()}, {cpu_model()}, "
             f"{os.cpu_count()} cores, one thread per run; "
             + (f"{(time.time() - started) / 60:.0f} min for what this invocation trained; "
                if time.time() - started > 60 else
                "every run reused from earlier invocations under --runs; ")
             + f"{a.other}. Mean ± std over {len(a.seeds)} training seeds.", ""]
    if "fashion" in results:
        lines += ["Fashion-MNIST, class-conditional (`fashion-cgan`; the ablation rows with "
                  f"{a.steps_fashion} steps instead of the preset's "
                  f"{preset_steps('fashion'):,} and AC-GAN off, the "
                  "preset's row at its full length): conditional accuracy and FID in the "
                  "shipped Fashion classifier's features (1,000 samples a class vs the test "
                  "set); CAS: a classifier trained 3 epochs on 10,000 generated images, tested "
                  "on the real test set, beside the same classifier trained on 10,000 real "
                  "images (the real-data accuracy). All rows use the preset's mode-seeking "
                  "term.", "",
                  "| D conditioning, mismatch term | steps | conditional accuracy % | FID | "
                  "CAS % | real-data accuracy % | minutes per run |",
                  "|---|---|---|---|---|---|---|"]
        for label, ms in results["fashion"].items():
            n_steps, minutes = steps_and_minutes("fashion", label, ms, a.steps_fashion)
            lines.append(f"| {label} | {n_steps} | "
                         f"{mean_std([m['accuracy'] for m in ms], 100)} | "
                         f"{mean_std([m['fid'] for m in ms])} | "
                         f"{mean_std([m['cas'] for m in ms], 100)} | "
                         f"{mean_std([m['cas_real'] for m in ms], 100)} | {minutes} |")
        preset = results["fashion"].get(ARMS["fashion"][-1][0])
        if preset:
            acc = sum(m["accuracy"] for m in preset) / len(preset)
            gap = sum(m["cas_real"] - m["cas"] for m in preset) / len(preset)
            lines += ["", f"Targets for the preset (mean over seeds): conditional accuracy >= "
                      f"95%: {100 * acc:.1f}%, {'met' if acc >= 0.95 else 'not met'}; CAS within "
                      f"10 points of real-data training: {100 * gap:.1f} points below, "
                      f"{'met' if gap <= 0.10 else 'not met'}."]
        lines.append("")
    if "emoji" in results:
        any_arm = next(iter(results["emoji"].values()))
        lines += [f"Emoji, text-conditional (`emoji-t2i`; the ablation rows with {a.steps_emoji} "
                  f"steps instead of the preset's {preset_steps('emoji'):,}, the preset's row at "
                  "its full length): retrieval of each generated image's own "
                  "text among 100 texts of held-out emoji (371 names never trained on), by a "
                  "scorer trained on real images only.", "",
                  "| D conditioning, mismatch term | steps | top-1 % | top-5 % | minutes per run |",
                  "|---|---|---|---|---|"]
        for label, ms in results["emoji"].items():
            n_steps, minutes = steps_and_minutes("emoji", label, ms, a.steps_emoji)
            lines.append(f"| {label} | {n_steps} | "
                         f"{mean_std([m['generated_top1'] for m in ms], 100)} | "
                         f"{mean_std([m['generated_top5'] for m in ms], 100)} | {minutes} |")
        lines += [f"| real images (ceiling) | | {100 * any_arm[0]['real_top1']:.1f} | "
                  f"{100 * any_arm[0]['real_top5']:.1f} | |",
                  f"| shuffled texts (floor; chance 1 and 5) | | "
                  f"{100 * any_arm[0]['shuffled_top1']:.1f} | "
                  f"{100 * any_arm[0]['shuffled_top5']:.1f} | |", ""]
    lines += [f"![conditional ablation](../figures/{FIG.name})", ""]
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        figure(results)
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return 0


def figure(results: dict[str, dict[str, list[dict[str, float]]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(w, k, label) for w, k, label in
              (("fashion", "accuracy", "Fashion: conditional accuracy"),
               ("fashion", "cas", "Fashion: CAS"),
               ("emoji", "generated_top1", "Emoji: retrieval top-1")) if w in results]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (which, key, label) in zip(axes[0], panels, strict=True):
        arms = list(results[which])
        for i, arm in enumerate(arms):
            ys = [m[key] for m in results[which][arm]]
            ax.scatter([i] * len(ys), ys, s=18)
            ax.plot([i - 0.2, i + 0.2], [sum(ys) / len(ys)] * 2, color="k")
        ax.set_xticks(range(len(arms)), [a.split(":")[0].replace(", ", ",\n") for a in arms],
                      fontsize=7)
        ax.set_title(label, fontsize=9)
    fig.tight_layout()
    FIG.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIG, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

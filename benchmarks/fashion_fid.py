"""FID / KID / precision / recall of Fashion-MNIST presets against the 10k test set, over
training seeds (PROTOCOLS.md section 3): a benchmark that can be stopped and resumed.

Each *arm* is a preset plus overrides (``--arm LABEL=PRESET[,KEY=VALUE...]``, or ``--presets``
for plain presets); each arm is trained once per ``--train-seeds`` seed. The work is split into
tasks, run ``--jobs`` at a time as separate one-thread processes:

- ``real``: the extractor's features of the 10,000 test images;
- ``train:JOB``: ``ganlab train`` (or ``ganlab resume`` of the unfinished run folder);
- ``gen:JOB``: ``--n`` images of the trained generator for each sampling seed, and their features.

Everything lands under ``--runs DIR``: the run folders (``DIR/runs``), the features in shards of
1,000 images (``DIR/cache``, the ganlab feature cache), each finished task's record
(``DIR/done``) and each scored job (``DIR/results``). Kill it at any point and start it again
with the same command: finished runs, features and scores are reused, an unfinished run resumes
from its last checkpoint, a feature pass from its last shard. Progress with an ETA every
``--every`` seconds.

    .venv/bin/python benchmarks/fashion_fid.py --presets fashion-dcgan-ns-protocol \\
        --train-seeds 0 1 2 --extractor inception-fid --jobs 2 --runs /tmp/bench/fid \\
        --out docs/benchmarks/fashion_fid_protocol.md

The table: FID (mean over sampling seeds per trained model), KID, precision and recall, mean ±
sample std (ddof 1) over training seeds, the minutes per run and per scored set, beside the
published rows (quoted, not measured here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganlab.engine.runtime import cpu_model

SHARD = 1000  # images per cached feature shard: the unit a killed pass resumes from
DEFAULT_SHARD_S = 130.0  # Inception, one shared EPYC core: ~1.3 s per 10 images (an estimate)

# PROTOCOLS.md section 3. Quoted, not measured here.
QUOTED = [
    "Published, for orientation only (**quoted, not measured here**): Lucic et al. 2018, \"Are "
    "GANs Created Equal?\", Table 2, best Inception FID over a 100-point hyper-parameter search "
    "(10k generated vs the 10k test images, spread over 50 seeds of the best setting), at the "
    "budget of 20 epochs of 50,000 images, batch 64 (15,625 steps); PA-GAN (Zhang & Khoreva), "
    "the same protocol with a regulariser. Numbers from different extractors are not comparable.",
    "",
    "| model | Fashion-MNIST FID (Inception) | source |",
    "|---|---|---|",
    "| MM GAN | 29.6 ± 1.6 | Lucic et al., quoted |",
    "| NS GAN | 26.5 ± 1.6 | Lucic et al., quoted |",
    "| LSGAN | 30.7 ± 2.2 | Lucic et al., quoted |",
    "| WGAN | 21.5 ± 1.6 | Lucic et al., quoted |",
    "| WGAN-GP | 24.5 ± 2.1 | Lucic et al., quoted |",
    "| DRAGAN | 27.7 ± 1.2 | Lucic et al., quoted |",
    "| BEGAN | 22.9 ± 0.9 | Lucic et al., quoted |",
    "| PA-NS GAN, 20 epochs | 18.4 ± 1.5 | PA-GAN, quoted |",
    "| PA-NS GAN, trained longer | 15.8 ± 1.1 | PA-GAN, quoted |",
    "",
]


@dataclass(frozen=True)
class Arm:
    """A preset and the overrides that make one row of the table."""

    label: str
    preset: str
    overrides: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Arm:
        """``LABEL=PRESET[,KEY=VALUE...]`` (or just ``PRESET``)."""
        label, _, rest = text.partition("=") if "=" in text.split(",")[0] else ("", "", text)
        preset, *overrides = rest.split(",")
        return cls(label or preset, preset, tuple(o for o in overrides if o))


@dataclass(frozen=True)
class Job:
    """One arm trained with one seed."""

    arm: Arm
    seed: int

    @property
    def name(self) -> str:
        return f"{self.arm.label}-s{self.seed}"


class Bench:
    """The state folder of one benchmark: where each task's output lives and what is done."""

    def __init__(self, root: Path, args: argparse.Namespace) -> None:
        self.root, self.args = root, args
        for sub in ("runs", "cache", "done", "results", "logs"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    def run_dir(self, job: Job) -> Path | None:
        found = sorted((self.root / "runs").glob(f"{job.name}-2*"))
        return found[0] if found else None

    def done(self, task: str) -> dict[str, Any] | None:
        path = self.root / "done" / f"{task.replace(':', '-')}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def mark(self, task: str, **facts: Any) -> None:
        path = self.root / "done" / f"{task.replace(':', '-')}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(facts, indent=1))
        tmp.replace(path)

    def log(self, task: str) -> Path:
        return self.root / "logs" / f"{task.replace(':', '-')}.log"


# ---------------------------------------------------------------------------------- the tasks


def run_train(bench: Bench, job: Job) -> None:
    """Train ``job`` (or resume its unfinished run folder) with ``ganlab``."""
    g = [sys.executable, "-m", "ganlab"]
    run = bench.run_dir(job)
    if run is not None and not any((run / "checkpoints").glob("*")):
        shutil.rmtree(run)  # killed before its first checkpoint: nothing to resume
        run = None
    if run is None:
        cmd = [*g, "train", "--preset", job.arm.preset, "--out", str(bench.root / "runs"),
               "--no-progress", "--set", f"name={job.name}", "--set", f"seed={job.seed}"]
        for o in (*bench.args.set, *job.arm.overrides):
            cmd += ["--set", o]
    elif not (run / "summary.json").exists():
        cmd = [*g, "resume", str(run), "--no-progress"]
    else:
        cmd = []
    if cmd:
        subprocess.run(cmd, check=True)
    run = bench.run_dir(job)
    assert run is not None
    summary = json.loads((run / "summary.json").read_text())
    bench.mark(f"train:{job.name}", run=run.name, steps=summary.get("steps"),
               wall_time=summary.get("wall_time"))


def sharded_features(images: np.ndarray, what: str) -> tuple[Any, float]:
    """Features of ``images`` in cached shards of :data:`SHARD` (a killed pass resumes at its
    last shard); the FeatureSet and the seconds this call spent extracting."""
    from ganlab.metrics import cache
    from ganlab.metrics.extract import FeatureSet, as_extractor, features_and_logits

    ext = as_extractor(os.environ["FASHION_FID_EXTRACTOR"])
    feats, logits, spent = [], [], 0.0
    for i in range(0, len(images), SHARD):
        t0 = time.perf_counter()
        f, lg = features_and_logits(images[i:i + SHARD], ext, 32)
        dt_ = time.perf_counter() - t0
        spent += dt_
        feats.append(f)
        if lg is not None:
            logits.append(lg)
        print(f"{what}: shard {i // SHARD + 1}/{-(-len(images) // SHARD)} ({dt_:.0f} s)",
              flush=True)
    return FeatureSet(np.concatenate(feats), np.concatenate(logits) if logits else None,
                      ext.card(), tuple(images.shape[1:]),
                      fingerprint=cache.images_hash(images)), spent


def real_images() -> np.ndarray:
    from ganlab.metrics.sources import load_images

    return load_images("fashion-mnist:test").images


def generated_images(run: Path, n: int, seed: int) -> np.ndarray:
    from ganlab.api import load_run

    return load_run(run).generator().sample(n, seed).numpy()


def run_real(bench: Bench) -> None:
    _, spent = sharded_features(real_images(), "real")
    bench.mark("real", seconds=spent, shards=-(-10_000 // SHARD))


def run_gen(bench: Bench, job: Job) -> None:
    run = bench.run_dir(job)
    assert run is not None
    spent = 0.0
    for seed in range(bench.args.seeds):
        images = generated_images(run, bench.args.n, seed)
        _, s = sharded_features(images, f"{job.name} seed {seed}")
        spent += s
    bench.mark(f"gen:{job.name}", seconds=spent, n=bench.args.n, seeds=bench.args.seeds,
               shards=bench.args.seeds * -(-bench.args.n // SHARD))


def score(bench: Bench, job: Job) -> dict[str, Any]:
    """FID over the sampling seeds, KID and precision/recall (first seed) of one trained job,
    from the cached features (read once, then kept in ``results/``)."""
    path = bench.root / "results" / f"{job.name}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    from ganlab import metrics

    ext = os.environ["FASHION_FID_EXTRACTOR"]
    run = bench.run_dir(job)
    assert run is not None
    real, _ = sharded_features(real_images(), "real")
    fakes = [sharded_features(generated_images(run, bench.args.n, s), f"{job.name} seed {s}")[0]
             for s in range(bench.args.seeds)]
    fid = metrics.fid_over_seeds(real.stats(), fakes, ext, seeds=list(range(bench.args.seeds)))
    kid = metrics.kid(real, fakes[0], ext)
    pr = metrics.prdc(real, fakes[0], ext, max_n=5000)
    train, gen = bench.done(f"train:{job.name}") or {}, bench.done(f"gen:{job.name}") or {}
    summary = json.loads((run / "summary.json").read_text())
    result = {
        "job": job.name, "arm": job.arm.label, "seed": job.seed, "run": run.name,
        "steps": summary.get("steps"), "train_s": train.get("wall_time"),
        "score_s": gen.get("seconds"), "fid_values": list(fid["fid_values"]),
        "fid": float(np.mean(fid["fid_values"])), "kid": float(kid["kid_mean"]),
        "precision": float(pr["precision"]), "recall": float(pr["recall"]),
        "extractor": real.extractor, "precision_train": _config_value(run, "train.precision"),
    }
    path.write_text(json.dumps(result, indent=1))
    return result


def _config_value(run: Path, key: str) -> str:
    from ganlab.cli.compare import group_of

    return str(group_of(run, key))


# ------------------------------------------------------------------------------ the scheduler


def tasks_of(bench: Bench, jobs: list[Job]) -> list[tuple[str, list[str]]]:
    """Every task and the tasks it waits for, in the order they should start."""
    out: list[tuple[str, list[str]]] = []
    for i, job in enumerate(jobs):
        out.append((f"train:{job.name}", []))
        if i == 0:  # the test set's pass goes beside the first training run
            out.append(("real", []))
        out.append((f"gen:{job.name}", [f"train:{job.name}"]))
    return out


def remaining_s(bench: Bench, task: str, jobs: dict[str, Job], running: bool) -> float:
    """Seconds ``task`` still needs: from the run's own rate, or from finished tasks."""
    kind, _, name = task.partition(":")
    if kind == "train":
        job = jobs[name]
        run = bench.run_dir(job)
        steps = _steps_of(job, bench.args.set)
        if run is not None and (run / "metrics.jsonl").exists():
            rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()
                    if '"wall_time"' in x and '"step"' in x]
            if len(rows) >= 2 and rows[-1]["step"] > rows[0]["step"]:
                rate = (rows[-1]["wall_time"] - rows[0]["wall_time"]) / (
                    rows[-1]["step"] - rows[0]["step"])
                return float(rate * (steps - rows[-1]["step"]))
        # the arm's other seeds when one has finished (bf16 and fp32 differ 1.7x), else any run
        done = _done_all(bench, f"train-{job.arm.label}-s") or _done_all(bench, "train")
        rates = [d["wall_time"] / d["steps"] for d in done if d.get("steps")]
        return float(steps * (np.mean(rates) if rates else 0.15))
    shards = (1 if kind == "real" else bench.args.seeds) * -(-bench.args.n // SHARD)
    done_shards = _log_shards(bench.log(task)) if running else 0
    per = [d["seconds"] / d["shards"] for d in _done_all(bench, "gen") + _done_all(bench, "real")]
    return float((shards - done_shards) * (np.mean(per) if per else DEFAULT_SHARD_S))


def _steps_of(job: Job, common: list[str]) -> int:
    from ganlab.api import load_config

    return int(load_config(job.arm.preset, [*common, *job.arm.overrides]).train.steps)


def _done_all(bench: Bench, kind: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in (bench.root / "done").glob(f"{kind}*.json")]


def _log_shards(log: Path) -> int:
    return log.read_text().count(": shard ") if log.exists() else 0


def schedule(bench: Bench, jobs: list[Job]) -> None:
    """Run every unfinished task, ``--jobs`` at a time, printing progress and an ETA."""
    by_name = {j.name: j for j in jobs}
    todo = [(t, deps) for t, deps in tasks_of(bench, jobs) if bench.done(t) is None]
    running: dict[str, subprocess.Popen[bytes]] = {}
    started, last = time.time(), 0.0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANLAB_CACHE": str(bench.root / "cache")}
    while todo or running:
        for task, proc in list(running.items()):
            if proc.poll() is not None:
                del running[task]
                if proc.returncode != 0 or bench.done(task) is None:
                    raise SystemExit(f"task {task} failed (exit {proc.returncode}); see "
                                     f"{bench.log(task)}; run the same command again to go on")
        for task, deps in list(todo):
            if len(running) >= bench.args.jobs:
                break
            if all(bench.done(d) is not None for d in deps):
                todo.remove((task, deps))
                cmd = [sys.executable, __file__, *sys.argv[1:], "--worker", task]
                with bench.log(task).open("a") as log:
                    running[task] = subprocess.Popen(cmd, env=env, stdout=log,
                                                     stderr=subprocess.STDOUT)
        if time.time() - last >= bench.args.every or not (todo or running):
            last = time.time()
            left = sum(remaining_s(bench, t, by_name, True) for t in running)
            left += sum(remaining_s(bench, t, by_name, False) for t, _ in todo)
            eta = left / max(1, bench.args.jobs)
            print(f"[{dt.datetime.now():%H:%M}] {len(running)} running "
                  f"({', '.join(running) or '-'}), {len(todo)} waiting; "
                  f"{(time.time() - started) / 60:.0f} min so far, ETA {eta / 60:.0f} min",
                  flush=True)
        time.sleep(2)


# ---------------------------------------------------------------------------------- the table


def table(bench: Bench, arms: list[Arm], seeds: list[int], minutes: float) -> list[str]:
    from ganlab.metrics.compare import Group, compare_all

    rows, groups = [], []
    ext: dict[str, Any] = {}
    for arm in arms:
        res = [score(bench, Job(arm, s)) for s in seeds]
        ext = res[0]["extractor"]

        def ms(key: str, scale: float = 1.0, rs: list[dict[str, Any]] = res) -> str:
            g = Group(key, tuple(scale * r[key] for r in rs))
            return f"{g.mean:.2f} ± {g.std:.2f}" if len(rs) > 1 else f"{g.mean:.2f}"

        groups.append(Group(arm.label, tuple(r["fid"] for r in res)))
        over = ", ".join(arm.overrides) or "-"
        train_min = np.mean([r["train_s"] for r in res]) / 60
        score_min = np.mean([r["score_s"] or np.nan for r in res]) / 60
        rows.append(
            f"| {arm.label} | {arm.preset} | {over} | {res[0]['steps']} | "
            f"{train_min:.0f} | {score_min:.0f} | **{ms('fid')}** | "
            + ", ".join(f"{r['fid']:.2f}" for r in res)
            + f" | {ms('kid', 1e3)} | {ms('precision')} | {ms('recall')} |")
    lines = [
        "| arm | preset | overrides | steps | train min | scoring min | FID | FID per "
        "training seed | KID x1e3 | precision | recall |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *rows, ""]
    for d in compare_all(groups) if len(seeds) > 1 else []:
        verdict = "exceeds" if d.exceeds_spread else "is within"
        lines.append(f"- {d.b} - {d.a}: FID {d.diff:+.2f}, {verdict} the spread over training "
                     f"seeds (2 x stderr {2 * d.stderr:.2f}; Welch p {d.p_value:.3g}).")
    head = [
        "## Fashion-MNIST at the published budget over training seeds", "",
        f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`", "",
        f"Finished {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {cpu_model()} "
        f"({os.cpu_count()} cores), {bench.args.jobs} one-thread jobs at a time; this "
        f"invocation {minutes:.0f} min (finished runs and features are reused across "
        "invocations; train and scoring minutes are each run's own, under that load).", "",
        f"Extractor: {ext.get('name')} (weights sha256 {str(ext.get('weights_sha256'))[:12]}..., "
        f"resize {ext.get('resize')}); real: fashion-mnist:test (10,000); generated: "
        f"{bench.args.n:,} per sampling seed, {bench.args.seeds} sampling seed(s) per trained "
        f"model, FID averaged over them; {len(seeds)} training seeds per arm; ± is the sample "
        "std (ddof 1) over training seeds; KID and precision/recall (k=5, 5,000 per side) from "
        "the first sampling seed.", ""]
    return head + lines + ["", *QUOTED]


def training_curves(bench: Bench, arms: list[Arm], seed: int, png: Path) -> list[str]:
    """FID against training steps for one training seed of each arm: the evaluations every
    ``eval.every`` steps in the run's own ``metrics.jsonl`` (the preset's extractor: for
    Fashion-MNIST the classifier's features, not Inception's), as lines and as ``png``."""
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for arm in arms:
        run = bench.run_dir(Job(arm, seed))
        if run is None:
            continue
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        curves[arm.label] = [(r["step"], r["fid"], r.get("recall", float("nan")))
                             for r in rows if "fid" in r and "step" in r]
    if not any(curves.values()):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    for label, pts in curves.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax.set_xlabel("training step (batch 64)")
    ax.set_ylabel("FID, classifier features (2,000 samples)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"Fashion-MNIST, training seed {seed}: FID during training")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    lines = [f"FID against training steps, training seed {seed} (evaluations during training, "
             "fashion-classifier features, 2,000 samples vs the test set; "
             f"![curve]({png.name})):", ""]
    for label, pts in curves.items():
        lines.append(f"- {label}: " + ", ".join(f"{s}: {f:.2f} (recall {r:.2f})"
                                                 for s, f, r in pts))
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="*", default=[], help="arms that are plain presets")
    ap.add_argument("--arm", action="append", default=[], metavar="LABEL=PRESET[,K=V...]",
                    help="an arm: a preset with overrides, e.g. "
                         "bf16=fashion-dcgan-ns-protocol,train.precision=bf16")
    ap.add_argument("--set", action="append", default=[], help="override for every arm KEY=VALUE")
    ap.add_argument("--steps", action="append", default=[], metavar="PRESET=N",
                    help="train PRESET's arms for N steps instead of its default")
    ap.add_argument("--train-seeds", type=int, nargs="+", default=[0], metavar="SEED")
    ap.add_argument("--extractor", default="inception-fid")
    ap.add_argument("--n", type=int, default=10_000, help="generated images per sampling seed")
    ap.add_argument("--seeds", type=int, default=1, help="sampling seeds per trained model")
    ap.add_argument("--jobs", type=int, default=2, help="one-thread processes at a time")
    ap.add_argument("--every", type=float, default=60.0, help="seconds between progress lines")
    ap.add_argument("--runs", type=Path, default=Path("runs/bench-fashion"),
                    help="the benchmark's state folder (runs, features, scores)")
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks/fashion_fid.md"))
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()

    steps = dict(item.split("=", 1) for item in args.steps)
    arms = [Arm.parse(a) for a in [*args.presets, *args.arm]]
    if not arms:
        ap.error("name at least one arm (--presets or --arm)")
    arms = [Arm(a.label, a.preset, a.overrides + ((f"train.steps={steps[a.preset]}",)
                                                 if a.preset in steps else ())) for a in arms]
    jobs = [Job(a, s) for a in arms for s in args.train_seeds]
    os.environ["FASHION_FID_EXTRACTOR"] = args.extractor
    os.environ["GANLAB_CACHE"] = str(args.runs / "cache")
    bench = Bench(args.runs, args)
    if args.worker:
        kind, _, name = args.worker.partition(":")
        job = {j.name: j for j in jobs}.get(name)
        if kind == "real":
            run_real(bench)
        elif kind == "train" and job is not None:
            run_train(bench, job)
        elif kind == "gen" and job is not None:
            run_gen(bench, job)
        else:
            raise SystemExit(f"unknown task {args.worker!r}")
        return
    started = time.time()
    schedule(bench, jobs)
    lines = table(bench, arms, args.train_seeds, (time.time() - started) / 60)
    lines += training_curves(bench, arms, args.train_seeds[0], args.out.with_suffix(".png"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

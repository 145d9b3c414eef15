"""``ganlab compare``: one metric over several training runs, grouped, with the spread over
training seeds and whether the differences between groups exceed it (:mod:`ganlab.metrics.compare`).

    ganlab compare runs/fashion-dcgan-ns-* runs/fashion-best-* --metric fid
    ganlab compare runs/bench/ --metric nll_oracle --by family

Each run contributes the number its ``summary.json`` holds under ``--metric`` (what the run's
final evaluation reported). Runs are grouped by ``--by``: the run name (``name``, the preset's
name unless it was overridden), ``family``, or any dotted key of the run's ``config.yaml``
(e.g. ``gan.objective.name``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from ganlab.errors import GanlabError
from ganlab.metrics.compare import Group, compare_all
from ganlab.runs import CONFIG, SUMMARY, is_run_folder


def find_runs(paths: list[str]) -> list[Path]:
    """Run folders: each path is a run, or a folder whose sub-folders are runs."""
    runs: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.is_dir():
            raise GanlabError(f"{p}: no such folder (give run folders, or a folder of runs)")
        if is_run_folder(p):
            runs.append(p)
            continue
        inner = sorted(q for q in p.iterdir() if q.is_dir() and is_run_folder(q))
        if not inner:
            raise GanlabError(f"{p}: neither a run folder (no {CONFIG}) nor a folder of runs")
        runs.extend(inner)
    return runs


def metric_of(run: Path, metric: str) -> float:
    path = run / SUMMARY
    if not path.is_file():
        raise GanlabError(f"{run}: no {SUMMARY}: the run has not finished (continue it with "
                          f"`ganlab resume {run}`) or it was stopped with --until")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GanlabError(f"{path}: not valid JSON ({exc})") from None
    value = summary.get(metric)
    if not isinstance(value, int | float) or isinstance(value, bool):
        numeric = sorted(k for k, v in summary.items()
                         if isinstance(v, int | float) and not isinstance(v, bool))
        raise GanlabError(f"{path}: no number {metric!r}; it has {', '.join(numeric) or 'none'}"
                          " (choose one with --metric)")
    return float(value)


def group_of(run: Path, by: str) -> str:
    import yaml

    cfg = yaml.safe_load((run / CONFIG).read_text(encoding="utf-8")) or {}
    node: Any = cfg
    for part in by.split("."):
        if not isinstance(node, dict) or part not in node:
            raise GanlabError(f"{run}/{CONFIG}: no key {by!r} to group by (use name, "
                              "family or a dotted config key)")
        node = node[part]
    return str(node)


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4g}"


def cmd_compare(args: argparse.Namespace) -> int:
    runs = find_runs(args.runs)
    by_group: dict[str, list[tuple[Path, float]]] = {}
    for run in runs:
        by_group.setdefault(group_of(run, args.by), []).append((run, metric_of(run, args.metric)))
    groups = [Group(label, tuple(v for _, v in items)) for label, items in by_group.items()]
    diffs = compare_all(groups)
    if args.json:
        print(json.dumps({
            "metric": args.metric, "by": args.by,
            "groups": [{"group": g.label, "n": g.n, "mean": g.mean, "std": g.std,
                        "runs": {str(r): v for r, v in by_group[g.label]}} for g in groups],
            "differences": [{**d.__dict__} for d in diffs]}, indent=2, default=str))
        return 0
    width = max(len(g.label) for g in groups)
    print(f"{args.metric} over {len(runs)} runs, grouped by {args.by} "
          "(mean ± sample std over runs):")
    for g in groups:
        print(f"  {g.label:<{width}}  n={g.n}  {g.mean:.4g} ± {g.std:.2g}   "
              f"[{', '.join(f'{v:.4g}' for v in g.values)}]")
    for d in diffs:
        if math.isnan(d.stderr):
            verdict = "one run in a group: no spread to compare with (train more seeds)"
        else:
            verdict = ("exceeds the spread" if d.exceeds_spread else "within the spread") + \
                f" (|diff| {'>' if d.exceeds_spread else '<='} 2 x stderr {_fmt(d.stderr)}; " \
                f"Welch t {_fmt(d.t)}, p {_fmt(d.p_value)})"
        print(f"  {d.b} - {d.a}: {d.diff:+.4g}, {verdict}")
    return 0


def add_commands(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "compare", help="one metric over training runs: mean ± std per group, and whether "
                        "the differences exceed the spread over seeds",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders, or folders of runs")
    p.add_argument("--metric", default="fid",
                   help="a number in each run's summary.json (default fid)")
    p.add_argument("--by", default="name",
                   help="group by the run name (default), family, or a dotted config key")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_compare)

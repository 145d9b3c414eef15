"""Training curves from ``metrics.jsonl``: losses, D outputs, gradient norms, other metrics.

One PNG per group (matplotlib's Agg backend, no display needed). A group is drawn only when the
run logged at least one of its keys; every numeric key that is not in a named group and not
bookkeeping (step, wall time, learning-rate factor) lands in "metrics".
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from ganlab.atomic import write_atomically
from ganlab.metrics.registry import report_panels
from ganlab.report.curves import CurveGroup, curve_groups

BOOKKEEPING = {"step", "wall_time", "lr_factor", "lr_g_factor", "epoch", "eval_seconds"}
LABELS = {"d_real": "D(x), real (prob. or critic score)",
          "d_fake": "D(G(z)), generated (prob. or critic score)"}


def _pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (imported on first use: it is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def numeric_series(records: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of ``key`` over the records that hold a finite number for it."""
    steps: list[int] = []
    values: list[float] = []
    for r in records:
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            steps.append(int(r.get("step", len(steps))))
            values.append(float(v))
    return steps, values


def metric_keys(records: list[dict[str, Any]],
                groups: list[CurveGroup] | None = None) -> list[str]:
    """Numeric keys outside the named groups and bookkeeping, in first-seen order."""
    named = {k for g in (groups or curve_groups()) for k in g.keys} | BOOKKEEPING
    seen: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k not in named and isinstance(v, int | float) and not isinstance(v, bool):
                seen.setdefault(k, None)
    return list(seen)


def split_metric_keys(records: list[dict[str, Any]],
                      groups: list[CurveGroup] | None = None) -> tuple[list[str], list[str]]:
    """:func:`metric_keys` split into (what evaluations measured, other training numbers).

    Evaluations are the records with ``eval_seconds`` (the loop marks them); a key also logged
    on a record without it is a training number (a family's own terms: ``d_match``, ``g_ms``).
    Without marked records everything counts as an evaluation (logs of older runs)."""
    keys = metric_keys(records, groups)
    if not any("eval_seconds" in r for r in records):
        return keys, []
    trained = {k for r in records if "eval_seconds" not in r for k in r}
    return [k for k in keys if k not in trained], [k for k in keys if k in trained]


_PER_CLASS = re.compile(r"^(.+)_(\d+)$")


def per_class_base(key: str, keys: list[str] | set[str]) -> str | None:
    """``cond_accuracy`` for ``cond_accuracy_3`` when ``cond_accuracy`` is among ``keys``."""
    m = _PER_CLASS.match(key)
    return m.group(1) if m and m.group(1) in keys else None


def per_class_label(key: str, keys: list[str] | set[str],
                    class_names: list[str] | None) -> str:
    """``cond_accuracy_3 (dress)`` for a per-class key when the class names are known."""
    m = _PER_CLASS.match(key)
    if m is None or per_class_base(key, keys) is None or not class_names:
        return key
    k = int(m.group(2))
    return f"{key} ({class_names[k]})" if k < len(class_names) else key


def shared_panels() -> list[tuple[str, ...]]:
    """Metric keys drawn in one panel of the "metrics" figure (any other metric gets a panel
    of its own): every registered metric's panels (:mod:`ganlab.metrics.registry`), in the
    names training logs them under (``kid_mean`` with ``kid_std``, ``precision`` with
    ``recall``, ``density`` and ``coverage`` ...)."""
    return report_panels()


def panels_of(keys: list[str]) -> list[list[str]]:
    """Metric keys grouped into panels: each of :func:`shared_panels` together, a metric's
    per-class values (``cond_accuracy_0``, ...) with the metric, others alone."""
    panels: list[list[str]] = []
    where: dict[tuple[str, ...], list[str]] = {}
    groups = shared_panels()
    for key in keys:
        base = per_class_base(key, keys)
        if base is not None and (base,) in where:
            where[(base,)].append(key)
            continue
        shared = next((g for g in groups if key in g), None)
        if shared is None and any(per_class_base(k, keys) == key for k in keys):
            shared = (key,)
        if shared is None:
            panels.append([key])
        elif shared in where:
            where[shared].append(key)
        else:
            where[shared] = [key]
            panels.append(where[shared])
    return panels


def event_marks(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """``(step, label)`` of each change made to a steered run (``events.jsonl``): a setting
    changed, a single step, a fork's start."""
    marks = []
    for e in events:
        if e.get("what") == "set":
            marks.append((int(e["step"]), f"{e.get('key')}={e.get('new')}"))
        elif e.get("what") == "step":
            marks.append((int(e["step"]), f"one {e.get('new')} step"))
        elif e.get("what") == "draw":
            marks.append((int(e["step"]), "drawn data"))
        elif e.get("what") == "forked":
            marks.append((int(e["step"]), "forked here"))
    return marks


def _plot(path: Path, title: str, records: list[dict[str, Any]], keys: list[str],
          separate: bool = False, marks: list[tuple[int, str]] | None = None) -> Path | None:
    series = {k: numeric_series(records, k) for k in keys}
    series = {k: s for k, s in series.items() if s[0]}
    if not series:
        return None
    plt = _pyplot()
    panels = panels_of(list(series)) if separate else [list(series)]
    n = len(panels)
    fig, axes = plt.subplots(n, 1, figsize=(7, 2.6 * n if separate else 3.4), dpi=100,
                             squeeze=False)
    for i, panel in enumerate(panels):
        ax = axes[i][0]
        for key in panel:
            steps, values = series[key]
            marker = "o" if len(steps) < 20 else None
            ax.plot(steps, values, label=LABELS.get(key, key), linewidth=1.2, marker=marker,
                    markersize=3)
        labelled: set[int] = set()
        for step, label in marks or []:   # the changes a steered run went through
            ax.axvline(step, color="0.45", linestyle=":", linewidth=0.9)
            if i == 0 and step not in labelled and len(labelled) < 12:
                labelled.add(step)
                ax.annotate(label, (step, 1.0), xycoords=("data", "axes fraction"),
                            rotation=90, fontsize=6, color="0.3", va="top", ha="right")
        if separate:
            ax.set_ylabel(panel[0] if len(panel) == 1 else "", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8 if len(panel) <= 6 else 6, loc="best", ncol=1 + len(panel) // 7)
    axes[-1][0].set_xlabel("step")
    axes[0][0].set_title(title, fontsize=10)
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return Path(path)


def save_curves(records: list[dict[str, Any]], folder: Path,
                groups: list[CurveGroup] | None = None,
                marks: list[tuple[int, str]] | None = None) -> list[tuple[str, Path]]:
    """Write ``folder/<group>.png`` for each group with data (``groups``: the run's
    :func:`curve_groups`), the changes of a steered run (``marks``, see :func:`event_marks`)
    as dotted lines; return ``(title, path)`` pairs."""
    out = []
    groups = groups or curve_groups()
    for g in groups:
        path = _plot(folder / f"{g.name}.png", g.title, records, list(g.keys), marks=marks)
        if path is not None:
            out.append((g.title, path))
    evaluated, trained = split_metric_keys(records, groups)
    for name, title, found in (("metrics", "Evaluations", evaluated),
                               ("training_terms", "Other training numbers", trained)):
        path = _plot(folder / f"{name}.png", title, records, found, separate=True,
                     marks=marks) if found else None
        if path is not None:
            out.append((title, path))
    return out

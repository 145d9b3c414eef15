"""``report.html``: one self-contained, offline page per run.

Every image is embedded as a base64 data URI, so the file can be mailed or opened from
anywhere; there is no external script, font or style sheet. The page shows the final summary,
the snapshots (a slider over them and a strip of all of them), the training curves and the
resolved config. It works for image runs (sample grids) and 2-D runs (scatter plots) alike:
snapshots are whatever ``samples/step-*.png`` holds.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from ganlab.atomic import write_text
from ganlab.report.artefacts import find_artefacts
from ganlab.report.curves import CurveGroup, curve_groups
from ganlab.report.plots import (
    event_marks,
    panels_of,
    per_class_base,
    per_class_label,
    save_curves,
    split_metric_keys,
)
from ganlab.runs import (
    CONFIG,
    METRICS,
    PLOTS,
    REPORT,
    RUN_INFO,
    SAMPLES,
    SUMMARY,
    read_events,
)

MAX_SNAPSHOTS = 40  # more are thinned evenly (first and last always kept)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0 auto;max-width:980px;
padding:1.2em;color:#1d1d1f;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:1.6em}
.muted{color:#666;font-size:.9em}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.25em .8em;border-bottom:1px solid #eee;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
#viewer{text-align:center}#viewer img{max-width:100%;width:min(512px,100%);
image-rendering:pixelated;border:1px solid #ddd}
#slider{width:min(512px,100%)}
.strip{display:flex;flex-wrap:wrap;gap:6px}.strip figure{margin:0;text-align:center;
font-size:.75em;color:#666;cursor:pointer}.strip img{width:96px;image-rendering:pixelated;
border:2px solid transparent}.strip img.on{border-color:#0a64d8}
.gallery{display:flex;flex-wrap:wrap;gap:6px}.gallery figure{margin:0;text-align:center;
font-size:.75em;color:#666}.gallery img{width:160px;image-rendering:pixelated}
h3{font-size:1em;margin:1.2em 0 .3em}
.curves img{max-width:100%;display:block;margin:.5em 0}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}
"""

_JS = """
(function(){
  var strip=document.querySelectorAll('.strip img');
  var main=document.getElementById('snap');
  var slider=document.getElementById('slider');
  var label=document.getElementById('snaplabel');
  if(!main||!slider||strip.length===0){return;}
  function show(i){
    i=Math.max(0,Math.min(strip.length-1,i));
    main.src=strip[i].src;
    label.textContent=strip[i].getAttribute('data-label');
    slider.value=String(i);
    for(var k=0;k<strip.length;k++){strip[k].className=(k===i)?'on':'';}
  }
  slider.addEventListener('input',function(){show(parseInt(slider.value,10));});
  for(var k=0;k<strip.length;k++){
    (function(j){strip[j].addEventListener('click',function(){show(j);});})(k);
  }
  show(strip.length-1);
})();
"""


def data_uri(path: Path) -> str:
    """A ``data:image/png;base64,...`` URI of a PNG file."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _thin(found: list[tuple[int, Path]]) -> list[tuple[int, Path]]:
    if len(found) > MAX_SNAPSHOTS:
        idx = sorted({round(i * (len(found) - 1) / (MAX_SNAPSHOTS - 1))
                      for i in range(MAX_SNAPSHOTS)})
        found = [found[i] for i in idx]
    return found


def snapshot_series(run_dir: Path) -> dict[str, list[tuple[int, Path]]]:
    """Every artefact series under ``samples/`` (see :mod:`ganlab.report.artefacts`):
    ``{name: [(step, path), ...]}``, each thinned to :data:`MAX_SNAPSHOTS`."""
    return {name: _thin(found) for name, found in find_artefacts(run_dir / SAMPLES).items()}


def snapshot_files(run_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the main image series (``samples/step-*.png``), by step."""
    return [(step, p) for step, p in snapshot_series(run_dir).get("", [])
            if p.suffix == ".png"]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a crash
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _summary_table(summary: dict[str, Any], class_names: list[str] | None = None) -> str:
    """The final numbers; per-class ones (``cond_accuracy_3``) named by their class."""
    if not summary:
        return "<p class='muted'>No summary.json yet (the run has not finished).</p>"
    keys = set(summary)
    rows = "".join(f"<tr><th>{html.escape(per_class_label(str(k), keys, class_names))}</th>"
                   f"<td class='num'>{_fmt(v)}</td></tr>"
                   for k, v in summary.items() if not isinstance(v, dict | list))
    return f"<table>{rows}</table>"


def _evaluations_html(records: list[dict[str, Any]],
                      groups: list[CurveGroup] | None = None) -> str:
    """One row per logged evaluation (``eval.every``): step and every metric it gave.

    Evaluations are the records with ``eval_seconds``; their columns leave out the training
    numbers logged on every step (losses, ``d_match``, ``g_ms``, ...) and per-class values
    (``cond_accuracy_3``), which the curves show, and stand in the curves' panels (keys that
    share a panel side by side). Logs written before evaluations were marked fall back to
    every non-loss number."""
    evaluated, _ = split_metric_keys(records, groups)
    overall = [k for k in evaluated if per_class_base(k, evaluated) is None]
    keys = [k for panel in panels_of(overall) for k in panel]
    per_class = len(overall) < len(evaluated)
    rows = [r for r in records if any(k in r for k in keys)]
    if not rows:
        return ("<p class='muted'>No evaluation during training (set eval.every to measure "
                "every N steps); the final values are in the summary above.</p>")
    timed = any("eval_seconds" in r for r in rows)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ["step", *keys]) + (
        "<th>seconds</th>" if timed else "")
    body = "".join(
        "<tr>" + "".join(f"<td class='num'>{_fmt(r.get(k, ''))}</td>" for k in ["step", *keys])
        + (f"<td class='num'>{_fmt(r.get('eval_seconds', ''))}</td>" if timed else "")
        + "</tr>" for r in rows)
    names = sorted({str(r["extractor"]) for r in rows if "extractor" in r})
    note = (f"<p class='muted'>Image metrics in {html.escape(', '.join(names))} features.</p>"
            if names else "")
    if per_class:
        note += ("<p class='muted'>Per-class values (<code>_0</code>, <code>_1</code>, ...) are "
                 "drawn with their metric in the curves below and kept in "
                 "<code>metrics.jsonl</code>.</p>")
    return f"{note}<div style='overflow-x:auto'><table id='evaluations'><tr>{head}</tr>" \
           f"{body}</table></div>"


def _snapshots_html(snaps: list[tuple[int, Path]]) -> str:
    if not snaps:
        return "<p class='muted'>No snapshots (train.snapshot_every was 0).</p>"
    figures = "".join(
        f"<figure><img src='{data_uri(p)}' alt='step {step}' data-label='step {step}'>"
        f"<figcaption>{step}</figcaption></figure>" for step, p in snaps)
    last_step, last = snaps[-1]
    return (f"<div id='viewer'><img id='snap' src='{data_uri(last)}' alt='latest snapshot'>"
            f"<br><input id='slider' type='range' min='0' max='{len(snaps) - 1}' "
            f"value='{len(snaps) - 1}' aria-label='snapshot'>"
            f"<div id='snaplabel'>step {last_step}</div></div>"
            f"<p class='muted'>Drag the slider or click a thumbnail; every snapshot uses the "
            f"same fixed latent batch (or, in 2-D, the same seeds).</p>"
            f"<div class='strip'>{figures}</div>")


def _other_series_html(series: dict[str, list[tuple[int, Path]]]) -> str:
    """Named image series as a strip of thumbnails; text series as their latest text, with
    the earlier steps folded away."""
    parts = []
    for name, snaps in series.items():
        if not name or not snaps:
            continue
        title = f"<h3>{html.escape(name)}</h3>"
        if snaps[-1][1].suffix == ".txt":
            texts = [(step, p.read_text(encoding="utf-8", errors="replace")) for step, p in snaps]
            last_step, last = texts[-1]
            earlier = "".join(f"<p class='muted'>step {step}</p><pre>{html.escape(t)}</pre>"
                              for step, t in reversed(texts[:-1]))
            parts.append(f"{title}<p class='muted'>step {last_step}</p>"
                         f"<pre class='text-artefact'>{html.escape(last)}</pre>"
                         + (f"<details><summary>earlier steps</summary>{earlier}</details>"
                            if earlier else ""))
        else:
            figures = "".join(
                f"<figure><img src='{data_uri(p)}' alt='{html.escape(name)} step {step}'>"
                f"<figcaption>{step}</figcaption></figure>" for step, p in snaps)
            parts.append(f"{title}<div class='gallery'>{figures}</div>")
    return "".join(parts)


def _curves_html(curves: list[tuple[str, Path]]) -> str:
    if not curves:
        return "<p class='muted'>No metrics logged yet.</p>"
    return "<div class='curves'>" + "".join(
        f"<img src='{data_uri(p)}' alt='{html.escape(title)}'>" for title, p in curves) + "</div>"


def _class_names(info: dict[str, Any]) -> list[str] | None:
    data = info.get("data")
    names = data.get("class_names") if isinstance(data, dict) else None
    return [str(n) for n in names] if isinstance(names, list) else None


def _events_html(events: list[dict[str, Any]]) -> str:
    """The changes made to a steered run (the dotted lines of the curves), as a list."""
    if not events:
        return ""
    items = []
    for e in events:
        what = str(e.get("what", "?"))
        if what == "set":
            text = f"{e.get('key')}: {json.dumps(e.get('old'))} &rarr; {json.dumps(e.get('new'))}"
            text = html.escape(text).replace("&amp;rarr;", "&rarr;")
        elif what in ("fork", "forked", "snapshot"):
            text = html.escape(f"{what} {e.get('new', '')}")
        elif what == "step":
            text = html.escape(f"one {e.get('new')} step")
        elif what == "draw":
            points = (e.get("new") or {}).get("points") or []
            text = html.escape(f"drawn data: {len(points)} points")
        else:
            text = html.escape(what)
        items.append(f"<li>step {int(e.get('step', 0))}: {text}</li>")
    return ("<h2>Steering events</h2><p class='muted'>Changes made while the run trained "
            "(events.jsonl; replayed by <code>ganlab resume</code>).</p><ol>"
            + "".join(items) + "</ol>")


def render(run_dir: Path) -> str:
    """The report page of ``run_dir`` as a string (writes the curve PNGs into ``plots/``)."""
    run_dir = Path(run_dir)
    summary = _read_json(run_dir / SUMMARY)
    info = _read_json(run_dir / RUN_INFO)
    records = _read_records(run_dir / METRICS)
    config_text = ((run_dir / CONFIG).read_text()
                   if (run_dir / CONFIG).is_file() else f"(no {CONFIG})")
    groups = curve_groups(info)
    events = read_events(run_dir)
    curves = save_curves(records, run_dir / PLOTS, groups, marks=event_marks(events))
    series = snapshot_series(run_dir)
    snaps = [(step, p) for step, p in series.get("", []) if p.suffix == ".png"]
    name = summary.get("name") or run_dir.name
    facts = []
    if info:
        fact = (f"family {html.escape(str(info.get('family', 'gan')))}, data "
                f"{html.escape(str(info.get('kind', '?')))} of shape "
                f"{html.escape(str(tuple(info.get('sample_shape', ()))))}")
        if "objective" in info:
            fact += f", objective {html.escape(str(info['objective']))}"
        facts.append(fact)
    if "steps" in summary:
        facts.append(f"{summary['steps']} steps in {float(summary.get('wall_time', 0)):.0f} s")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(str(name))} - ganlab report</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(str(name))}</h1>
<p class="muted">{' &middot; '.join([html.escape(str(run_dir)), *facts])}</p>
<h2>Final summary</h2>{_summary_table(summary, _class_names(info))}
<h2>Evaluations during training</h2>{_evaluations_html(records, groups)}
<h2>Snapshots</h2>{_snapshots_html(snaps) if snaps or not series else ""}
{_other_series_html(series)}
<h2>Training curves</h2>{_curves_html(curves)}
{_events_html(events)}
<h2>Config</h2><pre>{html.escape(config_text)}</pre>
<script>{_JS}</script>
</body></html>
"""


def write_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` atomically and return its path."""
    run_dir = Path(run_dir)
    text = render(run_dir)
    return write_text(run_dir / REPORT, text)

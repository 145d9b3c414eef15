"""Run folders: ``runs/<name>-<timestamp>/`` with the resolved config and everything a run makes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ganlab import config as config_mod
from ganlab.atomic import write_text
from ganlab.config import Config
from ganlab.errors import GanlabError

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
RUN_INFO = "run_info.json"     # the data's DataSpec and the family's facts; see write_run_info


def new_run(cfg: Config, out_dir: str | Path | None = None) -> Path:
    """Create a fresh run folder and write its ``config.yaml``."""
    root = Path(out_dir or cfg.out_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = root / f"{cfg.name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{cfg.name}-{stamp}-{n}"
    path.mkdir(parents=True)
    (path / CONFIG).write_text(config_mod.dump(cfg))
    return path


def open_run(run_dir: str | Path, overrides: list[str] | None = None) -> tuple[Config, Path]:
    """Read the config of an existing run folder, with optional overrides.

    Nothing is written: call :func:`save_config` once the checkpoint has loaded with the new
    config, so a rejected override never leaves the folder unreadable."""
    path = Path(run_dir)
    file = path / CONFIG
    if not file.is_file():
        raise GanlabError(f"{path}: not a ganlab run folder (no {CONFIG}); "
                          "give the folder that `ganlab train` printed")
    data = config_mod.file_data(file)
    for item in overrides or []:
        data = config_mod.apply_override(data, item)
    cfg = config_mod.from_dict(data)
    return cfg, path


def save_config(cfg: Config, run_dir: Path) -> None:
    """Write the run's resolved config atomically."""
    write_text(run_dir / CONFIG, config_mod.dump(cfg), durable=True)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl`` (a torn last line from a crash is skipped)."""
    file = run_dir / METRICS
    if not file.is_file():
        return []
    out = []
    for line in file.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Drop records after ``last_step`` (written by a run that crashed after its checkpoint)."""
    records = [r for r in read_metrics(run_dir) if r.get("step", 0) <= last_step]
    text = "".join(json.dumps(r) + "\n" for r in records)
    (run_dir / METRICS).write_text(text)


def write_run_info(run_dir: Path, family: Any) -> None:
    """``run_info.json``: the family, its data's :class:`~ganlab.data.DataSpec` (so the run can
    be rebuilt and sampled without its training data) and the family's own facts."""
    info = {"family": family.name, "data": family.spec.to_json(),
            # flat copies that the report and older readers show
            "kind": family.spec.kind, "sample_shape": list(family.spec.sample_shape),
            **family.run_info()}
    write_text(run_dir / RUN_INFO, json.dumps(info) + "\n")


def read_run_info(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    """(DataSpec, all facts) of a run folder; runs made before DataSpec existed are read from
    their ``kind`` and ``sample_shape``."""
    from ganlab.data import DataSpec

    file = run_dir / RUN_INFO
    if not file.is_file():
        raise GanlabError(f"{run_dir}: no {RUN_INFO}; the run has not started training yet")
    try:
        info = json.loads(file.read_text())
        data = info.get("data") or {"kind": info["kind"], "sample_shape": info["sample_shape"]}
        return DataSpec.from_json(data), info
    except (ValueError, KeyError, TypeError) as exc:
        raise GanlabError(f"{file}: unreadable ({exc}); delete it and run `ganlab resume "
                          f"{run_dir}` to write it again") from exc

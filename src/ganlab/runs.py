"""Run folders: ``runs/<name>-<timestamp>/`` with the resolved config and everything a run makes.

This module is the one home of the layout (every file and folder name below) and of reading
a run folder's files; every other module goes through it. It is a leaf: it imports no
training, metric or report code. Rebuilding a run's model from its folder is
:func:`ganlab.api.load_run`.

    RUN/config.yaml        the resolved config (CONFIG)
    RUN/run_info.json      the data's DataSpec and the family's facts (RUN_INFO)
    RUN/metrics.jsonl      one JSON record per logged step (METRICS)
    RUN/summary.json       the final evaluation, written when the run completes (SUMMARY)
    RUN/checkpoints/       step-NNNNNNN/ folders (CHECKPOINTS; see ganlab.engine.checkpoint)
    RUN/samples/           snapshots: grids, scatters, texts (SAMPLES)
    RUN/report.html        the offline report (REPORT)
    RUN/plots/             the report's curve images (PLOTS)
    RUN/tensorboard/       event files when train.tensorboard is on (TENSORBOARD)
    RUN/events.jsonl       the changes made to a run while it trained (EVENTS; one JSON
                           record per change: step, what, old -> new), replayed on resume
    RUN/train.log          what a run trained in the background printed (TRAIN_LOG; a fork
                           started from the live page)

A run folder is trained or resumed by one process at a time: :func:`lock_run` holds an
exclusive lock on ``RUN/.lock`` (and writes the holder's pid to ``RUN/.lock.pid``) for as long
as ``ganlab train`` or ``ganlab resume`` works on it; a second process is refused with a line
naming the holder. The kernel releases the lock when its process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ganlab import config as config_mod
from ganlab.atomic import fsync_dir, write_text
from ganlab.config import Config
from ganlab.errors import GanlabError

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
RUN_INFO = "run_info.json"     # the data's DataSpec and the family's facts; see write_run_info
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
REPORT = "report.html"
PLOTS = "plots"
TENSORBOARD = "tensorboard"
EVENTS = "events.jsonl"
TRAIN_LOG = "train.log"
LOCK = ".lock"
LOCK_PID = ".lock.pid"
MAX_NEW_RUN_TRIES = 1000


def new_run(cfg: Config, out_dir: str | Path | None = None) -> Path:
    """Create a fresh run folder ``OUT/<name>-<timestamp>[-N]`` and write its ``config.yaml``.

    The name must be a plain folder name (no path separators, not ``.`` or ``..``): a run
    never lands outside ``OUT``. Creation is race-free: the folder is made with an exclusive
    ``mkdir`` and, when another process made that name first, the next suffix is tried."""
    config_mod.check_run_name(cfg.name, "name")
    root = Path(out_dir or cfg.out_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanlabError(f"--out {root}: cannot create the folder for runs "
                          f"({exc.strerror or exc}); choose another with --out") from exc
    for n in range(1, MAX_NEW_RUN_TRIES + 1):
        path = root / (f"{cfg.name}-{stamp}" if n == 1 else f"{cfg.name}-{stamp}-{n}")
        if path.resolve().parent != root.resolve():   # belt and braces: never outside OUT
            raise GanlabError(f"name: {cfg.name!r} would put the run outside {root}; use a "
                              "plain folder name")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise GanlabError(f"{path}: cannot create the run folder ({exc.strerror or exc}); "
                              "choose another --out or a shorter name") from exc
        break
    else:
        raise GanlabError(f"{root}: {MAX_NEW_RUN_TRIES} run folders named {cfg.name}-{stamp}"
                          " already exist; choose another name or --out")
    write_text(path / CONFIG, config_mod.dump(cfg), durable=True)
    fsync_dir(root)
    return path


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a ganlab run folder (it holds the run's ``config.yaml``)."""
    return (Path(path) / CONFIG).is_file()


def require_run_folder(path: str | Path) -> Path:
    """``path`` as a run folder, or a :class:`GanlabError` that says what to give instead."""
    path = Path(path)
    if not is_run_folder(path):
        raise GanlabError(f"{path}: not a ganlab run folder (no {CONFIG}); "
                          "give the folder that `ganlab train` printed")
    return path


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """``summary.json`` of a completed run, or None while the run is not complete."""
    file = Path(run_dir) / SUMMARY
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise GanlabError(f"{file}: unreadable ({exc})") from exc
    return data if isinstance(data, dict) else None


def _lock_holder(run_dir: Path) -> str:
    try:
        pid = int((run_dir / LOCK_PID).read_text(encoding="utf-8").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return "another process"
    return f"another process (pid {pid})"


@contextlib.contextmanager
def lock_run(run_dir: str | Path, enabled: bool | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of run folder ``run_dir`` while the block runs.

    A second holder, in this or another process, gets a :class:`GanlabError` naming the pid
    of the first. The lock is released when the block ends, also on an exception. ``enabled``
    defaults to "this is the main process" (``RANK`` unset or 0): under torchrun only rank 0
    locks the folder it writes."""
    path = Path(run_dir)
    if enabled is None:
        enabled = os.environ.get("RANK", "0").strip() in ("", "0")
    if not enabled:
        yield path
        return
    require_run_folder(path)
    lock = FileLock(str(path / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise GanlabError(f"{path}: {_lock_holder(path)} is training or resuming this run "
                          "folder; wait for it to end (or stop it) and try again") from None
    except OSError as exc:
        raise GanlabError(f"{path / LOCK}: cannot lock the run folder ({exc.strerror or exc}); "
                          "is it on a read-only or network file system?") from exc
    pid_file = path / LOCK_PID
    try:
        with contextlib.suppress(OSError):   # the pid only makes the refusal friendlier
            write_text(pid_file, f"{os.getpid()}\n")
        yield path
    finally:
        with contextlib.suppress(OSError, ValueError):
            if int(pid_file.read_text(encoding="utf-8").strip()) == os.getpid():
                pid_file.unlink()
        lock.release()


def open_run(run_dir: str | Path, overrides: list[str] | None = None) -> tuple[Config, Path]:
    """Read the config of an existing run folder, with optional overrides.

    Nothing is written: call :func:`save_config` once the checkpoint has loaded with the new
    config, so a rejected override never leaves the folder unreadable."""
    path = require_run_folder(run_dir)
    data = config_mod.file_data(path / CONFIG)
    for item in overrides or []:
        data = config_mod.apply_override(data, item)
    cfg = config_mod.from_dict(data)
    config_mod.check_override_sections(cfg, overrides)
    return cfg, path


def save_config(cfg: Config, run_dir: Path) -> None:
    """Write the run's resolved config atomically."""
    write_text(run_dir / CONFIG, config_mod.dump(cfg), durable=True)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All records of ``metrics.jsonl``. A line that is not a JSON object (a torn last line from
    a crash, bytes that are not UTF-8) is skipped."""
    file = run_dir / METRICS
    if not file.is_file():
        return []
    out = []
    for line in file.read_bytes().splitlines():
        try:
            record = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def truncate_metrics(run_dir: Path, last_step: int) -> None:
    """Drop records after ``last_step`` (written by a run that crashed after its checkpoint)."""
    records = [r for r in read_metrics(run_dir) if r.get("step", 0) <= last_step]
    text = "".join(json.dumps(r) + "\n" for r in records)
    (run_dir / METRICS).write_text(text)


def write_run_info(run_dir: Path, family: str, spec: dict[str, Any],
                   facts: dict[str, Any]) -> None:
    """``run_info.json``: the family's name, its data's description (``DataSpec.to_json()``,
    so the run can be rebuilt and sampled without its training data) and the family's own
    facts."""
    info = {"family": family, "data": spec,
            # flat copies that the report and older readers show
            "kind": spec["kind"], "sample_shape": list(spec["sample_shape"]), **facts}
    write_text(run_dir / RUN_INFO, json.dumps(info) + "\n")


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """Every fact of ``run_info.json``; ``data`` holds the data's description (read with
    ``DataSpec.from_json``), also for runs made before it existed (from their ``kind`` and
    ``sample_shape``)."""
    file = run_dir / RUN_INFO
    if not file.is_file():
        raise GanlabError(f"{run_dir}: no {RUN_INFO}; the run has not started training yet")
    try:
        info = json.loads(file.read_text())
        if not isinstance(info, dict):   # checked before it is read as one
            raise GanlabError(f"{file}: not a JSON object; delete it and run `ganlab resume "
                              f"{run_dir}` to write it again")
        info["data"] = info.get("data") or {"kind": info["kind"],
                                            "sample_shape": info["sample_shape"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise GanlabError(f"{file}: unreadable ({exc}); delete it and run `ganlab resume "
                          f"{run_dir}` to write it again") from exc
    return info


def read_events(run_dir: Path) -> list[dict[str, Any]]:
    """Every record of ``events.jsonl`` in the order written (a torn last line from a crash
    is skipped); [] when the run was never steered."""
    file = Path(run_dir) / EVENTS
    if not file.is_file():
        return []
    out = []
    for line in file.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            out.append(record)
    return out


def append_event(run_dir: Path, record: dict[str, Any]) -> None:
    """Append one record to ``events.jsonl`` as one whole line, flushed to disk before this
    returns (a crash leaves at most a torn last line, which :func:`read_events` skips)."""
    line = json.dumps(record) + "\n"
    with open(Path(run_dir) / EVENTS, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def write_events(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``events.jsonl`` with ``records`` atomically."""
    write_text(Path(run_dir) / EVENTS, "".join(json.dumps(r) + "\n" for r in records),
               durable=True)

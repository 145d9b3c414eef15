"""Checkpoints: weights in safetensors, the rest (optimisers, RNG, step) in a small .pt file.

A checkpoint is a folder ``checkpoints/step-0000100/`` holding ``weights.safetensors`` and
``state.pt``. It is written into a temporary folder ``checkpoints/.tmp-*``; both files and that
folder are fsynced, the folder is renamed into place and ``checkpoints/`` is fsynced, and only
then is ``checkpoints/latest`` (a one-line text file) replaced atomically and durably. So a
crash or a power cut at any moment leaves the previous checkpoint intact; what an interrupted
save leaves behind (``.tmp-*`` folders, ``.latest.*.tmp`` files) is removed by the next save or
resume (:func:`remove_debris`).

A checkpoint is *complete* when both files are present and their headers read back (the
safetensors header and its length, the zip directory of ``state.pt``). Only complete
checkpoints count toward ``train.keep_checkpoints``, so pruning never deletes the last good
one. :func:`latest` skips a newest checkpoint that is not complete and :func:`load_latest`
also one whose contents fail to load, each with a one-line warning on stderr naming it.
``state.pt`` holds only tensors and plain containers and is read with ``weights_only=True``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ganlab.atomic import fsync_dir, write_text
from ganlab.errors import GanlabError

WEIGHTS = "weights.safetensors"
STATE = "state.pt"
LATEST = "latest"
TMP_PREFIX = ".tmp-"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_MAX_HEADER = 100 * 1024 * 1024   # safetensors' own limit on the JSON header
_warned: set[str] = set()         # bad checkpoints already named on stderr by this process


class CorruptCheckpoint(GanlabError):
    """A checkpoint file that cannot be read (as opposed to one that does not fit the model);
    ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def module_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Flat ``{"G.net.0.weight": tensor}`` of every parameter and buffer."""
    out: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            out[f"{name}.{key}"] = value.detach().contiguous().cpu()
    return out


# ---------------------------------------------------------------------------------------------
# Finding checkpoints


def step_of(path: Path) -> int:
    """The step of a checkpoint folder ``step-NNNNNNN`` (-1 for any other name)."""
    m = _STEP_DIR.match(path.name)
    return int(m.group(1)) if m else -1


def _step_dirs(ckpt_root: Path) -> list[Path]:
    """Every ``step-*`` folder, oldest step first."""
    if not ckpt_root.is_dir():
        return []
    return sorted((p for p in ckpt_root.iterdir() if step_of(p) >= 0 and p.is_dir()),
                  key=step_of)


def _weights_problem(file: Path) -> str | None:
    """Why a safetensors file is unreadable (header, and length against the header), or None."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"{WEIGHTS} is truncated ({size} bytes)"
            n = int.from_bytes(head, "little")
            if not 2 <= n <= _MAX_HEADER or 8 + n > size:
                return f"{WEIGHTS} has a corrupt or truncated header"
            header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            return f"{WEIGHTS} has a corrupt header"
        end = 0
        for key, entry in header.items():
            if key == "__metadata__":
                continue
            end = max(end, int(entry["data_offsets"][1]))
    except FileNotFoundError:
        return f"no {WEIGHTS}"
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        return f"{WEIGHTS} is unreadable ({type(exc).__name__})"
    if 8 + n + end != size:
        return f"{WEIGHTS} holds {size} bytes but its header says {8 + n + end} (truncated)"
    return None


def _state_problem(file: Path) -> str | None:
    """Why ``state.pt`` is unreadable (its zip directory), or None."""
    try:
        with zipfile.ZipFile(file) as zf:
            if not any(name.endswith("data.pkl") for name in zf.namelist()):
                return f"{STATE} is not a torch checkpoint file"
    except FileNotFoundError:
        return f"no {STATE}"
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return f"{STATE} is corrupt or truncated"
    return None


def problem(path: Path) -> str | None:
    """None when checkpoint folder ``path`` is complete (both files present, their headers
    readable); else what is wrong with it, in a few words."""
    if not path.is_dir():
        return "no such folder"
    return _weights_problem(path / WEIGHTS) or _state_problem(path / STATE)


def folders(ckpt_root: Path) -> list[Path]:
    """Every checkpoint folder of ``ckpt_root`` (complete or not), oldest step first."""
    return _step_dirs(ckpt_root)


def _candidates(ckpt_root: Path) -> list[Path]:
    """Checkpoint folders to try, best first: the one ``latest`` names, then the others,
    newest step first."""
    folders = _step_dirs(ckpt_root)[::-1]
    pointer = ckpt_root / LATEST
    try:
        named = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
    except (OSError, UnicodeDecodeError):
        named = ""
    first = [p for p in folders if p.name == named]
    return first + [p for p in folders if p.name != named]


def _warn(bad: list[tuple[Path, str]], chosen: Path | None) -> None:
    """One line on stderr per bad checkpoint (once per process), naming what is used instead."""
    for path, why in bad:
        if str(path) in _warned:
            continue
        _warned.add(str(path))
        instead = f"falling back to {chosen.name}" if chosen is not None else \
            "no other checkpoint to fall back to"
        print(f"ganlab: warning: checkpoint {path} is unusable ({why}); {instead}",
              file=sys.stderr, flush=True)


def latest(ckpt_root: Path) -> Path | None:
    """The newest complete checkpoint folder (the one ``latest`` names when it is complete),
    or None when there is no checkpoint at all.

    A bad checkpoint passed over is named on stderr. When every checkpoint folder is bad, the
    newest is returned anyway, so that loading it fails with an error that names the file
    (rather than a run silently starting over)."""
    candidates = _candidates(ckpt_root)
    bad: list[tuple[Path, str]] = []
    for path in candidates:
        why = problem(path)
        if why is None:
            _warn(bad, path)
            return path
        bad.append((path, why))
    return candidates[0] if candidates else None


def load_latest(ckpt_root: Path, modules: dict[str, nn.Module]
                ) -> tuple[Path, dict[str, Any], list[str]] | None:
    """Load the newest checkpoint that reads back whole: its ``state.pt`` (returned) and its
    weights into ``modules``. Returns ``(path, state, loaded module names)``, or None when the
    run has no checkpoint.

    A checkpoint whose files are missing or do not read is skipped with a one-line warning
    naming it, and the next older one is tried; when none reads, the newest one's error is
    raised. Weights that do not fit the model (a changed config) are an error at once."""
    candidates = _candidates(ckpt_root)
    if not candidates:
        return None
    bad: list[tuple[Path, str]] = []
    first_error: CorruptCheckpoint | None = None
    for path in candidates:
        why = problem(path)
        if why is None:
            try:
                state = load_state(path)
                loaded = load_weights(path, modules)
            except CorruptCheckpoint as exc:
                first_error = first_error or exc
                bad.append((path, exc.reason))
                continue
            _warn(bad, path)
            return path, state, loaded
        bad.append((path, why))
        if first_error is None:
            first_error = _load_error(path, why)
    _warn(bad, None)
    assert first_error is not None
    raise first_error


def _load_error(path: Path, why: str) -> CorruptCheckpoint:
    """The error that reading ``path`` gives (naming the file), for a checkpoint whose header
    check failed with ``why``."""
    if (path / WEIGHTS).is_file():
        try:
            load_file(str(path / WEIGHTS))
        except Exception as exc:  # safetensors raises several types
            return CorruptCheckpoint(f"{path / WEIGHTS}: cannot read checkpoint weights ({why}: "
                                     f"{exc}); delete this checkpoint folder to fall back to an "
                                     "older one", why)
    if (path / STATE).is_file():
        try:
            load_state(path)
        except CorruptCheckpoint as exc:
            return exc
    return CorruptCheckpoint(f"{path}: checkpoint is unusable ({why}); delete this folder to "
                             "fall back to an older checkpoint, or start the run again", why)


# ---------------------------------------------------------------------------------------------
# Writing


def remove_debris(ckpt_root: Path) -> list[str]:
    """Remove what an interrupted save left in ``ckpt_root``: ``.tmp-*`` folders and
    ``.latest.*.tmp`` files. Call it only while holding the run folder's lock (a save in
    progress writes exactly these). Returns the names removed."""
    removed: list[str] = []
    if not ckpt_root.is_dir():
        return removed
    for p in ckpt_root.iterdir():
        name = p.name
        if name.startswith(TMP_PREFIX):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(name)
        elif name.startswith(f".{LATEST}.") and name.endswith(".tmp") and not p.is_dir():
            p.unlink(missing_ok=True)
            removed.append(name)
    return removed


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path


def _write_error(ckpt_root: Path, step: int, exc: BaseException) -> GanlabError:
    """One line for a failed save: which folder, which disk, what is still there."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
        (str(exc).splitlines() or [type(exc).__name__])[0]
    try:
        usage = shutil.disk_usage(ckpt_root)
        disk = (f"the disk at {_mount_point(ckpt_root)} has {usage.free / 2**20:.0f} MiB "
                "free")
    except OSError:
        disk = "the disk could not be queried"
    good = [p for p in _step_dirs(ckpt_root) if problem(p) is None]
    kept = (f"the previous checkpoint {good[-1].name} is intact" if good else
            "no earlier checkpoint exists")
    return GanlabError(
        f"cannot write checkpoint step-{step:07d} into {ckpt_root} ({reason}; {disk}); "
        f"{kept}; free some space (or fix the folder's permissions), then `ganlab resume "
        f"{ckpt_root.parent}`")


def save(ckpt_root: Path, step: int, modules: dict[str, nn.Module],
         state: dict[str, Any], keep: int = 2) -> Path:
    """Write checkpoint ``step`` atomically and durably; keep the newest ``keep`` complete
    checkpoints. A write that fails (a full disk) raises a :class:`GanlabError` naming the
    folder and the disk, and leaves the previous checkpoint and ``latest`` as they were."""
    final = ckpt_root / f"step-{step:07d}"
    tmp: Path | None = None
    old: Path | None = None
    try:
        fresh = not ckpt_root.is_dir()
        ckpt_root.mkdir(parents=True, exist_ok=True)
        if fresh:
            fsync_dir(ckpt_root.parent)
        remove_debris(ckpt_root)
        tmp = Path(tempfile.mkdtemp(dir=ckpt_root, prefix=TMP_PREFIX))
        save_file(module_tensors(modules), str(tmp / WEIGHTS), metadata={"step": str(step)})
        torch.save(state, tmp / STATE)
        for name in (WEIGHTS, STATE):
            _fsync(tmp / name)
        fsync_dir(tmp)
        if final.exists():   # the same step saved again: move the old one aside first
            old = Path(tempfile.mkdtemp(dir=ckpt_root, prefix=f"{TMP_PREFIX}old-"))
            os.replace(final, old / final.name)
        os.replace(tmp, final)
        tmp = None
        fsync_dir(ckpt_root)
        write_text(ckpt_root / LATEST, final.name + "\n", durable=True)
    except Exception as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not final.exists():   # put the old one back
            os.replace(old / final.name, final)
        if isinstance(exc, OSError):   # the disk: say which, and that the old one is intact
            raise _write_error(ckpt_root, step, exc) from exc
        raise
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    _prune(ckpt_root, final, keep)
    return final


def _prune(ckpt_root: Path, final: Path, keep: int) -> None:
    """Delete complete checkpoints older than the newest ``keep`` (counting ``final``), and
    incomplete ones older than ``final``; later ones (another timeline) are left alone."""
    if keep <= 0:
        return
    older = [p for p in _step_dirs(ckpt_root) if step_of(p) < step_of(final)]
    complete = [p for p in older if problem(p) is None]
    keep_set = set(complete[len(complete) - (keep - 1):]) if keep > 1 else set()
    for p in older:
        if p not in keep_set:
            shutil.rmtree(p, ignore_errors=True)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


# ---------------------------------------------------------------------------------------------
# Reading


def load_weights(path: Path, modules: dict[str, nn.Module]) -> list[str]:
    """Load ``weights.safetensors`` from checkpoint folder ``path`` into ``modules`` (read on
    the CPU, copied onto whatever device each module is on).

    Returns the names of the modules it loaded (a module the checkpoint lacks is left as is,
    e.g. an EMA copy switched on at resume). An unreadable file raises
    :class:`CorruptCheckpoint`; weights that do not fit a module a plain :class:`GanlabError`."""
    file = path / WEIGHTS
    try:
        tensors = load_file(str(file))
    except Exception as exc:  # safetensors raises several types for corrupt files
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise CorruptCheckpoint(f"{file}: cannot read checkpoint weights ({reason}); delete "
                                "this checkpoint folder to fall back to an older one",
                                f"{WEIGHTS}: {reason}") from exc
    loaded = []
    for name, module in modules.items():
        prefix = f"{name}."
        sub = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not sub:
            continue
        own = module.state_dict()
        for key, value in sub.items():
            if key in own and own[key].shape != value.shape:
                raise GanlabError(
                    f"{file}: {name}.{key} has shape {tuple(value.shape)} in the checkpoint "
                    f"but {tuple(own[key].shape)} in the model; was the config changed since "
                    "this run was made (a network width or depth, the latent size, "
                    "data.resolution ...)?")
        missing, unexpected = module.load_state_dict(sub, strict=False)
        if missing or unexpected:
            raise GanlabError(f"{file}: weights do not match module {name!r} "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]}); "
                              "was the config changed since this run was made?")
        loaded.append(name)
    return loaded


def _load_reason(exc: BaseException) -> str:
    """torch.load's error in a few words, without its advice to turn ``weights_only`` off."""
    if isinstance(exc, EOFError):
        return "the file is empty or truncated"
    if isinstance(exc, FileNotFoundError):
        return "the file is missing"
    lines = [ln.strip() for ln in str(exc).splitlines()]
    skip = ("weights only load failed", "please file an issue", "check the documentation",
            "re-running")
    detail = "; ".join(ln.replace("WeightsUnpickler error:", "").strip() for ln in lines
                       if ln and not ln.lower().startswith(skip)
                       and ln.strip() != "WeightsUnpickler error:")
    detail = detail[:200] or type(exc).__name__
    if "global" in detail.lower():
        return (f"it holds objects other than tensors and plain containers, which ganlab never "
                f"writes, so it was not made by ganlab or was altered: {detail}")
    return f"the file is corrupt: {detail}"


def load_state(path: Path) -> dict[str, Any]:
    """Read ``state.pt`` of checkpoint folder ``path`` (``weights_only=True``). An unreadable
    file raises :class:`CorruptCheckpoint` with one line (never torch's advice to load it
    with ``weights_only=False``)."""
    file = path / STATE
    try:
        state = torch.load(file, weights_only=True, map_location="cpu")
    except Exception as exc:
        reason = _load_reason(exc)
        raise CorruptCheckpoint(f"{file}: cannot read checkpoint state ({reason}); delete this "
                                "checkpoint folder to fall back to an older one",
                                f"{STATE}: {reason}") from None
    if not isinstance(state, dict) or "step" not in state:
        raise CorruptCheckpoint(f"{file}: not a ganlab checkpoint state (a mapping with a "
                                "'step'); delete this checkpoint folder to fall back to an "
                                "older one", f"{STATE}: not a ganlab checkpoint state")
    return state

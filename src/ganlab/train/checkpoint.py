"""Checkpoints: weights in safetensors, the rest (optimisers, RNG, step) in a small .pt file.

A checkpoint is a folder ``checkpoints/step-0000100/`` holding ``weights.safetensors`` and
``state.pt``. It is written into a temporary folder and renamed into place, and
``checkpoints/latest`` (a one-line text file) is replaced atomically after that, so a crash at
any moment leaves the previous checkpoint intact. ``state.pt`` holds only tensors and plain
containers and is read with ``weights_only=True``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ganlab.atomic import write_text
from ganlab.errors import GanlabError

WEIGHTS = "weights.safetensors"
STATE = "state.pt"


def module_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """Flat ``{"G.net.0.weight": tensor}`` of every parameter and buffer."""
    out: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            out[f"{name}.{key}"] = value.detach().contiguous().cpu()
    return out


def save(ckpt_root: Path, step: int, modules: dict[str, nn.Module],
         state: dict[str, Any], keep: int = 2) -> Path:
    """Write checkpoint ``step`` atomically; keep the newest ``keep`` checkpoints."""
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step-{step:07d}"
    tmp = Path(tempfile.mkdtemp(dir=ckpt_root, prefix=".tmp-"))
    try:
        save_file(module_tensors(modules), str(tmp / WEIGHTS), metadata={"step": str(step)})
        torch.save(state, tmp / STATE)
        for name in (WEIGHTS, STATE):
            _fsync(tmp / name)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_text(ckpt_root / "latest", final.name + "\n", durable=True)
    old = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir())
    for p in old[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest(ckpt_root: Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    pointer = ckpt_root / "latest"
    if pointer.is_file():
        path = ckpt_root / pointer.read_text().strip()
        if (path / WEIGHTS).is_file() and (path / STATE).is_file():
            return path
    done = sorted(p for p in ckpt_root.glob("step-*")
                  if (p / WEIGHTS).is_file() and (p / STATE).is_file())
    return done[-1] if done else None


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def load_weights(path: Path, modules: dict[str, nn.Module]) -> list[str]:
    """Load ``weights.safetensors`` from checkpoint folder ``path`` into ``modules`` (read on
    the CPU, copied onto whatever device each module is on).

    Returns the names of the modules it loaded (a module the checkpoint lacks is left as is,
    e.g. an EMA copy switched on at resume)."""
    file = path / WEIGHTS
    try:
        tensors = load_file(str(file))
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise GanlabError(f"{file}: cannot read checkpoint weights ({exc}); "
                          "delete this checkpoint folder to fall back to an older one") from exc
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


def load_state(path: Path) -> dict[str, Any]:
    """Read ``state.pt`` of checkpoint folder ``path`` (``weights_only=True``)."""
    file = path / STATE
    try:
        return torch.load(file, weights_only=True, map_location="cpu")
    except Exception as exc:
        raise GanlabError(f"{file}: cannot read checkpoint state ({exc})") from exc

"""Sampling a trained run: the generator (its EMA copy when there is one) from the latest
checkpoint, rebuilt from the run's ``config.yaml`` and ``run_info.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.nn import build_models
from ganlab.report.grid import to_uint8
from ganlab.train import checkpoint as ckpt
from ganlab.train.rundir import open_run

CHUNK = 256


@dataclass
class SampledGenerator:
    """A generator ready to sample: ``sample(n, seed)`` gives uint8 (N, C, H, W) images."""

    G: nn.Module
    sample_shape: tuple[int, ...]
    checkpoint: Path
    uses_ema: bool

    @property
    def z_dim(self) -> int:
        return int(self.G.z_dim)

    def latents(self, n: int, seed: int) -> Tensor:
        """``n`` latents drawn from ``seed`` exactly as training draws them."""
        return self.G.sample_latent(n, torch.Generator().manual_seed(seed))

    @torch.no_grad()
    def decode(self, z: Tensor) -> Tensor:
        """Latents -> uint8 images (eval mode, in chunks of :data:`CHUNK`)."""
        if len(self.sample_shape) != 3:
            raise GanlabError(f"{self.checkpoint}: this run makes samples of shape "
                              f"{self.sample_shape}, not images")
        out = [to_uint8(self.G(z[i:i + CHUNK]).float()) for i in range(0, len(z), CHUNK)]
        return torch.cat(out) if out else torch.empty(0, *self.sample_shape, dtype=torch.uint8)

    def sample(self, n: int, seed: int = 0) -> Tensor:
        """``n`` images from latents drawn with ``seed``: uint8 (N, C, H, W)."""
        if n < 1:
            raise GanlabError(f"number of samples must be >= 1, got {n}")
        return self.decode(self.latents(n, seed))


def _weight_prefixes(path: Path) -> set[str]:
    with safe_open(str(path / ckpt.WEIGHTS), framework="pt") as fh:
        return {k.split(".", 1)[0] for k in fh.keys()}  # noqa: SIM118 (not a dict)


def load_generator(run_dir: str | Path) -> SampledGenerator:
    """The generator of ``run_dir`` at its latest checkpoint (``G_ema`` when present)."""
    cfg, run_dir = open_run(run_dir)
    info_file = run_dir / "run_info.json"
    if not info_file.is_file():
        raise GanlabError(f"{run_dir}: no run_info.json; the run has not written a snapshot "
                          "or checkpoint yet")
    info = json.loads(info_file.read_text())
    shape = tuple(int(s) for s in info["sample_shape"])
    path = ckpt.latest(run_dir / "checkpoints")
    if path is None:
        raise GanlabError(f"{run_dir}: no checkpoint yet; train longer or wait for the first "
                          f"one (every {cfg.train.checkpoint_every} steps)")
    g, _ = build_models(cfg.model, shape)
    try:
        prefixes = _weight_prefixes(path)
    except Exception as exc:  # safetensors raises several types for corrupt files
        raise GanlabError(f"{path / ckpt.WEIGHTS}: cannot read ({exc})") from exc
    name = "G_ema" if "G_ema" in prefixes else "G"
    if name not in prefixes:
        raise GanlabError(f"{path}: the checkpoint holds no generator weights")
    ckpt.load_weights(path, {name: g})
    g.eval()
    return SampledGenerator(g, shape, path, uses_ema=name == "G_ema")


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` (T,).

    Returns (N, T, D). Falls back to linear interpolation for (nearly) parallel vectors.
    """
    an = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    bn = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    omega = torch.acos((an * bn).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]
    t = t[None, :, None]
    so = torch.sin(omega)
    lin = (1 - t) * a[:, None] + t * b[:, None]
    sph = (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / so
    return torch.where(so.abs() < 1e-4, lin, sph)


def interpolate(gen: SampledGenerator, rows: int, steps: int, seed: int = 0,
                spherical: bool = True) -> Tensor:
    """``rows`` interpolations of ``steps`` images each between random latent pairs:
    uint8 (rows * steps, C, H, W), row-major."""
    if rows < 1 or steps < 2:
        raise GanlabError(f"interpolation needs rows >= 1 and steps >= 2, got {rows}, {steps}")
    z = gen.latents(2 * rows, seed)
    a, b = z[:rows], z[rows:]
    t = torch.linspace(0, 1, steps)
    path = slerp(a, b, t) if spherical else (1 - t)[None, :, None] * a[:, None] + \
        t[None, :, None] * b[:, None]
    return gen.decode(path.reshape(rows * steps, -1))

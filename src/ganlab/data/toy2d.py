"""Low-dimensional data: Gaussian mixtures (ring, grid, any mixture), spiral, swiss roll.

The ring and grid follow the PacGAN/VEEGAN protocol exactly:

* ring: 8 modes at ``(cos 2 pi k / 8, sin 2 pi k / 8)``, ``k = 0..7``, std 0.01;
* grid: 25 modes at ``{-4, -2, 0, 2, 4}^2``, std 0.05.

(``linspace(0, 2 pi, 8)``, used by some public demos, puts modes 0 and 7 on top of each other.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ganlab.data.batch import Batch, DataSpec
from ganlab.data.registry import DatasetInfo, register_dataset
from ganlab.errors import GanlabError


@dataclass(frozen=True)
class Mixture:
    """A mixture of isotropic Gaussians in the plane."""

    means: Tensor     # (K, 2)
    std: float
    weights: Tensor   # (K,), sums to 1

    @property
    def n_modes(self) -> int:
        return int(self.means.shape[0])

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        idx = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, 2, generator=generator)
        return self.means[idx] + self.std * noise


def ring(std: float = 0.01, n_modes: int = 8, radius: float = 1.0) -> Mixture:
    """``n_modes`` Gaussians evenly spaced on a circle (the PacGAN 2-D ring)."""
    angles = 2 * math.pi * torch.arange(n_modes, dtype=torch.float64) / n_modes
    means = radius * torch.stack([angles.cos(), angles.sin()], 1)
    return Mixture(means.float(), std, torch.full((n_modes,), 1.0 / n_modes))


def grid(std: float = 0.05, side: int = 5, spacing: float = 2.0) -> Mixture:
    """``side x side`` Gaussians on a square lattice centred at 0 (the PacGAN 2-D grid)."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    means = torch.stack([xs.flatten(), ys.flatten()], 1)
    return Mixture(means, std, torch.full((side * side,), 1.0 / (side * side)))


def mixture(means: list[list[float]], std: float, weights: list[float] | None = None) -> Mixture:
    """Any isotropic mixture given by its means, a shared std and optional weights."""
    m = torch.tensor(means, dtype=torch.float32)
    if m.dim() != 2 or m.shape[1] != 2 or m.shape[0] == 0:
        raise GanlabError(f"data.means: expected a non-empty list of [x, y] pairs, got {means!r}")
    if weights is None:
        w = torch.full((m.shape[0],), 1.0 / m.shape[0])
    else:
        w = torch.tensor(weights, dtype=torch.float32)
        if w.shape != (m.shape[0],) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise GanlabError(f"data.weights: expected {m.shape[0]} non-negative numbers "
                              f"with a positive sum, got {weights!r}")
        w = w / w.sum()
    return Mixture(m, std, w)


def spiral(n: int, noise: float, generator: torch.Generator | None = None) -> Tensor:
    """Two interleaved arms of an Archimedean spiral, scaled to about [-1, 1]^2."""
    t = torch.sqrt(torch.rand(n, generator=generator)) * 3 * math.pi
    arm = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
    pts = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) * arm[:, None] / (3 * math.pi)
    return pts + noise * torch.randn(n, 2, generator=generator)


def swissroll(n: int, noise: float, generator: torch.Generator | None = None) -> Tensor:
    """The 2-D swiss roll (the x-z plane of scikit-learn's), scaled to about [-1, 1]^2."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
    pts = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / 15.0
    return pts + noise * torch.randn(n, 2, generator=generator)


class PointSource:
    """A 2-D data source; draws fresh samples from the distribution every batch."""

    kind = "points"

    def __init__(self, name: str, mix: Mixture | None, noise: float = 0.0) -> None:
        self.name = name
        self.mixture = mix
        self.noise = noise

    def spec(self) -> DataSpec:
        return DataSpec("points", (2,), extra={"bounds": list(self.bounds())})

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        if self.mixture is not None:
            return Batch(x=self.mixture.sample(n, generator))
        fn = spiral if self.name == "spiral" else swissroll
        return Batch(x=fn(n, self.noise, generator))

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def bounds(self) -> tuple[float, float, float, float]:
        """A square (xmin, xmax, ymin, ymax) that frames the data with a margin."""
        if self.mixture is not None:
            m = self.mixture.means
            lo = float(m.min()) - 0.5 - 3 * self.mixture.std
            hi = float(m.max()) + 0.5 + 3 * self.mixture.std
        else:
            lo, hi = -1.4, 1.4
        return lo, hi, lo, hi


def _ring(cfg: Any) -> PointSource:
    return PointSource("ring", ring(std=cfg.std or 0.01))


def _grid(cfg: Any) -> PointSource:
    return PointSource("grid", grid(std=cfg.std or 0.05))


def _mixture(cfg: Any) -> PointSource:
    if cfg.means is None:
        raise GanlabError("data.means: required for data.name=mixture (a list of [x, y] pairs)")
    return PointSource("mixture", mixture(cfg.means, cfg.std or 0.05, cfg.weights))


def _spiral(cfg: Any) -> PointSource:
    return PointSource("spiral", None, cfg.noise)


def _swissroll(cfg: Any) -> PointSource:
    return PointSource("swissroll", None, cfg.noise)


for _info in (
    DatasetInfo("ring", _ring, "points",
                "8 Gaussians on the unit circle, std 0.01 (data.std), the PacGAN ring"),
    DatasetInfo("grid", _grid, "points",
                "25 Gaussians on {-4,-2,0,2,4}^2, std 0.05 (data.std), the PacGAN grid"),
    DatasetInfo("mixture", _mixture, "points",
                "any Gaussian mixture: data.means, data.std, optional data.weights"),
    DatasetInfo("spiral", _spiral, "points",
                "two arms of an Archimedean spiral in about [-1, 1]^2, data.noise"),
    DatasetInfo("swissroll", _swissroll, "points",
                "the 2-D swiss roll in about [-1, 1]^2, data.noise"),
):
    register_dataset(_info)

"""Multi-layer perceptrons for low-dimensional data."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganlab.nn import register_arch
from ganlab.nn.layers import gaussian_latent, maybe_sn


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units with ReLU (G) or LeakyReLU(0.2) (D)."""

    def __init__(self, d_in: int, d_out: int, width: int, depth: int,
                 leaky: bool = False, spectral_norm: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(depth):
            layers += [maybe_sn(nn.Linear(d, width), spectral_norm),
                       nn.LeakyReLU(0.2) if leaky else nn.ReLU()]
            d = width
        layers.append(maybe_sn(nn.Linear(d, d_out), spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class MLPGenerator(MLP):
    """Maps ``z ~ N(0, I)`` of size ``z_dim`` to a point."""

    def __init__(self, z_dim: int, d_out: int, width: int, depth: int) -> None:
        super().__init__(z_dim, d_out, width, depth)
        self.z_dim = z_dim

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_latent(n, self.z_dim, generator)


class MLPDiscriminator(MLP):
    """Maps a point to one logit (or critic score)."""

    def __init__(self, d_in: int, width: int, depth: int, spectral_norm: bool) -> None:
        super().__init__(d_in, 1, width, depth, leaky=True, spectral_norm=spectral_norm)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x).squeeze(-1)


def _build(cfg: Any, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    d = int(torch.Size(shape).numel())
    g = MLPGenerator(cfg.z_dim, d, cfg.g_width or cfg.width, cfg.depth)
    dis = MLPDiscriminator(d, cfg.d_width or cfg.width, cfg.depth, cfg.spectral_norm)
    return g, dis


register_arch("mlp", _build)

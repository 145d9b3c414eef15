"""The U-Net generator of pix2pix (Isola et al., 2017): an encoder-decoder with a skip
connection from every encoder level to the decoder level of the same size.

Encoder: ``depth`` 4x4 stride-2 convolutions (widths ``width``, ``2 width``, ... capped at
``8 width``), LeakyReLU(0.2), normalisation on all but the first and the innermost (a 1x1 map
at full depth). Decoder: 4x4 stride-2 transposed convolutions with ReLU, each taking the
previous level concatenated with its encoder twin, normalisation, and dropout on the
``dropout_layers`` innermost decoder levels (3 in the paper, p=0.5): dropout is the model's
only noise. A last transposed convolution and tanh give images in [-1, 1].

Depth from the resolution: the input is padded (replicated borders) to the next multiple of
``2**depth`` and the output cropped back, so any size works; by default ``depth`` goes down to
a 1x1 bottleneck, at most 8 levels (pix2pix's U-Net-256). 28-pixel images are padded to 32 and
get 5 levels; 32: 5; 64: 6; 128: 7.

``dropout_at_sampling`` keeps the dropout on in eval mode, as the paper does at test time;
off, eval mode is deterministic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.errors import GanlabError

NORMS = ("instance", "batch", "none")
MAX_DEPTH = 8


def auto_depth(resolution: int, max_depth: int = MAX_DEPTH) -> int:
    """Levels down to a 1x1 bottleneck for a ``resolution``-pixel image (after padding to a
    power of two), at most ``max_depth``."""
    if resolution < 2:
        raise GanlabError(f"U-Net: images must be at least 2 pixels a side, got {resolution}")
    return max(1, min(max_depth, math.ceil(math.log2(resolution))))


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class SamplingDropout(nn.Dropout):
    """Dropout that stays on in eval mode when ``at_sampling`` is true."""

    def __init__(self, p: float, at_sampling: bool) -> None:
        super().__init__(p)
        self.at_sampling = at_sampling

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training or self.at_sampling)


class UNet(nn.Module):
    """``G(x) -> y``: images (N, in_channels, H, W) -> (N, out_channels, H, W) in [-1, 1]."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, width: int = 64,
                 depth: int | None = None, norm: str = "instance", dropout: float = 0.5,
                 dropout_layers: int = 3, dropout_at_sampling: bool = True) -> None:
        super().__init__()
        if norm not in NORMS:
            raise GanlabError(f"U-Net norm: must be one of {', '.join(NORMS)}, got {norm!r}")
        if not 0.0 <= dropout < 1.0:
            raise GanlabError(f"U-Net dropout: must be in [0, 1), got {dropout}")
        depth = auto_depth(resolution) if depth is None else depth
        if depth < 1:
            raise GanlabError(f"U-Net depth: must be >= 1, got {depth}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.depth = resolution, depth
        self.multiple = 2 ** depth
        widths = [width * min(2 ** i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        c_in = in_channels
        for i, c in enumerate(widths):
            innermost = i == depth - 1
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.LeakyReLU(0.2))
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=norm != "batch" or innermost))
            if 0 < i < depth - 1:
                layers.append(_norm(norm, c))
            self.down.append(nn.Sequential(*layers))
            c_in = c
        self.up = nn.ModuleList()
        for i in reversed(range(1, depth)):
            # level i's output (or the bottleneck) joined with encoder level i, up to level i-1
            c_from = widths[i] if i == depth - 1 else 2 * widths[i]
            level = depth - 1 - i   # 0 = the innermost decoder level
            layers = [nn.ReLU(), nn.ConvTranspose2d(c_from, widths[i - 1], 4, 2, 1,
                                                    bias=norm != "batch"),
                      _norm(norm, widths[i - 1])]
            if dropout > 0 and level < dropout_layers:
                layers.append(SamplingDropout(dropout, dropout_at_sampling))
            self.up.append(nn.Sequential(*layers))
        c_last = widths[0] if depth == 1 else 2 * widths[0]
        self.out = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(c_last, out_channels, 4, 2, 1),
                                 nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="replicate")
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()   # the bottleneck is x itself
        for layer in self.up:
            x = torch.cat([layer(x), skips.pop()], 1)
        y = self.out(x)
        if ph or pw:
            y = y[..., ph // 2:ph // 2 + h, pw // 2:pw // 2 + w]
        return y

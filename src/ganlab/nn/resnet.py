"""The SNGAN ResNet generator and discriminator (Miyato et al., 2018, CIFAR-10 models).

32 px is the published layout: G is a linear map of ``z`` to a 4x4 map of ``g_width`` channels
and three up-sampling residual blocks (BN-ReLU-up-conv3x3-BN-ReLU-conv3x3, with a 1x1 conv on
the up-sampled shortcut), then BN-ReLU-conv3x3-tanh; D is an "optimized" first block and one
more block that each halve the resolution (32 -> 8), two blocks that keep it, ReLU, a sum over
space and a linear layer. Spectral norm (``model.spectral_norm``) wraps every D layer.

Other sizes use the same blocks with a different base, not resizing: 28 px starts G at 7x7
with two up-blocks (7 -> 28) and halves twice in D (28 -> 7); 64 px starts G at 4x4 with four
up-blocks and halves three times in D (64 -> 8).

Class-conditional (``num_classes`` set): G concatenates a learned ``z_dim``-sized class
embedding to ``z`` before its linear layer; D is a projection discriminator (Miyato & Koyama,
2018): ``linear(h) + <embed(y), h>`` with ``h`` the features summed over space, the embedding
spectral-normalised with the rest of D.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.nn import register_arch
from ganlab.nn.dcgan import image_shape, n_doublings
from ganlab.nn.layers import check_condition, class_embedding, gaussian_latent, maybe_sn, projection


class GBlock(nn.Module):
    """Residual up-sampling block of the generator (nearest-neighbour 2x)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DBlock(nn.Module):
    """Residual block of the discriminator; ``first`` is SNGAN's "optimized" input block."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool, sn: bool) -> None:
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = maybe_sn(nn.Conv2d(c_in, c_out, 3, 1, 1), sn)
        self.conv2 = maybe_sn(nn.Conv2d(c_out, c_out, 3, 1, 1), sn)
        self.learn_sc = c_in != c_out or down
        self.shortcut = maybe_sn(nn.Conv2d(c_in, c_out, 1), sn) if self.learn_sc else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        sc = x
        if self.shortcut is not None:
            if self.first:  # pool, then 1x1 conv (as published)
                sc = self.shortcut(F.avg_pool2d(x, 2) if self.down else x)
            else:
                sc = self.shortcut(x)
                sc = F.avg_pool2d(sc, 2) if self.down else sc
        return h + sc


class ResNetGenerator(nn.Module):
    """``z`` (N, z_dim) -> images (N, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 256,
                 num_classes: int | None = None) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes
        embed_dim = z_dim if num_classes is not None else 0
        self.base, k = n_doublings(resolution)
        self.width = width
        self.linear = nn.Linear(z_dim + embed_dim, self.base * self.base * width)
        self.blocks = nn.Sequential(*[GBlock(width, width) for _ in range(k)])
        self.out = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(),
                                 nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        self.embed = class_embedding(num_classes, embed_dim) if num_classes is not None else None

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_latent(n, self.z_dim, generator)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_condition(self, y, z.shape[0])
        if y is not None:
            assert self.embed is not None
            z = torch.cat([z, self.embed(y.long()).to(z.dtype)], dim=1)
        h = self.linear(z).view(-1, self.width, self.base, self.base)
        return self.out(self.blocks(h))


class ResNetDiscriminator(nn.Module):
    """images (N, C, H, W) -> one score per image, shape (N,)."""

    def __init__(self, channels: int, resolution: int, width: int = 128,
                 spectral_norm: bool = True, num_classes: int | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        base, k = n_doublings(resolution)
        n_down = max(1, k - 1) if base == 4 else k
        blocks: list[nn.Module] = [DBlock(channels, width, True, True, spectral_norm)]
        blocks += [DBlock(width, width, True, False, spectral_norm) for _ in range(n_down - 1)]
        blocks += [DBlock(width, width, False, False, spectral_norm) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = maybe_sn(nn.Linear(width, 1), spectral_norm)
        self.embed: nn.Module | None = None
        if num_classes is not None:   # projection, initialised as in the SNGAN code
            embed = nn.Embedding(num_classes, width)
            nn.init.xavier_uniform_(embed.weight)
            self.embed = maybe_sn(embed, spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        check_condition(self, y, x.shape[0])
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        if y is None:
            return self.linear(h).flatten()
        assert self.embed is not None
        return self.linear(h).flatten() + projection(self.embed(y.long()), h)


def _build(cfg: Any, shape: tuple[int, ...],
           num_classes: int | None = None) -> tuple[nn.Module, nn.Module]:
    c, res = image_shape(shape, "resnet")
    g = ResNetGenerator(cfg.z_dim, c, res, cfg.g_width or cfg.width, num_classes)
    d = ResNetDiscriminator(c, res, cfg.d_width or cfg.width, cfg.spectral_norm, num_classes)
    return g, d


register_arch("resnet", _build)

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
spectral-normalised with the rest of D. A :class:`~ganlab.nn.Conditioning` changes that:
``g="cbn"`` makes every BatchNorm of G conditional (per-class gain and bias, as in Miyato &
Koyama's generator) and leaves ``z`` alone; ``d="concat"`` feeds D a learned class embedding as
extra constant input channels instead of the projection; ``aux_classifier`` adds a linear
class head on ``h``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.nn import Conditioning, register_arch
from ganlab.nn.dcgan import image_shape, n_doublings
from ganlab.nn.layers import (
    ConditionalBatchNorm2d,
    auxiliary_head,
    check_condition,
    class_embedding,
    class_maps,
    concat_channels,
    embed_condition,
    gaussian_latent,
    maybe_sn,
    projection,
    run_conditioned,
)


def _bn(c: int, num_classes: int | None) -> nn.Module:
    """BatchNorm2d, or a conditional one with ``num_classes``."""
    return nn.BatchNorm2d(c) if num_classes is None else ConditionalBatchNorm2d(c, num_classes)


def _norm(bn: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    return bn(x) if y is None else bn(x, y)


class GBlock(nn.Module):
    """Residual up-sampling block of the generator (nearest-neighbour 2x); with
    ``cbn_classes`` its BatchNorms are conditional and it is called as ``block(x, y)``."""

    def __init__(self, c_in: int, c_out: int, cbn_classes: int | None = None) -> None:
        super().__init__()
        self.bn1 = _bn(c_in, cbn_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = _bn(c_out, cbn_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = F.interpolate(F.relu(_norm(self.bn1, x, y)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(_norm(self.bn2, self.conv1(h), y)))
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
                 num_classes: int | None = None, cbn: bool = False) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes
        if cbn and num_classes is None:
            raise GanlabError("g_conditioning=cbn: conditional BatchNorm needs a conditional "
                              "generator")
        self.cbn = cbn
        cbn_classes = num_classes if cbn else None
        embed_dim = z_dim if num_classes is not None and not cbn else 0
        self.base, k = n_doublings(resolution)
        self.width = width
        self.linear = nn.Linear(z_dim + embed_dim, self.base * self.base * width)
        self.blocks = nn.Sequential(*[GBlock(width, width, cbn_classes) for _ in range(k)])
        self.out = nn.Sequential(_bn(width, cbn_classes), nn.ReLU(),
                                 nn.Conv2d(width, channels, 3, 1, 1), nn.Tanh())
        self.embed = (class_embedding(num_classes, embed_dim)
                      if embed_dim and num_classes is not None else None)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_latent(n, self.z_dim, generator)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_condition(self, y, z.shape[0])
        if y is not None and not self.cbn:
            assert self.embed is not None
            z = torch.cat([z, embed_condition(self.embed, y).to(z.dtype)], dim=1)
        h = self.linear(z).view(-1, self.width, self.base, self.base)
        if self.cbn:
            for block in self.blocks:
                h = block(h, y)
            return run_conditioned(self.out, h, y)
        return self.out(self.blocks(h))


class ResNetDiscriminator(nn.Module):
    """images (N, C, H, W) -> one score per image, shape (N,)."""

    def __init__(self, channels: int, resolution: int, width: int = 128,
                 spectral_norm: bool = True, num_classes: int | None = None,
                 conditioning: str = "projection", aux_classifier: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.concat = num_classes is not None and conditioning == "concat"
        extra = concat_channels(num_classes) if self.concat and num_classes else 0
        base, k = n_doublings(resolution)
        n_down = max(1, k - 1) if base == 4 else k
        blocks: list[nn.Module] = [DBlock(channels + extra, width, True, True, spectral_norm)]
        blocks += [DBlock(width, width, True, False, spectral_norm) for _ in range(n_down - 1)]
        blocks += [DBlock(width, width, False, False, spectral_norm) for _ in range(2)]
        self.blocks = nn.Sequential(*blocks)
        self.linear = maybe_sn(nn.Linear(width, 1), spectral_norm)
        self.embed: nn.Module | None = None
        if self.concat:
            assert num_classes is not None
            self.embed = class_embedding(num_classes, extra, spectral_norm)
        elif num_classes is not None:   # projection, initialised as in the SNGAN code
            embed = nn.Embedding(num_classes, width)
            nn.init.xavier_uniform_(embed.weight)
            self.embed = maybe_sn(embed, spectral_norm)
        self.classifier = auxiliary_head(aux_classifier, num_classes,
                                         lambda k: nn.Linear(width, k), spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None,
                with_classes: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The score (N,); with ``with_classes`` (an auxiliary classifier's D) also the class
        logits (N, K)."""
        check_condition(self, y, x.shape[0])
        if y is not None and self.concat:
            assert self.embed is not None
            x = torch.cat([x, class_maps(self.embed, y, x)], dim=1)
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))
        if y is None:
            return self.linear(h).flatten()
        assert self.embed is not None
        out = self.linear(h).flatten()
        if not self.concat:
            out = out + projection(embed_condition(self.embed, y), h)
        if not with_classes:
            return out
        if self.classifier is None:
            raise GanlabError("this discriminator has no auxiliary classifier")
        return out, self.classifier(h)


def _build(cfg: Any, shape: tuple[int, ...], num_classes: int | None = None,
           conditioning: Conditioning | None = None) -> tuple[nn.Module, nn.Module]:
    c, res = image_shape(shape, "resnet")
    cond = conditioning or Conditioning()
    g = ResNetGenerator(cfg.z_dim, c, res, cfg.g_width or cfg.width, num_classes,
                        cbn=cond.g == "cbn")
    d = ResNetDiscriminator(c, res, cfg.d_width or cfg.width, cfg.spectral_norm, num_classes,
                            cond.d, cond.aux_classifier)
    return g, d


register_arch("resnet", _build)

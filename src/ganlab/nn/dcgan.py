"""DCGAN generator and discriminator (Radford et al., 2016) for square images of 28, 32, 64 px.

The generator maps ``z`` (``z_dim``, as a 1x1 map) to a ``base x base`` map with a transposed
convolution (``base`` = 7 for 28 px, 4 for 32 and 64 px), then doubles the resolution with
4x4 stride-2 transposed convolutions, halving the channels down to ``width``; BatchNorm and ReLU
follow every layer but the last, which ends in tanh. The discriminator mirrors it with 4x4
stride-2 convolutions and LeakyReLU(0.2), BatchNorm after every layer but the first (turned off
by ``model.batch_norm_d: false`` or by spectral norm, which replaces it), and a final
``base x base`` convolution to one logit. ``model.minibatch_std: G`` appends ProGAN's
minibatch standard deviation (over groups of G samples) as one more channel before that final
convolution.

For 28 px and ``width`` 64 the channels are G: z -> 128 (7x7) -> 64 (14x14) -> C (28x28) and
D: C -> 64 (14x14) -> 128 (7x7) -> 1.

Class-conditional (``num_classes`` set): G concatenates a learned ``z_dim``-sized class
embedding to ``z``; D is a projection discriminator (Miyato & Koyama, 2018): its output is the
final convolution of the last feature map ``h`` plus ``<embed(y), sum of h over space>``, with
the embedding spectral-normalised when ``model.spectral_norm`` is on. A
:class:`~ganlab.nn.Conditioning` changes that: ``g="cbn"`` replaces every BatchNorm of G by a
:class:`~ganlab.nn.layers.ConditionalBatchNorm2d` (and leaves ``z`` alone); ``d="concat"``
feeds D a learned class embedding as ``concat_channels(K)`` extra constant input channels
instead of the projection; ``aux_classifier`` adds a class head (a ``base x base``
convolution of the last feature map to K logits, beside the score's).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.nn import Conditioning, register_arch
from ganlab.nn.layers import (
    ConditionalBatchNorm2d,
    MinibatchStd,
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


def n_doublings(resolution: int) -> tuple[int, int]:
    """``(base, k)`` with ``resolution == base * 2**k`` and base 4 or 7 (28, 32, 64, ...)."""
    for base in (4, 7):
        k, r = 0, resolution
        while r > base and r % 2 == 0:
            r //= 2
            k += 1
        if r == base and k >= 1:
            return base, k
    raise GanlabError(f"data.resolution: {resolution} px is not 4 or 7 times a power of two; "
                      "use 28, 32 or 64 (set data.resolution to resize)")


class DCGANGenerator(nn.Module):
    """``z`` (N, z_dim) -> images (N, C, H, W) in [-1, 1]."""

    def __init__(self, z_dim: int, channels: int, resolution: int, width: int = 64,
                 batch_norm: bool = True, num_classes: int | None = None,
                 cbn: bool = False) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes
        if cbn and (num_classes is None or not batch_norm):
            raise GanlabError("g_conditioning=cbn: conditional BatchNorm needs a conditional "
                              "generator with BatchNorm (model.batch_norm_g=true)")
        self.cbn = cbn
        embed_dim = z_dim if num_classes is not None and not cbn else 0
        base, k = n_doublings(resolution)
        ch = width * 2 ** (k - 1)

        def norm(c: int) -> nn.Module:
            if cbn:
                assert num_classes is not None
                return ConditionalBatchNorm2d(c, num_classes)
            return nn.BatchNorm2d(c) if batch_norm else nn.Identity()

        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim + embed_dim, ch, base, 1, 0,
                                                      bias=not batch_norm),
                                   norm(ch), nn.ReLU(inplace=True)]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not batch_norm),
                       norm(ch // 2), nn.ReLU(inplace=True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.embed = (class_embedding(num_classes, embed_dim)
                      if embed_dim and num_classes is not None else None)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_latent(n, self.z_dim, generator)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_condition(self, y, z.shape[0])
        if self.cbn:
            return run_conditioned(self.net, z[:, :, None, None], y)
        if y is not None:
            assert self.embed is not None
            z = torch.cat([z, embed_condition(self.embed, y).to(z.dtype)], dim=1)
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """images (N, C, H, W) -> one logit (or critic score) per image, shape (N,)."""

    def __init__(self, channels: int, resolution: int, width: int = 64,
                 spectral_norm: bool = False, batch_norm: bool = True,
                 num_classes: int | None = None, conditioning: str = "projection",
                 aux_classifier: bool = False, minibatch_std: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.concat = num_classes is not None and conditioning == "concat"
        extra = concat_channels(num_classes) if self.concat and num_classes else 0
        base, k = n_doublings(resolution)
        use_bn = batch_norm and not spectral_norm
        ch = width
        layers: list[nn.Module] = [maybe_sn(nn.Conv2d(channels + extra, ch, 4, 2, 1),
                                            spectral_norm),
                                   nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(k - 1):
            layers += [maybe_sn(nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=not use_bn), spectral_norm),
                       nn.BatchNorm2d(ch * 2) if use_bn else nn.Identity(),
                       nn.LeakyReLU(0.2, inplace=True)]
            ch *= 2
        self.mbstd = MinibatchStd(minibatch_std) if minibatch_std else None
        layers.append(maybe_sn(nn.Conv2d(ch + (1 if self.mbstd else 0), 1, base, 1, 0),
                               spectral_norm))
        self.net = nn.Sequential(*layers)
        self.embed: nn.Module | None = None
        if self.concat:
            assert num_classes is not None
            self.embed = class_embedding(num_classes, extra, spectral_norm)
        elif num_classes is not None:  # projection: one ch-vector per class, DCGAN's N(0, 0.02)
            embed = nn.Embedding(num_classes, ch)
            nn.init.normal_(embed.weight, 0.0, 0.02)
            self.embed = maybe_sn(embed, spectral_norm)
        self.classifier = auxiliary_head(aux_classifier, num_classes,
                                         lambda k: nn.Conv2d(ch, k, base, 1, 0), spectral_norm)

    def forward(self, x: Tensor, y: Tensor | None = None,
                with_classes: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The score (N,); with ``with_classes`` (an auxiliary classifier's D) also the class
        logits (N, K)."""
        check_condition(self, y, x.shape[0])
        if y is None and self.mbstd is None:
            return self.net(x).flatten()
        if self.concat:
            assert self.embed is not None and y is not None
            x = torch.cat([x, class_maps(self.embed, y, x)], dim=1)
        *features, last = self.net
        h = x
        for layer in features:
            h = layer(h)
        out = last(self.mbstd(h) if self.mbstd is not None else h).flatten()
        if y is None:
            return out
        assert self.embed is not None
        if not self.concat:
            out = out + projection(embed_condition(self.embed, y), h.sum(dim=(2, 3)))
        if not with_classes:
            return out
        if self.classifier is None:
            raise GanlabError("this discriminator has no auxiliary classifier")
        return out, self.classifier(h).flatten(1)


def image_shape(shape: tuple[int, ...], arch: str) -> tuple[int, int]:
    """``(channels, resolution)`` of a square image shape, or a clear error."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise GanlabError(f"gan.model.arch={arch}: needs square images (C, H, W), got data of "
                          f"shape {tuple(shape)}; use gan.model.arch=mlp for 2-D data")
    return int(shape[0]), int(shape[1])


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            w = getattr(m, "parametrizations", None)
            weight = w.weight.original if w is not None else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:  # (a conditional BN has its own)
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _build(cfg: Any, shape: tuple[int, ...], num_classes: int | None = None,
           conditioning: Conditioning | None = None) -> tuple[nn.Module, nn.Module]:
    c, res = image_shape(shape, "dcgan")
    cond = conditioning or Conditioning()
    g = DCGANGenerator(cfg.z_dim, c, res, cfg.g_width or cfg.width, cfg.batch_norm_g,
                       num_classes, cbn=cond.g == "cbn")
    d = DCGANDiscriminator(c, res, cfg.d_width or cfg.width, cfg.spectral_norm,
                           cfg.batch_norm_d, num_classes, cond.d, cond.aux_classifier,
                           getattr(cfg, "minibatch_std", 0))
    init_weights(g)
    init_weights(d)
    return g, d


register_arch("dcgan", _build)

"""Multi-layer perceptrons for low-dimensional data.

Class-conditional: G concatenates a learned class embedding to ``z`` (it has no BatchNorm, so
no conditional BatchNorm); D concatenates one to its input by default, or, with a
:class:`~ganlab.nn.Conditioning` of ``d="projection"``, adds ``<embed(y), h>`` (``h`` its last
hidden layer) to its score; ``aux_classifier`` adds a linear class head on ``h``.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.nn import Conditioning, register_arch
from ganlab.nn.layers import (
    auxiliary_head,
    check_condition,
    class_embedding,
    embed_condition,
    gaussian_latent,
    maybe_sn,
    projection,
)


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
    """Maps ``z ~ N(0, I)`` of size ``z_dim`` to a point.

    Class-conditional (``num_classes`` set): a learned ``z_dim``-sized class embedding is
    concatenated to ``z``.
    """

    def __init__(self, z_dim: int, d_out: int, width: int, depth: int,
                 num_classes: int | None = None) -> None:
        embed_dim = z_dim if num_classes is not None else 0
        super().__init__(z_dim + embed_dim, d_out, width, depth)
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.embed = class_embedding(num_classes, embed_dim) if num_classes is not None else None

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return gaussian_latent(n, self.z_dim, generator)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        check_condition(self, y, z.shape[0])
        if y is not None:
            assert self.embed is not None
            z = torch.cat([z, embed_condition(self.embed, y)], dim=1)
        return super().forward(z)


class MLPDiscriminator(MLP):
    """Maps a point to one logit (or critic score).

    Class-conditional (``num_classes`` set): a learned class embedding of the input's size
    (spectral-normalised with ``spectral_norm``) is concatenated to the input.
    """

    def __init__(self, d_in: int, width: int, depth: int, spectral_norm: bool,
                 num_classes: int | None = None, conditioning: str = "concat",
                 aux_classifier: bool = False) -> None:
        self.concat = num_classes is not None and conditioning == "concat"
        embed_dim = d_in if self.concat else 0
        super().__init__(d_in + embed_dim, 1, width, depth, leaky=True,
                         spectral_norm=spectral_norm)
        self.num_classes = num_classes
        self.embed: nn.Module | None = None
        if self.concat:
            assert num_classes is not None
            self.embed = class_embedding(num_classes, embed_dim, spectral_norm)
        elif num_classes is not None:   # projection on the last hidden layer
            self.embed = class_embedding(num_classes, width, spectral_norm)
        self.classifier = auxiliary_head(aux_classifier, num_classes,
                                         lambda k: nn.Linear(width, k), spectral_norm)

    @overload
    def forward(self, x: Tensor, y: Tensor | None = None,
                with_classes: Literal[False] = False) -> Tensor: ...

    @overload
    def forward(self, x: Tensor, y: Tensor | None,
                with_classes: bool) -> Tensor | tuple[Tensor, Tensor]: ...

    def forward(self, x: Tensor, y: Tensor | None = None,
                with_classes: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The score (N,); with ``with_classes`` (an auxiliary classifier's D) also the class
        logits (N, K)."""
        check_condition(self, y, x.shape[0])
        if y is None or (self.concat and not with_classes):
            if y is not None:
                assert self.embed is not None
                x = torch.cat([x.flatten(1), embed_condition(self.embed, y)], dim=1)
            return super().forward(x).squeeze(-1)
        assert self.embed is not None
        if self.concat:
            x = torch.cat([x.flatten(1), embed_condition(self.embed, y)], dim=1)
        *features, last = self.net
        h = x
        for layer in features:
            h = layer(h)
        out = last(h).squeeze(-1)
        if not self.concat:
            out = out + projection(embed_condition(self.embed, y), h)
        if not with_classes:
            return out
        if self.classifier is None:
            raise GanlabError("this discriminator has no auxiliary classifier")
        return out, self.classifier(h)


def _build(cfg: Any, shape: tuple[int, ...], num_classes: int | None = None,
           conditioning: Conditioning | None = None) -> tuple[nn.Module, nn.Module]:
    d = int(torch.Size(shape).numel())
    cond = conditioning or Conditioning(d="concat")
    if cond.g == "cbn":
        raise GanlabError("g_conditioning=cbn: the mlp generator has no BatchNorm to condition; "
                          "use g_conditioning=concat")
    g = MLPGenerator(cfg.z_dim, d, cfg.g_width or cfg.width, cfg.depth, num_classes)
    dis = MLPDiscriminator(d, cfg.d_width or cfg.width, cfg.depth, cfg.spectral_norm,
                           num_classes, cond.d, cond.aux_classifier)
    return g, dis


register_arch("mlp", _build)

"""Small building blocks shared by the architectures."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrizations

from ganlab.errors import GanlabError


def maybe_sn(layer: nn.Module, enabled: bool) -> nn.Module:
    """Wrap ``layer`` in spectral normalisation (one power iteration per call) if enabled.

    Spectral normalisation divides the weight by an estimate of its largest singular value,
    so the layer is (approximately) 1-Lipschitz (Miyato et al., 2018). The power-iteration
    vectors are buffers, so they are saved and restored with the state dict.
    """
    return parametrizations.spectral_norm(layer) if enabled else layer


class MinibatchStd(nn.Module):
    """Appends one feature map: how much the batch varies (Karras et al., 2018, ProGAN).

    The batch is split into groups of ``group`` samples (sample ``i`` in group ``i mod N/G``,
    with ``G`` the largest divisor of ``N`` not above ``group``); per group, the standard
    deviation over its members of every feature at every position, averaged to one number,
    is broadcast as an extra constant channel to each member. A generator that collapses
    makes that number small, which the discriminator can see in a single sample's score.
    """

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        if group < 2:
            raise GanlabError(f"minibatch_std: the group size must be at least 2, got {group}")
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        while n % g:
            g -= 1
        y = x.float().reshape(g, n // g, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/G,)
        maps = std.repeat(g)[:, None, None, None].expand(n, 1, h, w).to(x.dtype)
        return torch.cat([x, maps], dim=1)


def gaussian_latent(n: int, z_dim: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` standard normal latents of ``z_dim``, on ``generator``'s device (CPU without one)."""
    device = generator.device if generator is not None else None
    return torch.randn(n, z_dim, generator=generator, device=device)


def check_condition(net: nn.Module, y: Tensor | None, n: int) -> None:
    """A clear error unless ``y`` fits ``net``: None for an unconditional net (its
    ``num_classes`` is None); for a conditional one, integer class labels of shape (``n``,) or
    float condition vectors of shape (``n``, ``num_classes``) (a sentence embedding for a
    text-conditional net; a one-hot row means the same as its label, see :func:`embed_condition`).

    The range of the labels is not checked here (that would sync with the GPU every call);
    samplers and data sources check it where the labels are made.
    """
    num_classes = getattr(net, "num_classes", None)
    name = type(net).__name__
    if num_classes is None:
        if y is not None:
            raise GanlabError(f"{name} is unconditional: it takes no class labels y (build it "
                              "with num_classes, i.e. train with gan.conditional=true)")
        return
    if y is None:
        raise GanlabError(f"{name} is conditional on {num_classes} classes: pass class labels "
                          "y (int64, shape (N,)) as its second argument")
    if isinstance(y, Tensor) and y.is_floating_point() and y.dim() == 2 \
            and tuple(y.shape) == (n, num_classes):
        return
    if not isinstance(y, Tensor) or y.dim() != 1 or y.shape[0] != n \
            or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        got = f"{tuple(y.shape)} {y.dtype}" if isinstance(y, Tensor) else type(y).__name__
        raise GanlabError(f"{name}: class labels y must be an integer tensor of shape ({n},) "
                          f"(or condition vectors of shape ({n}, {num_classes})), got {got}")


def embed_condition(embed: nn.Module, y: Tensor) -> Tensor:
    """The condition's embedding: the table's row for an integer label; for a float condition
    vector (N, K) the same table as a linear map, ``y @ weight`` (an exact one-hot row picks
    the label's row), which is how a text embedding conditions the same networks."""
    if y.is_floating_point():
        weight = cast(Tensor, embed.weight)  # nn.Embedding's table (spectral-normalised or not)
        return y.to(weight.dtype) @ weight
    return embed(y.long())


def class_embedding(num_classes: int, dim: int, spectral_norm: bool = False) -> nn.Module:
    """A learned ``(num_classes, dim)`` class embedding (spectral-normalised when asked)."""
    return maybe_sn(nn.Embedding(num_classes, dim), spectral_norm)


def projection(embedded: Tensor, h: Tensor) -> Tensor:
    """The projection discriminator's class term ``<embed(y), h>`` per sample, shape (N,)."""
    return (embedded.to(h.dtype) * h).sum(dim=1)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose gain and bias are chosen by the class (de Vries et al., 2017;
    Miyato & Koyama, 2018): ``gain[y] * BN(x) + bias[y]``, with BN's own affine off.

    The per-class gains start at 1 and the biases at 0, so at initialisation the layer is a
    plain BatchNorm2d for every class. Called as ``cbn(x, y)`` with int labels ``y`` (N,).
    """

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.num_features = num_features
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(num_features, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.bn(x)
        if y.is_floating_point():   # a condition vector: gain 1 + y (G - 1), so 1 at the start
            w = y.to(self.gain.weight.dtype)
            gain = 1.0 + w @ (self.gain.weight - 1.0)
            bias = w @ self.bias.weight
        else:
            gain, bias = self.gain(y.long()), self.bias(y.long())
        return gain.to(h.dtype)[:, :, None, None] * h + bias.to(h.dtype)[:, :, None, None]


def run_conditioned(layers: nn.Sequential, h: Tensor, y: Tensor | None) -> Tensor:
    """``layers(h)``, passing ``y`` to the :class:`ConditionalBatchNorm2d` layers among them."""
    for layer in layers:
        h = layer(h, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(h)
    return h


CONCAT_CHANNELS = 16   # the most extra input channels a concatenating D gives the class


def concat_channels(num_classes: int) -> int:
    """Channels of the class embedding a concatenating image discriminator takes as extra
    input: ``min(num_classes, CONCAT_CHANNELS)``."""
    return min(num_classes, CONCAT_CHANNELS)


def class_maps(embed: nn.Module, y: Tensor, like: Tensor) -> Tensor:
    """A class embedding (N, E) broadcast to E constant channels of ``like``'s size."""
    e = embed_condition(embed, y).to(like.dtype)
    return e[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


def auxiliary_head(enabled: bool, num_classes: int | None,
                   make: Callable[[int], nn.Module], spectral_norm: bool) -> nn.Module | None:
    """AC-GAN's class head of a discriminator: ``make(num_classes)`` (spectrally normalised
    with the rest of D), or None when ``enabled`` is false."""
    if not enabled:
        return None
    if num_classes is None:
        raise GanlabError("an auxiliary classifier needs a conditional discriminator")
    return maybe_sn(make(num_classes), spectral_norm)

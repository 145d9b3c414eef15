"""Small building blocks shared by the architectures."""

from __future__ import annotations

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


def gaussian_latent(n: int, z_dim: int, generator: torch.Generator | None = None) -> Tensor:
    """``n`` standard normal latents of ``z_dim``, on ``generator``'s device (CPU without one)."""
    device = generator.device if generator is not None else None
    return torch.randn(n, z_dim, generator=generator, device=device)


def check_condition(net: nn.Module, y: Tensor | None, n: int) -> None:
    """A clear error unless ``y`` fits ``net``: None for an unconditional net (its
    ``num_classes`` is None), integer class labels of shape (``n``,) for a conditional one.

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
    if not isinstance(y, Tensor) or y.dim() != 1 or y.shape[0] != n \
            or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        got = f"{tuple(y.shape)} {y.dtype}" if isinstance(y, Tensor) else type(y).__name__
        raise GanlabError(f"{name}: class labels y must be an integer tensor of shape ({n},), "
                          f"got {got}")


def class_embedding(num_classes: int, dim: int, spectral_norm: bool = False) -> nn.Module:
    """A learned ``(num_classes, dim)`` class embedding (spectral-normalised when asked)."""
    return maybe_sn(nn.Embedding(num_classes, dim), spectral_norm)


def projection(embedded: Tensor, h: Tensor) -> Tensor:
    """The projection discriminator's class term ``<embed(y), h>`` per sample, shape (N,)."""
    return (embedded.to(h.dtype) * h).sum(dim=1)

"""Small building blocks shared by the architectures."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrizations


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

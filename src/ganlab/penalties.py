"""Regularisers of the discriminator: gradient penalty, R1, weight clipping."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def interpolation_weights(real: Tensor, generator: torch.Generator | None,
                          n: int | None = None) -> Tensor:
    """``eps ~ U[0, 1]``, one per sample, shaped to broadcast over ``real`` (``n`` rows, default
    ``len(real)``)."""
    shape = (real.shape[0] if n is None else n,) + (1,) * (real.dim() - 1)
    return torch.rand(shape, generator=generator, dtype=real.dtype, device=real.device)


def _interpolate(real: Tensor, fake: Tensor, generator: torch.Generator | None,
                 eps: Tensor | None = None) -> Tensor:
    if eps is None:
        eps = interpolation_weights(real, generator)
    return (eps * real + (1 - eps) * fake).requires_grad_(True)


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
    eps: Tensor | None = None,
) -> Tensor:
    """Two-sided WGAN-GP penalty ``E[(||grad f(x_hat)||_2 - 1)^2]`` (Gulrajani et al., 2017).

    ``x_hat = eps * real + (1 - eps) * fake`` with ``eps ~ U[0, 1]`` per sample. The caller
    multiplies by the weight (lambda = 10 in the paper). Zero for a linear critic whose weight
    has unit norm. ``real`` and ``fake`` must be detached from the generator. ``eps`` may be
    given (e.g. one process's share of a global batch's weights); else it is drawn from
    ``generator``.
    """
    x_hat = _interpolate(real.detach(), fake.detach(), generator, eps)
    out = critic(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def r1_penalty(real_out: Tensor, real: Tensor) -> Tensor:
    """R1 penalty ``E[||grad D(x)||^2]`` on real data (Mescheder et al., 2018).

    ``real`` must have ``requires_grad=True`` when ``real_out = D(real)`` was computed.
    The caller multiplies by ``gamma / 2``.
    """
    (grad,) = torch.autograd.grad(real_out.sum(), real, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def clip_weights(module: nn.Module, clip: float) -> None:
    """Clamp every parameter of ``module`` to ``[-clip, clip]`` in place (WGAN)."""
    # a block, not a decorator, so that mutation testing (which skips decorated functions)
    # reaches the body
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-clip, clip)

"""Optimisers from config (``OptimizerConfig`` by name) and gradient diagnostics."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ganlab.config import OptimizerConfig


def build_optimizers(modules: Mapping[str, nn.Module],
                     configs: Mapping[str, OptimizerConfig]) -> dict[str, torch.optim.Optimizer]:
    """One Adam per name in ``modules``, configured by ``configs[name]`` (fused on CPU/CUDA)."""
    out: dict[str, torch.optim.Optimizer] = {}
    for name, module in modules.items():
        oc = configs[name]
        params = list(module.parameters())
        device = params[0].device.type if params else "cpu"
        out[name] = torch.optim.Adam(params, lr=oc.lr, betas=(oc.betas[0], oc.betas[1]),
                                     weight_decay=oc.weight_decay,
                                     fused=device in ("cpu", "cuda"))
    return out


def grad_norm(module: nn.Module) -> float:
    """L2 norm of all gradients of ``module`` (0 when none)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))

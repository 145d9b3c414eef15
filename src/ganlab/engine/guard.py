"""The divergence guard: find non-finite weights, gradients or logged numbers after a step.

One reduction per network and one host sync per step: the norms of every parameter and
gradient are summed on the device, and only when the sum is not finite are the networks
looked at one by one to name the culprit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

REMEDIES = ("lower the learning rates (e.g. --set gan.optim.D.lr=... gan.optim.G.lr=...), "
            "add a gradient penalty or R1 (gan.objective.r1_gamma), use spectral norm, "
            "or train in fp32 (train.precision=fp32)")


def _norm_sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    if not tensors:
        return torch.zeros(())
    return torch.stack([n.float() for n in torch._foreach_norm(tensors)]).sum()


def non_finite(modules: Mapping[str, nn.Module], logs: Mapping[str, Any] | None = None
               ) -> list[str]:
    """What is not finite: ``"weights of D"``, ``"gradients of G"``, ``"logged d_loss"``...;
    empty when all is well."""
    bad = [f"logged {k}" for k, v in (logs or {}).items()
           if isinstance(v, float) and not math.isfinite(v)]
    parts: list[tuple[str, str, torch.Tensor]] = []
    for name, module in modules.items():
        params = [p.detach() for p in module.parameters()]
        grads = [p.grad.detach() for p in module.parameters() if p.grad is not None]
        parts.append(("weights", name, _norm_sum(params)))
        if grads:
            parts.append(("gradients", name, _norm_sum(grads)))
    if not parts:
        return bad
    devices = {t.device for _, _, t in parts}
    where = next(iter(devices))
    total = torch.stack([t.to(where) for _, _, t in parts]).sum()
    if bool(torch.isfinite(total)):      # the one sync of a healthy step
        return bad
    return bad + [f"{what} of {name}" for what, name, t in parts if not bool(torch.isfinite(t))]

"""Mode diagnostics for 2-D Gaussian mixtures (the PacGAN / VEEGAN protocol).

* A generated sample is *high quality* if its distance to the nearest mode centre is below
  ``3 std``.
* A mode is *captured* if it is the nearest mode of at least one high-quality sample.
* *Reverse KL* is ``KL(p_gen || p_data)`` over the histogram of nearest modes of the
  high-quality samples, with ``p_data`` the mixture weights (uniform in the protocol).
  Modes with no high-quality sample contribute 0 (``0 log 0 = 0``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class ModeDiagnostics:
    modes_captured: int
    n_modes: int
    high_quality: float      # fraction in [0, 1]
    reverse_kl: float
    n_samples: int

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def nearest_modes(samples: Tensor, means: Tensor) -> tuple[Tensor, Tensor]:
    """Index of, and distance to, the nearest mode centre of each sample."""
    dist = torch.cdist(samples.double(), means.double())
    d, idx = dist.min(dim=1)
    return idx, d


def mode_diagnostics(samples: Tensor, means: Tensor, std: float,
                     weights: Tensor | None = None, threshold: float = 3.0) -> ModeDiagnostics:
    """Modes captured, fraction of high-quality samples and reverse KL of ``samples``."""
    k = means.shape[0]
    idx, d = nearest_modes(samples, means)
    hq = d < threshold * std
    counts = torch.bincount(idx[hq], minlength=k).double()
    p_data = (weights.double() if weights is not None else torch.full((k,), 1.0 / k,
                                                                     dtype=torch.float64))
    p_data = p_data / p_data.sum()
    if counts.sum() > 0:
        p_gen = counts / counts.sum()
        nz = p_gen > 0
        rkl = float((p_gen[nz] * (p_gen[nz] / p_data[nz]).log()).sum())
    else:
        rkl = float("inf")
    return ModeDiagnostics(
        modes_captured=int((counts > 0).sum()),
        n_modes=k,
        high_quality=float(hq.double().mean()),
        reverse_kl=rkl,
        n_samples=int(samples.shape[0]),
    )

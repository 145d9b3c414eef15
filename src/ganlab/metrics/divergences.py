"""Divergence estimators between two sets of low-dimensional samples.

* :func:`binned_js` / :func:`binned_kl`: histogram both sets on a shared grid and compare the
  histograms (natural log; JS is bounded by ``log 2``, reached when the supports do not meet).
  KL adds ``eps`` to empty bins of the second set so it stays finite; it is biased by binning.
* :func:`wasserstein1`: the exact W1 (earth mover's) distance between two equal-size empirical
  sets, by optimal assignment (Hungarian algorithm, scipy). Unlike JS it keeps measuring how far
  apart the sets are when their supports are disjoint; that is the WGAN argument.
* :func:`sliced_wasserstein1`: a cheap approximation for large sets: the mean over random
  directions of the 1-D W1 of the projections (sorted differences).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def _hist(x: Tensor, edges: list[Tensor]) -> Tensor:
    x = x.double()
    ix = [torch.bucketize(x[:, j].contiguous(), e[1:-1]) for j, e in enumerate(edges)]
    bins = [len(e) - 1 for e in edges]
    flat = ix[0]
    for j in range(1, len(ix)):
        flat = flat * bins[j] + ix[j]
    counts = torch.bincount(flat, minlength=math.prod(bins)).double()
    return counts / counts.sum()


def _shared_edges(p: Tensor, q: Tensor, bins: int) -> list[Tensor]:
    both = torch.cat([p, q]).double()
    lo, hi = both.min(0).values, both.max(0).values
    pad = 1e-9 + 1e-6 * (hi - lo)
    return [torch.linspace(float(lo[j] - pad[j]), float(hi[j] + pad[j]), bins + 1)
            for j in range(both.shape[1])]


def binned_js(p: Tensor, q: Tensor, bins: int = 50) -> float:
    """Jensen-Shannon divergence (nats, in ``[0, log 2]``) between histograms of p and q."""
    edges = _shared_edges(p, q, bins)
    hp, hq = _hist(p, edges), _hist(q, edges)
    m = 0.5 * (hp + hq)

    def kl(a: Tensor, b: Tensor) -> float:
        nz = a > 0
        return float((a[nz] * (a[nz] / b[nz]).log()).sum())

    return 0.5 * kl(hp, m) + 0.5 * kl(hq, m)


def binned_kl(p: Tensor, q: Tensor, bins: int = 50, eps: float = 1e-10) -> float:
    """KL(p || q) (nats) between histograms; ``eps`` keeps empty q-bins finite."""
    edges = _shared_edges(p, q, bins)
    hp, hq = _hist(p, edges), _hist(q, edges) + eps
    hq = hq / hq.sum()
    nz = hp > 0
    return float((hp[nz] * (hp[nz] / hq[nz]).log()).sum())


def wasserstein1(p: Tensor, q: Tensor) -> float:
    """Exact W1 between two equal-size point sets (optimal matching, Euclidean cost)."""
    from scipy.optimize import linear_sum_assignment

    if p.shape != q.shape:
        raise ValueError(f"wasserstein1 needs equal-size sets, got {tuple(p.shape)} "
                         f"and {tuple(q.shape)}")
    cost = torch.cdist(p.double(), q.double()).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(np.mean(cost[rows, cols]))


def sliced_wasserstein1(p: Tensor, q: Tensor, n_directions: int = 128, seed: int = 0) -> float:
    """Sliced W1: average over random unit directions of the 1-D W1 between projections."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(p.shape[1], n_directions, generator=g, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    n = min(p.shape[0], q.shape[0])
    pp = (p[:n].double() @ dirs).sort(0).values
    qq = (q[:n].double() @ dirs).sort(0).values
    return float((pp - qq).abs().mean())

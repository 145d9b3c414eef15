"""Mismatched conditions: the negatives of a matching-aware discriminator (a real image with
the wrong class or text), drawn so that a wrong condition is never the right one. Used by the
conditional family in training and by the retrieval metric."""

from __future__ import annotations

import torch
from torch import Tensor

from ganlab.errors import GanlabError


def mismatched_rows(groups: Tensor, generator: torch.Generator) -> Tensor:
    """For each example ``i`` of a batch an index ``j`` of another example of a *different*
    group (a different base emoji for text): ``j = i + u mod n`` with ``u`` uniform in
    ``1 .. n-1``, moved on to the next index while the group is the same. Used to pair real
    images with wrong texts; a batch whose examples all share one group is an error."""
    n = groups.shape[0]
    if n < 2 or bool((groups == groups[0]).all()):
        raise GanlabError("mismatched texts need a batch with at least two different texts "
                          "(groups); raise train.batch_size")
    i = torch.arange(n, device=groups.device)
    u = torch.randint(1, n, (n,), generator=generator, device=generator.device).to(i.device)
    for _ in range(n):
        j = (i + u) % n
        same = groups[j] == groups
        if not bool(same.any()):
            return j
        u = torch.where(same, u % (n - 1) + 1, u)
    return (i + u) % n


def mismatched_labels(y: Tensor, num_classes: int, generator: torch.Generator,
                      offsets: Tensor | None = None) -> Tensor:
    """For each label of ``y`` a label drawn uniformly from the *other* classes:
    ``(y + u) mod K`` with ``u`` uniform in ``1 .. K-1`` (never ``y`` itself).

    ``offsets`` are the ``u`` when drawn elsewhere (several processes draw the global batch's
    and keep their share); otherwise they are drawn from ``generator``, one per label.
    """
    if num_classes < 2:
        raise GanlabError("mismatched labels need at least 2 classes")
    if offsets is None:
        offsets = torch.randint(1, num_classes, y.shape, generator=generator,
                                device=generator.device)
    return (y + offsets.to(y.device)) % num_classes

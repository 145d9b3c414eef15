"""The history of generated images that CycleGAN's discriminators see (Shrivastava et al.,
2017; Zhu et al., 2017, section 4).

A discriminator trained only on the generator's latest images can chase it round in circles;
one that also sees older images keeps the generator from undoing what it learned. The pool
holds up to ``size`` images. For each new image of a batch: while the pool is not full, the
image is stored and returned; once it is full, with probability 1/2 a stored image chosen
uniformly is returned and the new one takes its place, otherwise the new image is returned and
the pool is left as it was. ``size=0`` turns the pool off (every image is returned as is).

Its random choices come from its own CPU generator, and :meth:`state_dict` holds the stored
images and that generator, so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganlab.errors import GanlabError


class HistoryPool:
    """A pool of at most ``size`` images (stored detached, on the images' device)."""

    def __init__(self, size: int = 50, generator: torch.Generator | None = None) -> None:
        if size < 0:
            raise GanlabError(f"history pool size must be >= 0, got {size}")
        self.size = size
        # which stored image is swapped out: a stream of the run (saved with its checkpoints)
        self.generator = generator if generator is not None else torch.Generator()
        self.images: list[Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    def query(self, batch: Tensor) -> Tensor:
        """The images a discriminator is shown for the new ``batch`` (N, ...) (detached)."""
        batch = batch.detach()
        if self.size == 0:
            return batch
        out = []
        # a block, not a decorator, so that mutation testing (which skips decorated functions)
        # reaches the body
        with torch.no_grad():
            for image in batch:
                if len(self.images) < self.size:
                    self.images.append(image.clone())
                    out.append(image)
                elif float(torch.rand((), generator=self.generator)) < 0.5:
                    i = int(torch.randint(self.size, (), generator=self.generator))
                    out.append(self.images[i])
                    self.images[i] = image.clone()
                else:
                    out.append(image)
            return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        stored = torch.stack(self.images).cpu() if self.images else torch.empty(0)
        return {"images": stored}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        stored = state["images"]
        if len(stored) > self.size:
            raise GanlabError(f"the checkpoint's history pool holds {len(stored)} images, more "
                              f"than this run's pool size {self.size}; resume with the size "
                              "the run was made with")
        self.images = [img.to(device) for img in stored]

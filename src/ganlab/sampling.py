"""Drawing from a model: the :class:`Sampler` contract, the latent-variable sampler every
GAN-like family uses, eval-mode chunked decoding (its one home), and interpolation. Loading a
finished run is :func:`ganlab.api.load_run`.

Sampling latents are drawn on the CPU from the given seed and then moved to the network's
device, so the same seed gives the same latents on a CPU, a GPU or any number of chunks.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.pixels import to_uint8
from ganlab.text_encoder import embed_texts

CHUNK = 256
SAMPLE_KINDS = ("images", "points", "text")


class Sampler(Protocol):
    """What a family exports for ``ganlab sample``, ``eval RUN``, ``interpolate`` and the
    report. ``kind`` is ``images`` (float (N, C, H, W) in [-1, 1]), ``points`` (float (N, D))
    or ``text`` (a list of N strings); ``source`` names the network it draws from."""

    @property
    def kind(self) -> str: ...

    @property
    def source(self) -> str: ...

    def sample(self, n: int, seed: int = 0, condition: Any = None) -> Any:
        """``n`` samples from ``seed`` (and a family-defined ``condition``, e.g. a class)."""
        ...


@torch.no_grad()
def run_in_eval_mode(net: nn.Module, inputs: Tensor, fn: Callable[[Tensor], Tensor] | None = None,
                     chunk: int = CHUNK) -> Tensor:
    """``fn(chunk)`` (default ``net(chunk)``) over ``inputs`` in chunks, with ``net`` in eval
    mode (restored afterwards) and no autograd; float32 results on the CPU."""
    fn = fn or net
    was_training = net.training
    net.eval()
    try:
        out = [fn(inputs[i:i + chunk]).float().cpu() for i in range(0, len(inputs), chunk)]
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def _device_of(net: nn.Module) -> torch.device:
    p = next(iter(net.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


class LatentModel(Protocol):
    """A generator network with a latent space: ``G(z)`` (or ``G(z, y)``), ``z_dim`` and
    ``sample_latent(n, generator)``."""

    z_dim: int

    def sample_latent(self, n: int, generator: torch.Generator) -> Tensor: ...


@dataclass
class LatentSampler:
    """A generator ``G(z)`` with ``G.sample_latent(n, generator)`` and ``G.z_dim``.

    A class-conditional generator (``G.num_classes`` set) is called as ``G(z, y)``; its
    ``condition`` is a class: an int (every sample of that class) or one label per sample
    (a list or tensor of ints). Without one, the labels cycle through the classes
    ``0, 1, ..., K-1, 0, 1, ...`` (balanced, and no random draws), both in :meth:`sample`
    and in :meth:`decode`.
    """

    G: nn.Module
    kind: str
    source: str = "G"
    sample_shape: tuple[int, ...] = ()

    @property
    def model(self) -> LatentModel:
        """``G`` as what this sampler reads of it."""
        return cast(LatentModel, self.G)

    @property
    def z_dim(self) -> int:
        return int(self.model.z_dim)

    @property
    def num_classes(self) -> int | None:
        """The number of classes of a class-conditional generator; None when unconditional."""
        k = getattr(self.G, "num_classes", None)
        return None if k is None else int(k)

    def latents(self, n: int, seed: int) -> Tensor:
        """``n`` latents from ``seed`` (on the CPU, whatever the device)."""
        return self.model.sample_latent(n, torch.Generator().manual_seed(seed))

    def labels(self, n: int, condition: Any = None) -> Tensor | None:
        """int64 labels (on the CPU) for ``n`` samples under ``condition``; None for an
        unconditional generator (which refuses any condition)."""
        k = self.num_classes
        if k is None:
            if condition is not None:
                raise GanlabError(f"{self.source} is unconditional: it takes no condition")
            return None
        if condition is None:
            return torch.arange(n) % k
        if isinstance(condition, bool):
            raise GanlabError(f"condition: a class label (int), not {condition!r}")
        if isinstance(condition, numbers.Integral):
            labels = torch.full((n,), int(condition), dtype=torch.int64)
        else:
            try:
                labels = torch.as_tensor(condition).detach().cpu()
            except (TypeError, ValueError, RuntimeError) as exc:
                raise GanlabError(f"condition: a class (int) or one label per sample, got "
                                  f"{type(condition).__name__}") from exc
            if labels.is_floating_point() and labels.dim() == 2 and labels.shape[1] == k:
                if labels.shape[0] != n:   # condition vectors (text embeddings), one a sample
                    raise GanlabError(f"condition: {n} samples need {n} condition vectors, "
                                      f"got {labels.shape[0]}")
                return labels.float()
            if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
                raise GanlabError(f"condition: class labels must be integers, got {labels.dtype}")
            if labels.dim() == 0:
                labels = labels.expand(n)
            if labels.shape != (n,):
                raise GanlabError(f"condition: {n} samples need {n} labels, got shape "
                                  f"{tuple(labels.shape)}")
            labels = labels.to(torch.int64)
        if n and (int(labels.min()) < 0 or int(labels.max()) >= k):
            bad = int(labels.min()) if int(labels.min()) < 0 else int(labels.max())
            raise GanlabError(f"condition: class {bad} is out of range; {self.source} has {k} "
                              f"classes, 0 to {k - 1}")
        return labels

    def decode(self, z: Tensor, labels: Any = None) -> Tensor:
        """Latents (and, for a conditional generator, a ``condition`` as in :meth:`labels`)
        -> samples (eval mode, in chunks), float32 on the CPU."""
        device = _device_of(self.G)
        y = self.labels(len(z), labels)
        if y is None:
            return run_in_eval_mode(self.G, z.to(device))
        z, y = z.to(device), y.to(device)
        return run_in_eval_mode(self.G, torch.arange(len(z), device=device),
                                lambda i: self.G(z[i], y[i]))

    def sample(self, n: int, seed: int = 0, condition: Any = None) -> Tensor:
        """``n`` samples with latents from ``seed``; ``condition`` picks the class (or
        classes) of a conditional generator, the same latents whatever the class."""
        if n < 1:
            raise GanlabError(f"number of samples must be >= 1, got {n}")
        y = self.labels(n, condition)
        return self.decode(self.latents(n, seed), y)


@dataclass
class TextPromptSampler:
    """A text-conditional generator sampled by prompt: ``condition`` is a text (every sample),
    a list of texts (one a sample) or None (the run's held-out prompts in turn). Texts are
    embedded with the run's sentence encoder (:mod:`ganlab.text_encoder`)."""

    base: LatentSampler
    encoder: str
    prompts: list[str]
    kind: str = "images"

    @property
    def source(self) -> str:
        return self.base.source

    @property
    def text_dim(self) -> int | None:
        return self.base.num_classes

    def texts(self, n: int, condition: Any = None) -> list[str]:
        if condition is None:
            if not self.prompts:
                raise GanlabError("this run has no prompts: give a text as the condition")
            return [self.prompts[i % len(self.prompts)] for i in range(n)]
        if isinstance(condition, str):
            return [condition] * n
        texts = list(condition)
        if len(texts) != n or not all(isinstance(t, str) for t in texts):
            raise GanlabError(f"condition: a text, or {n} texts (one a sample)")
        return texts

    def sample(self, n: int, seed: int = 0, condition: Any = None) -> Tensor:
        if n < 1:
            raise GanlabError(f"number of samples must be >= 1, got {n}")
        texts = self.texts(n, condition)
        unique = list(dict.fromkeys(texts))
        emb = embed_texts(unique, self.encoder)
        rows = torch.stack([emb[unique.index(t)] for t in texts])
        return self.base.sample(n, seed, condition=rows)


@dataclass
class ImageGenerator:
    """An image run's sampler with uint8 output: ``sample(n, seed)`` -> (N, C, H, W)."""

    sampler: LatentSampler
    checkpoint: Path

    @property
    def uses_ema(self) -> bool:
        return self.sampler.source == "G_ema"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.sampler.sample_shape

    @property
    def z_dim(self) -> int:
        return self.sampler.z_dim

    def latents(self, n: int, seed: int) -> Tensor:
        return self.sampler.latents(n, seed)

    def decode(self, z: Tensor) -> Tensor:
        if len(z) == 0:
            return torch.empty(0, *self.sample_shape, dtype=torch.uint8)
        return to_uint8(self.sampler.decode(z))

    def sample(self, n: int, seed: int = 0) -> Tensor:
        if n < 1:
            raise GanlabError(f"number of samples must be >= 1, got {n}")
        return self.decode(self.latents(n, seed))


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` (T,).

    Returns (N, T, D). Falls back to linear interpolation for (nearly) parallel vectors.
    """
    an = a / a.norm(dim=1, keepdim=True).clamp_min(1e-12)
    bn = b / b.norm(dim=1, keepdim=True).clamp_min(1e-12)
    omega = torch.acos((an * bn).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None, None]
    t = t[None, :, None]
    so = torch.sin(omega)
    lin = (1 - t) * a[:, None] + t * b[:, None]
    sph = (torch.sin((1 - t) * omega) * a[:, None] + torch.sin(t * omega) * b[:, None]) / so
    return torch.where(so.abs() < 1e-4, lin, sph)


def interpolate(gen: ImageGenerator, rows: int, steps: int, seed: int = 0,
                spherical: bool = True) -> Tensor:
    """``rows`` interpolations of ``steps`` images each between random latent pairs:
    uint8 (rows * steps, C, H, W), row-major."""
    if rows < 1 or steps < 2:
        raise GanlabError(f"interpolation needs rows >= 1 and steps >= 2, got {rows}, {steps}")
    z = gen.latents(2 * rows, seed)
    a, b = z[:rows], z[rows:]
    t = torch.linspace(0, 1, steps)
    path = slerp(a, b, t) if spherical else (1 - t)[None, :, None] * a[:, None] + \
        t[None, :, None] * b[:, None]
    return gen.decode(path.reshape(rows * steps, -1))

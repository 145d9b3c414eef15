"""What an image-to-image family exports: a :class:`Translator`, and the side-by-side picture
of inputs, outputs and targets that its snapshots, ``ganlab translate`` and the report show.

A translation family (pix2pix, CycleGAN) has a ``translator()`` method besides the
:class:`~ganlab.sampling.Sampler` every family has. A translator maps images of one domain to
another in named *directions* (pix2pix: ``("AtoB",)``; CycleGAN: ``("AtoB", "BtoA")``):
``translator(x, "AtoB")`` takes float images (N, C, H, W) in [-1, 1] of
``translator.input_shape("AtoB")`` and returns float images in [-1, 1] on the CPU, computed
in eval mode and in chunks (:func:`ganlab.sampling.run_in_eval_mode`).

A generator whose noise is dropout (pix2pix keeps it on at test time, as in the paper) draws
that noise from ``seed`` under a forked RNG, so a translation is repeatable and never moves
the training streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from ganlab.errors import GanlabError
from ganlab.report.artefacts import ImageGrid
from ganlab.sampling import run_in_eval_mode

Shape = tuple[int, int, int]
DIRECTIONS = ("AtoB", "BtoA")


@runtime_checkable
class Translator(Protocol):
    """Images of one domain -> images of another, in one or more named directions."""

    directions: tuple[str, ...]

    def input_shape(self, direction: str) -> Shape:
        """(C, H, W) of the images ``direction`` takes."""
        ...

    def output_shape(self, direction: str) -> Shape:
        """(C, H, W) of the images ``direction`` makes."""
        ...

    def __call__(self, x: Tensor, direction: str = "AtoB") -> Tensor:
        """Float (N, C, H, W) in [-1, 1] -> float in [-1, 1], eval mode, on the CPU."""
        ...


def check_direction(translator: Translator, direction: str) -> None:
    """A one-line error unless ``translator`` has ``direction``."""
    if direction not in translator.directions:
        allowed = ", ".join(translator.directions)
        raise GanlabError(f"direction {direction!r}: this model translates only "
                          f"{allowed}; use --direction {translator.directions[0]}")


def _device_of(net: nn.Module) -> torch.device:
    p = next(iter(net.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


@dataclass
class ModuleTranslator:
    """A :class:`Translator` made of one network per direction.

    ``nets`` maps a direction to its generator; ``shapes`` maps it to ``(input shape,
    output shape)``; ``seed`` seeds any randomness the networks draw (dropout kept on at
    sampling) under a forked RNG.
    """

    nets: dict[str, nn.Module]
    shapes: dict[str, tuple[Shape, Shape]]
    seed: int = 0
    directions: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        if set(self.nets) != set(self.shapes):
            raise GanlabError(f"translator: networks for {sorted(self.nets)} but shapes for "
                              f"{sorted(self.shapes)}")
        self.directions = tuple(self.nets)

    def check_direction(self, direction: str) -> None:
        """A one-line error unless this translator has ``direction``."""
        check_direction(self, direction)

    def input_shape(self, direction: str) -> Shape:
        self.check_direction(direction)
        return self.shapes[direction][0]

    def output_shape(self, direction: str) -> Shape:
        self.check_direction(direction)
        return self.shapes[direction][1]

    def __call__(self, x: Tensor, direction: str = "AtoB") -> Tensor:
        want = self.input_shape(direction)
        if x.dim() != 4 or tuple(x.shape[1:]) != tuple(want):
            raise GanlabError(f"translator {direction}: expected images of shape (N, "
                              f"{', '.join(map(str, want))}), got {tuple(x.shape)}")
        net = self.nets[direction]
        device = _device_of(net)
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            return run_in_eval_mode(net, x.float().to(device))


class Translates(Protocol):
    """What :func:`translator_of` reads: a family's name and its translator capability."""

    @property
    def name(self) -> str: ...

    def translator(self) -> Translator | None: ...


def translator_of(family: Translates) -> Translator:
    """``family.translator()``, or a one-line error naming the family when it has none."""
    translator = family.translator()
    if translator is None:
        raise GanlabError(f"family {family.name}: not an image-to-image family (it has no "
                          "translator); `ganlab translate` needs a pix2pix or CycleGAN run")
    return translator


def as_channels(images: Tensor, channels: int) -> Tensor:
    """Images with ``channels`` channels: grey repeated to RGB, RGB to grey by ITU-R 601-2
    luma (as :mod:`ganlab.data.images` converts), anything else refused."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if c == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float32).view(1, 3, 1, 1)
        return (images.float() * w).sum(1, keepdim=True).to(images.dtype)
    raise GanlabError(f"cannot show {c}-channel images beside {channels}-channel ones")


def side_by_side(columns: Sequence[Tensor], name: str = "") -> ImageGrid:
    """One row per example, one column per set (e.g. input | output | target): each set
    float in [-1, 1] (N, C, H, W) with the same N, H, W. Grey columns are shown in RGB when
    any column is in colour."""
    if not columns:
        raise GanlabError("side_by_side: no images to show")
    n, h, w = columns[0].shape[0], columns[0].shape[2], columns[0].shape[3]
    for col in columns:
        if col.dim() != 4 or (col.shape[0], col.shape[2], col.shape[3]) != (n, h, w):
            raise GanlabError(f"side_by_side: every column needs shape (N={n}, C, {h}, {w}), "
                              f"got {tuple(col.shape)}")
    c = max(col.shape[1] for col in columns)
    cols = [as_channels(col.detach().float().cpu(), c) for col in columns]
    grid = torch.stack(cols, dim=1).reshape(n * len(cols), c, h, w)
    return ImageGrid(grid, nrow=len(cols), name=name)

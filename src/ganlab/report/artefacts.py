"""Typed snapshot artefacts: what a family shows of its model at a step.

A family returns artefacts from ``snapshot(step)``; the loop saves each one under
``samples/`` with :func:`artefact_path` and hands it to TensorBoard; the report finds them
by their file names. Kinds: ``image`` (a PNG: an image grid, a 2-D scatter, any figure) and
``text`` (a ``.txt`` file of lines, e.g. generated sentences). An artefact's ``name`` tells
several series apart (``""`` is the family's main samples).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from torch import Tensor

from ganlab.atomic import write_atomically, write_text
from ganlab.report.grid import save_grid

KINDS = {".png": "image", ".txt": "text"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
FILE = re.compile(r"^(?:(?P<name>[a-z0-9][a-z0-9_]*)-)?step-(?P<step>\d+)(?P<suffix>\.png|\.txt)$")


class Artefact(Protocol):
    name: str
    kind: ClassVar[str]
    suffix: ClassVar[str]

    def save(self, path: Path) -> Path:
        """Write the artefact to ``path`` atomically; return it."""
        ...


def artefact_path(folder: Path, artefact: Artefact, step: int) -> Path:
    """``samples/step-0000100.png`` for the main series, ``samples/NAME-step-0000100.txt``
    for a named one."""
    if artefact.name and not _NAME.match(artefact.name):
        raise ValueError(f"artefact name {artefact.name!r}: use lower-case letters, digits, _")
    prefix = f"{artefact.name}-" if artefact.name else ""
    return folder / f"{prefix}step-{step:07d}{artefact.suffix}"


@dataclass
class ImageGrid:
    """Images (float in [-1, 1] or uint8, N x C x H x W) laid out as one PNG grid."""

    images: Tensor
    nrow: int | None = None
    name: str = ""
    kind: ClassVar[str] = "image"
    suffix: ClassVar[str] = ".png"

    def save(self, path: Path) -> Path:
        return save_grid(self.images, path, nrow=self.nrow)


@dataclass
class Figure:
    """A picture drawn by ``draw(path)`` (e.g. a matplotlib scatter), written atomically."""

    draw: Callable[[Path], object]
    name: str = ""
    kind: ClassVar[str] = "image"
    suffix: ClassVar[str] = ".png"

    def save(self, path: Path) -> Path:
        return write_atomically(path, self.draw)


@dataclass
class Text:
    """Lines of text (generated sentences, a translation table)."""

    lines: list[str]
    name: str = "text"
    kind: ClassVar[str] = "text"
    suffix: ClassVar[str] = ".txt"

    def save(self, path: Path) -> Path:
        return write_text(path, "".join(f"{line}\n" for line in self.lines))


def find_artefacts(folder: Path) -> dict[str, list[tuple[int, Path]]]:
    """``{name: [(step, path), ...]}`` of the artefacts saved in ``folder``, by step."""
    out: dict[str, list[tuple[int, Path]]] = {}
    if not folder.is_dir():
        return out
    for p in folder.iterdir():
        m = FILE.match(p.name)
        if m:
            out.setdefault(m.group("name") or "", []).append((int(m.group("step")), p))
    return {k: sorted(v) for k, v in sorted(out.items())}

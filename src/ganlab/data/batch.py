"""What data hands a family: a typed :class:`Batch`, and a :class:`DataSpec` that describes
the data without loading it (saved in ``run_info.json``, so a run can be sampled later
without reading its training set)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ganlab.errors import GanlabError

KINDS = ("points", "images", "tokens")


@dataclass
class Batch:
    """One batch. ``x`` is what a generator learns to make (points (N, 2) or images
    (N, C, H, W) in [-1, 1]); every other field is optional and a family reads only the ones
    it uses (:meth:`require` names what is missing and where to get it).

    ``labels``: int64 (N,) class labels. ``text``: N strings; ``text_emb``: float (N, E) sentence
    embeddings of them. ``target``: a paired image (N, C', H, W) for image-to-image families.
    ``tokens``: int64 (N, L) token ids, ``mask``: bool (N, L), true on real tokens.
    """

    x: Tensor | None = None
    labels: Tensor | None = None
    text: list[str] | None = None
    text_emb: Tensor | None = None
    target: Tensor | None = None
    tokens: Tensor | None = None
    mask: Tensor | None = None

    def __len__(self) -> int:
        for name in ("x", "tokens", "labels", "target", "text_emb"):
            value = getattr(self, name)
            if value is not None:
                return int(value.shape[0])
        return len(self.text or [])

    def require(self, name: str, who: str) -> Any:
        """The field ``name``, or a clear error saying that ``who`` needs it."""
        value = getattr(self, name)
        if value is None:
            hint = {"labels": "class labels (data.labels=true; a folder needs one subfolder "
                              "per class)",
                    "text": "text for each example", "text_emb": "text embeddings",
                    "target": "paired targets", "tokens": "token ids"}.get(name, name)
            raise GanlabError(f"{who} needs {hint}, and this data has none")
        return value

    def slice(self, index: int, parts: int) -> Batch:
        """Part ``index`` of ``parts`` equal parts (one process's share of a global batch)."""
        n = len(self) // parts
        lo, hi = index * n, (index + 1) * n

        def cut(t: Any) -> Any:
            return t[lo:hi] if t is not None else None

        return Batch(**{f.name: cut(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def to(self, device: torch.device | str, *, non_blocking: bool = False,
           channels_last: bool = False) -> Batch:
        """A copy on ``device``; 4-D float tensors in channels_last when asked."""
        def move(t: Any) -> Any:
            if not isinstance(t, Tensor):
                return t
            t = t.to(device, non_blocking=non_blocking)
            if channels_last and t.dim() == 4 and t.is_floating_point():
                t = t.contiguous(memory_format=torch.channels_last)
            return t

        return Batch(**{f.name: move(getattr(self, f.name)) for f in dataclasses.fields(self)})


@dataclass
class DataSpec:
    """What a family must know of its data to build networks, without the data itself.

    ``sample_shape``: one ``x`` (e.g. (2,) or (1, 28, 28)); ``num_classes`` and ``class_names``
    when the data has labels; ``text_dim`` when it carries text embeddings; ``target_shape``
    for paired data; ``vocab_size`` and ``seq_len`` for token data; ``extra`` for anything a
    data source wants to pass on (plain JSON values)."""

    kind: str
    sample_shape: tuple[int, ...] = ()
    num_classes: int | None = None
    class_names: list[str] | None = None
    text_dim: int | None = None
    target_shape: tuple[int, ...] | None = None
    vocab_size: int | None = None
    seq_len: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise GanlabError(f"data kind {self.kind!r} is not one of {', '.join(KINDS)}")
        self.sample_shape = tuple(int(s) for s in self.sample_shape)
        if self.target_shape is not None:
            self.target_shape = tuple(int(s) for s in self.target_shape)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["sample_shape"] = list(self.sample_shape)
        if self.target_shape is not None:
            out["target_shape"] = list(self.target_shape)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class EpochOrder:
    """The order in which a fixed set of ``size`` examples is served: one random permutation
    per epoch, drawn with the trainer's generator when the previous one is used up. The
    permutation, the position in it and the epoch count are the resumable state."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.perm: torch.Tensor | None = None
        self.pos = 0
        self.epoch = 0

    def take(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """The next ``n`` indices (crossing into new epochs as needed)."""
        parts = []
        while n > 0:
            if self.perm is None or self.pos >= len(self.perm):
                self.perm = torch.randperm(self.size, generator=generator)
                self.pos = 0
                self.epoch += 1
            take = min(n, len(self.perm) - self.pos)
            parts.append(self.perm[self.pos:self.pos + take])
            self.pos += take
            n -= take
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self.perm, "pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.perm = state["perm"]
        self.pos = int(state["pos"])
        self.epoch = int(state.get("epoch", 0))

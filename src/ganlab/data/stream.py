"""A ``folder:PATH`` image set streamed file by file through DataLoader workers
(``data.stream: true``), for sets too large to hold in memory.

The files are listed once (as :func:`ganlab.data.imageio.read_folder` lists them); each example
is decoded, converted to ``data.channels``, resized to ``data.load_size`` (centre-cropped to a
square first, see :mod:`ganlab.data.imageio`), randomly cropped to ``data.resolution`` and
randomly flipped (``data.flip``) in a worker process.

Exact resume: nothing random depends on the order in which workers run. The source draws one
seed from the caller's generator on its first :meth:`~StreamingImageSource.batch` call; the
permutation of epoch ``e`` is a pure function of ``(seed, e)``, and the crop and flip of the
example at position ``p`` of that epoch a pure function of ``(seed, e, p)``. So the whole
stream is fixed by the seed, and ``(seed, epoch, position)`` -- counting only the examples
``batch`` has returned, not what workers fetched ahead -- is enough to restart it at exactly
the next example, with any number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from ganlab.data.batch import Batch, DataSpec
from ganlab.data.imageio import image_mode, list_folder, open_image, resize, to_float, to_mode
from ganlab.errors import GanlabError

# an example's key: (file index, epoch, position in the epoch)
Key = tuple[int, int, int]
_PERM, _AUG = 0, 1  # stream tags, so that permutation and augmentation seeds never coincide
PREFETCH_BATCHES = 2  # batches of examples kept in flight across all workers


def _seed(*words: int) -> int:
    """A well-mixed 63-bit seed from a few integers (NumPy's SeedSequence hash)."""
    return int(np.random.SeedSequence(list(words)).generate_state(1, np.uint64)[0] >> 1)


def permutation(seed: int, epoch: int, n: int) -> Tensor:
    """The order of epoch ``epoch``: a pure function of ``(seed, epoch)``."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(_seed(_PERM, seed, epoch)))


@dataclass
class _Failure:
    """A worker's :class:`GanlabError`, passed back as a value so that the main process raises
    it with its own one-line message (a re-raised worker exception carries a traceback)."""

    message: str


class _Files(Dataset[tuple[np.ndarray, int] | _Failure]):
    """Decodes and augments one example given its :data:`Key` (runs in the workers). It
    returns a uint8 (C, H, W) array: pickled through the pipe, cheaper for small images than
    a tensor in shared memory."""

    def __init__(self, files: list[Path], labels: np.ndarray | None, channels: int,
                 load_size: int, resolution: int, flip: bool, seed: int) -> None:
        self.files, self.labels, self.channels = files, labels, channels
        self.load_size, self.resolution, self.flip, self.seed = load_size, resolution, flip, seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: Key) -> tuple[np.ndarray, int] | _Failure:
        index, epoch, pos = key
        try:
            x = self.load(self.files[index], self.channels, epoch, pos)
        except GanlabError as exc:
            return _Failure(str(exc))
        return x, int(self.labels[index]) if self.labels is not None else -1

    def load(self, file: Path, channels: int, epoch: int, pos: int) -> np.ndarray:
        """One file decoded, resized, cropped and flipped as the example at ``(epoch, pos)``:
        the crop and flip depend only on the seed and the key, so two files loaded with the
        same key (the two images of a pair) get the same ones."""
        g = torch.Generator().manual_seed(_seed(_AUG, self.seed, epoch, pos))
        img = resize(to_mode(open_image(file), channels), self.load_size)
        span = self.load_size - self.resolution + 1
        top, left = (int(v) for v in torch.randint(0, span, (2,), generator=g))
        flip = bool(torch.rand((), generator=g) < 0.5)
        img = img.crop((left, top, left + self.resolution, top + self.resolution))
        if self.flip and flip:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        a = np.asarray(img, dtype=np.uint8)
        return np.ascontiguousarray((a[:, :, None] if a.ndim == 2 else a).transpose(2, 0, 1))


class _Order(Sampler[Key]):
    """Keys in stream order from ``(epoch, pos)`` on, rolling over epochs without end."""

    def __init__(self, n: int, seed: int, epoch: int, pos: int) -> None:
        self.n, self.seed, self.epoch, self.pos = n, seed, epoch, pos

    def __iter__(self) -> Iterator[Key]:
        epoch, pos = self.epoch, self.pos
        while True:
            perm = permutation(self.seed, epoch, self.n).tolist()
            for p in range(pos, self.n):
                yield perm[p], epoch, p
            epoch, pos = epoch + 1, 0


def _as_is(item: Any) -> Any:
    return item


class StreamingImageSource:
    """Batches of an image folder read in DataLoader workers, in epochs; resumable exactly.

    State: ``seed`` (drawn on the first batch), ``epoch`` (0-based) and ``pos`` (examples of
    that epoch already returned). See the module docstring for why that is enough.
    """

    kind = "images"

    def __init__(self, files: list[Path], labels: np.ndarray | None,
                 class_names: list[str] | None, *, resolution: int, channels: int,
                 load_size: int | None = None, flip: bool = False, workers: int = 2,
                 name: str = "folder") -> None:
        if resolution < 4:
            raise GanlabError(f"data.resolution: must be >= 4, got {resolution}")
        if channels not in (1, 3, 4):
            raise GanlabError(f"data.channels: must be 1, 3 or 4, got {channels}")
        load_size = resolution if load_size is None else load_size
        if load_size < resolution:
            raise GanlabError(f"data.load_size: must be >= data.resolution ({resolution}), "
                              f"got {load_size}")
        if workers < 0:
            raise GanlabError(f"data.workers: must be >= 0, got {workers}")
        self.files, self.labels, self.class_names = files, labels, class_names
        self.resolution, self.channels, self.load_size = resolution, channels, load_size
        self.flip, self.workers, self.name = flip, workers, name
        self.seed: int | None = None
        self.epoch = 0
        self.pos = 0
        self._examples: Any = None  # iterator over the loader; None: (re)start at (epoch, pos)

    def __len__(self) -> int:
        return len(self.files)

    def spec(self) -> DataSpec:
        return DataSpec("images", (self.channels, self.resolution, self.resolution),
                        num_classes=len(self.class_names) if self.class_names else None,
                        class_names=self.class_names)

    def _dataset(self) -> Dataset[Any]:
        """What the workers run for one example (a subclass may load more than one file)."""
        assert self.seed is not None
        return _Files(self.files, self.labels, self.channels, self.load_size,
                      self.resolution, self.flip, self.seed)

    def _start(self, n: int) -> None:
        dataset = self._dataset()
        assert self.seed is not None  # (checked by _dataset too)
        extra: dict[str, Any] = {}
        if self.workers > 0:  # keep about PREFETCH_BATCHES batches in flight
            extra = {"persistent_workers": True,
                     "prefetch_factor": max(2, math.ceil(PREFETCH_BATCHES * n / self.workers))}
        loader = DataLoader(dataset, batch_size=None, collate_fn=_as_is,
                            sampler=_Order(len(self), self.seed, self.epoch, self.pos),
                            num_workers=self.workers, **extra)
        self._examples = iter(loader)

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        if self.seed is None:  # tie the stream to the run's seed; resuming restores it
            self.seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        if self._examples is None:
            self._start(n)
        xs, ys = [], []
        for _ in range(n):
            item = next(self._examples)
            if isinstance(item, _Failure):
                self._examples = None  # the state is unchanged: a retry restarts this batch
                raise GanlabError(item.message)
            xs.append(item[0])
            ys.append(item[1])
        self.epoch, self.pos = divmod(self.epoch * len(self) + self.pos + n, len(self))
        x = to_float(torch.from_numpy(np.stack(xs)))
        labels = torch.tensor(ys, dtype=torch.int64) if self.labels is not None else None
        if torch.cuda.is_available():  # pinned, so the copy to the GPU can be asynchronous
            x = x.pin_memory()
            labels = labels.pin_memory() if labels is not None else None
        return Batch(x=x, labels=labels)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "pos": self.pos, "size": len(self)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state.get("size", len(self))) != len(self):
            raise GanlabError(f"{self.name}: the checkpoint was taken on {state['size']} "
                              f"images, the folder now holds {len(self)}; resuming would not "
                              "see the same batches")
        self.seed = None if state["seed"] is None else int(state["seed"])
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._examples = None  # restart the workers at the restored position

    def close(self) -> None:
        """Stop the worker processes (they also stop when the source is garbage collected)."""
        self._examples = None


def build_stream_source(cfg: Any) -> StreamingImageSource:
    """A :class:`StreamingImageSource` from a :class:`ganlab.config.DataConfig`
    (``data.name = folder:PATH``, ``data.stream = true``).

    Without ``data.channels`` the first image decides (grey: 1, else 3), where the in-memory
    reader looks at every image; set it for a folder that mixes grey and colour images.
    """
    if cfg.resolution is None:
        raise GanlabError("data.resolution: a streamed folder needs one (images are resized "
                          "and cropped to it file by file); set e.g. data.resolution=64")
    files, labels, class_names = list_folder(cfg.name[len("folder:"):], cfg.limit)
    if cfg.labels and labels is None:
        raise GanlabError(f"data.labels: {cfg.name} has no labels (for a folder, put each "
                          "class in its own subfolder)")
    channels = cfg.channels or (1 if image_mode(open_image(files[0])) == 1 else 3)
    return StreamingImageSource(files, labels, class_names, resolution=cfg.resolution,
                                channels=channels, load_size=cfg.load_size, flip=cfg.flip,
                                workers=cfg.workers, name=cfg.name)

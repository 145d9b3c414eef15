"""The datasets that can be named in ``data.name``, each registered once with all its facts.

A named dataset is a :class:`DatasetInfo`: how to build its training source, how to read its
images (for evaluation and for other modules), its splits, channels and class names, the split
evaluation holds out, the domain classifier ``eval.extractor: auto`` picks, one line saying
what it is and what to install when it is missing. The module that reads a dataset registers it
with :func:`register_dataset`; evaluation, the metrics inputs and the classifier trainer look
its facts up here instead of keeping tables of names.

Names with a parameter (``folder:PATH``, ``npz:PATH``, ``pairs:A,B``, ``unpaired:A,B``,
``edges:SET``, ``gray:SET``, ``text:PATH``) are *prefixes*: a :class:`PrefixInfo` registered
with :func:`register_prefix` builds every ``PREFIX:...`` name.

This module imports no data module and no torch: the config checks ``data.name`` against
:func:`data_names` at load time, which lists the built-in names without importing the modules
that register them (each is imported on the first look-up of one of its names). Other packages
add datasets through the ``ganlab.datasets`` entry-point group (the entry point loads a
:class:`DatasetInfo`); a test or a notebook calls :func:`register_dataset`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ganlab.errors import GanlabError
from ganlab.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from ganlab.data import DataSource

# what a dataset's examples are (as ganlab.data.batch.KINDS, which loads torch)
KINDS = ("points", "images", "tokens")
# uint8 images (N, C, H, W) and int64 labels (N,) or None
Arrays = tuple["np.ndarray", "np.ndarray | None"]
# (split, data.path) -> the images of a named set, as stored
ImageReader = Callable[[str, "str | None"], Arrays]
# (the text after PREFIX:, resolution, channels, limit) -> the images of a prefixed name
PrefixReader = Callable[[str, "int | None", "int | None", "int | None"], Arrays]


@dataclass(frozen=True)
class DatasetInfo:
    """Everything about one named dataset.

    ``build(data_config)`` makes the training loop's :class:`~ganlab.data.DataSource`;
    ``read(split, path)`` (image sets only) gives its uint8 images (N, C, H, W) as stored and
    int64 labels or None, which :func:`ganlab.data.images.load_images` converts; without one
    the set cannot be an evaluation input or a translation domain.

    ``splits`` are the values ``data.split`` takes (empty: fresh draws, no splits) and
    ``default_split`` the one a bare name means where a split is asked for without one
    (``ganlab eval fid mnist-5k ...``). ``held_out_split`` is the split evaluation compares
    with (None: the set has none, the training images themselves are used). ``channels`` is
    what a network gets by default (emoji are stored RGBA and read as RGB over white).
    ``classifier`` is the shipped domain classifier ``eval.extractor: auto`` picks (its
    features give FID, its logits class readings); ``trains_classifier`` marks the set that
    classifier is trained and scored on (``ganlab classifier train``); ``no_classifier_reason``
    says why a set that looks like it has one has none. ``install`` says what to install when
    the data is missing.
    """

    name: str
    build: Callable[[Any], DataSource]
    kind: str
    description: str
    read: ImageReader | None = None
    splits: tuple[str, ...] = ()
    default_split: str | None = None
    channels: int | None = None
    class_names: tuple[str, ...] | None = None
    held_out_split: str | None = None
    classifier: str | None = None
    trains_classifier: bool = False
    no_classifier_reason: str | None = None
    install: str | None = None

    def __post_init__(self) -> None:
        where = f"dataset {self.name!r}"
        if not self.name or ":" in self.name:
            raise GanlabError(f"{where}: a dataset name is non-empty and holds no ':' "
                              "(register a parameterised name with register_prefix)")
        if self.kind not in KINDS:
            raise GanlabError(f"{where}: kind must be one of {', '.join(KINDS)}, "
                              f"got {self.kind!r}")
        if self.read is not None and self.kind != "images":
            raise GanlabError(f"{where}: only image sets have a reader")
        for what, split in (("default_split", self.default_split),
                            ("held_out_split", self.held_out_split)):
            if split is not None and split not in self.splits:
                raise GanlabError(f"{where}: {what} {split!r} is not one of its splits "
                                  f"({', '.join(self.splits) or 'none'})")
        if self.splits and self.default_split is None:
            raise GanlabError(f"{where}: a set with splits needs a default_split")
        if self.read is not None and not self.splits:
            raise GanlabError(f"{where}: a reader reads splits; name them (e.g. splits="
                              "('train', 'test'), default_split='train')")
        if self.trains_classifier and self.classifier is None:
            raise GanlabError(f"{where}: trains_classifier needs the classifier's name")
        if self.channels not in (None, 1, 3, 4):
            raise GanlabError(f"{where}: channels must be 1, 3 or 4, got {self.channels}")


@dataclass(frozen=True)
class PrefixInfo:
    """A parameterised name ``PREFIX:...``: ``build(data_config)`` makes its source and
    ``read`` (image folders and files only) its uint8 images and labels, given the text after
    the colon, ``resolution``, ``channels`` and ``limit``."""

    prefix: str
    build: Callable[[Any], DataSource]
    kind: str
    description: str
    read: PrefixReader | None = None

    def __post_init__(self) -> None:
        if not self.prefix or ":" in self.prefix:
            raise GanlabError(f"data prefix {self.prefix!r}: a prefix is non-empty and holds "
                              "no ':'")
        if self.kind not in KINDS:
            raise GanlabError(f"data prefix {self.prefix!r}: kind must be one of "
                              f"{', '.join(KINDS)}, got {self.kind!r}")


def _dataset_entry(loaded: Any, name: str) -> DatasetInfo:
    if not isinstance(loaded, DatasetInfo) or loaded.name != name:
        raise GanlabError(f"entry point {name!r} of group ganlab.datasets: expected a "
                          f"DatasetInfo named {name!r}, got {loaded!r}")
    return loaded


DATASETS: Registry[DatasetInfo] = Registry(
    "dataset",
    builtin={
        "ring": "ganlab.data.toy2d", "grid": "ganlab.data.toy2d",
        "mixture": "ganlab.data.toy2d", "spiral": "ganlab.data.toy2d",
        "swissroll": "ganlab.data.toy2d",
        "fashion-mnist": "ganlab.data.images", "mnist": "ganlab.data.images",
        "mnist-5k": "ganlab.data.images", "digits": "ganlab.data.images",
        "emoji": "ganlab.data.emoji", "emoji-text": "ganlab.data.emoji",
        "stacked-mnist": "ganlab.data.stacked",
        "wordnet": "ganlab.data.text", "fortunes": "ganlab.data.text",
        "oracle": "ganlab.data.oracle",
    },
    group="ganlab.datasets",
    from_entry_point=_dataset_entry,
)
PREFIXES: Registry[PrefixInfo] = Registry(
    "data prefix",
    builtin={
        "folder": "ganlab.data.images", "npz": "ganlab.data.images",
        "edges": "ganlab.data.pairs", "gray": "ganlab.data.pairs",
        "pairs": "ganlab.data.pairs", "unpaired": "ganlab.data.pairs",
        "text": "ganlab.data.text",
    },
)
# registration order: listings show sets in the order their modules register them
_ORDER: dict[str, int] = {}


def register_dataset(info: DatasetInfo) -> DatasetInfo:
    """Add (or replace) the dataset ``info.name``: the one way to make a name usable as
    ``data.name``, as an evaluation input and as a translation domain."""
    _ORDER.setdefault(info.name, len(_ORDER))
    return DATASETS.register(info.name, info)


def unregister_dataset(name: str) -> None:
    """Remove a dataset added with :func:`register_dataset` (tests clean up with this)."""
    DATASETS.unregister(name)
    _ORDER.pop(name, None)


def register_prefix(info: PrefixInfo) -> PrefixInfo:
    """Add (or replace) the handler of every ``info.prefix:...`` name."""
    return PREFIXES.register(info.prefix, info)


def find_dataset(name: str) -> DatasetInfo | None:
    """The facts of dataset ``name`` (importing the module that registers it), or None when
    ``name`` is no dataset (a prefixed name, a folder, a typo)."""
    return DATASETS.get(name) if name in DATASETS else None


def find_image_set(name: str) -> DatasetInfo | None:
    """The facts of image set ``name`` (a dataset whose images can be read), or None."""
    info = find_dataset(name)
    return info if info is not None and info.read is not None else None


def get_dataset(name: str) -> DatasetInfo:
    """The facts of dataset ``name``; an error listing the datasets when there is none."""
    return DATASETS.get(name)


def find_prefix(prefix: str) -> PrefixInfo | None:
    """The handler of ``prefix:...`` names, or None."""
    return PREFIXES.get(prefix) if prefix in PREFIXES else None


def datasets() -> list[DatasetInfo]:
    """Every dataset (every module that registers one imported), in registration order."""
    loaded = DATASETS.loaded()
    return sorted(loaded.values(), key=lambda info: _ORDER.get(info.name, len(_ORDER)))


def image_sets() -> list[DatasetInfo]:
    """The datasets whose images can be read (:attr:`DatasetInfo.read`), in registration
    order: what evaluation inputs, references and translation domains may name."""
    return [info for info in datasets() if info.read is not None]


def data_names() -> list[str]:
    """Every name ``data.name`` takes: the datasets, then ``PREFIX:PATH`` for each prefix
    (no data module is imported)."""
    return DATASETS.names() + [f"{p}:PATH" for p in PREFIXES.names()]

"""Image-to-image data: paired sets (input, target) and unpaired sets (domain A, domain B).

Paired (pix2pix): a batch is ``Batch(x=input, target=target)`` (and the target's class
``labels`` when the set has them); the :class:`DataSpec` has ``sample_shape`` = the input's
shape, ``target_shape`` = the target's and ``extra = {"paired": True, "domains": [...]}``.

* ``edges:SET`` -- the edge map of each image of ``SET`` -> the image. ``SET`` is any
  registered image set (:func:`ganlab.data.registry.image_sets`: ``fashion-mnist``, ``mnist``,
  ``mnist-5k``, ``emoji`` ...), a ``folder:PATH`` or an emoji category (see below). The edge
  map is built here by :func:`sobel_edges`: Sobel gradient magnitude of the luma, a fixed
  threshold, white (255) edges on black, one channel.
* ``gray:SET`` -- the greyscale (ITU-R 601-2 luma) image -> the colour image.
* ``pairs:DIR_A,DIR_B`` -- two folders of images matched by file name (the path below the
  folder, without its suffix, so ``a/x.jpg`` pairs with ``b/x.png``). Names found in only one
  folder are an error that lists a few. With ``data.stream: true`` the pairs are read file by
  file in DataLoader workers (:mod:`ganlab.data.stream`), resized to ``data.load_size``,
  randomly cropped to ``data.resolution`` and flipped (``data.flip``), *the same crop and
  flip for both images of a pair*.

Unpaired (CycleGAN): ``unpaired:A,B`` gives ``Batch(x=a batch of A, target=a batch of B)``,
the two drawn independently (each set has its own permutation and position, both resumable)
and ``labels`` = A's classes when A has them; ``extra = {"paired": False, "domains": [A, B]}``.
A domain is an image set name, an emoji category (``emoji/Smileys & Emotion`` or an alias such
as ``emoji-smileys``, see :data:`EMOJI_ALIASES`), a ``folder:PATH`` or a folder path; two
folders stream like ``pairs:`` with ``data.stream: true``.

``data.split`` (``train`` / ``test``), ``data.resolution``, ``data.channels`` (of the target,
or of both domains) and ``data.limit`` apply as for plain image sets. :func:`held_out` and
:func:`held_out_domain` give the test split for evaluation (a folder has none: it is used
itself, and the evaluation says so).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ganlab.data import DataSource
from ganlab.data.batch import Batch, DataSpec
from ganlab.data.emoji import CATEGORIES, load_emoji
from ganlab.data.emoji import NAME as EMOJI
from ganlab.data.imageio import (
    convert,
    image_mode,
    list_folder,
    open_image,
    read_image_files,
    to_float,
)
from ganlab.data.images import ImageSource, load_images
from ganlab.data.registry import (
    PrefixInfo,
    find_image_set,
    get_dataset,
    image_sets,
    register_prefix,
)
from ganlab.data.stream import StreamingImageSource, _Failure, _Files, build_stream_source
from ganlab.errors import GanlabError

# the Sobel magnitude (of luma in [0, 1], divided by 4 so that a full black-to-white step
# scores 1) above which a pixel is an edge
EDGE_THRESHOLD = 0.25
EDGE_METHOD = f"Sobel gradient magnitude of the luma in [0, 1] / 4 > {EDGE_THRESHOLD}"
EMOJI_ALIASES = {
    "emoji-smileys": "Smileys & Emotion", "emoji-people": "People & Body",
    "emoji-animals": "Animals & Nature", "emoji-food": "Food & Drink",
    "emoji-travel": "Travel & Places", "emoji-activities": "Activities",
    "emoji-objects": "Objects", "emoji-symbols": "Symbols", "emoji-flags": "Flags",
}
PAIRED_PREFIXES = ("edges", "gray", "pairs")
UNPAIRED_PREFIX = "unpaired"
MAX_LISTED = 4   # unmatched names shown in an error


# ---------------------------------------------------------------------------------------------
# Building inputs from images


def luma(images: Tensor) -> Tensor:
    """uint8 (N, C, H, W) -> float (N, 1, H, W) in [0, 1]: ITU-R 601-2 luma of RGB, the
    plane itself for grey (alpha, if any, is ignored: composite it first)."""
    x = images.float() / 255.0
    if x.shape[1] >= 3:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (x[:, :3] * w).sum(1, keepdim=True)
    return x[:, :1]


def sobel_magnitude(gray: Tensor) -> Tensor:
    """Sobel gradient magnitude of float (N, 1, H, W) images, divided by 4 (a full step from 0
    to 1 scores 1 on both sides of it); borders replicated, so the frame is no edge."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx, kx.t()]).unsqueeze(1)            # (2, 1, 3, 3): d/dx, d/dy
    g = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="replicate"), k)
    return g.pow(2).sum(1, keepdim=True).sqrt() / 4.0


def sobel_edges(images: Tensor, threshold: float = EDGE_THRESHOLD) -> Tensor:
    """The edge map of uint8 images (N, C, H, W): uint8 (N, 1, H, W), 255 where the Sobel
    magnitude (:func:`sobel_magnitude` of the :func:`luma`) exceeds ``threshold``, else 0."""
    if images.dim() != 4:
        raise GanlabError(f"edges: expected images (N, C, H, W), got shape {tuple(images.shape)}")
    edges = sobel_magnitude(luma(images)) > threshold
    return edges.to(torch.uint8) * 255


def grey_of(images: Tensor) -> Tensor:
    """uint8 (N, C, H, W) -> its uint8 luma (N, 1, H, W)."""
    return (luma(images) * 255.0).round().clamp(0, 255).to(torch.uint8)


# ---------------------------------------------------------------------------------------------
# One domain: a named set, an emoji category or a folder


def emoji_category(name: str) -> str | None:
    """The emoji category a domain name means (``emoji/CATEGORY`` or an alias), else None."""
    if name in EMOJI_ALIASES:
        return EMOJI_ALIASES[name]
    if name.startswith("emoji/"):
        cat = name[len("emoji/"):]
        if cat not in CATEGORIES:
            raise GanlabError(f"data.name: emoji category {cat!r} does not exist; the "
                              f"categories are {', '.join(CATEGORIES)} (aliases: "
                              f"{', '.join(EMOJI_ALIASES)})")
        return cat
    return None


def folder_of(name: str) -> Path | None:
    """The folder a domain name means (``folder:PATH`` or an existing folder), else None."""
    if name.startswith("folder:"):
        return Path(name[len("folder:"):])
    if find_image_set(name) is None and emoji_category(name) is None and Path(name).is_dir():
        return Path(name)
    return None


@dataclass
class Domain:
    """The images of one domain (uint8 (N, C, H, W)), their labels and class names."""

    name: str
    images: Tensor
    labels: Tensor | None
    class_names: list[str] | None


def read_domain(name: str, split: str = "train", *, path: str | None = None,
                resolution: int | None = None, channels: int | None = None,
                limit: int | None = None) -> Domain:
    """The images of domain ``name`` (see the module doc), converted to ``resolution`` and
    ``channels`` like any image set."""
    name = name.strip()
    if not name:
        raise GanlabError("data.name: an empty domain name; give e.g. fashion-mnist, "
                          "emoji-smileys or a folder")
    cat = emoji_category(name)
    if cat is not None:
        emoji = load_emoji(split, path, [cat])
        pixels = convert(emoji.images[:limit] if limit else emoji.images, resolution,
                         channels or 3)
        return Domain(name, torch.from_numpy(np.ascontiguousarray(pixels)), None, None)
    folder = folder_of(name)
    if folder is not None:
        images, labels = load_images(f"folder:{folder}", split, resolution=resolution,
                                     channels=channels, limit=limit)
        names = list_folder(folder, limit)[2] if labels is not None else None
        return Domain(name, images, labels, names)
    info = find_image_set(name)
    if info is None:
        raise GanlabError(f"data.name: unknown domain {name!r}; use one of "
                          f"{', '.join(i.name for i in image_sets())}, emoji/CATEGORY, "
                          f"{', '.join(EMOJI_ALIASES)}, folder:PATH or a folder")
    images, labels = load_images(name, split, path=path, resolution=resolution,
                                 channels=channels, limit=limit)
    names = list(info.class_names) if labels is not None and info.class_names else None
    return Domain(name, images, labels, names)


def test_split(name: str) -> str | None:
    """The held-out split of a domain (:attr:`DatasetInfo.held_out_split`; an emoji
    category's is the emoji's), or None when it has none (a folder, digits)."""
    if emoji_category(name) is not None:
        return get_dataset(EMOJI).held_out_split
    info = find_image_set(name)
    return info.held_out_split if info is not None else None


def held_out_domain(name: str, shape: tuple[int, ...], data_cfg: Any
                    ) -> tuple[Tensor, Tensor | None, str]:
    """Held-out images of domain ``name`` converted to ``shape`` (C, H, W), their labels and
    a note saying which images they are (the test split, or the training folder itself when
    the domain has no test split)."""
    split = test_split(name)
    note = f"{name} {split} split"
    if split is None:
        info = find_image_set(name)
        split = info.default_split if info is not None and info.default_split else "train"
        note = f"{name} (no held-out split: the training images themselves)"
    d = read_domain(name, split, path=data_cfg.path, resolution=int(shape[-1]),
                    channels=int(shape[0]))
    return d.images, d.labels, note


# ---------------------------------------------------------------------------------------------
# Paired sources


def _split_two(name: str, body: str) -> tuple[str, str]:
    parts = body.split(",")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise GanlabError(f"data.name: {name!r} needs exactly two sets separated by one comma, "
                          f"e.g. {name.split(':', 1)[0]}:A,B")
    return parts[0].strip(), parts[1].strip()


def _pair_key(root: Path, file: Path) -> str:
    return file.relative_to(root).with_suffix("").as_posix()


def match_pairs(dir_a: str | Path, dir_b: str | Path, limit: int | None = None
                ) -> tuple[list[Path], list[Path]]:
    """The image files of two folders matched by name (path below the folder, no suffix),
    in sorted order; a one-line error when a name is in only one folder."""
    root_a, root_b = Path(dir_a), Path(dir_b)
    files_a, _, _ = list_folder(root_a)
    files_b, _, _ = list_folder(root_b)
    a = {_pair_key(root_a, f): f for f in files_a}
    b = {_pair_key(root_b, f): f for f in files_b}
    for root, files, by_key in ((root_a, files_a, a), (root_b, files_b, b)):
        if len(by_key) != len(files):
            raise GanlabError(f"pairs:{root}: two files share a name with different suffixes; "
                              "keep one image per name")
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        def few(names: list[str]) -> str:
            more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
            return ", ".join(names[:MAX_LISTED]) + more

        parts = []
        if only_a:
            parts.append(f"{len(only_a)} only in {root_a} ({few(only_a)})")
        if only_b:
            parts.append(f"{len(only_b)} only in {root_b} ({few(only_b)})")
        raise GanlabError(f"pairs: images are matched by file name, and {'; '.join(parts)}; "
                          "remove them or add their partners")
    keys = sorted(a)[:limit] if limit else sorted(a)
    return [a[k] for k in keys], [b[k] for k in keys]


@dataclass
class PairedSource(ImageSource):
    """Pairs of a fixed set in epochs (one permutation per epoch, as :class:`ImageSource`):
    ``images`` are the inputs, ``targets`` the paired images, ``labels`` the targets'
    classes (or None)."""

    targets: Tensor | None = None
    domains: tuple[str, str] = ("input", "target")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.targets is None or len(self.targets) != len(self.images):
            raise GanlabError(f"{self.name}: a paired set needs one target per input")

    def spec(self) -> DataSpec:
        base = super().spec()
        assert self.targets is not None
        return DataSpec("images", base.sample_shape, num_classes=base.num_classes,
                        class_names=base.class_names,
                        target_shape=tuple(self.targets.shape[1:]),
                        extra={"paired": True, "domains": list(self.domains)})

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        assert self.targets is not None
        idx = self._indices(n, generator)
        labels = self.labels[idx] if self.labels is not None else None
        return Batch(x=to_float(self.images[idx]), target=to_float(self.targets[idx]),
                     labels=labels)

    def examples(self, n: int) -> Batch:
        """``n`` fixed pairs spread evenly over the set (no random draw, no state change):
        for snapshots and evaluation."""
        assert self.targets is not None
        n = min(n, len(self))
        idx = torch.linspace(0, len(self) - 1, n).round().long()
        labels = self.labels[idx] if self.labels is not None else None
        return Batch(x=to_float(self.images[idx]), target=to_float(self.targets[idx]),
                     labels=labels)


class _PairFiles(Dataset[Any]):
    """Loads both files of pair ``index`` with one key, so with one crop and one flip; returns
    them stacked along the channel axis (split again by :class:`StreamingPairSource`)."""

    def __init__(self, a: _Files, b: _Files, channels_b: int) -> None:
        self.a, self.b, self.channels_b = a, b, channels_b

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, key: tuple[int, int, int]) -> tuple[np.ndarray, int] | _Failure:
        index, epoch, pos = key
        try:
            xa = self.a.load(self.a.files[index], self.a.channels, epoch, pos)
            xb = self.b.load(self.b.files[index], self.channels_b, epoch, pos)
        except GanlabError as exc:
            return _Failure(str(exc))
        return np.concatenate([xa, xb]), -1


class StreamingPairSource(StreamingImageSource):
    """``pairs:DIR_A,DIR_B`` with ``data.stream: true``: both files of a pair are decoded in a
    worker and get the same resize, random crop and flip; exact resume as
    :class:`~ganlab.data.stream.StreamingImageSource`."""

    def __init__(self, files_a: list[Path], files_b: list[Path], *, channels_b: int,
                 domains: tuple[str, str], **kw: Any) -> None:
        super().__init__(files_a, None, None, **kw)
        self.files_b, self.channels_b, self.domains = files_b, channels_b, domains

    def _dataset(self) -> Dataset[Any]:
        assert self.seed is not None
        a = _Files(self.files, None, self.channels, self.load_size, self.resolution,
                   self.flip, self.seed)
        b = _Files(self.files_b, None, self.channels_b, self.load_size, self.resolution,
                   self.flip, self.seed)
        return _PairFiles(a, b, self.channels_b)

    def spec(self) -> DataSpec:
        return DataSpec("images", (self.channels, self.resolution, self.resolution),
                        target_shape=(self.channels_b, self.resolution, self.resolution),
                        extra={"paired": True, "domains": list(self.domains)})

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        both = super().batch(n, generator).x
        assert both is not None
        return Batch(x=both[:, :self.channels], target=both[:, self.channels:])


def _derived_pairs(prefix: str, body: str, cfg: Any, split: str) -> PairedSource:
    """``edges:SET`` and ``gray:SET``: inputs computed from the images of SET."""
    d = read_domain(body, split, path=cfg.path, resolution=cfg.resolution,
                    channels=cfg.channels, limit=cfg.limit)
    if prefix == "edges":
        inputs, what = sobel_edges(d.images), "edges"
    else:
        if d.images.shape[1] == 1:
            raise GanlabError(f"data.name: gray:{body} is already greyscale; gray: needs a "
                              "colour set (e.g. gray:emoji) or data.channels=3")
        inputs, what = grey_of(d.images), "grey"
    return PairedSource(inputs, d.labels, name=f"{prefix}:{body}", class_names=d.class_names,
                        targets=d.images, domains=(f"{what} of {body}", body))


def _folder_pairs(name: str, body: str, cfg: Any) -> DataSource:
    dir_a, dir_b = _split_two(name, body)
    files_a, files_b = match_pairs(dir_a, dir_b, cfg.limit)
    if cfg.stream:
        if cfg.resolution is None:
            raise GanlabError("data.resolution: streamed pairs need one (images are resized "
                              "and cropped to it file by file); set e.g. data.resolution=64")
        ca = 1 if image_mode(open_image(files_a[0])) == 1 else 3
        cb = cfg.channels or (1 if image_mode(open_image(files_b[0])) == 1 else 3)
        return StreamingPairSource(files_a, files_b, channels_b=cb, domains=(dir_a, dir_b),
                                   resolution=cfg.resolution, channels=ca,
                                   load_size=cfg.load_size, flip=cfg.flip,
                                   workers=cfg.workers, name=name)
    a = read_image_files(files_a, cfg.resolution, None, f"pairs:{dir_a}")
    b = read_image_files(files_b, cfg.resolution, cfg.channels, f"pairs:{dir_b}")
    if a.shape[2:] != b.shape[2:]:
        raise GanlabError(f"{name}: the images of {dir_a} are {a.shape[2:]} and those of "
                          f"{dir_b} {b.shape[2:]}; set data.resolution to make them one size")
    return PairedSource(torch.from_numpy(a), None, name=name, targets=torch.from_numpy(b),
                        domains=(dir_a, dir_b))


def build_paired(cfg: Any, split: str | None = None) -> DataSource:
    """The paired source ``cfg.name`` (``edges:``, ``gray:``, ``pairs:``) on ``split``
    (default ``cfg.split``)."""
    prefix, _, body = cfg.name.partition(":")
    if not body.strip():
        raise GanlabError(f"data.name: {cfg.name!r} names no image set; e.g. {prefix}:emoji")
    if prefix == "pairs":
        return _folder_pairs(cfg.name, body, cfg)
    if cfg.stream:
        raise GanlabError(f"data.stream: {cfg.name} is read into memory; streaming reads "
                          "folders (pairs:DIR_A,DIR_B); set data.stream=false")
    return _derived_pairs(prefix, body.strip(), cfg, split or cfg.split)


def held_out(cfg: Any) -> tuple[DataSource, str]:
    """The held-out pairs of a paired config and a note saying which they are: the test
    split of the underlying set, or (folders, sets without one) the training pairs."""
    prefix, _, body = cfg.name.partition(":")
    split = test_split(body.strip()) if prefix != "pairs" else None
    if split is not None:
        return build_paired(cfg, split), f"{body.strip()} {split} split"
    return (build_paired(dataclasses.replace(cfg, stream=False)),
            f"{cfg.name} (no held-out split: the training pairs themselves)")


# ---------------------------------------------------------------------------------------------
# Unpaired sources


class UnpairedSource:
    """Two image sources drawn independently: ``Batch(x=n images of A, target=n images of B,
    labels=A's classes or None)``. State: each source's own (permutation, position)."""

    kind = "images"

    def __init__(self, a: Any, b: Any, domains: tuple[str, str], name: str) -> None:
        self.a, self.b, self.domains, self.name = a, b, domains, name

    def spec(self) -> DataSpec:
        sa, sb = self.a.spec(), self.b.spec()
        if sa.sample_shape[1:] != sb.sample_shape[1:]:
            raise GanlabError(f"{self.name}: {self.domains[0]} is {sa.sample_shape[1:]} and "
                              f"{self.domains[1]} {sb.sample_shape[1:]} pixels; set "
                              "data.resolution to make both one size")
        return DataSpec("images", sa.sample_shape, target_shape=sb.sample_shape,
                        extra={"paired": False, "domains": list(self.domains),
                               "class_names": sa.class_names})

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        a = self.a.batch(n, generator)
        b = self.b.batch(n, generator)
        return Batch(x=a.x, target=b.x, labels=a.labels)

    def state_dict(self) -> dict[str, Any]:
        return {"A": self.a.state_dict(), "B": self.b.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.a.load_state_dict(state["A"])
        self.b.load_state_dict(state["B"])


def _domain_source(name: str, cfg: Any) -> Any:
    folder = folder_of(name)
    if folder is not None and cfg.stream:
        return build_stream_source(dataclasses.replace(cfg, name=f"folder:{folder}",
                                                       labels=False))
    d = read_domain(name, cfg.split, path=cfg.path, resolution=cfg.resolution,
                    channels=cfg.channels, limit=cfg.limit)
    return ImageSource(d.images, d.labels, name, class_names=d.class_names)


def build_unpaired(cfg: Any) -> UnpairedSource:
    """``unpaired:A,B``: see the module doc."""
    a, b = _split_two(cfg.name, cfg.name.partition(":")[2])
    if cfg.stream and (folder_of(a) is None or folder_of(b) is None):
        raise GanlabError(f"data.stream: {cfg.name}: only folders stream; set "
                          "data.stream=false")
    source = UnpairedSource(_domain_source(a, cfg), _domain_source(b, cfg), (a, b), cfg.name)
    source.spec()   # the two domains must agree in size: fail now, not at the first batch
    return source


for _prefix, _what in zip(PAIRED_PREFIXES, (
        "edges:SET: the Sobel edge map of each image of SET -> the image (paired)",
        "gray:SET: the greyscale image -> the colour image of SET (paired)",
        "pairs:DIR_A,DIR_B: two folders of images matched by file name (paired)"), strict=True):
    register_prefix(PrefixInfo(_prefix, build_paired, "images", _what))
register_prefix(PrefixInfo(
    UNPAIRED_PREFIX, build_unpaired, "images",
    "unpaired:A,B: two image domains drawn independently (CycleGAN)"))

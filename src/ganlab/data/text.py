"""Text data for sequence GANs: corpora that install offline, tokenizers, token batches.

Corpora (one example per line after reading):

* ``wordnet``: the quoted example sentences of WordNet (Debian ``wordnet-base``), ~48k short
  English sentences such as "the patient is respiring";
* ``fortunes``: the one-line records of Debian's ``fortunes`` (``%``-separated files);
* ``text:PATH``: any UTF-8 file, one example per line (blank lines skipped).

A :class:`Tokenizer` (``char`` or ``word``) is built from the training lines and kept in the
run's ``DataSpec.extra``, so a finished run decodes its samples without its data. Sequences are
``data.seq_len`` tokens: the example's tokens, then ``EOS``, then ``PAD``; the mask marks the
tokens up to and including ``EOS``; examples longer than fits are left out (none is cut).
Every :data:`HELD_OUT_EVERY`-th distinct line is held out (split ``test``) as the reference set
for BLEU.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganlab.data.batch import Batch, DataSpec, EpochOrder
from ganlab.data.registry import DatasetInfo, PrefixInfo, register_dataset, register_prefix
from ganlab.errors import GanlabError

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
HELD_OUT_EVERY = 10
TEXT_SPLITS = ("train", "test", "all")
WORDNET_DIR = Path("/usr/share/wordnet")
FORTUNES_DIR = Path("/usr/share/games/fortunes")
WORDNET_HINT = "apt-get install -y wordnet-base"
FORTUNES_HINT = "apt-get install -y fortunes"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


# ---------------------------------------------------------------------------------------------
# Tokenizers


@dataclass
class Tokenizer:
    """Characters or lower-cased words (punctuation marks are words) <-> ids; ids 0-3 are
    ``<pad> <bos> <eos> <unk>``."""

    level: str               # "char" or "word"
    vocab: list[str]         # id -> token, SPECIALS first

    def __post_init__(self) -> None:
        if self.level not in ("char", "word"):
            raise GanlabError(f"data.tokenizer: must be char or word, got {self.level!r}")
        self._ids = {t: i for i, t in enumerate(self.vocab)}

    @classmethod
    def build(cls, lines: list[str], level: str, max_vocab: int | None = None) -> Tokenizer:
        """The most frequent tokens of ``lines`` (ties by first appearance), up to ``max_vocab``
        entries including the specials."""
        counts = Counter(t for line in lines for t in split_tokens(line, level))
        keep = max_vocab - len(SPECIALS) if max_vocab else None
        return cls(level, [*SPECIALS, *(t for t, _ in counts.most_common(keep))])

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, line: str) -> list[int]:
        return [self._ids.get(t, UNK) for t in split_tokens(line, self.level)]

    def decode(self, ids: list[int] | Tensor) -> str:
        """Tokens up to the first ``EOS`` (``PAD`` and ``BOS`` dropped), joined."""
        out = []
        for i in (ids.tolist() if isinstance(ids, Tensor) else ids):
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            out.append(self.vocab[i] if 0 <= i < len(self.vocab) else SPECIALS[UNK])
        return ("" if self.level == "char" else " ").join(out)

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "vocab": list(self.vocab)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tokenizer:
        return cls(data["level"], list(data["vocab"]))


def split_tokens(line: str, level: str) -> list[str]:
    return list(line) if level == "char" else _WORD.findall(line.lower())


# ---------------------------------------------------------------------------------------------
# Corpora


def read_lines(path: str | Path) -> list[str]:
    """A UTF-8 file, one example per line (stripped, blank lines skipped), or a one-line error."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise GanlabError(f"{p}: no such file (text:PATH reads a UTF-8 file, one example "
                          "per line)") from None
    except OSError as exc:
        raise GanlabError(f"{p}: cannot read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GanlabError(f"{p}: not UTF-8 (byte {exc.start}: {raw[exc.start:exc.start + 1]!r}); "
                          "convert it, e.g. iconv -f latin1 -t utf-8") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise GanlabError(f"{p}: no text (the file is empty or only blank lines)")
    return lines


def read_wordnet(folder: Path = WORDNET_DIR) -> list[str]:
    """WordNet's quoted example sentences, in file order, each once."""
    files = sorted(folder.glob("data.*")) if folder.is_dir() else []
    if not files:
        raise GanlabError(f"{folder}: WordNet's data files are missing; {WORDNET_HINT}")
    seen: dict[str, None] = {}
    for f in files:
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            if " | " in line:
                for quote in re.findall(r'"([^"]+)"', line.split(" | ", 1)[1]):
                    seen.setdefault(quote.strip(), None)
    return list(seen)


def read_fortunes(folder: Path = FORTUNES_DIR, max_chars: int = 120) -> list[str]:
    """The one-line fortunes (records of a single line of at most ``max_chars``)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.suffix) \
        if folder.is_dir() else []
    if not files:
        raise GanlabError(f"{folder}: the fortunes files are missing; {FORTUNES_HINT}")
    seen: dict[str, None] = {}
    for f in files:
        text = f.read_text(encoding="utf-8", errors="replace")
        for record in text.split("\n%\n"):
            record = record.strip().strip("%").strip()
            if record and "\n" not in record and len(record) <= max_chars:
                seen.setdefault(record, None)
    return list(seen)


def read_corpus(name: str, path: str | None = None) -> list[str]:
    if name == "wordnet":
        return read_wordnet(Path(path) if path else WORDNET_DIR)
    if name == "fortunes":
        return read_fortunes(Path(path) if path else FORTUNES_DIR)
    if name.startswith("text:"):
        return read_lines(name[len("text:"):])
    raise GanlabError(f"data.name: unknown text corpus {name!r}; use wordnet, fortunes or "
                      "text:PATH")


def split_lines(lines: list[str], split: str) -> list[str]:
    """``train`` / ``test`` (every :data:`HELD_OUT_EVERY`-th line) / ``all``."""
    if split == "all":
        return lines
    if split not in ("train", "test"):
        raise GanlabError(f"data.split: text has the splits train, test and all; got {split!r}")
    held = split == "test"
    return [ln for i, ln in enumerate(lines) if (i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1) == held]


def encode_lines(lines: list[str], tok: Tokenizer, seq_len: int) -> tuple[Tensor, Tensor]:
    """(N, seq_len) int64 tokens (example, EOS, PAD...; cut at ``seq_len``) and the mask."""
    tokens = torch.full((len(lines), seq_len), PAD, dtype=torch.long)
    for i, line in enumerate(lines):
        ids = (tok.encode(line) + [EOS])[:seq_len]
        tokens[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    return tokens, mask_of(tokens)


def mask_of(tokens: Tensor) -> Tensor:
    """True up to and including the first EOS (everything when there is none)."""
    is_eos = tokens == EOS
    before = torch.cumsum(is_eos.long(), dim=1) - is_eos.long()
    return before == 0


# ---------------------------------------------------------------------------------------------
# The data source


class TokenSource:
    """Fixed token sequences served in epochs (:class:`~ganlab.data.batch.EpochOrder`)."""

    kind = "tokens"

    def __init__(self, tokens: Tensor, name: str, extra: dict[str, Any],
                 references: list[str] | None = None, mask: Tensor | None = None) -> None:
        self.tokens = tokens
        self.mask = mask_of(tokens) if mask is None else mask
        self.name = name
        self.extra = extra
        self.references = references or []   # held-out lines (BLEU references)
        self.order = EpochOrder(len(tokens))

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def spec(self) -> DataSpec:
        return DataSpec("tokens", (int(self.tokens.shape[1]),),
                        vocab_size=int(self.extra["vocab_size"]),
                        seq_len=int(self.tokens.shape[1]), extra=dict(self.extra))

    def batch(self, n: int, generator: torch.Generator) -> Batch:
        idx = self.order.take(n, generator)
        return Batch(x=self.tokens[idx], tokens=self.tokens[idx], mask=self.mask[idx])

    def state_dict(self) -> dict[str, Any]:
        return self.order.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.load_state_dict(state)


def tokenizer_of(spec: DataSpec) -> Tokenizer | None:
    """The tokenizer a text run saved in its DataSpec (None for the oracle's raw ids)."""
    data = (spec.extra or {}).get("tokenizer")
    return Tokenizer.from_json(data) if data else None


def build_text_source(cfg: Any) -> TokenSource:
    lines = read_corpus(cfg.name, cfg.path)
    seq_len = cfg.seq_len or 20
    train, test = split_lines(lines, "train"), split_lines(lines, "test")
    if cfg.split == "all":
        train = lines
    if cfg.limit:
        train = train[:cfg.limit]
    # keep the examples that fit with their EOS, so none is cut mid-sentence
    train = [ln for ln in train if len(split_tokens(ln, cfg.tokenizer)) < seq_len]
    test = [ln for ln in test if len(split_tokens(ln, cfg.tokenizer)) < seq_len]
    if not train:
        raise GanlabError(f"data.name={cfg.name}: no training example fits data.seq_len="
                          f"{seq_len} tokens; raise data.seq_len")
    tok = Tokenizer.build(train, cfg.tokenizer, cfg.vocab_size)
    tokens, _ = encode_lines(train, tok, seq_len)
    extra = {"tokenizer": tok.to_json(), "vocab_size": len(tok), "corpus": cfg.name,
             "n_train": len(train), "n_test": len(test)}
    return TokenSource(tokens, cfg.name, extra, references=test)


register_dataset(DatasetInfo(
    "wordnet", build_text_source, "tokens",
    "WordNet's quoted example sentences: ~48k short English sentences",
    splits=TEXT_SPLITS, default_split="train", held_out_split="test", install=WORDNET_HINT))
register_dataset(DatasetInfo(
    "fortunes", build_text_source, "tokens",
    "the one-line records of Debian's fortunes",
    splits=TEXT_SPLITS, default_split="train", held_out_split="test", install=FORTUNES_HINT))
register_prefix(PrefixInfo(
    "text", build_text_source, "tokens",
    "text:PATH: any UTF-8 file, one example per line"))

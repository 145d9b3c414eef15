"""The synthetic oracle of the SeqGAN benchmark: a random LSTM whose samples are the data.

An LSTM with every parameter drawn from N(0, 1) (vocabulary 5,000, embedding 32, hidden 32,
length 20 by default; ``data.vocab_size`` / ``data.seq_len`` change them) samples the training
sequences (``data.limit``, default 10,000). Because the true distribution is known, a generator
is scored by NLL_oracle: the oracle's mean per-token negative log-likelihood of sequences the
generator samples (lower is better; a uniform generator scores about ``log(vocab)`` plus the
oracle's peakedness). The oracle is rebuilt from its seed, so a run stores only the seed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganlab.data.registry import DatasetInfo, register_dataset
from ganlab.data.text import TokenSource
from ganlab.nn.seq import sample_categorical

ORACLE_SEED = 0
ORACLE_DIM = 32          # embedding and hidden size (the protocol's)
DEFAULTS = {"vocab_size": 5000, "seq_len": 20, "n_train": 10_000}


class Oracle(nn.Module):
    """The random LSTM. Token ``vocab_size`` is its start symbol (never emitted)."""

    def __init__(self, vocab_size: int, seed: int = ORACLE_SEED, dim: int = ORACLE_DIM) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size + 1, dim)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, vocab_size)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g))
        self.requires_grad_(False)

    def logits(self, tokens: Tensor) -> Tensor:
        """Teacher-forced next-token logits (N, L, V) for sequences (N, L)."""
        start = torch.full((tokens.shape[0], 1), self.vocab_size, dtype=torch.long,
                           device=tokens.device)
        h, _ = self.lstm(self.embed(torch.cat([start, tokens[:, :-1]], dim=1)))
        return self.out(h)

    @torch.no_grad()
    def nll(self, tokens: Tensor, batch_size: int = 1000) -> float:
        """Mean per-token negative log-likelihood of ``tokens`` under the oracle."""
        total = 0.0
        for chunk in tokens.split(batch_size):
            lp = torch.log_softmax(self.logits(chunk), dim=-1)
            total += float(-lp.gather(2, chunk.unsqueeze(2)).sum())
        return total / tokens.numel()

    @torch.no_grad()
    def sample(self, n: int, seq_len: int, generator: torch.Generator) -> Tensor:
        tok = torch.full((n, 1), self.vocab_size, dtype=torch.long)
        state = None
        out = []
        for _ in range(seq_len):
            h, state = self.lstm(self.embed(tok), state)
            tok = sample_categorical(torch.softmax(self.out(h[:, -1]), dim=-1), generator)
            out.append(tok)
        return torch.cat(out, dim=1)


def oracle_of(extra: dict[str, Any]) -> Oracle | None:
    """The oracle a run's ``DataSpec.extra`` describes (None for other data)."""
    o = (extra or {}).get("oracle")
    return Oracle(int(o["vocab_size"]), int(o["seed"])) if o else None


def build_oracle_source(cfg: Any) -> TokenSource:
    vocab = cfg.vocab_size or DEFAULTS["vocab_size"]
    seq_len = cfg.seq_len or DEFAULTS["seq_len"]
    n = cfg.limit or DEFAULTS["n_train"]
    oracle = Oracle(vocab)
    tokens = oracle.sample(n, seq_len, torch.Generator().manual_seed(ORACLE_SEED + 1))
    extra = {"oracle": {"vocab_size": vocab, "seed": ORACLE_SEED, "seq_len": seq_len},
             "vocab_size": vocab, "n_train": n}
    return TokenSource(tokens, "oracle", extra, mask=torch.ones_like(tokens, dtype=torch.bool))


register_dataset(DatasetInfo(
    "oracle", build_oracle_source, "tokens",
    "sequences sampled from a random LSTM (the SeqGAN oracle), scored by NLL_oracle"))

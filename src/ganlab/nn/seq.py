"""Networks for token sequences: a recurrent generator and two discriminators.

The generator is an LSTM (or GRU) language model. Token ``vocab_size`` is its start symbol,
never emitted. It can

* score sequences (:meth:`TokenGenerator.log_probs`, teacher forcing; MLE training);
* sample them with a temperature and top-k (:meth:`~TokenGenerator.sample`), also continuing
  given prefixes to full length (Monte-Carlo roll-outs, SeqGAN);
* emit relaxed one-hot vectors (:meth:`~TokenGenerator.gumbel`; Gumbel-softmax GANs), feeding
  each relaxed vector back through its embedding matrix so the whole sequence is
  differentiable.

The discriminators read either token ids (N, L) or (relaxed) one-hot rows (N, L, V): ids pick
rows of the embedding matrix, one-hot rows multiply it, which is the same for exact one-hots.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CELLS = ("lstm", "gru")
ROLLOUT_CHUNK = 1024   # roll-out rows whose next-token distribution is computed at once


def sample_categorical(probs: Tensor, generator: torch.Generator | None = None,
                       uniform: Tensor | None = None) -> Tensor:
    """One index per row of ``probs`` (N, V) by inverting the cumulative distribution: the
    same law as ``torch.multinomial(probs, 1)``, several times faster for large V. ``probs``
    need not sum to 1 (the draw is scaled by the total). ``uniform`` (N, 1), when given, is the
    U(0, 1) draw itself (nothing is drawn from ``generator``)."""
    cdf = probs.cumsum(dim=-1)
    if uniform is None:
        uniform = torch.rand(cdf.shape[:-1] + (1,), generator=generator, device=probs.device,
                             dtype=cdf.dtype)
    u = uniform.to(cdf.dtype) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max(probs.shape[-1] - 1)


def gumbel_softmax(logits: Tensor, tau: float, generator: torch.Generator | None = None,
                   hard: bool = False) -> Tensor:
    """``softmax((logits + g) / tau)`` with g ~ Gumbel(0, 1) drawn from ``generator``; with
    ``hard`` the forward value is the one-hot argmax and the gradient the relaxed one's
    (straight-through)."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device,
                   dtype=logits.dtype).clamp_(1e-10, 1.0 - 1e-7)
    y = torch.softmax((logits - torch.log(-torch.log(u))) / tau, dim=-1)
    if not hard:
        return y
    one_hot = F.one_hot(y.argmax(dim=-1), y.shape[-1]).to(y.dtype)
    return one_hot - y.detach() + y


def _top_k(logits: Tensor, k: int | None) -> Tensor:
    if not k or k >= logits.shape[-1]:
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


class TokenGenerator(nn.Module):
    """An LSTM/GRU language model over ``vocab_size`` tokens (plus a start symbol)."""

    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden: int = 32,
                 cell: str = "lstm") -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size + 1, emb_dim)
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(emb_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def _start(self, n: int, device: torch.device) -> Tensor:
        return torch.full((n, 1), self.vocab_size, dtype=torch.long, device=device)

    def logits(self, tokens: Tensor) -> Tensor:
        """Next-token logits (N, L, V) with teacher forcing: position t sees tokens < t."""
        inputs = torch.cat([self._start(tokens.shape[0], tokens.device), tokens[:, :-1]], dim=1)
        h, _ = self.rnn(self.embed(inputs))
        return self.out(h)

    def log_probs(self, tokens: Tensor) -> Tensor:
        """log p(token_t | tokens < t), shape (N, L)."""
        lp = torch.log_softmax(self.logits(tokens), dim=-1)
        return lp.gather(2, tokens.unsqueeze(2)).squeeze(2)

    def nll(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean negative log-likelihood per (masked) token: the MLE loss."""
        lp = self.log_probs(tokens)
        if mask is None:
            return -lp.mean()
        m = mask.to(lp.dtype)
        return -(lp * m).sum() / m.sum().clamp_min(1.0)

    @torch.no_grad()
    def sample(self, n: int, seq_len: int, generator: torch.Generator | None = None,
               temperature: float = 1.0, top_k: int | None = None,
               prefix: Tensor | None = None, uniforms: Tensor | None = None) -> Tensor:
        """``n`` sequences of ``seq_len`` tokens; with ``prefix`` (n, t) the first t tokens are
        given and the rest sampled (a roll-out). ``uniforms`` (n, seq_len - t), when given, are
        the U(0, 1) draws of the sampled positions (nothing is drawn from ``generator``)."""
        device = self.out.weight.device
        tok = self._start(n, device)
        state = None
        if prefix is not None and prefix.shape[1] > 0:
            tok = torch.cat([tok, prefix], dim=1)
        out = [] if prefix is None else [prefix]
        done = 0 if prefix is None else prefix.shape[1]
        for i in range(seq_len - done):
            h, state = self.rnn(self.embed(tok), state)
            logits = _top_k(self.out(h[:, -1]) / temperature, top_k)
            u = None if uniforms is None else uniforms[:, i:i + 1]
            tok = sample_categorical(torch.softmax(logits, dim=-1), generator, u)
            out.append(tok)
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def rollouts(self, tokens: Tensor, k: int, generator: torch.Generator | None = None,
                 temperature: float = 1.0, top_k: int | None = None,
                 uniforms: Tensor | None = None) -> Tensor:
        """Monte-Carlo completions of every proper prefix of ``tokens`` (n, L), all at once:
        (L - 1, k, n, L), where ``[t, j]`` keeps ``tokens[:, :t+1]`` and samples the rest.

        The same law as ``sample(n * k, L, prefix=tokens[:, :t+1].repeat(k, 1))`` for each t,
        at a fraction of the cost: the sequences are read once (one recurrent step per
        position, the state after each prefix kept) and the ``(L - 1) * k * n`` continuations
        then advance together, one batched step per position, the rows of prefixes already
        complete dropping out. ``uniforms`` ((L - 1) * k * n, L), when given, holds the
        U(0, 1) draw of row ``(t * k + j) * n + i`` at position p > t (nothing is drawn from
        ``generator``); :meth:`sample` with ``uniforms[rows of t, t + 1:]`` draws the same
        tokens."""
        n, length = tokens.shape
        if length < 2:
            return tokens.new_empty((0, k, n, length))
        lstm = isinstance(self.rnn, nn.LSTM)
        inputs = torch.cat([self._start(n, tokens.device), tokens[:, :-1]], dim=1)
        hs: list[Tensor] = []
        hx: list[Tensor] = []
        cx: list[Tensor] = []
        state: Any = None
        for t in range(length):               # state after start + tokens[:, :t]
            h, state = self.rnn(self.embed(inputs[:, t:t + 1]), state)
            if t >= 1:                          # a prefix of t tokens, t = 1 .. L - 1
                hs.append(h[:, -1])
                if lstm:
                    hx.append(state[0])
                    cx.append(state[1])
                else:
                    hx.append(state)
        m = length - 1                          # prefixes of 1 .. L - 1 tokens: t = 0 .. L - 2

        def rows(parts: list[Tensor], dim: int) -> Tensor:   # (t, j, i) order, t outermost
            x = torch.stack(parts, dim=dim)     # (..., m, n, H) at dim
            shape = list(x.shape)
            x = x.unsqueeze(dim + 1).expand(*shape[:dim + 1], k, *shape[dim + 1:])
            return x.reshape(*shape[:dim], m * k * n, *shape[dim + 2:])

        h_last = rows(hs, 0)                    # (R, H)
        state = (rows(hx, 1), rows(cx, 1)) if lstm else rows(hx, 1)   # (layers, R, H)
        out = tokens.unsqueeze(0).unsqueeze(0).expand(m, k, n, length).reshape(m * k * n, length)
        out = out.clone()
        row_t = torch.arange(m, device=tokens.device).repeat_interleave(k * n)
        for s in range(1, length):              # position t + s of every prefix t <= L-1-s
            active = (length - s) * k * n
            pos = row_t[:active] + s
            u_all = None if uniforms is None else uniforms[:active].gather(1, pos.unsqueeze(1))
            # the (rows, V) probabilities a chunk at a time: large tensors leave the cache
            chunks = []
            for a in range(0, active, ROLLOUT_CHUNK):
                b = min(a + ROLLOUT_CHUNK, active)
                logits = _top_k(self.out(h_last[a:b]).float() / temperature, top_k)
                u = None if u_all is None else u_all[a:b]
                chunks.append(sample_categorical(torch.softmax(logits, dim=-1), generator, u))
            tok = torch.cat(chunks)
            out[torch.arange(active, device=tokens.device), pos] = tok.squeeze(1)
            if s == length - 1:
                break
            nxt = (length - s - 1) * k * n       # the rows that still have positions to fill
            if lstm:
                state = (state[0][:, :nxt].contiguous(), state[1][:, :nxt].contiguous())
            else:
                state = state[:, :nxt].contiguous()
            h, state = self.rnn(self.embed(tok[:nxt]), state)
            h_last = h[:, -1]
        return out.view(m, k, n, length)

    def gumbel(self, n: int, seq_len: int, tau: float, generator: torch.Generator | None = None,
               hard: bool = False) -> tuple[Tensor, Tensor]:
        """Relaxed one-hot rows (n, seq_len, V), differentiable in the parameters, and the
        tokens they round to. Each step feeds its relaxed row back through the embedding."""
        device = self.out.weight.device
        x = self.embed(self._start(n, device))
        state = None
        rows = []
        for _ in range(seq_len):
            h, state = self.rnn(x, state)
            y = gumbel_softmax(self.out(h[:, -1]), tau, generator, hard)
            rows.append(y)
            x = (y @ self.embed.weight[:self.vocab_size]).unsqueeze(1)
        soft = torch.stack(rows, dim=1)
        return soft, soft.argmax(dim=-1)


def _embed(embedding: nn.Embedding, x: Tensor) -> Tensor:
    if x.dtype in (torch.long, torch.int, torch.int32, torch.int64):
        return embedding(x)
    return x @ embedding.weight


class Highway(nn.Module):
    """y = t * relu(W x) + (1 - t) * x with a learned gate t (SeqGAN's discriminator)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        t = torch.sigmoid(self.gate(x))
        return t * F.relu(self.proj(x)) + (1 - t) * x


class CNNDiscriminator(nn.Module):
    """Convolutions of several widths over token embeddings, max-pooled over time, a highway
    layer, dropout and one logit per sequence (the SeqGAN discriminator)."""

    def __init__(self, vocab_size: int, seq_len: int, emb_dim: int = 64,
                 widths: tuple[int, ...] = (1, 2, 3, 4, 5, 8, 10, 15, 20),
                 filters: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        widths = tuple(w for w in widths if w <= seq_len) or (min(seq_len, 2),)
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, filters, w) for w in widths)
        dim = filters * len(widths)
        self.highway = Highway(dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        e = _embed(self.embed, x).transpose(1, 2)                 # (N, E, L)
        pooled = torch.cat([F.relu(c(e)).amax(dim=2) for c in self.convs], dim=1)
        return self.head(self.dropout(self.highway(pooled))).squeeze(1)


class RNNDiscriminator(nn.Module):
    """A GRU over token embeddings; its last state gives one logit per sequence."""

    def __init__(self, vocab_size: int, emb_dim: int = 64, hidden: int = 64,
                 dropout: float = 0.25) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_dim)
        self.rnn = nn.GRU(emb_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        _, h = self.rnn(_embed(self.embed, x))
        return self.head(self.dropout(h[-1])).squeeze(1)

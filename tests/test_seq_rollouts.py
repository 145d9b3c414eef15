"""SeqGAN's batched roll-outs: the same completions and rewards as the per-prefix loop.

With the same U(0, 1) draws, :meth:`TokenGenerator.rollouts` (every prefix at once, from the
state after the prefix) must draw exactly the tokens :meth:`TokenGenerator.sample` draws when it
re-reads each prefix, and :func:`rollout_rewards` must equal the per-prefix reference within
float tolerance; with the engine's own stream the two agree in law (checked on the mean
reward)."""

from __future__ import annotations

import pytest
import torch

from ganlab.families.seqgan import rollout_rewards, rollout_rewards_by_position
from ganlab.nn.seq import CNNDiscriminator, RNNDiscriminator, TokenGenerator

V, L, N, K = 40, 9, 5, 3


def _models(cell: str, arch: str) -> tuple[TokenGenerator, torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    g = TokenGenerator(V, 8, 16, cell)
    d = (CNNDiscriminator(V, L, 8, (1, 2, 3), 4, 0.25) if arch == "cnn"
         else RNNDiscriminator(V, 8, 8, 0.25))
    tokens = g.sample(N, L, torch.Generator().manual_seed(1))
    return g, d, tokens


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_batched_rollouts_draw_the_loops_tokens(cell: str) -> None:
    g, _, tokens = _models(cell, "cnn")
    u = torch.rand((L - 1) * K * N, L, generator=torch.Generator().manual_seed(2))
    done = g.rollouts(tokens, K, None, uniforms=u)
    assert done.shape == (L - 1, K, N, L)
    for t in range(L - 1):
        rows = slice(t * K * N, (t + 1) * K * N)
        ref = g.sample(N * K, L, prefix=tokens[:, :t + 1].repeat(K, 1), uniforms=u[rows, t + 1:])
        assert torch.equal(done[t].reshape(K * N, L), ref), f"prefix {t + 1}"
        assert torch.equal(done[t, :, :, :t + 1], tokens[:, :t + 1].expand(K, N, t + 1))


@pytest.mark.parametrize(("cell", "arch"), [("lstm", "cnn"), ("gru", "rnn")])
def test_batched_rewards_equal_the_per_prefix_loop(cell: str, arch: str) -> None:
    g, d, tokens = _models(cell, arch)
    d.train()
    u = torch.rand((L - 1) * K * N, L, generator=torch.Generator().manual_seed(2))
    q = rollout_rewards(g, d, tokens, K, None, uniforms=u)
    ref = rollout_rewards_by_position(g, d, tokens, K, None, uniforms=u)
    assert q.shape == (N, L) and d.training           # D's mode is given back
    torch.testing.assert_close(q, ref, rtol=1e-5, atol=1e-6)


def test_batched_rewards_have_the_loops_law() -> None:
    g, d, tokens = _models("lstm", "cnn")
    qa = torch.stack([rollout_rewards(g, d, tokens, 32, torch.Generator().manual_seed(s))
                      for s in range(8)]).mean(0)
    qb = torch.stack([rollout_rewards_by_position(g, d, tokens, 32,
                                                  torch.Generator().manual_seed(100 + s))
                      for s in range(8)]).mean(0)
    assert torch.equal(qa[:, -1], qb[:, -1])
    assert float((qa - qb).abs().max()) < 0.01


def test_bf16_rewards_stay_close() -> None:
    g, d, tokens = _models("lstm", "cnn")
    u = torch.rand((L - 1) * K * N, L, generator=torch.Generator().manual_seed(2))
    q = rollout_rewards(g, d, tokens, K, None, uniforms=u)
    q16 = rollout_rewards(g, d, tokens, K, None, uniforms=u, bf16=True)
    assert q16.dtype == torch.float32 and float((q - q16).abs().mean()) < 0.02

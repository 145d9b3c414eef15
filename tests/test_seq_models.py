"""Sequence GANs, the parts: oracle, tokenizers, text loading, generator sampling and
roll-outs, Gumbel-softmax, the REINFORCE estimator, BLEU, and why argmax blocks gradients."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganlab.data.oracle import Oracle
from ganlab.data.text import (
    EOS,
    PAD,
    Tokenizer,
    encode_lines,
    mask_of,
    read_lines,
    split_lines,
)
from ganlab.errors import GanlabError
from ganlab.metrics.text import bleu, self_bleu
from ganlab.nn.seq import (
    CNNDiscriminator,
    RNNDiscriminator,
    TokenGenerator,
    gumbel_softmax,
    sample_categorical,
)


def test_oracle_scores_its_own_samples_below_uniform() -> None:
    oracle = Oracle(5000)
    own = oracle.sample(300, 20, torch.Generator().manual_seed(1))
    assert own.shape == (300, 20) and int(own.max()) < 5000
    uniform = torch.randint(0, 5000, (300, 20), generator=torch.Generator().manual_seed(2))
    assert oracle.nll(own) < math.log(5000) < oracle.nll(uniform)
    assert torch.equal(Oracle(5000).out.weight, oracle.out.weight)   # rebuilt from its seed


def test_sample_categorical_has_the_right_law() -> None:
    probs = torch.tensor([[0.1, 0.2, 0.7]]).expand(40_000, 3)
    draws = sample_categorical(probs, torch.Generator().manual_seed(0)).flatten()
    freq = torch.bincount(draws, minlength=3).float() / len(draws)
    assert torch.allclose(freq, torch.tensor([0.1, 0.2, 0.7]), atol=0.01)


@pytest.mark.parametrize("level", ["char", "word"])
def test_tokenizer_round_trip(level: str) -> None:
    lines = ["the cat sat on the mat.", "a dog's life!"]
    tok = Tokenizer.build(lines, level)
    for line in lines:
        assert tok.decode(tok.encode(line)) == (line if level == "char" else
                                                " ".join(tok.vocab[i] for i in tok.encode(line)))
    assert Tokenizer.from_json(tok.to_json()).vocab == tok.vocab
    assert "<unk>" in tok.decode(tok.encode("the zebra"))
    if level == "word":
        assert tok.decode(tok.encode("The CAT sat!")) == "the cat sat !"


def test_encoding_eos_pad_and_mask() -> None:
    tok = Tokenizer.build(["a b c"], "word")
    tokens, mask = encode_lines(["a b", "a b c"], tok, 5)
    assert tokens[0].tolist()[2:] == [EOS, PAD, PAD]
    assert mask[0].tolist() == [True, True, True, False, False]
    assert torch.equal(mask, mask_of(tokens))
    assert split_lines([str(i) for i in range(20)], "test") == ["9", "19"]


def test_text_loader_errors_are_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    for path, words in ((empty, "no text"), (bad, "not UTF-8"),
                        (tmp_path / "missing.txt", "no such file")):
        with pytest.raises(GanlabError, match=words) as err:
            read_lines(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_rollouts_keep_the_prefix_and_reach_full_length() -> None:
    g = TokenGenerator(30, 8, 16)
    prefix = torch.randint(0, 30, (5, 3))
    done = g.sample(5, 12, torch.Generator().manual_seed(0), prefix=prefix)
    assert done.shape == (5, 12) and torch.equal(done[:, :3], prefix)
    assert int(done.max()) < 30
    a = g.sample(4, 6, torch.Generator().manual_seed(3), temperature=0.5, top_k=2)
    assert torch.equal(a, g.sample(4, 6, torch.Generator().manual_seed(3), temperature=0.5,
                                   top_k=2))


def test_gumbel_samples_approach_one_hot_as_tau_goes_to_zero() -> None:
    logits = torch.randn(2000, 10, generator=torch.Generator().manual_seed(0))
    peak = {tau: float(gumbel_softmax(logits, tau, torch.Generator().manual_seed(1))
                       .max(-1).values.mean()) for tau in (10.0, 1.0, 0.1, 0.01)}
    assert peak[10.0] < peak[1.0] < peak[0.1] < peak[0.01]
    assert peak[0.01] > 0.99 and peak[10.0] < 0.5
    hard = gumbel_softmax(logits, 1.0, torch.Generator().manual_seed(1), hard=True)
    assert torch.equal(hard.sum(-1), torch.ones(2000)) and set(hard.unique().tolist()) == {0, 1}


@pytest.mark.parametrize("arch", ["cnn", "rnn"])
def test_discriminators_read_ids_and_one_hot_rows_alike(arch: str) -> None:
    torch.manual_seed(0)
    d = (CNNDiscriminator(30, 10, 8, (1, 3, 20), 4) if arch == "cnn" else
         RNNDiscriminator(30, 8, 8)).eval()
    ids = torch.randint(0, 30, (6, 10))
    out = d(ids)
    assert out.shape == (6,)
    assert torch.allclose(out, d(F.one_hot(ids, 30).float()), atol=1e-5)


def test_reinforce_estimator_is_unbiased_on_a_bandit() -> None:
    """One-token sequences: the policy-gradient loss SeqGAN uses (mean of -log p * (reward -
    batch-mean baseline)) has, over many samples, the exact gradient of -E[reward]."""
    torch.manual_seed(0)
    g = TokenGenerator(5, 4, 8)
    reward = torch.tensor([0.1, 0.9, 0.3, 0.5, 0.0])
    start = g._start(1, torch.device("cpu"))
    probs = torch.softmax(g.out(g.rnn(g.embed(start))[0][:, -1]), -1)[0]
    exact = torch.autograd.grad(-(probs * reward).sum(), g.out.bias)[0]
    tokens = g.sample(200_000, 1, torch.Generator().manual_seed(1))
    q = reward[tokens]
    loss = -(g.log_probs(tokens) * (q - q.mean(0, keepdim=True))).mean()
    estimate = torch.autograd.grad(loss, g.out.bias)[0]
    assert torch.allclose(estimate, exact, atol=3e-3), (estimate, exact)
    assert exact.abs().max() > 0.02


def _toy() -> tuple[TokenGenerator, torch.Tensor]:
    """A generator over 6 tokens and a fixed "discriminator": the share of token 0."""
    torch.manual_seed(0)
    return TokenGenerator(6, 4, 8), torch.tensor([1.0, 0, 0, 0, 0, 0])


def test_argmax_gives_the_generator_exactly_zero_gradient() -> None:
    g, w = _toy()
    logits = g.logits(g.sample(16, 5, torch.Generator().manual_seed(0)))
    tokens = logits.argmax(-1)                          # the discrete choice
    score = F.one_hot(tokens, 6).float() @ w            # D reads the chosen tokens
    assert not score.requires_grad                      # autograd: no path back to G
    grads = torch.autograd.grad(logits.sum() * 0 + score.sum(), list(g.parameters()),
                                allow_unused=True)
    assert all(gr is None or torch.count_nonzero(gr) == 0 for gr in grads)
    # and numerically: a small change of G changes no token, so D's score does not move
    with torch.no_grad():
        g.out.bias.add_(1e-4)
    assert torch.equal(g.logits(g.sample(16, 5, torch.Generator().manual_seed(0))).argmax(-1),
                       tokens)


def test_reinforce_and_gumbel_raise_the_score_that_argmax_cannot() -> None:
    for method in ("reinforce", "gumbel"):
        g, w = _toy()
        opt = torch.optim.Adam(g.parameters(), lr=0.05)
        gen = torch.Generator().manual_seed(0)

        def score(g: TokenGenerator = g) -> float:
            return float((g.sample(2000, 5, torch.Generator().manual_seed(9)) == 0).float()
                         .mean())

        before = score()
        for i in range(30):
            if method == "reinforce":
                tokens = g.sample(64, 5, gen)
                q = (tokens == 0).float()
                loss = -(g.log_probs(tokens) * (q - q.mean(0, keepdim=True))).mean()
            else:
                rows, _ = g.gumbel(64, 5, 0.5, gen, hard=True)
                loss = -(rows @ w).mean()
            grads = torch.autograd.grad(loss, list(g.parameters()))
            if i == 0:    # (later, once every token is 0, REINFORCE's advantage is 0)
                assert sum(float(gr.abs().sum()) for gr in grads) > 0
            opt.zero_grad()
            for p, gr in zip(g.parameters(), grads, strict=True):
                p.grad = gr
            opt.step()
        assert score() > before + 0.2, method


def test_bleu_and_self_bleu() -> None:
    refs = [s.split() for s in ["the cat sat on the mat", "a dog ran in the park"]]
    assert bleu(refs[:1], refs)["bleu4"] == pytest.approx(1.0)
    far = bleu([["zebra", "quantum", "violin", "x"]], refs)
    assert far["bleu2"] < 0.05
    same = self_bleu([refs[0]] * 5)
    varied = self_bleu(refs + [s.split() for s in ["my bike is red", "she sings well"]])
    assert same["self_bleu3"] == pytest.approx(1.0) and varied["self_bleu3"] < 0.2
    with pytest.raises(GanlabError, match="two"):
        self_bleu([["one"]])

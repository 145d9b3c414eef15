"""SeqGAN: a token generator trained by policy gradient against a discriminator.

Sampling a token is not differentiable, so D's score gives G no gradient (see
docs/sequences.md). SeqGAN (Yu et al., AAAI 2017) treats G as a policy and D's probability that
a finished sequence is real as the reward. One run goes through three phases, chosen by the step
alone (so a run resumes in any of them):

1. ``mle_steps`` steps of maximum-likelihood pre-training of G (teacher forcing);
2. ``d_pretrain_steps`` steps of D on real vs G's sequences;
3. adversarial training to ``train.steps``: each step G samples a batch, the reward of token t
   is D's mean score over ``rollouts`` completions of the prefix up to t drawn from the
   roll-out policy (a delayed copy of G, ``theta_r <- rollout_update * theta_r + (1 -
   rollout_update) * theta``), the final token's reward is D's score of the sequence itself;
   G takes a REINFORCE step on ``-(log p(token) * (reward - baseline))``; then D takes
   ``d_steps`` steps. ``mle_every`` > 0 interleaves an MLE step every that many steps.

With ``mle_steps >= train.steps`` the run is the MLE baseline (the same network, the same
optimiser, never adversarial). ``ganlab.families.gumbel`` subclasses this family and replaces
only the adversarial G step.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.config import OptimizerConfig, setting
from ganlab.data.batch import DataSpec
from ganlab.data.oracle import oracle_of
from ganlab.data.text import split_tokens, tokenizer_of
from ganlab.engine.family import Family, FamilyContext
from ganlab.engine.optim import build_optimizers
from ganlab.errors import GanlabError
from ganlab.extras import missing
from ganlab.metrics.text import bleu, self_bleu
from ganlab.nn.seq import CNNDiscriminator, RNNDiscriminator, TokenGenerator
from ganlab.registry import register_family
from ganlab.report.artefacts import Artefact, Text
from ganlab.report.curves import CurveGroup

PHASES = ("mle", "d_pretrain", "adversarial")
EVAL_SEED = 20_170_204


@dataclass
class SeqModelConfig:
    """The generator (an LSTM or GRU language model) and the discriminator (``cnn``: SeqGAN's
    convolutions of several widths with a highway layer; ``rnn``: a GRU)."""

    cell: str = setting("lstm", choices=("lstm", "gru"))
    emb_dim: int = setting(32, check="positive")
    hidden: int = setting(32, check="positive")
    d_arch: str = setting("cnn", choices=("cnn", "rnn"))
    d_emb_dim: int = setting(64, check="positive")
    d_widths: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5, 8, 10, 15, 20])
    d_filters: int = setting(64, check="positive")
    d_dropout: float = setting(0.25, check="probability")

    def validate(self, prefix: str) -> None:
        if not self.d_widths or any(int(w) < 1 for w in self.d_widths):
            raise GanlabError(f"{prefix}d_widths: must be a non-empty list of widths >= 1, "
                              f"got {self.d_widths!r}")


@dataclass
class SeqGANConfig:
    """The ``seqgan:`` section."""

    model: SeqModelConfig = field(default_factory=SeqModelConfig)
    mle_steps: int = setting(1000, check="non_negative")
    d_pretrain_steps: int = setting(200, check="non_negative")
    rollouts: int = setting(16, check="positive")
    rollout_update: float = setting(0.8, check="probability")
    rollout_bf16: bool = False   # roll-outs and their scoring under bfloat16 autocast
    d_steps: int = setting(3, check="non_negative")
    mle_every: int = setting(0, check="non_negative")
    baseline: str = setting("mean", choices=("mean", "none"))
    temperature: float = setting(1.0, check="positive")
    top_k: int | None = setting(None, check="positive_or_none")
    eval_samples: int = setting(2000, check="positive")
    # G's adversarial steps: a fresh Adam at this rate (the official SeqGAN code builds one for
    # its policy-gradient updates; RelGAN's 1e-4), instead of the pre-training optimiser
    adv_lr: float | None = setting(None, check="positive_or_none")
    bleu_samples: int = setting(200, check="positive")
    bleu_references: int = setting(1000, check="positive")
    snapshot_lines: int = setting(12, check="positive")
    optim: dict[str, OptimizerConfig] = field(default_factory=lambda: {
        "G": OptimizerConfig(lr=1e-2, betas=[0.9, 0.999]),
        "D": OptimizerConfig(lr=1e-4, betas=[0.9, 0.999])})

    def validate(self, prefix: str) -> None:
        missing = {"G", "D"} - set(self.optim)
        if missing:
            raise GanlabError(f"{prefix}optim: needs entries {sorted(missing)} (G and D)")


class TextSampler:
    """Sentences (or, for the oracle, token ids) from the generator."""

    kind = "text"
    source = "G"

    def __init__(self, family: SeqGANFamily) -> None:
        self.family = family

    def tokens(self, n: int, seed: int = 0) -> Tensor:
        f = self.family
        g = torch.Generator(device=f.runtime.device if f.runtime.device.type != "meta"
                            else "cpu").manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            was = f.G.training
            f.G.eval()
            try:
                return f.G.sample(n, f.seq_len, g, f.section.temperature,
                                  f.section.top_k).cpu()
            finally:
                f.G.train(was)

    def sample(self, n: int, seed: int = 0, condition: Any = None) -> list[str]:
        if condition is not None:
            raise GanlabError("this run is not conditional: sample it without a condition")
        return self.family.decode(self.tokens(n, seed))


D_CHUNK = 4096   # sequences per D call when scoring roll-outs


def _scored(D: nn.Module, seqs: Tensor) -> Tensor:
    """D's probability of "real" for each of ``seqs`` (N, L), in chunks of :data:`D_CHUNK`."""
    return torch.cat([torch.sigmoid(D(c).float()) for c in seqs.split(D_CHUNK)])


@torch.no_grad()
def rollout_rewards(policy: TokenGenerator, D: nn.Module, tokens: Tensor, rollouts: int,
                    generator: torch.Generator | None, temperature: float = 1.0,
                    uniforms: Tensor | None = None, bf16: bool = False) -> Tensor:
    """SeqGAN's Q (N, L): for t < L - 1, D's mean probability of "real" over ``rollouts``
    completions of ``tokens[:, :t+1]`` by ``policy``; Q[:, -1] is D's score of ``tokens``.

    Every prefix's completions are drawn in one batch (:meth:`TokenGenerator.rollouts`: the
    sequences are read once, not once per prefix) and scored in large chunks. D is put in
    eval mode for the scoring. ``uniforms`` as in :meth:`TokenGenerator.rollouts`. With
    ``bf16`` the policy's and D's matrix products run under bfloat16 autocast (the sampling
    distributions and scores are still formed in float32)."""
    n, length = tokens.shape
    was = D.training
    D.eval()
    try:
        with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=bf16):
            q = torch.empty(n, length, device=tokens.device)
            done = policy.rollouts(tokens, rollouts, generator, temperature, uniforms=uniforms)
            if length > 1:
                q[:, :-1] = _scored(D, done.reshape(-1, length)).view(
                    length - 1, rollouts, n).mean(1).T
            q[:, -1] = _scored(D, tokens)
    finally:
        D.train(was)
    return q


@torch.no_grad()
def rollout_rewards_by_position(policy: TokenGenerator, D: nn.Module, tokens: Tensor,
                                rollouts: int, generator: torch.Generator | None,
                                temperature: float = 1.0,
                                uniforms: Tensor | None = None) -> Tensor:
    """The same Q as :func:`rollout_rewards`, one prefix at a time (each prefix re-read by the
    policy, one D call per prefix): the reference the batched version is tested and timed
    against. With the same ``uniforms`` both draw the same completions."""
    n, length = tokens.shape
    k = rollouts
    was = D.training
    D.eval()
    try:
        q = torch.empty(n, length, device=tokens.device)
        for t in range(length - 1):
            prefix = tokens[:, :t + 1].repeat(k, 1)
            u = None if uniforms is None else uniforms[t * k * n:(t + 1) * k * n, t + 1:]
            done = policy.sample(n * k, length, generator, temperature, prefix=prefix,
                                 uniforms=u)
            q[:, t] = torch.sigmoid(D(done)).view(k, n).mean(0)
        q[:, -1] = torch.sigmoid(D(tokens))
    finally:
        D.train(was)
    return q


Q = TypeVar("Q", bound=SeqGANConfig)   # the section: SeqGANConfig, or GumbelConfig


class SeqGANFamily(Family[Q]):
    name = "seqgan"
    config_class = SeqGANConfig
    progress_keys = ("mle_loss", "d_loss", "g_loss")
    curves: ClassVar[tuple[CurveGroup, ...]] = (
        CurveGroup("losses", "Losses (MLE pre-training, D, policy gradient)",
                   ("mle_loss", "d_loss", "g_loss")),
        CurveGroup("reward", "D's reward for generated sequences", ("reward",)),
    )

    def __init__(self, ctx: FamilyContext) -> None:
        super().__init__(ctx)
        spec: DataSpec = self.spec
        if spec.kind != "tokens" or not spec.vocab_size or not spec.seq_len:
            raise GanlabError(f"family {self.name}: needs token data (data.name=oracle, "
                              f"wordnet, fortunes or text:PATH), got {spec.kind} data")
        hp = self.section
        m = hp.model
        self.vocab_size, self.seq_len = int(spec.vocab_size), int(spec.seq_len)
        # the generator keeps its class on the device (runtime.module moves it, wraps nothing)
        self.G = cast(TokenGenerator, self.runtime.module(
            TokenGenerator(self.vocab_size, m.emb_dim, m.hidden, m.cell)))
        self.G_rollout = cast(TokenGenerator, self.runtime.module(
            copy.deepcopy(self.G)).requires_grad_(False))
        D: nn.Module = CNNDiscriminator(self.vocab_size, self.seq_len, m.d_emb_dim,
                                        tuple(int(w) for w in m.d_widths), m.d_filters,
                                        m.d_dropout) if m.d_arch == "cnn" else \
            RNNDiscriminator(self.vocab_size, m.d_emb_dim, m.d_emb_dim, m.d_dropout)
        self.D = self.runtime.module(D)
        self.opts = build_optimizers({"G": self.G, "D": self.D}, hp.optim)
        if hp.adv_lr is not None:   # G's adversarial steps get their own Adam
            g = hp.optim["G"]
            self.opts.update(build_optimizers({"G_adv": self.G}, {"G_adv": OptimizerConfig(
                lr=hp.adv_lr, betas=list(g.betas), weight_decay=g.weight_decay)}))
        self.gen = self.streams.generator("train")
        self.data_gen = self.streams.data_generator()
        self._tokenizer: Any = None
        if getattr(ctx.data, "references", None):   # real text: BLEU at the end
            no_bleu = missing("nltk", "BLEU at the end of this run")
            if no_bleu is not None:
                self.log(f"note: {no_bleu}")
        self._oracle: Any = None

    # -- the contract ----------------------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "G_rollout": self.G_rollout, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.opts

    def sampler(self) -> TextSampler:
        return TextSampler(self)

    def phase(self, step: int) -> str:
        hp = self.section
        if step < hp.mle_steps:
            return "mle"
        if step < hp.mle_steps + hp.d_pretrain_steps:
            return "d_pretrain"
        return "adversarial"

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        phase = self.phase(step)
        logs: dict[str, Tensor | float] = {"phase": float(PHASES.index(phase))}
        if phase == "mle":
            logs["mle_loss"] = self._mle_step()
        elif phase == "d_pretrain":
            logs["d_loss"] = self._d_step()
        else:
            if step == self.section.mle_steps + self.section.d_pretrain_steps:
                self.G_rollout.load_state_dict(self.G.state_dict())   # the policy so far
            logs.update(self._g_adversarial_step(step))
            for _ in range(self.section.d_steps):
                logs["d_loss"] = self._d_step()
            every = self.section.mle_every
            if every and step % every == 0:
                logs["mle_loss"] = self._mle_step()
        if not log:
            return {}
        return {k: float(v) for k, v in logs.items()}

    # -- the steps ---------------------------------------------------------------------------------
    def _real(self) -> tuple[Tensor, Tensor]:
        b = self.runtime.batch(self.data.batch(self.cfg.train.batch_size, self.data_gen))
        return b.tokens, b.mask

    def _mle_step(self) -> Tensor:
        tokens, mask = self._real()
        loss = self.G.nll(tokens, mask)
        self.opts["G"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["G"].step()
        return loss.detach()

    def _fake(self, n: int) -> Tensor:
        return self.G.sample(n, self.seq_len, self.gen, self.section.temperature)

    def _d_step(self) -> Tensor:
        real, _ = self._real()
        fake = self._fake(real.shape[0])
        logits = self.D(torch.cat([real, fake]))
        target = torch.cat([torch.ones(real.shape[0]), torch.zeros(fake.shape[0])]).to(logits)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        self.opts["D"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["D"].step()
        return loss.detach()

    def rewards(self, tokens: Tensor) -> Tensor:
        """Q(t) for every position (N, L): D's mean probability of "real" over ``rollouts``
        completions of ``tokens[:, :t+1]`` by the roll-out policy; the last position is scored
        on the sequence itself (:func:`rollout_rewards`, which holds no gradients)."""
        return rollout_rewards(self.G_rollout, self.D, tokens, self.section.rollouts, self.gen,
                               self.section.temperature, bf16=self.section.rollout_bf16)

    @property
    def adversarial_optimizer(self) -> torch.optim.Optimizer:
        """G's optimiser in the adversarial phase: its own Adam when ``adv_lr`` is set, else
        the pre-training one (moments and rate carried over)."""
        return self.opts["G_adv" if self.section.adv_lr is not None else "G"]

    def _g_adversarial_step(self, step: int) -> dict[str, Tensor]:
        n = self.cfg.train.batch_size
        tokens = self._fake(n)
        q = self.rewards(tokens)
        advantage = q - q.mean(0, keepdim=True) if self.section.baseline == "mean" else q
        loss = -(self.G.log_probs(tokens) * advantage).mean()
        opt = self.adversarial_optimizer
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self._update_rollout()
        return {"g_loss": loss.detach(), "reward": q[:, -1].mean()}

    def _update_rollout(self) -> None:
        """The roll-out policy follows G: r <- beta r + (1 - beta) g, parameter by parameter."""
        beta = self.section.rollout_update
        with torch.no_grad():
            for r, p in zip(self.G_rollout.parameters(), self.G.parameters(), strict=True):
                r.mul_(beta).add_(p, alpha=1.0 - beta)

    # -- what the model makes ----------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._tokenizer = tokenizer_of(self.spec) or False
        return self._tokenizer or None

    @property
    def oracle(self) -> Any:
        if self._oracle is None:
            o = oracle_of(self.spec.extra)
            self._oracle = o.to(self.runtime.device) if o is not None else False
        return self._oracle or None

    def decode(self, tokens: Tensor) -> list[str]:
        tok = self.tokenizer
        if tok is None:
            return [" ".join(str(i) for i in row) for row in tokens.tolist()]
        return [tok.decode(row) for row in tokens]

    def snapshot(self, step: int) -> list[Artefact]:
        return [Text(self.sampler().sample(self.section.snapshot_lines, seed=0), name="text")]

    def evaluate(self, final: bool) -> dict[str, Any]:
        hp = self.section
        out: dict[str, Any] = {}
        if self.oracle is not None:
            tokens = self.sampler().tokens(hp.eval_samples, seed=EVAL_SEED)
            out["nll_oracle"] = self.oracle.nll(tokens.to(self.runtime.device))
            out["nll_oracle_samples"] = hp.eval_samples
            return out
        refs = getattr(self.ctx.data, "references", None) if self.ctx.data is not None else None
        tok = self.tokenizer
        if not refs or tok is None:
            return out
        no_bleu = missing("nltk", "BLEU")
        if no_bleu is not None:
            out["bleu_note"] = f"not measured: {no_bleu}"
            return out
        gen = [split_tokens(s, tok.level) for s in
               self.sampler().sample(hp.bleu_samples, seed=EVAL_SEED)]
        ref = [split_tokens(s, tok.level) for s in refs[:hp.bleu_references]]
        gen = [g for g in gen if g] or [["<empty>"]]
        out.update(bleu(gen, ref))
        if len(gen) > 1:
            out.update(self_bleu(gen))
        out["bleu_note"] = (f"{len(gen)} generated sentences vs {len(ref)} held-out references "
                            "(nltk corpus BLEU, smoothing method1)")
        return out

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        if "nll_oracle" in results:
            return [f"NLL_oracle {results['nll_oracle']:.3f} over "
                    f"{results['nll_oracle_samples']} generated sequences (lower is better)"]
        if "bleu2" in results:
            return [f"BLEU-2/3/4 {results['bleu2']:.3f}/{results['bleu3']:.3f}/"
                    f"{results['bleu4']:.3f}, Self-BLEU-2/3/4 "
                    f"{results.get('self_bleu2', float('nan')):.3f}/"
                    f"{results.get('self_bleu3', float('nan')):.3f}/"
                    f"{results.get('self_bleu4', float('nan')):.3f} ({results['bleu_note']})"]
        return []

    def run_info(self) -> dict[str, Any]:
        hp = self.section
        return {"objective": f"{self.name}: MLE {hp.mle_steps} steps, D pre-training "
                             f"{hp.d_pretrain_steps} steps, then adversarial"}


register_family(SeqGANFamily)

"""Gumbel-softmax GAN: the generator emits relaxed one-hot rows, so D's score is differentiable.

Instead of sampling a token (a step with no gradient), each step of G emits
``softmax((logits + g) / tau)`` with Gumbel noise g (Jang et al. 2017; Kusner & Hernandez-Lobato
2016); D reads the rows through its embedding matrix (a row times the matrix; an exact one-hot
picks a row), and the relaxed row is fed back as G's next input. The temperature ``tau`` is
annealed from ``tau_start`` to ``tau_end`` (geometrically over the adversarial steps): high
early (smooth, biased), low late (nearly one-hot). With ``hard`` (the default) the forward value
is the one-hot argmax and the gradient the relaxed one's (straight-through), so D never sees a
"soft" fake it could tell from real one-hots by softness alone.

Phases, pre-training, D steps and evaluation are SeqGAN's (:mod:`ganlab.families.seqgan`); only the
adversarial G step differs: non-saturating, ``-log sigmoid(D(relaxed fake))``.

What keeps such a GAN from collapsing on text (RelGAN, Nie et al. ICLR 2019) is available as
options: ``loss: rsgan`` (the relativistic standard loss for G and D, ``-log sigmoid(D(real) -
D(fake))`` and its mirror), ``hard: false`` with a small ``tau_end`` (an exponential schedule
of the inverse temperature 1 -> 1/tau_end, e.g. 100 or 1000: G's outputs approach one-hot
while the gradient stays that of the relaxation; D then also trains on the relaxed rows G
emits), and ``adv_lr``: a separate Adam for G's adversarial steps at a small rate (RelGAN's
1e-4), instead of going on with the pre-training optimiser and its rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.config import setting
from ganlab.engine.family import FamilyContext
from ganlab.errors import GanlabError
from ganlab.families.seqgan import SeqGANConfig, SeqGANFamily
from ganlab.registry import register_family
from ganlab.report.curves import CurveGroup


@dataclass
class GumbelConfig(SeqGANConfig):
    """The ``gumbelgan:`` section: SeqGAN's fields (roll-out fields unused) and the temperature."""

    tau_start: float = setting(1.0, check="positive")
    tau_end: float = setting(0.1, check="positive")
    hard: bool = True
    loss: str = setting("standard", choices=("standard", "rsgan"))

    def validate(self, prefix: str) -> None:
        super().validate(prefix)
        if self.tau_end > self.tau_start:
            raise GanlabError(f"{prefix}tau_end: must be <= tau_start ({self.tau_start}), "
                              f"got {self.tau_end}")


class GumbelFamily(SeqGANFamily[GumbelConfig]):
    name = "gumbelgan"
    config_class = GumbelConfig
    curves = (*SeqGANFamily.curves,
              CurveGroup("tau", "Gumbel-softmax temperature", ("tau",)))

    def __init__(self, ctx: FamilyContext) -> None:
        super().__init__(ctx)
        self._step: int | None = None   # the adversarial step under way (its tau for D)

    def tau(self, step: int) -> float:
        """Geometric annealing over the adversarial steps, tau_start -> tau_end."""
        hp = self.section
        start = hp.mle_steps + hp.d_pretrain_steps
        span = max(self.cfg.train.steps - start - 1, 1)
        frac = min(max((step - start) / span, 0.0), 1.0)
        return hp.tau_start * (hp.tau_end / hp.tau_start) ** frac

    def _relaxed(self, step: int) -> Tensor:
        hp = self.section
        rows, _ = self.G.gumbel(self.cfg.train.batch_size, self.seq_len, self.tau(step),
                                self.gen, hp.hard)
        return rows

    def _g_adversarial_step(self, step: int) -> dict[str, Any]:
        hp = self.section
        tau = self.tau(step)
        self._step = step
        rows = self._relaxed(step)
        logits = self.D(rows)
        if hp.loss == "rsgan":
            real, _ = self._real()
            loss = F.softplus(-(logits - self.D(real))).mean()   # -log sigmoid(D(G) - D(x))
        else:
            loss = F.softplus(-logits).mean()               # -log sigmoid(D(G))
        opt = self.adversarial_optimizer
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        self.opts["D"].zero_grad(set_to_none=True)      # G's step left gradients in D
        return {"g_loss": loss.detach(), "tau": tau,
                "reward": logits.detach().sigmoid().mean()}

    def _d_step(self) -> Tensor:
        hp = self.section
        if hp.loss == "standard" and hp.hard:
            return super()._d_step()
        real, _ = self._real()
        step = self._step
        if hp.hard or step is None:   # D pre-training: sampled tokens
            fake: Tensor = self._fake(real.shape[0])
        else:                         # the relaxed rows G's step feeds D
            with torch.no_grad():
                fake = self._relaxed(step)
        d_real, d_fake = self.D(real), self.D(fake)
        if hp.loss == "rsgan":
            loss = F.softplus(-(d_real - d_fake)).mean()    # -log sigmoid(D(x) - D(G))
        else:
            loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        self.opts["D"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["D"].step()
        return loss.detach()

    def _update_rollout(self) -> None:   # no roll-outs: the relaxation carries the gradient
        return None

    def run_info(self) -> dict[str, Any]:
        hp = self.section
        return {"objective": f"gumbelgan: MLE {hp.mle_steps} steps, D pre-training "
                             f"{hp.d_pretrain_steps} steps, then Gumbel-softmax "
                             f"(tau {hp.tau_start} -> {hp.tau_end}, hard={hp.hard}, "
                             f"loss {hp.loss}, adversarial lr {hp.adv_lr or 'as pre-training'})"}


register_family(GumbelFamily)

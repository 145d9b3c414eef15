"""GAN objectives as pure functions of discriminator outputs.

Every objective is a pair ``d_loss(real, fake) -> scalar`` and ``g_loss(fake) -> scalar`` where
``real`` and ``fake`` are the discriminator's raw outputs (logits for the probabilistic GANs,
unbounded scores for critics). Losses are means over the batch. Penalties (gradient penalty, R1,
weight clipping) live in :mod:`ganlab.penalties`; they are not part of an objective.

Notation: ``D(x) = sigmoid(logit)`` for the probabilistic objectives, and
``softplus(t) = log(1 + e^t)``, so ``-log D = softplus(-logit)`` and
``-log(1 - D) = softplus(logit)`` are computed without overflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor

from ganlab.errors import GanlabError

# ---------------------------------------------------------------------------------------------
# The discriminator side of the original GAN (shared by minimax and non-saturating generators)


def bce_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Original GAN discriminator loss: ``-E[log D(x)] - E[log(1 - D(G(z)))]``.

    At the optimal discriminator the generator's minimax value equals
    ``2 JS(p_data || p_g) - log 4`` (Goodfellow et al., 2014).
    """
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g_loss(fake: Tensor) -> Tensor:
    """Saturating minimax generator loss: ``E[log(1 - D(G(z)))]`` (minimised by G).

    Its gradient w.r.t. the logit is ``-D(G(z))``: when D confidently rejects the fakes early in
    training (D(G(z)) -> 0) the gradient vanishes. That is the saturation the non-saturating loss
    was introduced to avoid.
    """
    return -F.softplus(fake).mean()


def nonsaturating_g_loss(fake: Tensor) -> Tensor:
    """Non-saturating generator loss: ``-E[log D(G(z))]``.

    Same fixed points as minimax, but the gradient w.r.t. the logit is ``-(1 - D(G(z)))``, large
    exactly when D rejects the fakes.
    """
    return F.softplus(-fake).mean()


# ---------------------------------------------------------------------------------------------
# Least squares (Mao et al., 2017)


def lsgan_d_loss(real: Tensor, fake: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """LSGAN discriminator loss: ``1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2]``.

    With ``b - c = 1`` and ``b - a = 2`` (e.g. a=-1, b=1, c=0) minimising the generator loss
    minimises the Pearson chi-squared divergence between ``p_data + p_g`` and ``2 p_g``.
    The default a=0, b=c=1 is the common 0-1 coding.
    """
    return 0.5 * ((real - b) ** 2).mean() + 0.5 * ((fake - a) ** 2).mean()


def lsgan_g_loss(fake: Tensor, c: float = 1.0) -> Tensor:
    """LSGAN generator loss: ``1/2 E[(D(G(z)) - c)^2]``."""
    return 0.5 * ((fake - c) ** 2).mean()


# ---------------------------------------------------------------------------------------------
# Wasserstein critics (Arjovsky et al., 2017; Gulrajani et al., 2017)


def wasserstein_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Critic loss ``E[f(G(z))] - E[f(x)]``.

    Over 1-Lipschitz ``f`` the negated minimum is the Wasserstein-1 distance (Kantorovich-
    Rubinstein duality). The Lipschitz constraint comes from weight clipping (WGAN) or a
    gradient penalty (WGAN-GP); see :mod:`ganlab.penalties`.
    """
    return fake.mean() - real.mean()


def wasserstein_g_loss(fake: Tensor) -> Tensor:
    """Generator loss for critics (WGAN, hinge): ``-E[f(G(z))]``."""
    return -fake.mean()


# ---------------------------------------------------------------------------------------------
# Hinge (Lim & Ye, 2017; Miyato et al., 2018)


def hinge_d_loss(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge discriminator loss: ``E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]``.

    Paired with spectral normalisation in SNGAN; the generator uses ``-E[D(G(z))]``.
    """
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


# ---------------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Objective:
    """A named pair of losses and what a trainer needs to know about it.

    ``critic`` is True when the discriminator's output is not a logit (an unbounded critic
    score, or LSGAN's regression towards its targets a / b): then ``D(real)``/``D(fake)`` are
    logged, and drawn in 2-D heat maps, as raw values instead of probabilities.
    ``default_penalties`` are the penalty settings the family is defined with (e.g. WGAN's
    weight clipping); config values override them.
    """

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]
    critic: bool
    divergence: str
    summary: str
    default_penalties: dict[str, float] = field(default_factory=dict)


def _lsgan(a: float, b: float, c: float) -> tuple[Callable, Callable]:
    return partial(lsgan_d_loss, a=a, b=b), partial(lsgan_g_loss, c=c)


OBJECTIVES: dict[str, str] = {
    "minimax": "original GAN with the saturating generator loss log(1 - D(G(z)))",
    "ns": "non-saturating GAN: generator minimises -log D(G(z))",
    "lsgan": "least-squares GAN with targets a (fake), b (real), c (generator)",
    "wgan": "Wasserstein critic with weight clipping",
    "wgan-gp": "Wasserstein critic with a two-sided gradient penalty on interpolates",
    "hinge": "hinge loss (SNGAN), usually with spectral normalisation",
}


def get_objective(name: str, *, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> Objective:
    """Return the objective registered as ``name`` (see :data:`OBJECTIVES`)."""
    # the divergence lines are descriptions only, kept out of mutation testing
    if name == "minimax":
        return Objective(name, bce_d_loss, minimax_g_loss, False,
                         "Jensen-Shannon",  # pragma: no mutate
                         OBJECTIVES[name])
    if name == "ns":
        return Objective(name, bce_d_loss, nonsaturating_g_loss, False,
                         "Jensen-Shannon (same fixed point; "  # pragma: no mutate
                         "different generator gradient)",  # pragma: no mutate
                         OBJECTIVES[name])
    if name == "lsgan":
        d, g = _lsgan(a, b, c)
        # D regresses to the targets a / b: its output is not a logit, so it is logged raw
        return Objective(name, d, g, True,
                         "Pearson chi-squared (for b-c=1, b-a=2)",  # pragma: no mutate
                         OBJECTIVES[name])
    if name == "wgan":
        return Objective(name, wasserstein_d_loss, wasserstein_g_loss, True,
                         "Wasserstein-1",  # pragma: no mutate
                         OBJECTIVES[name], {"clip": 0.01})
    if name == "wgan-gp":
        return Objective(name, wasserstein_d_loss, wasserstein_g_loss, True,
                         "Wasserstein-1",  # pragma: no mutate
                         OBJECTIVES[name], {"gp_weight": 10.0})
    if name == "hinge":
        return Objective(name, hinge_d_loss, wasserstein_g_loss, True,
                         "reverse-KL-like margin "  # pragma: no mutate
                         "(a critic trained with a hinge)",  # pragma: no mutate
                         OBJECTIVES[name])
    allowed = ", ".join(OBJECTIVES)
    raise GanlabError(f"objective.name: unknown objective {name!r}; allowed: {allowed}")


def d_outputs_as_probability(x: Tensor, critic: bool) -> float:
    """Mean of ``sigmoid(x)`` for logits, mean of ``x`` for critic scores (for logging)."""
    with torch.no_grad():
        return float(x.mean()) if critic else float(torch.sigmoid(x).mean())

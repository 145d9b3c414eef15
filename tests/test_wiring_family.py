"""How the GAN family's training step and the loop are wired, checked against hand-built
references on tiny MLPs and 2-D points.

Each test pins one piece of wiring that could be wrong while training still "runs" (and the
resume tests still pass): the number of critic updates, the gradient penalty, weight clipping,
the R1 weight, the lr schedule, the EMA, the RNG state in checkpoints, and the generator step.
References replay the family's random stream from a snapshot of its generator: on the CPU one
generator draws, per critic step, the real batch, then the latents, then the penalty noise.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab import config
from ganlab.api import build_trainer
from ganlab.data import Batch
from ganlab.engine import checkpoint as ckpt
from ganlab.families import build_family
from ganlab.families.gan import GANFamily

BATCH = 32
TINY = ["gan.model.width=16", "gan.model.depth=2", f"train.batch_size={BATCH}",
        "train.progress=false", "train.snapshot_every=0", "train.checkpoint_every=1000",
        "train.log_every=1", "eval.n_samples=200", "train.device=cpu", "train.precision=fp32",
        "gan.objective.r1_gamma=0", "gan.ema.enabled=false"]


@pytest.fixture(autouse=True)
def _own_global_rng() -> Iterator[None]:
    """These tests seed and scramble torch's global generator; give it back afterwards."""
    with torch.random.fork_rng(devices=[]):
        yield


def tiny_config(*overrides: str) -> config.Config:
    return config.load(preset="ring-ns", overrides=[*TINY, *overrides])


def tiny_family(*overrides: str) -> GANFamily:
    torch.manual_seed(0)
    family = build_family(tiny_config(*overrides))
    assert isinstance(family, GANFamily)
    return family


def clone_generator(gen: torch.Generator) -> torch.Generator:
    return torch.Generator().set_state(gen.get_state())


@dataclass
class Draw:
    """What one critic step draws: the real batch, the latents, and the GP's epsilons."""

    real: Tensor
    z: Tensor
    eps: Tensor | None


def replay_draws(family: GANFamily, gen_state: Tensor, n_critic: int, gp: bool) -> list[Draw]:
    """The draws of one train_step, replayed from ``gen_state`` (the family's generator state
    before the step)."""
    g = torch.Generator().set_state(gen_state)
    draws = []
    for _ in range(n_critic):
        real = family.data.batch(BATCH, g).x
        z = family.G.sample_latent(BATCH, g)
        eps = torch.rand(BATCH, 1, generator=g) if gp else None
        draws.append(Draw(real, z, eps))
    return draws


@dataclass
class OptStep:
    """An optimiser step as the optimiser saw it: the lr, the gradients, and (for D) the
    weights the gradients were taken at."""

    lr: float
    grads: list[Tensor]
    weights: dict[str, Tensor]


def record_steps(opt: torch.optim.Optimizer, module: nn.Module) -> list[OptStep]:
    """Every later ``opt.step()``, recorded just before it updates ``module``."""
    steps: list[OptStep] = []

    def hook(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        grads = [torch.zeros_like(p) if p.grad is None else p.grad.detach().clone()
                 for p in module.parameters()]
        weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        steps.append(OptStep(float(optimizer.param_groups[0]["lr"]), grads, weights))

    opt.register_step_pre_hook(hook)
    return steps


def module_at(module: nn.Module, weights: dict[str, Tensor]) -> nn.Module:
    """A copy of ``module`` holding ``weights``."""
    out = copy.deepcopy(module)
    out.load_state_dict(weights)
    out.requires_grad_(True)
    return out


def grads_of(loss: Tensor, module: nn.Module) -> list[Tensor]:
    return list(torch.autograd.grad(loss, list(module.parameters())))


def assert_grads_close(got: list[Tensor], want: list[Tensor], what: str) -> None:
    assert len(got) == len(want)
    for i, (a, b) in enumerate(zip(got, want, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=f"{what}, parameter {i}")


def max_diff(a: list[Tensor], b: list[Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


# -- 1. n_critic ---------------------------------------------------------------------------------
def test_n_critic_discriminator_updates_per_generator_update_each_on_a_fresh_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Catches n_critic being ignored (one critic step per generator step), and critic steps
    reusing one real batch instead of drawing a fresh one each."""
    family = tiny_family("gan.n_critic=3")
    d_steps = record_steps(family.opt_d, family.D)
    g_steps = record_steps(family.opt_g, family.G)
    events: list[tuple[str, Tensor | None]] = []
    draw = family.data.batch

    def spy_batch(n: int, generator: torch.Generator) -> Batch:
        batch = draw(n, generator)
        events.append(("data", batch.x.clone()))
        return batch

    monkeypatch.setattr(family.data, "batch", spy_batch)
    family.D.register_forward_pre_hook(lambda m, args: events.append(("D", args[0].detach())))
    family.opt_d.register_step_pre_hook(lambda o, a, k: events.append(("opt_d", None)))

    k = 2
    for step in range(k):
        family.train_step(step, log=False)
    assert len(d_steps) == 3 * k
    assert len(g_steps) == k

    # split the events into critic steps, each ending with its D update
    segments: list[list[tuple[str, Tensor | None]]] = [[]]
    for event in events:
        if event[0] == "opt_d":
            segments.append([])
        else:
            segments[-1].append(event)
    # the last segment holds only the final G step's D call; each G step's D call (no data
    # drawn) otherwise joins the next train_step's first critic step
    critic_steps = segments[:-1]
    assert len(critic_steps) == 3 * k
    reals = []
    for i, seg in enumerate(critic_steps):
        drawn = [x for kind, x in seg if kind == "data"]
        assert len(drawn) == 1, f"critic step {i} drew {len(drawn)} real batches, not 1"
        seen = [x for kind, x in seg if kind == "D"]
        assert any(x.shape == drawn[0].shape and torch.equal(x, drawn[0]) for x in seen), \
            f"critic step {i}: D never saw the real batch drawn for it"
        reals.append(drawn[0])
    for i in range(len(reals)):
        for j in range(i):
            assert not torch.equal(reals[i], reals[j]), f"critic steps {j} and {i} share a batch"


# -- 2. the gradient penalty ---------------------------------------------------------------------
def wgan_gp_reference_grads(D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor,
                            weight: float) -> list[Tensor]:
    """Gradients of ``E[D(fake)] - E[D(real)] + weight * E[(||grad D(x_hat)|| - 1)^2]``."""
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    gp = ((g.norm(2, dim=1) - 1.0) ** 2).mean()
    loss = D(fake).mean() - D(real).mean() + weight * gp
    return grads_of(loss, D)


def test_wgan_gp_critic_gradients_include_ten_times_the_gradient_penalty() -> None:
    """Catches the gradient penalty not being added to the critic loss (or added with the
    wrong weight, on other interpolates, or with noise from another stream), at every one of
    n_critic critic steps."""
    n_critic = 2
    family = tiny_family("gan.objective.name=wgan-gp", f"gan.n_critic={n_critic}")
    assert family.gp_weight == 10.0   # the objective's default
    d_steps = record_steps(family.opt_d, family.D)
    G_before = copy.deepcopy(family.G)
    draws = replay_draws(family, family.gen.get_state(), n_critic, gp=True)
    family.train_step(0, log=False)

    assert len(d_steps) == n_critic
    for i, (step, d) in enumerate(zip(d_steps, draws, strict=True)):
        D = module_at(family.D, step.weights)
        with torch.no_grad():
            fake = G_before(d.z)
        assert d.eps is not None
        want = wgan_gp_reference_grads(D, d.real, fake, d.eps, 10.0)
        assert_grads_close(step.grads, want, f"critic step {i}")
        # the penalty matters here: without it the gradients would differ clearly
        without = wgan_gp_reference_grads(D, d.real, fake, d.eps, 0.0)
        assert max_diff(want, without) > 1e-3


# -- 3. weight clipping --------------------------------------------------------------------------
def test_wgan_clips_every_critic_weight_after_its_update() -> None:
    """Catches weight clipping not being applied (or applied before the optimiser step, which
    lets the update push weights past the bound)."""
    clip = 0.01
    family = tiny_family("gan.objective.name=wgan", f"gan.objective.clip={clip}",
                         "gan.n_critic=2")
    # at initialisation most weights are far outside the bound
    assert max(float(p.detach().abs().max()) for p in family.D.parameters()) > 10 * clip
    family.train_step(0, log=False)
    values = torch.cat([p.detach().flatten() for p in family.D.parameters()])
    assert float(values.abs().max()) <= clip
    assert bool((values.abs() == clip).any()), "no critic weight sits at the clip bound"


# -- 4. the R1 weight ----------------------------------------------------------------------------
def r1_reference_grads(D: nn.Module, real: Tensor, fake: Tensor, gamma: float) -> list[Tensor]:
    """Gradients of ``bce_d_loss + gamma / 2 * E[||grad_x D(x)||^2]`` on the real batch."""
    x = real.clone().requires_grad_(True)
    d_real = D(x)
    (g,) = torch.autograd.grad(d_real.sum(), x, create_graph=True)
    r1 = g.pow(2).sum(1).mean()
    d_adv = F.softplus(-d_real).mean() + F.softplus(D(fake)).mean()
    return grads_of(d_adv + 0.5 * gamma * r1, D)


@pytest.mark.parametrize("gamma", [2.0, 8.0])
def test_r1_penalty_enters_the_discriminator_loss_as_gamma_over_two(gamma: float) -> None:
    """Catches a wrong R1 weight (gamma instead of gamma / 2, or none at all)."""
    family = tiny_family(f"gan.objective.r1_gamma={gamma}")
    d_steps = record_steps(family.opt_d, family.D)
    G_before = copy.deepcopy(family.G)
    (d,) = replay_draws(family, family.gen.get_state(), 1, gp=False)
    family.train_step(0, log=False)

    (step,) = d_steps
    D = module_at(family.D, step.weights)
    with torch.no_grad():
        fake = G_before(d.z)
    want = r1_reference_grads(D, d.real, fake, gamma)
    assert_grads_close(step.grads, want, f"D gradients with r1_gamma={gamma}")
    # gamma vs 2 gamma is a clear difference at this scale
    doubled = r1_reference_grads(D, d.real, fake, 2 * gamma)
    assert max_diff(want, doubled) > 1e-4


# -- 5. lr schedule in the loop --------------------------------------------------------------------
def test_linear_lr_decay_reaches_the_optimisers_at_every_step(tmp_path: Path) -> None:
    """Catches the loop's lr schedule being inverted, off by one step, applied to the wrong
    optimiser's base rate, or not written into the optimisers' param groups."""
    steps, run_for, n_critic = 10, 6, 2
    base_g, base_d = 2e-3, 5e-4
    cfg = tiny_config("train.lr_decay=linear", f"train.steps={steps}", f"gan.n_critic={n_critic}",
                      f"gan.optim.G.lr={base_g}", f"gan.optim.D.lr={base_d}")
    trainer = build_trainer(cfg, tmp_path)
    family = trainer.family
    assert isinstance(family, GANFamily)
    g_steps = record_steps(family.opt_g, family.G)
    d_steps = record_steps(family.opt_d, family.D)
    assert trainer.run(until=run_for) == 0

    want_g = [base_g * (1 - s / steps) for s in range(run_for)]
    want_d = [base_d * (1 - s / steps) for s in range(run_for) for _ in range(n_critic)]
    assert [s.lr for s in g_steps] == pytest.approx(want_g, rel=1e-12)
    assert [s.lr for s in d_steps] == pytest.approx(want_d, rel=1e-12)


# -- 6. EMA --------------------------------------------------------------------------------------
def test_ema_copies_g_before_start_then_averages_after_each_g_update() -> None:
    """Catches a wrong EMA formula: decay and 1 - decay swapped, the start step off by one, the
    average taken before G's update, or no plain copies before ``start``."""
    decay, start = 0.9, 2
    family = tiny_family("gan.ema.enabled=true", f"gan.ema.decay={decay}",
                         f"gan.ema.start={start}")
    assert family.G_ema is not None
    want = [p.detach().clone() for p in family.G.parameters()]
    for got, w in zip(family.G_ema.parameters(), want, strict=True):
        assert torch.equal(got, w)
    for step in range(5):
        family.train_step(step, log=False)
        g_now = [p.detach().clone() for p in family.G.parameters()]
        if step < start:
            want = g_now
        else:
            want = [decay * e + (1 - decay) * g for e, g in zip(want, g_now, strict=True)]
        got = [p.detach() for p in family.G_ema.parameters()]
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            torch.testing.assert_close(a, b, atol=1e-7, rtol=1e-6,
                                       msg=f"G_ema after step {step}, parameter {i}")
        if step >= start:
            # an average, not a copy of G
            assert max_diff(got, g_now) > 1e-6


# -- 7. RNG state in checkpoints -----------------------------------------------------------------
def test_checkpoint_saves_and_restore_sets_the_global_and_family_rng(tmp_path: Path) -> None:
    """Catches a checkpoint holding a stale global torch RNG state, ``restore`` not setting the
    global RNG, and the family's generator state not round-tripping."""
    cfg = tiny_config("train.steps=10")
    trainer = build_trainer(cfg, tmp_path)
    assert trainer.run(until=2) == 0
    torch.manual_seed(777)
    torch.rand(5)
    at_save = torch.get_rng_state()
    gen_at_save = trainer.family.streams.generator("train").get_state()
    path = trainer.save_checkpoint()
    assert path is not None

    state = ckpt.load_state(path)
    assert torch.equal(state["torch_rng"]["cpu"], at_save)
    assert "cuda" not in state["torch_rng"]   # a CPU run saves no CUDA states
    assert torch.equal(state["streams"]["states"]["train"], gen_at_save)

    resumed = build_trainer(cfg, tmp_path)
    fresh_gen = resumed.family.streams.generator("train").get_state()
    assert not torch.equal(fresh_gen, gen_at_save)   # two steps moved the stream on
    torch.manual_seed(12345)   # scramble the global RNG
    assert not torch.equal(torch.get_rng_state(), at_save)
    assert resumed.restore()
    assert resumed.step == 2
    assert torch.equal(torch.get_rng_state(), at_save)
    assert torch.equal(resumed.family.streams.generator("train").get_state(), gen_at_save)


# -- 8. the generator step -----------------------------------------------------------------------
G_LOSSES = {
    "ns": lambda out: F.softplus(-out).mean(),
    "minimax": lambda out: -F.softplus(out).mean(),
    "wgan-gp": lambda out: -out.mean(),
    "lsgan": lambda out: 0.5 * ((out - 1.0) ** 2).mean(),
}


@pytest.mark.parametrize("objective", sorted(G_LOSSES))
def test_generator_step_follows_the_objective_through_the_updated_d_and_leaves_d_alone(
        objective: str) -> None:
    """Catches a G step with the wrong loss, a detached fake, latents other than those of the
    last critic step, D before its update, or D's gradients accumulating from the G step."""
    n_critic = 2
    family = tiny_family(f"gan.objective.name={objective}", f"gan.n_critic={n_critic}")
    d_steps = record_steps(family.opt_d, family.D)
    g_steps = record_steps(family.opt_g, family.G)
    G_before = copy.deepcopy(family.G)
    draws = replay_draws(family, family.gen.get_state(), n_critic,
                         gp=objective == "wgan-gp")
    family.train_step(0, log=False)

    # D after all its updates (the G step does not change D's weights)
    D_after = module_at(family.D, family.D.state_dict())
    D_after.requires_grad_(False)
    out = D_after(G_before(draws[-1].z))
    want = grads_of(G_LOSSES[objective](out), G_before)
    (g_step,) = g_steps
    assert_grads_close(g_step.grads, want, f"G gradients ({objective})")
    # the G step must not touch D's gradients: they are still those of the last critic step
    after = [p.grad for p in family.D.parameters()]
    assert all(g is not None for g in after)
    for i, (a, b) in enumerate(zip(after, d_steps[-1].grads, strict=True)):
        assert torch.equal(a, b), f"D parameter {i}: the G step changed its gradient"

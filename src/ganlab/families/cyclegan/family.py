"""The CycleGAN family: unpaired image-to-image translation (Zhu et al., ICCV 2017).

Two generators, ``G_AB: A -> B`` and ``G_BA: B -> A`` (ResNet-block translators,
:mod:`ganlab.nn.resnet_translator`), and two PatchGAN discriminators, ``D_A`` on domain A and
``D_B`` on domain B (:mod:`ganlab.nn.patchgan`). Each step, on a batch of A images and an
independent batch of B images:

* generators (optimiser ``G``, both networks): the adversarial loss of each direction (LSGAN
  by default), plus ``lambda_cycle`` times the cycle losses ``|G_BA(G_AB(a)) - a|_1`` and
  ``|G_AB(G_BA(b)) - b|_1``, plus ``lambda_identity * lambda_cycle`` times the identity losses
  ``|G_AB(b) - b|_1`` and ``|G_BA(a) - a|_1`` (only when both domains have the same channels);
* discriminators (optimiser ``D``, both networks): real images against fakes drawn from a
  history pool of ``pool_size`` earlier fakes per domain (:mod:`ganlab.families.cyclegan.pool`).

The paper's schedule (a constant learning rate for the first half, then linear decay to zero)
is ``train.lr_decay: hold-linear``. Loss scales: ganlab's LSGAN losses carry the factor 1/2 of
Mao et al., so the discriminator loss is the reference code's ``(MSE(D(x), 1) + MSE(D(G(a)),
0)) / 2`` exactly, and ``adv_weight: 2`` (the default) makes the generator's adversarial term
the reference code's ``MSE(D(G(a)), 1)``, so that ``lambda_cycle = 10`` weighs what it weighs
in the paper.

``cyclegan.lambda_cycle: 0`` (which also turns the identity loss off) is "GAN alone" of the
paper's ablation: outputs that look like the target domain with nothing of their input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ganlab.config import OptimizerConfig, setting
from ganlab.engine.family import Family, FamilyContext
from ganlab.engine.optim import build_optimizers, grad_norm
from ganlab.errors import GanlabError
from ganlab.families.cyclegan.evaluate import evaluate_cyclegan, held_out_domain
from ganlab.families.cyclegan.evaluate import summary_lines as cyclegan_summary
from ganlab.families.cyclegan.pool import HistoryPool
from ganlab.losses import get_objective
from ganlab.nn.patchgan import PatchDiscriminator
from ganlab.nn.resnet_translator import ResnetTranslator
from ganlab.registry import register_family
from ganlab.report.artefacts import Artefact
from ganlab.report.curves import GRAD_NORMS, CurveGroup
from ganlab.translation import ModuleTranslator, side_by_side

DIRECTIONS = ("AtoB", "BtoA")
N_SNAPSHOT = 8          # inputs per direction in a snapshot grid
OBJECTIVES = ("lsgan", "ns", "hinge")


# ---------------------------------------------------------------------------------------------
# The config section


@dataclass
class TranslatorNetConfig:
    """The ResNet-block generators (both directions)."""

    width: int = setting(64, check="positive")      # channels of the first layer
    n_blocks: int = setting(6, check="positive")    # residual blocks at the bottleneck
    n_down: int = setting(2, check="non_negative")  # stride-2 downsamplings (and upsamplings)


@dataclass
class PatchNetConfig:
    """The PatchGAN discriminators (both domains)."""

    width: int = setting(64, check="positive")
    n_layers: int = setting(3, check="positive")
    norm: str = setting("instance", choices=("instance", "batch", "none"))
    spectral: bool = False


def _default_optim() -> dict[str, OptimizerConfig]:
    return {"G": OptimizerConfig(lr=2e-4), "D": OptimizerConfig(lr=2e-4)}


@dataclass
class CycleGANConfig:
    """The ``cyclegan:`` section."""

    objective: str = setting("lsgan", choices=OBJECTIVES)
    adv_weight: float = setting(2.0, check="positive")        # see the module docstring
    lambda_cycle: float = setting(10.0, check="non_negative")
    lambda_identity: float = setting(0.5, check="non_negative")  # times lambda_cycle
    pool_size: int = setting(50, check="non_negative")
    generator: TranslatorNetConfig = field(default_factory=TranslatorNetConfig)
    discriminator: PatchNetConfig = field(default_factory=PatchNetConfig)
    optim: dict[str, OptimizerConfig] = field(default_factory=_default_optim)

    def validate(self, prefix: str) -> None:
        if set(self.optim) != {"G", "D"}:
            raise GanlabError(f"{prefix}optim: needs exactly G (both generators) and D (both "
                              f"discriminators), got {', '.join(sorted(self.optim)) or 'none'}")


# ---------------------------------------------------------------------------------------------
# Exported views of the model


@dataclass
class CycleSampler:
    """What ``ganlab sample`` draws: translations of held-out inputs of the source domain
    (``condition``: ``"AtoB"``, the default, or ``"BtoA"``); the ``seed`` picks the inputs."""

    family: CycleGANFamily
    kind: str = "images"
    source: str = "G_AB"

    def inputs(self, n: int, seed: int = 0, condition: Any = None) -> Tensor:
        """The ``n`` held-out inputs that :meth:`sample` translates (float, [-1, 1])."""
        direction = self.family.direction(condition)
        return self.family.held_out_inputs(direction, n, seed)

    def sample(self, n: int, seed: int = 0, condition: Any = None) -> Tensor:
        if n < 1:
            raise GanlabError(f"number of samples must be >= 1, got {n}")
        direction = self.family.direction(condition)
        return self.family.translate(self.inputs(n, seed, direction), direction)


# ---------------------------------------------------------------------------------------------
# The losses besides the adversarial ones


def cycle_loss(real: Tensor, translated: Tensor, back: Callable[[Tensor], Tensor]) -> Tensor:
    """``mean |back(translated) - real|``: how far the round trip of ``real`` (already
    ``translated`` to the other domain) lands from where it started."""
    return (back(translated).float() - real.float()).abs().mean()


def identity_loss(real: Tensor, net: Callable[[Tensor], Tensor]) -> Tensor:
    """``mean |net(real) - real|`` for images ``real`` of the domain ``net`` translates *to*:
    a translator should leave an image that is already in its target domain alone."""
    return (net(real).float() - real.float()).abs().mean()


# ---------------------------------------------------------------------------------------------
# The family


class CycleGANFamily(Family[CycleGANConfig]):
    """Unpaired translation between domain A (``Batch.x``) and domain B (``Batch.target``)."""

    name = "cyclegan"
    config_class = CycleGANConfig
    progress_keys = ("d_loss", "g_loss", "cycle_A", "cycle_B")
    curves = (
        CurveGroup("losses", "Losses", ("d_loss", "g_loss", "d_A", "d_B", "g_adv_AB",
                                        "g_adv_BA")),
        CurveGroup("cycle", "Cycle and identity L1", ("cycle_A", "cycle_B", "identity_A",
                                                      "identity_B")),
        CurveGroup("d_outputs", "D_B on real and translated images", ("d_real_B", "d_fake_B")),
        GRAD_NORMS,
    )

    def __init__(self, ctx: FamilyContext) -> None:
        super().__init__(ctx)
        hp = self.section
        spec = self.spec
        if spec.kind != "images" or spec.target_shape is None or len(spec.sample_shape) != 3:
            raise GanlabError(
                f"family cyclegan needs two image domains (data.name=unpaired:A,B, e.g. "
                f"unpaired:mnist-5k,fashion-mnist), got {spec.kind} data with "
                f"{'no target images' if spec.target_shape is None else 'non-image samples'}")
        self.shape_a: tuple[int, int, int] = tuple(spec.sample_shape)   # type: ignore[assignment]
        self.shape_b: tuple[int, int, int] = tuple(spec.target_shape)   # type: ignore[assignment]
        ca, cb = self.shape_a[0], self.shape_b[0]
        if hp.lambda_identity > 0 and hp.lambda_cycle > 0 and ca != cb:
            raise GanlabError(
                f"cyclegan.lambda_identity: the identity loss feeds B images to G_AB, which "
                f"takes A images; domain A has {ca} channels and B {cb}; set "
                "cyclegan.lambda_identity=0 or give both domains the same data.channels")
        self.objective = get_objective(hp.objective)
        self.gen = self.streams.generator("train")
        self.data_gen = self.streams.data_generator()
        self.pool_a = HistoryPool(hp.pool_size, self.streams.generator("pool-a"))
        self.pool_b = HistoryPool(hp.pool_size, self.streams.generator("pool-b"))
        self.G_AB = self._generator(ca, cb)
        self.G_BA = self._generator(cb, ca)
        self.D_A = self._discriminator(ca)
        self.D_B = self._discriminator(cb)
        self.G_AB.check_input(self.shape_a)
        self.G_BA.check_input(self.shape_b)
        opts = build_optimizers({"G": nn.ModuleList([self.G_AB, self.G_BA]),
                                 "D": nn.ModuleList([self.D_A, self.D_B])}, hp.optim)
        self.opt_g, self.opt_d = opts["G"], opts["D"]
        self._held_out: dict[str, tuple[Tensor, Tensor | None, str]] = {}
        self._fixed: dict[str, Tensor] = {}

    def _generator(self, cin: int, cout: int) -> Any:
        g = self.section.generator
        net = ResnetTranslator(cin, cout, width=g.width, n_blocks=g.n_blocks, n_down=g.n_down)
        return self.runtime.module(net, image=True)

    def _discriminator(self, cin: int) -> nn.Module:
        d = self.section.discriminator
        net = PatchDiscriminator(cin, width=d.width, n_layers=d.n_layers, norm=d.norm,
                                 spectral=d.spectral)
        return self.runtime.module(net, image=True)

    # -- contract with the loop ----------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        return {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A, "D_B": self.D_B}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def extra_state(self) -> dict[str, Any]:
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        device = self.runtime.device
        self.pool_a.load_state_dict(state["pool_a"], device)
        self.pool_b.load_state_dict(state["pool_b"], device)

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        hp = self.section
        batch = self.runtime.batch(self.data.batch(self.cfg.train.batch_size, self.data_gen))
        real_a = batch.x
        real_b = batch.require("target", "family cyclegan (the images of domain B)")
        lam = hp.lambda_cycle
        lam_idt = hp.lambda_identity * lam
        with self.runtime.autocast():
            fake_b = self.G_AB(real_a)
            fake_a = self.G_BA(real_b)
            # -- generators: D's weights need no gradients here
            self.D_A.requires_grad_(False)
            self.D_B.requires_grad_(False)
            adv_ab = self.objective.g_loss(self.D_B(fake_b).float())
            adv_ba = self.objective.g_loss(self.D_A(fake_a).float())
            g_loss = hp.adv_weight * (adv_ab + adv_ba)
            zero = torch.zeros((), device=real_a.device)
            cyc_a = cyc_b = idt_a = idt_b = zero
            if lam > 0:
                cyc_a = cycle_loss(real_a, fake_b, self.G_BA)
                cyc_b = cycle_loss(real_b, fake_a, self.G_AB)
                g_loss = g_loss + lam * (cyc_a + cyc_b)
            if lam_idt > 0:
                idt_b = identity_loss(real_b, self.G_AB)
                idt_a = identity_loss(real_a, self.G_BA)
                g_loss = g_loss + lam_idt * (idt_a + idt_b)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.D_A.requires_grad_(True)
        self.D_B.requires_grad_(True)
        g_norm = grad_norm(nn.ModuleList([self.G_AB, self.G_BA])) if log else 0.0
        self.opt_g.step()
        # -- discriminators: real images against fakes from the history pools
        pooled_a = self.pool_a.query(fake_a)
        pooled_b = self.pool_b.query(fake_b)
        with self.runtime.autocast():
            d_real_a, d_fake_a = self.D_A(real_a).float(), self.D_A(pooled_a).float()
            d_real_b, d_fake_b = self.D_B(real_b).float(), self.D_B(pooled_b).float()
            d_a = self.objective.d_loss(d_real_a, d_fake_a)
            d_b = self.objective.d_loss(d_real_b, d_fake_b)
            d_loss = d_a + d_b
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        d_norm = grad_norm(nn.ModuleList([self.D_A, self.D_B])) if log else 0.0
        self.opt_d.step()
        if not log:
            return {}
        return {"d_loss": d_loss.item(), "g_loss": g_loss.item(),
                "d_A": d_a.item(), "d_B": d_b.item(),
                "g_adv_AB": adv_ab.item(), "g_adv_BA": adv_ba.item(),
                "cycle_A": cyc_a.item(), "cycle_B": cyc_b.item(),
                "identity_A": idt_a.item(), "identity_B": idt_b.item(),
                "d_real_B": d_real_b.mean().item(), "d_fake_B": d_fake_b.mean().item(),
                "d_grad_norm": d_norm, "g_grad_norm": g_norm}

    # -- translating ---------------------------------------------------------------------------
    @staticmethod
    def direction(condition: Any) -> str:
        """``condition`` as a direction (None: ``AtoB``), or a clear error."""
        if condition is None:
            return "AtoB"
        if condition not in DIRECTIONS:
            raise GanlabError(f"direction: {condition!r} is not one of {', '.join(DIRECTIONS)}")
        return str(condition)

    def input_shape(self, direction: str) -> tuple[int, int, int]:
        return self.shape_a if self.direction(direction) == "AtoB" else self.shape_b

    def translate(self, x: Tensor, direction: str = "AtoB") -> Tensor:
        """Float images of the source domain in [-1, 1] -> the other domain (eval mode, no
        autograd, float32 on the CPU)."""
        return self.translator()(x, self.direction(direction))

    def translator(self) -> ModuleTranslator:
        """Both directions behind the shared translator interface (:mod:`ganlab.translation`)."""
        return ModuleTranslator(nets={"AtoB": self.G_AB, "BtoA": self.G_BA},
                                shapes={"AtoB": (self.shape_a, self.shape_b),
                                        "BtoA": (self.shape_b, self.shape_a)},
                                seed=self.cfg.seed)

    def sampler(self) -> CycleSampler:
        return CycleSampler(self)

    # -- held-out inputs -----------------------------------------------------------------------
    def _domain(self, direction: str) -> int:
        """Index of the source domain of ``direction`` (0: A, 1: B)."""
        return 0 if self.direction(direction) == "AtoB" else 1

    def held_out(self, direction: str) -> tuple[Tensor, Tensor | None, str]:
        """The held-out images (uint8) of the source domain of ``direction``, their labels
        (None when the domain has none) and which images they are; read once."""
        if direction not in self._held_out:
            self._held_out[direction] = held_out_domain(
                self.spec, self.cfg.data, self._domain(direction), self.input_shape(direction))
        return self._held_out[direction]

    def held_out_inputs(self, direction: str, n: int, seed: int) -> Tensor:
        """``n`` held-out inputs chosen by ``seed`` (all of them, cycled, when ``n`` is more),
        float in [-1, 1]."""
        images = self.held_out(direction)[0]
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        idx = order[torch.arange(n) % len(order)]
        return images[idx].float() / 127.5 - 1.0

    # -- looking at the model --------------------------------------------------------------------
    def snapshot(self, step: int) -> list[Artefact]:
        """Two grids of round trips on fixed held-out inputs: ``A | G_AB(A) | G_BA(G_AB(A))``
        (the main series) and ``B | G_BA(B) | G_AB(G_BA(B))`` (``btoa``), one input a row."""
        out: list[Artefact] = []
        for direction, name in (("AtoB", ""), ("BtoA", "btoa")):
            if direction not in self._fixed:
                self._fixed[direction] = self.held_out_inputs(direction, N_SNAPSHOT,
                                                              self.streams.seed("snapshot-real"))
            x = self._fixed[direction]
            y = self.translate(x, direction)
            back = self.translate(y, "BtoA" if direction == "AtoB" else "AtoB")
            out.append(side_by_side([x, y, back], name=name))
        return out

    def evaluate(self, final: bool) -> dict[str, Any]:
        with torch.random.fork_rng(devices=[]):
            return evaluate_cyclegan(self, self.cfg.eval.n_samples, self.streams.seed("eval"),
                                     extractor=self.cfg.eval.extractor)

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        return cyclegan_summary(results)

    def run_info(self) -> dict[str, Any]:
        return {"objective": self.objective.name, "directions": list(DIRECTIONS),
                "domains": list(self.spec.extra.get("domains") or ["A", "B"]),
                "lambda_cycle": self.section.lambda_cycle,
                "lambda_identity": self.section.lambda_identity}


register_family(CycleGANFamily)

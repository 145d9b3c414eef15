"""pix2pix (Isola et al., CVPR 2017): a conditional GAN for paired image-to-image translation
(``family: pix2pix``).

A U-Net generator ``G(x)`` (:mod:`ganlab.nn.unet`; its only noise is dropout, kept on at
sampling as in the paper unless ``generator.dropout_at_sampling`` is off) and a PatchGAN
``D(x, y)`` (:mod:`ganlab.nn.patchgan`) that scores (input, image) pairs concatenated along
the channel axis, patch by patch. With ``s_r = D(x, y)`` on a real pair and ``s_f = D(x, G(x))``::

    L_D = 0.5 * objective.d_loss(s_r, s_f)          (halved, as the paper slows D)
    L_G = gan_weight * objective.g_loss(s_f) + l1_weight * mean |y - G(x)|

``objective`` is any name of the :mod:`ganlab.losses` registry without a required penalty
(default ``ns``: the paper's non-saturating BCE loss); ``l1_weight`` defaults to 100 (the
paper's lambda). ``gan_weight: 0`` is "L1 only" (D is neither trained nor used);
``l1_weight: 0`` is "cGAN only".

The data must be paired (``edges:``, ``gray:`` or ``pairs:``, see :mod:`ganlab.data.pairs`):
``Batch(x=input, target=target)``. Snapshots show fixed held-out examples as input | output
| target; evaluation translates ``eval.n_samples`` held-out inputs and reports PSNR, SSIM and,
in a domain classifier's features, FID / KID of outputs vs targets and the classifier's
accuracy on the outputs (:mod:`ganlab.metrics.translation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.config import OptimizerConfig, setting
from ganlab.data.pairs import held_out as held_out_pairs
from ganlab.engine.family import Family, FamilyContext
from ganlab.engine.optim import build_optimizers, grad_norm
from ganlab.errors import GanlabError
from ganlab.families.gan import GANFamily
from ganlab.families.image_eval import auto_extractor
from ganlab.losses import d_outputs_as_probability, get_objective
from ganlab.metrics.translation import paired_metrics
from ganlab.nn import patchgan, unet
from ganlab.registry import register_family
from ganlab.report.artefacts import Artefact
from ganlab.report.curves import GRAD_NORMS, CurveGroup
from ganlab.translation import ModuleTranslator, Shape, side_by_side

N_SNAPSHOT = 8          # held-out examples shown in every snapshot
D_LOSS_SCALE = 0.5      # the paper divides D's objective by 2


@dataclass
class UNetConfig:
    """The U-Net generator (see :mod:`ganlab.nn.unet`)."""

    width: int = setting(64, check="positive")
    depth: int | None = setting(None, check="positive_or_none")   # None: down to 1x1, <= 8
    norm: str = setting("instance", choices=unet.NORMS)
    dropout: float = setting(0.5, check="probability")
    dropout_layers: int = setting(3, check="non_negative")   # innermost decoder levels
    dropout_at_sampling: bool = True                         # the paper's test-time noise

    def validate(self, prefix: str) -> None:
        if self.dropout >= 1.0:
            raise GanlabError(f"{prefix}dropout: must be < 1, got {self.dropout}")


@dataclass
class PatchConfig:
    """The PatchGAN discriminator (see :mod:`ganlab.nn.patchgan`)."""

    width: int = setting(64, check="positive")
    n_layers: int = setting(3, check="positive")    # 3: the 70x70 PatchGAN
    norm: str = setting("instance", choices=patchgan.NORMS)
    spectral: bool = False


def _default_optim() -> dict[str, OptimizerConfig]:
    return {"G": OptimizerConfig(lr=2e-4), "D": OptimizerConfig(lr=2e-4)}


@dataclass
class Pix2PixConfig:
    """The ``pix2pix:`` section."""

    generator: UNetConfig = field(default_factory=UNetConfig)
    discriminator: PatchConfig = field(default_factory=PatchConfig)
    objective: str = "ns"
    l1_weight: float = setting(100.0, check="non_negative")
    gan_weight: float = setting(1.0, check="non_negative")
    optim: dict[str, OptimizerConfig] = field(default_factory=_default_optim)

    def validate(self, prefix: str) -> None:
        obj = get_objective(self.objective)
        if obj.default_penalties:
            raise GanlabError(f"{prefix}objective: {self.objective} needs "
                              f"{', '.join(obj.default_penalties)}, which pix2pix does not "
                              "apply; use ns, minimax, lsgan or hinge")
        if set(self.optim) != {"G", "D"}:
            raise GanlabError(f"{prefix}optim: needs exactly G and D, got "
                              f"{', '.join(sorted(self.optim)) or 'none'}")
        if self.l1_weight == 0 and self.gan_weight == 0:
            raise GanlabError(f"{prefix}l1_weight and {prefix}gan_weight are both 0: nothing "
                              "to train; set one of them > 0")


class Pix2PixFamily(Family[Pix2PixConfig]):
    """Paired translation: one D step, then one G step per iteration (see the module doc)."""

    name = "pix2pix"
    config_class = Pix2PixConfig
    progress_keys = ("g_loss", "l1", "d_loss")
    curves = (
        CurveGroup("losses", "Losses (G: gan_weight x adversarial + l1_weight x L1)",
                   ("d_loss", "g_loss", "g_adv", "l1")),
        CurveGroup("d_outputs", "Discriminator on real and translated pairs",
                   ("d_real", "d_fake")),
        GRAD_NORMS,
    )

    def __init__(self, ctx: FamilyContext) -> None:
        super().__init__(ctx)
        hp = self.section
        spec = self.spec
        if spec.kind != "images" or spec.target_shape is None or \
                spec.extra.get("paired") is False:
            raise GanlabError(f"family pix2pix needs paired images (data.name edges:SET, "
                              f"gray:SET or pairs:DIR_A,DIR_B), and {self.cfg.data.name!r} "
                              "has no paired targets")
        # images and their targets: (C, H, W) each
        self.in_shape = cast(Shape, tuple(spec.sample_shape))
        self.out_shape = cast(Shape, tuple(spec.target_shape))
        if self.in_shape[1:] != self.out_shape[1:]:
            raise GanlabError(f"pix2pix: inputs are {self.in_shape[1:]} and targets "
                              f"{self.out_shape[1:]} pixels; they must be one size")
        self.objective = get_objective(hp.objective)
        self.gen = self.streams.generator("train")
        self.data_gen = self.streams.data_generator()
        g, d = hp.generator, hp.discriminator
        G = unet.UNet(self.in_shape[0], self.out_shape[0], self.in_shape[-1], width=g.width,
                      depth=g.depth, norm=g.norm, dropout=g.dropout,
                      dropout_layers=g.dropout_layers,
                      dropout_at_sampling=g.dropout_at_sampling)
        D = patchgan.PatchDiscriminator(self.in_shape[0] + self.out_shape[0], width=d.width,
                                        n_layers=d.n_layers, norm=d.norm, spectral=d.spectral)
        need = patchgan.min_input_size(d.n_layers)
        if self.in_shape[-1] < need:
            raise GanlabError(f"pix2pix.discriminator.n_layers={d.n_layers} needs images of at "
                              f"least {need} pixels, these are {self.in_shape[-1]}; lower it")
        self.G = self.runtime.module(G, image=True)
        self.D = self.runtime.module(D, image=True)
        opts = build_optimizers({"G": self.G, "D": self.D}, hp.optim)
        self.opt_g, self.opt_d = opts["G"], opts["D"]
        self._examples: Any = None     # fixed held-out pairs for snapshots
        self._held_out: Any = None     # (source, note) for evaluation

    # -- contract with the loop ----------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    # the random streams and the data position, saved and restored as the GAN family does
    extra_state = GANFamily.extra_state
    load_extra_state = GANFamily.load_extra_state

    def _pair(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.cat([x, y], 1)

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        hp = self.section
        batch = self.runtime.batch(self.data.batch(self.cfg.train.batch_size, self.data_gen))
        x, y = batch.x, batch.require("target", "family pix2pix")
        adversarial = hp.gan_weight > 0
        with self.runtime.autocast():
            fake = self.G(x)
        out: dict[str, Any] = {}
        if adversarial:
            with self.runtime.autocast():
                s_r = self.D(self._pair(x, y)).float()
                s_f = self.D(self._pair(x, fake.detach())).float()
                d_loss = D_LOSS_SCALE * self.objective.d_loss(s_r, s_f)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            out["d_grad_norm"] = grad_norm(self.D) if log else 0.0
            self.opt_d.step()
            out.update(d_loss=d_loss, s_r=s_r, s_f=s_f)
            self.D.requires_grad_(False)
        with self.runtime.autocast():
            l1 = F.l1_loss(fake.float(), y.float())
            g_loss = hp.l1_weight * l1
            if adversarial:
                g_adv = self.objective.g_loss(self.D(self._pair(x, fake)).float())
                g_loss = g_loss + hp.gan_weight * g_adv
                out["g_adv"] = g_adv
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        if adversarial:
            self.D.requires_grad_(True)
        g_norm = grad_norm(self.G) if log else 0.0
        self.opt_g.step()
        if not log:
            return {}
        logs = {"g_loss": g_loss.item(), "l1": l1.item(), "g_grad_norm": g_norm}
        if adversarial:
            crit = self.objective.critic
            logs.update(d_loss=out["d_loss"].item(), g_adv=out["g_adv"].item(),
                         d_real=d_outputs_as_probability(out["s_r"], crit),
                         d_fake=d_outputs_as_probability(out["s_f"], crit),
                         d_grad_norm=float(out["d_grad_norm"]))
        return logs

    # -- looking at the model --------------------------------------------------------------------
    def translator(self) -> ModuleTranslator:
        """``AtoB``: inputs of the run's input shape -> outputs (dropout noise from the
        run's seed, so a translation is repeatable)."""
        return ModuleTranslator({"AtoB": self.G}, {"AtoB": (self.in_shape, self.out_shape)},
                                seed=self.streams.seed("eval"))

    def sampler(self) -> Any:
        return TranslationSampler(self)

    def run_info(self) -> dict[str, Any]:
        hp = self.section
        return {"objective": self.objective.name, "critic": self.objective.critic,
                "l1_weight": hp.l1_weight, "gan_weight": hp.gan_weight,
                "unet_depth": self.G.depth,
                "patch_receptive_field": patchgan.receptive_field(hp.discriminator.n_layers),
                "directions": ["AtoB"]}

    def held_out(self) -> tuple[Any, str]:
        """The held-out pairs (built once) and a note saying which they are."""
        if self._held_out is None:
            self._held_out = held_out_pairs(self.cfg.data)
        return self._held_out

    def _snapshot_examples(self) -> Any:
        if self._examples is None:
            source, _ = self.held_out()
            examples = getattr(source, "examples", None)
            if examples is None:   # a streamed folder: a fixed batch from its own seed
                self._examples = source.batch(N_SNAPSHOT, torch.Generator().manual_seed(0))
            else:
                self._examples = examples(N_SNAPSHOT)
        return self._examples

    def snapshot(self, step: int) -> list[Artefact]:
        ex = self._snapshot_examples()
        out = self.translator()(ex.x, "AtoB")
        return [side_by_side([ex.x, out, ex.target])]

    def evaluate(self, final: bool) -> dict[str, Any]:
        """PSNR, SSIM (and FID, KID, class accuracy in a domain classifier's features) of
        ``eval.n_samples`` held-out translations against their targets."""
        source, note = self.held_out()
        n = self.cfg.eval.n_samples
        examples = getattr(source, "examples", None)
        with torch.random.fork_rng(devices=[]):
            if examples is None:
                batch = source.batch(n, self.streams.fixed("eval-real"))
            else:
                batch = examples(n)
            out = self.translator()(batch.x, "AtoB")
            extractor, why = self.extractor_name()
            results = paired_metrics(out, batch.target, extractor, batch.labels,
                                     reference=note)
        results["held_out"] = note
        if why:
            results["extractor_note"] = why
        return results

    def extractor_name(self) -> tuple[str | None, str]:
        """(extractor, '') for the targets' domain, or (None, why FID is left out)."""
        name = self.cfg.eval.extractor
        if name != "auto":
            return name, ""
        prefix, _, body = self.cfg.data.name.partition(":")
        body = body.strip()
        if prefix == "pairs":
            return None, ("FID skipped: no domain classifier for folders (set eval.extractor, "
                          "e.g. inception-fid)")
        ext, why = auto_extractor(body)
        if ext is not None and self.out_shape != (1, 28, 28):
            return None, (f"FID skipped: {ext} reads 1x28x28 images, the targets are "
                          f"{self.out_shape}; set eval.extractor")
        return ext, ("" if ext else f"FID skipped: {why}")

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        if "psnr" not in results:
            return []
        line = f"PSNR {results['psnr']:.2f} dB, SSIM {results['ssim']:.3f}"
        if "fid" in results:
            line += f", FID ({results['extractor']} features) {results['fid']:.2f}"
        if "class_accuracy" in results:
            line += (f", classifier reads the target's class in "
                     f"{100 * results['class_accuracy']:.1f}% of outputs "
                     f"({100 * results['target_class_accuracy']:.1f}% of targets)")
        lines = [line + f" ({results['n_pairs']} pairs, {results['held_out']})"]
        if results.get("extractor_note"):
            lines.append(results["extractor_note"])
        return lines


@dataclass
class TranslationSampler:
    """The :class:`~ganlab.sampling.Sampler` of a translation family: it translates held-out
    inputs, so it needs the run's data; ``ganlab translate`` takes inputs of your own."""

    family: Pix2PixFamily
    kind: str = "images"
    source: str = "G"

    def sample(self, n: int, seed: int = 0, condition: Any = None) -> Tensor:
        if self.family.ctx.data is None:
            raise GanlabError("pix2pix translates images, it does not sample from noise: use "
                              "`ganlab translate RUN INPUT OUTPUT_DIR`")
        source, _ = self.family.held_out()
        batch = source.batch(n, torch.Generator().manual_seed(seed))
        return self.family.translator()(batch.x, "AtoB")


register_family(Pix2PixFamily)

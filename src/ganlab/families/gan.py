"""The GAN family: any objective, any architecture, points or images, unconditional or
class-conditional.

Config section ``gan``: the objective and its regularisers, the networks, two optimisers
``G`` and ``D``, the number of critic steps, an EMA of the generator, and ``conditional``:
class-conditional networks ``G(z, y)`` and ``D(x, y)`` trained on labelled images (real
images with their labels, fakes with labels drawn uniformly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, cast

import torch
from torch import Tensor, nn

from ganlab.config import OptimizerConfig, setting
from ganlab.engine.ema import make_ema, update_ema
from ganlab.engine.family import Family, FamilyContext
from ganlab.engine.optim import build_optimizers, grad_norm
from ganlab.errors import GanlabError
from ganlab.families.image_eval import ImageEvaluator
from ganlab.losses import d_outputs_as_probability, get_objective
from ganlab.metrics.divergences import binned_js, wasserstein1
from ganlab.metrics.modes import CONFIDENT
from ganlab.metrics.modes2d import mode_diagnostics
from ganlab.nn import arch_names, build_models
from ganlab.penalties import (
    clip_weights,
    gradient_penalty,
    interpolation_weights,
    r1_penalty,
)
from ganlab.registry import register_family
from ganlab.report.artefacts import Artefact, Figure, ImageGrid
from ganlab.sampling import LatentModel, LatentSampler, Sampler, run_in_eval_mode

N_FIXED = 64          # fixed latents for image grids
N_SCATTER = 2500      # points drawn for 2-D snapshots
N_W1 = 500            # points for the exact W1 estimate of 2-D evaluations
PER_CLASS = 8         # conditional image grids: one row of this many samples per class
MAX_GRID_CLASSES = 32  # ... for the first this many classes


# ---------------------------------------------------------------------------------------------
# The config section


@dataclass
class ObjectiveConfig:
    """Which loss, and the discriminator regularisers that go with it."""

    name: str = "ns"
    lsgan_a: float = 0.0
    lsgan_b: float = 1.0
    lsgan_c: float = 1.0
    clip: float | None = setting(None, check="positive_or_none")       # WGAN weight clipping;
    gp_weight: float | None = setting(None, check="positive_or_none")  # WGAN-GP lambda; None =
    r1_gamma: float = setting(0.0, check="non_negative")  # the objective's default (0.01, 10)
    # R1 penalty weight gamma, applied as gamma / 2 * R1

    def validate(self, prefix: str) -> None:
        get_objective(self.name)  # raises with the allowed names

    def penalties(self) -> tuple[float | None, float | None]:
        """(clip, gp_weight) after the objective's defaults."""
        defaults = get_objective(self.name).default_penalties
        clip = self.clip if self.clip is not None else defaults.get("clip")
        gp = self.gp_weight if self.gp_weight is not None else defaults.get("gp_weight")
        return clip, gp


@dataclass
class ModelConfig:
    """Generator and discriminator architecture (one of ``ganlab.nn``'s archs)."""

    arch: str = "mlp"
    z_dim: int = setting(2, check="positive")
    width: int = setting(128, check="positive")
    depth: int = setting(3, check="positive")
    g_width: int | None = setting(None, check="positive_or_none")
    d_width: int | None = setting(None, check="positive_or_none")
    spectral_norm: bool = False
    batch_norm_g: bool = True
    batch_norm_d: bool = True   # DCGAN D only; ignored with spectral norm; off with GP / R1
    # DCGAN D only: ProGAN's minibatch standard deviation over groups of this many samples,
    # one extra channel before D's last layer (0: off)
    minibatch_std: int = setting(0, check="non_negative")

    def validate(self, prefix: str) -> None:
        if self.arch not in arch_names():
            raise GanlabError(f"{prefix}arch: unknown architecture {self.arch!r}; allowed: "
                              f"{', '.join(arch_names())}")
        if self.minibatch_std and self.arch != "dcgan":
            raise GanlabError(f"{prefix}minibatch_std: only the dcgan discriminator has it "
                              f"(arch is {self.arch}); set {prefix}minibatch_std=0")
        if self.minibatch_std == 1:
            raise GanlabError(f"{prefix}minibatch_std: a group of 1 has no spread; use 0 (off) "
                              f"or a group size of 2 or more (ProGAN uses 4)")


@dataclass
class EMAConfig:
    """An exponential moving average of G's weights (sampled from when on)."""

    enabled: bool = False
    decay: float = setting(0.999, check="probability")
    start: int = setting(0, check="non_negative")   # plain copies of G before this step


def _default_optim() -> dict[str, OptimizerConfig]:
    return {"G": OptimizerConfig(lr=1e-3), "D": OptimizerConfig(lr=1e-3)}


@dataclass
class AdversarialConfig:
    """The settings every image GAN section shares (``gan:``, ``cgan:``) and their checks."""

    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: dict[str, OptimizerConfig] = field(default_factory=_default_optim)
    n_critic: int = setting(1, check="positive")   # D updates per G update
    ema: EMAConfig = field(default_factory=EMAConfig)

    def validate(self, prefix: str) -> None:
        if set(self.optim) != {"G", "D"}:
            raise GanlabError(f"{prefix}optim: needs exactly G and D, got "
                              f"{', '.join(sorted(self.optim)) or 'none'}")
        _, gp = self.objective.penalties()
        m = self.model
        uses_bn = m.arch == "dcgan" and m.batch_norm_d and not m.spectral_norm
        if uses_bn and ((gp or 0) > 0 or self.objective.r1_gamma > 0):
            which = "objective.gp_weight" if gp else "objective.r1_gamma"
            raise GanlabError(
                f"{prefix}model.batch_norm_d: BatchNorm in the discriminator couples the samples "
                f"of a batch, so the per-sample gradient penalty ({prefix}{which}) is "
                f"ill-defined; set {prefix}model.batch_norm_d=false (as the "
                "fashion-dcgan-wgan-gp preset does)")


@dataclass
class GANConfig(AdversarialConfig):
    """The ``gan:`` section."""

    conditional: bool = False   # class-conditional G(z, y) and D(x, y); needs data.labels=true
    # PacGAN (Lin et al. 2018): D judges `pack` samples at once, stacked along the channels
    # (all real or all fake), which penalises a generator whose samples look alike
    pack: int = setting(1, check="positive")

    def validate(self, prefix: str) -> None:
        if self.pack > 1 and self.conditional:
            raise GanlabError(f"{prefix}pack: packing is for unconditional GANs; set "
                              f"{prefix}pack=1 or {prefix}conditional=false")
        super().validate(prefix)


# ---------------------------------------------------------------------------------------------
# The family


class Framed(Protocol):
    """A source of 2-D points that frames them (:mod:`ganlab.data.toy2d`)."""

    def bounds(self) -> tuple[float, float, float, float]: ...


A = TypeVar("A", bound=AdversarialConfig)   # the section: GANConfig, or CGANConfig


class GANFamily(Family[A]):
    """Alternating updates: ``n_critic`` discriminator steps, then one generator step.

    The fake batch of the last discriminator step is reused by the generator step (one
    generator forward pass per iteration, as in the reference DCGAN loop). Latents and
    penalty noise come from a generator on the run's device; data indices from the CPU (on
    the CPU both are one stream).
    """

    name = "gan"
    config_class: ClassVar[type[AdversarialConfig]] = GANConfig
    live_settings = ("optim.G.lr", "optim.D.lr", "n_critic", "objective.name",
                     "objective.gp_weight", "objective.r1_gamma", "objective.clip",
                     "ema.enabled")
    update_modes = ("both", "d", "g")   # a whole step, D's updates only, G's only

    def __init__(self, ctx: FamilyContext) -> None:
        super().__init__(ctx)
        hp = self.section
        self._set_objective(hp)
        self.gen = self.streams.generator("train")
        self.data_gen = self.streams.data_generator()
        self.sample_shape = self.spec.sample_shape
        self.num_classes: int | None = self._num_classes()
        self.pack = getattr(hp, "pack", 1)
        if self.cfg.train.batch_size % self.pack:
            raise GanlabError(f"train.batch_size: {self.cfg.train.batch_size} is not a multiple "
                              f"of {self.name}.pack={self.pack} (D judges packs of that many)")
        G, D = self._build_models()
        is_image = len(self.sample_shape) == 3
        self.G = self.runtime.module(G, image=is_image)
        self.D = self.runtime.module(D, image=is_image)
        opts = build_optimizers({"G": self.G, "D": self.D}, hp.optim)
        self.opt_g, self.opt_d = opts["G"], opts["D"]
        self.G_ema = make_ema(self.G) if hp.ema.enabled else None
        # CPU latents: the same grid on every device
        self.fixed_z = cast(LatentModel, G).sample_latent(N_FIXED, self.streams.fixed("snapshot"))
        self.image_eval: Any = None
        if self.spec.kind == "images":
            self.image_eval = ImageEvaluator(self.cfg.eval, self.cfg.data, self.sample_shape,
                                             self.log)

    # -- contract with the loop ----------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        return mods

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def _set_objective(self, hp: AdversarialConfig) -> None:
        oc = hp.objective
        self.objective = get_objective(oc.name, a=oc.lsgan_a, b=oc.lsgan_b, c=oc.lsgan_c)
        self.clip, self.gp_weight = oc.penalties()
        self.r1_gamma = oc.r1_gamma

    def reconfigure(self, section: A) -> None:
        """The objective and its penalties, ``n_critic`` and EMA, changed between steps: the
        networks and the optimisers' state are kept. EMA switched on starts as a copy of G."""
        self._set_objective(section)
        if section.ema.enabled and self.G_ema is None:
            self.G_ema = make_ema(self.G)
        elif not section.ema.enabled:
            self.G_ema = None
        self.section = section

    def weights_restored(self, loaded: list[str]) -> None:
        if self.G_ema is not None and "G_ema" not in loaded:
            self.G_ema.load_state_dict(self.G.state_dict())
            self.log("resume: the checkpoint has no EMA generator (gan.ema.enabled was off); "
                     "it starts as a copy of G")

    # -- hooks a subclass may extend (the cgan family) ---------------------------------------------
    conditional_flag = "gan.conditional=true"   # what asks for labels, in error messages

    def _num_classes(self) -> int | None:
        """The classes G and D are conditioned on; None for an unconditional pair."""
        return self._class_count() if getattr(self.section, "conditional", False) else None

    def _class_count(self) -> int:
        """The number of classes of the data, or a clear error when it has no labels."""
        if not self.spec.num_classes:
            raise GanlabError(
                f"{self.conditional_flag} needs class labels, and this data has none: set "
                "data.labels=true with labelled images (an .npz with a 'labels' array, a "
                "folder with one subfolder per class, mnist or fashion-mnist)")
        return int(self.spec.num_classes)

    def _build_models(self) -> tuple[nn.Module, nn.Module]:
        """``(G, D)`` for this run's model config and classes (not yet placed)."""
        if self.pack == 1:
            return build_models(self.section.model, self.sample_shape, self.num_classes)
        G, _ = build_models(self.section.model, self.sample_shape)
        c, *rest = self.sample_shape
        _, D = build_models(self.section.model, (c * self.pack, *rest))
        return G, D

    def _d_adversarial(self, real_in: Tensor, real: Tensor, fake: Tensor,
                       y_real: Tensor | None, y_fake: Tensor | None
                       ) -> tuple[Tensor, dict[str, Any]]:
        """D's adversarial loss (under autocast) and what to keep of it: ``d_adv``, the raw
        outputs ``d_real`` and ``d_fake``. ``real_in`` is ``real``, made to require gradients
        when R1 needs them; ``fake`` is already detached."""
        d_real = self._D(real_in, y_real).float()
        d_fake = self._D(fake, y_fake).float()
        loss = self.objective.d_loss(d_real, d_fake)
        return loss, {"d_adv": loss, "d_real": d_real, "d_fake": d_fake}

    def _g_adversarial(self, fake: Tensor, y_fake: Tensor | None, z: Tensor
                       ) -> tuple[Tensor, dict[str, Any]]:
        """G's loss on its fakes ``fake = G(z, y_fake)`` (under autocast), and any parts of it
        to log."""
        return self.objective.g_loss(self._D(fake, y_fake).float()), {}

    def _extra_logs(self, d_out: dict[str, Any], g_out: dict[str, Any]) -> dict[str, float]:
        """Numbers logged beside the standard ones (only on logging steps)."""
        return {key: d_out[key].item() for key in ("gp", "r1") if key in d_out}

    def _real(self, n: int) -> Tensor:
        return self.runtime.batch(self.data.batch(n, self.data_gen)).x

    def _real_labelled(self, n: int) -> tuple[Tensor, Tensor]:
        """A real batch and its labels on the device (conditional runs)."""
        batch = self.runtime.batch(self.data.batch(n, self.data_gen))
        return batch.x, batch.require("labels", self.conditional_flag)

    def _latents(self, n: int) -> Tensor:
        """This process's share of ``n`` latents (all of them with one process): every
        process draws the same global batch, so several processes follow one."""
        return self.runtime.shard(cast(LatentModel, self.G).sample_latent(n, self.gen))

    def _fake_labels(self, n: int) -> Tensor | None:
        """Uniform class labels for ``n`` fakes from the training stream; None (and nothing
        drawn) when unconditional."""
        if self.num_classes is None:
            return None
        return self.runtime.shard(torch.randint(self.num_classes, (n,), generator=self.gen,
                                                device=self.gen.device))

    def _G(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.G(z) if y is None else self.G(z, y)

    def _D(self, x: Tensor, y: Tensor | None) -> Tensor:
        if y is not None:
            return self.D(x, y)
        return self.D(self._packed(x)) if self.pack > 1 else self.D(x)

    def _packed(self, x: Tensor) -> Tensor:
        """``pack`` consecutive samples as one input of ``pack`` times the channels."""
        n, c, *rest = x.shape
        return x.reshape(n // self.pack, c * self.pack, *rest)

    def _d_step(self, real: Tensor, fake: Tensor, want_norm: bool,
                y_real: Tensor | None = None, y_fake: Tensor | None = None) -> dict[str, Any]:
        needs_r1 = self.r1_gamma > 0
        real_in = real.detach().requires_grad_(True) if needs_r1 else real
        with self.runtime.autocast():
            loss, out = self._d_adversarial(real_in, real, fake.detach(), y_real, y_fake)
        d_real = out["d_real"]
        if self.gp_weight:
            # conditional: the interpolates are scored with the real batch's labels
            critic = (lambda x: self._D(x, None)) if y_real is None else \
                (lambda x: self.D(x, y_real))
            # the global batch's weights, this process's share: several processes follow one
            eps = self.runtime.shard(interpolation_weights(
                real, self.gen, real.shape[0] * self.runtime.world_size))
            gp = gradient_penalty(critic, real, fake, self.gen, eps=eps)
            loss = loss + self.gp_weight * gp
            out["gp"] = gp
        if needs_r1:
            r1 = r1_penalty(d_real, real_in)
            loss = loss + 0.5 * self.r1_gamma * r1
            out["r1"] = r1
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if want_norm:
            out["d_grad_norm"] = grad_norm(self.D)
        self.opt_d.step()
        if self.clip:
            clip_weights(self.D, self.clip)
        out["d_loss"] = loss
        return out

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        bs = self.cfg.train.batch_size
        d_out: dict[str, Any] = {}
        fake = None
        y_real = y_fake = None
        if self.updates == "g":   # steered: G's update alone, on a fresh batch of latents
            z = self._latents(bs)
            y_fake = self._fake_labels(bs)
            with self.runtime.autocast():
                fake = self._G(z, y_fake)
        n_critic = self.section.n_critic if self.updates != "g" else 0
        for i in range(n_critic):
            if self.num_classes is None:
                real = self._real(bs)
            else:
                real, y_real = self._real_labelled(bs)
            z = self._latents(bs)
            y_fake = self._fake_labels(bs)
            last = i == n_critic - 1 and self.updates != "d"
            with self.runtime.autocast(), torch.set_grad_enabled(last):
                fake = self._G(z, y_fake)
            d_out = self._d_step(real, fake, want_norm=log and i == n_critic - 1,
                                 y_real=y_real, y_fake=y_fake)
        assert fake is not None
        g_loss = g_out = None
        g_norm = 0.0
        if self.updates != "d":
            g_loss, g_out, g_norm = self._g_step(fake, y_fake, z, log)
            if self.G_ema is not None:
                ema = self.section.ema
                update_ema(self.G_ema, self.G, ema.decay if step >= ema.start else 0.0)
        if not log:
            return {}
        crit = self.objective.critic
        full: dict[str, float | None] = {
            "d_loss": d_out["d_loss"].item() if d_out else None,
            "g_loss": None if g_loss is None else g_loss.item(),
            "d_adv": d_out["d_adv"].item() if d_out else None,
            "d_real": d_outputs_as_probability(d_out["d_real"], crit) if d_out else None,
            "d_fake": d_outputs_as_probability(d_out["d_fake"], crit) if d_out else None,
            "d_grad_norm": float(d_out["d_grad_norm"]) if d_out else None,
            "g_grad_norm": g_norm if g_loss is not None else None}
        # a steered half step logs its half
        logs: dict[str, float] = {k: v for k, v in full.items() if v is not None}
        logs.update(self._extra_logs(d_out, g_out or {}))
        return logs

    def _g_step(self, fake: Tensor, y_fake: Tensor | None, z: Tensor, log: bool
                ) -> tuple[Tensor, dict[str, Any], float]:
        """G's update on ``fake = G(z, y_fake)``: its loss, what to log of it, its gradient
        norm (0 when not logging)."""
        self.D.requires_grad_(False)  # the G step needs no gradients for D's weights
        with self.runtime.autocast():
            g_loss, g_out = self._g_adversarial(fake, y_fake, z)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.D.requires_grad_(True)
        g_norm = grad_norm(self.G) if log else 0.0
        self.opt_g.step()
        return g_loss, g_out, g_norm

    # -- looking at the model --------------------------------------------------------------------
    def latent_sampler(self) -> LatentSampler:
        """The EMA generator when there is one, else G (class-conditional when G is: see
        :meth:`LatentSampler.sample` for its ``condition``)."""
        g, source = (self.G_ema, "G_ema") if self.G_ema is not None else (self.G, "G")
        return LatentSampler(g, self.spec.kind, source, self.sample_shape)

    def sampler(self) -> Sampler:
        """:meth:`latent_sampler` (a subclass may sample another way, e.g. by prompt)."""
        return self.latent_sampler()

    def generate(self, n: int, seed: int) -> Tensor:
        """``n`` samples from :meth:`sampler` with latents drawn from ``seed`` (eval mode);
        a conditional sampler cycles through the classes."""
        return self.sampler().sample(n, seed)

    def run_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"objective": self.objective.name,
                                "critic": self.objective.critic}
        if self.num_classes is not None:
            info.update(conditional=True, num_classes=self.num_classes)
        return info

    def plane_bounds(self) -> tuple[float, float, float, float]:
        """The frame of a 2-D run's plane: (x0, x1, y0, y1)."""
        b = self.spec.extra.get("bounds") or cast(Framed, self.data).bounds()
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    def snapshot(self, step: int) -> list[Artefact]:
        if self.spec.kind == "points":
            from ganlab.report.scatter2d import save_scatter  # loads matplotlib

            fake = self.generate(N_SCATTER, self.streams.seed("snapshot"))
            real = self.data.batch(N_SCATTER, self.streams.fixed("snapshot-real")).x
            assert real is not None
            bounds = self.plane_bounds()
            title = f"{self.cfg.name}, step {step}"
            return [Figure(lambda path: save_scatter(path, real, fake, self.D, bounds,
                                                     critic=self.objective.critic,
                                                     title=title))]
        if self.num_classes is not None:
            # one row per class (the first MAX_GRID_CLASSES), the same PER_CLASS latents in
            # every row
            k = min(self.num_classes, MAX_GRID_CLASSES)
            z = self.fixed_z[:PER_CLASS].repeat(k, 1)
            labels = torch.arange(k).repeat_interleave(PER_CLASS)
            return [ImageGrid(self.latent_sampler().decode(z, labels), nrow=PER_CLASS)]
        return [ImageGrid(run_in_eval_mode(self.latent_sampler().G,
                                           self.fixed_z.to(self.gen.device)))]

    def evaluate(self, final: bool) -> dict[str, Any]:
        if self.image_eval is not None:
            # latents from their own seed, and torch's global RNG restored afterwards: the
            # training streams (and so an exact resume) never see an evaluation
            seed = self.streams.seed("eval")
            with torch.random.fork_rng(devices=[]):
                return self.image_eval(lambda n: self.generate(n, seed), seed)
        if self.spec.kind != "points":
            return {}
        fake = self.generate(self.cfg.eval.n_samples, self.streams.seed("eval"))
        return self.points_diagnostics(fake)

    def points_diagnostics(self, fake: Tensor, n_w1: int = N_W1) -> dict[str, float]:
        """The 2-D lab's numbers for generated points ``fake``: modes captured, high quality
        and reverse KL (data with mixture modes), binned JS and exact W1 (on ``n_w1``
        points). Touches no training stream (the live page calls it while a run trains)."""
        results: dict[str, float] = {}
        mixture = getattr(self.data, "mixture", None)
        if mixture is not None:
            results.update(mode_diagnostics(fake, mixture.means, mixture.std,
                                            mixture.weights).as_dict())
        results.update(self._divergences(fake, n_w1))
        return results

    def _divergences(self, fake: Tensor, n_w1: int = N_W1) -> dict[str, float]:
        """Binned JS and exact W1 (on ``n_w1`` points) between real and generated points.

        The real points come from their own generator (not the training streams), so
        evaluating never changes them and resume stays bit-exact.
        """
        real = self.data.batch(fake.shape[0], self.streams.fixed("eval-real")).x
        assert real is not None
        n = min(n_w1, fake.shape[0])
        return {"js": binned_js(real, fake), "w1": wasserstein1(real[:n], fake[:n])}

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        if self.image_eval is not None:
            return self._image_line(results)
        if "modes_captured" in results:
            return [f"modes captured: {results['modes_captured']:.0f}/{results['n_modes']:.0f}, "
                    f"high quality: {100 * results['high_quality']:.1f}%, "
                    f"reverse KL: {results['reverse_kl']:.3f}"] + self._div_line(results)
        return self._div_line(results)

    def _image_line(self, results: dict[str, Any]) -> list[str]:
        assert self.image_eval is not None
        if "stacked_modes" in results:
            return [f"stacked digits: {results['stacked_modes']:.0f} of 1000 modes, KL to "
                    f"uniform {results['stacked_kl']:.3f} ({self.cfg.eval.n_samples} samples, "
                    "each channel read by the digit classifier)",
                    f"  of the KL: {results['stacked_kl_channels']:.3f} from uneven digits per "
                    f"channel, {results['stacked_kl_dependence']:.3f} from dependence between "
                    f"channels; classifier confidence {results['stacked_confidence']:.2f}",
                    *([f"  over the {results['stacked_confident_fraction']:.0%} of channels "
                       f"read with confidence (>= {CONFIDENT}) the per-channel part is "
                       f"{results['stacked_kl_channels_confident']:.3f}"]
                      if "stacked_kl_channels_confident" in results else [])]
        if "fid" not in results:
            reason = self.image_eval.skip_reason
            return [f"image metrics skipped: {reason}"] if reason else []
        line = (f"FID ({results.get('extractor', '?')} features) {results['fid']:.2f}, "
                f"KID {results['kid_mean']:.4f}, precision {results['precision']:.2f}, "
                f"recall {results['recall']:.2f}")
        if "score" in results:
            line += f", classifier score {results['score']:.2f}"
        return [line + f" ({self.cfg.eval.n_samples} samples vs "
                f"{self.image_eval.reference_name})"]

    @staticmethod
    def _div_line(results: dict[str, float]) -> list[str]:
        if "js" not in results:
            return []
        return [f"real vs generated: JS (binned) {results['js']:.3f} nats, "
                f"W1 {results['w1']:.4f}"]


register_family(GANFamily)

"""The conditional GAN family (``family: cgan``): class-conditional G(z, c) and D(x, c) with a
matching-aware discriminator, conditional BatchNorm or concatenation in G, concatenation or
projection in D, and an optional auxiliary classifier (AC-GAN).

It is :class:`~ganlab.families.gan.GANFamily` (the same step, critic loop, penalties, EMA,
snapshots, evaluation and sampler) with three of its hooks extended: how the networks are
built, D's adversarial loss and G's loss.

Config section ``cgan``: everything the ``gan`` section has (``objective``, ``model``,
``optim`` G and D, ``n_critic``, ``ema``) and

* ``mismatch_weight`` w >= 0 (default 1): the weight of the mismatched pairs among D's
  negatives; 0 is a plain cGAN;
* ``g_conditioning``: ``concat`` (class embedding concatenated to z) or ``cbn`` (conditional
  BatchNorm: per-class gain and bias of every BatchNorm of G; DCGAN and ResNet);
* ``d_conditioning``: ``concat`` (class embedding as extra input channels / inputs) or
  ``projection`` (projection discriminator);
* ``aux_classifier_weight`` a >= 0 (default 0): AC-GAN's class head on D;
* ``mode_seeking_weight`` m >= 0 (default 0): the mode-seeking term of MSGAN (below).

The data must have labels (``data.labels: true``).

The matching-aware discriminator loss
-------------------------------------
Every objective of the registry splits into a real and a fake term, each a mean over its
batch: ``objective.d_loss(r, f) = T_real(r) + T_fake(f)``. With ``s_r = D(x, c)`` (real image,
its own class), ``s_f = D(G(z, c'), c')`` (a fake with the class it was made for) and
``s_w = D(x, c_wrong)`` (the same real image with a class drawn uniformly from the *other*
classes: ``c_wrong = (c + u) mod K``, ``u`` uniform in ``1 .. K-1`` from the family's training
stream), the discriminator minimises::

    L_D = T_real(s_r) + (T_fake(s_f) + w * T_fake(s_w)) / (1 + w)
        = (objective.d_loss(s_r, s_f) + w * objective.d_loss(s_r, s_w)) / (1 + w)

(the second line is how it is computed, from the registry's ``d_loss`` alone). The negatives
are a mixture, fakes with weight ``1 / (1 + w)`` and mismatched pairs with ``w / (1 + w)``;
the positives keep weight 1. So:

* ``w = 0`` is exactly ``objective.d_loss(s_r, s_f)`` (no mismatched batch is drawn or scored);
* for ``ns`` / ``minimax`` with ``w = 1`` it is GAN-CLS of Reed et al. (2016):
  ``-mean log D(x, c) - (mean log(1 - D(G(z), c)) + mean log(1 - D(x, c_wrong))) / 2``
  (``D = sigmoid(s)``);
* ``hinge``: ``mean relu(1 - s_r) + (mean relu(1 + s_f) + w mean relu(1 + s_w)) / (1 + w)``;
* ``wgan`` / ``wgan-gp``: ``(mean s_f + w mean s_w) / (1 + w) - mean s_r``: positives and
  negatives keep equal total weight, so the critic loss stays invariant to a constant shift
  of the critic (with ``objective + w * T_fake`` it would not be, and would be unbounded);
* ``lsgan``: ``1/2 mean (s_r - b)^2 + (1/2 mean (s_f - a)^2 + w/2 mean (s_w - a)^2) / (1 + w)``.

Penalties are unchanged: the gradient penalty on real/fake interpolates scored with the real
labels, R1 on the real images with their own labels. The generator's loss is the objective's
``g_loss(s_f)`` (mismatched pairs involve no fake).

AC-GAN (``aux_classifier_weight`` a > 0): D has a class head; D adds
``a * CE(D_cls(x), c)`` on the real images, G adds ``a * CE(D_cls(G(z, c')), c')`` on its fakes.

Mode seeking (``mode_seeking_weight`` m > 0, Mao et al., 2019): a conditional G tends to
ignore ``z`` and make one image per condition (D is satisfied by a good image of the right
class). The second half of each batch of fakes is asked for the same conditions as the first
half, and G adds ``m / (r + 1e-5)`` with ``r = mean|G(z1, c) - G(z2, c)| / mean|z1 - z2|``:
two latents of one condition must give different images. Logged as ``g_ms`` (``r``).

Logged besides the GAN family's numbers: ``d_match`` (the objective's loss on matched pairs,
``objective.d_loss(s_r, s_f)``), ``d_mismatch`` (D's output on the mismatched pairs, as a mean
probability for logits or the mean critic score), ``d_aux`` and ``d_aux_acc`` (the class head's
cross-entropy and accuracy on real images), ``g_adv`` and ``g_aux``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.config import setting
from ganlab.data.mismatch import mismatched_labels, mismatched_rows
from ganlab.errors import GanlabError
from ganlab.families.gan import (
    MAX_GRID_CLASSES,
    PER_CLASS,
    AdversarialConfig,
    GANFamily,
)
from ganlab.losses import d_outputs_as_probability
from ganlab.metrics.conditional import conditional_accuracy, conditional_samples
from ganlab.nn import D_CONDITIONING, G_CONDITIONING, Conditioning, build_models
from ganlab.registry import register_family
from ganlab.report.artefacts import Artefact, ImageGrid, Text
from ganlab.report.curves import GAN_CURVES, CurveGroup
from ganlab.sampling import LatentSampler, TextPromptSampler
from ganlab.text_encoder import embed_texts


@dataclass
class CGANConfig(AdversarialConfig):
    """The ``cgan:`` section: the settings of every image GAN (objective, model, optim,
    n_critic, ema) and the conditioning ones."""

    mismatch_weight: float = setting(1.0, check="non_negative")   # 0 = a plain cGAN
    g_conditioning: str = setting("concat", choices=G_CONDITIONING)
    d_conditioning: str = setting("projection", choices=D_CONDITIONING)
    aux_classifier_weight: float = setting(0.0, check="non_negative")   # AC-GAN; 0 = off
    mode_seeking_weight: float = setting(0.0, check="non_negative")     # MSGAN; 0 = off
    # class: integer labels (data.labels=true); text: sentence embeddings (data.name=emoji-text)
    condition: str = setting("class", choices=("class", "text"))

    def validate(self, prefix: str) -> None:
        super().validate(prefix)
        if self.condition == "text" and self.aux_classifier_weight > 0:
            raise GanlabError(f"{prefix}aux_classifier_weight: AC-GAN's class head needs class "
                              f"labels; set it to 0 with {prefix}condition=text")
        if self.aux_classifier_weight > 0 and self.d_conditioning == "concat":
            # D's input would carry the label, so the class head could read it back from
            # the input instead of from the image: a perfect head that teaches G nothing
            raise GanlabError(f"{prefix}aux_classifier_weight: with "
                              f"{prefix}d_conditioning=concat D's input carries the class, so "
                              f"its class head can read the label instead of the image; use "
                              f"{prefix}d_conditioning=projection with AC-GAN")
        if self.g_conditioning == "cbn":
            if self.model.arch == "mlp":
                raise GanlabError(f"{prefix}g_conditioning=cbn: the mlp generator has no "
                                  f"BatchNorm to condition; use {prefix}g_conditioning=concat")
            if self.model.arch == "dcgan" and not self.model.batch_norm_g:
                raise GanlabError(f"{prefix}g_conditioning=cbn needs BatchNorm in G: set "
                                  f"{prefix}model.batch_norm_g=true or "
                                  f"{prefix}g_conditioning=concat")


def mode_seeking_ratio(fake: Tensor, z: Tensor) -> Tensor:
    """MSGAN's ``mean|x1 - x2| / mean|z1 - z2|`` between the first and second half of a
    batch of fakes ``x`` and their latents ``z`` (an odd last example is left out)."""
    h = fake.shape[0] // 2
    if h == 0:
        raise GanlabError("cgan.mode_seeking_weight needs at least 2 fakes per process; "
                          "raise train.batch_size")
    num = (fake[:h].float() - fake[h:2 * h].float()).abs().mean()
    return num / (z[:h].float() - z[h:2 * h].float()).abs().mean()


class CGANFamily(GANFamily[CGANConfig]):
    """A class-conditional GAN with a matching-aware discriminator (see the module doc)."""

    name = "cgan"
    config_class = CGANConfig
    curves = (*GAN_CURVES, CurveGroup(
        "conditional", "Conditional terms (matching, mismatched pairs, auxiliary classifier, "
        "mode seeking)", ("d_match", "d_mismatch", "d_aux", "g_adv", "g_aux", "g_ms")))
    conditional_flag = "family cgan"

    # -- hooks of GANFamily ----------------------------------------------------------------------
    @property
    def text(self) -> bool:
        return self.section.condition == "text"

    def _num_classes(self) -> int:
        if self.text:   # the condition is a vector: its size plays the part of K
            if not self.spec.text_dim:
                raise GanlabError("cgan.condition=text needs images with text embeddings "
                                  "(data.name=emoji-text); this data has none")
            return int(self.spec.text_dim)
        k = self._class_count()
        if self.section.mismatch_weight > 0 and k < 2:
            raise GanlabError(f"cgan.mismatch_weight: mismatched pairs need at least 2 "
                              f"classes, the data has {k}; set cgan.mismatch_weight=0")
        return k

    def _build_models(self) -> tuple[nn.Module, nn.Module]:
        hp = self.section
        cond = Conditioning(g=hp.g_conditioning, d=hp.d_conditioning,
                            aux_classifier=hp.aux_classifier_weight > 0)
        return build_models(hp.model, self.sample_shape, self.num_classes, cond)

    def _real_labelled(self, n: int) -> tuple[Tensor, Tensor]:
        if not self.text:
            return super()._real_labelled(n)
        batch = self.runtime.batch(self.data.batch(n, self.data_gen))
        self._groups = batch.require("labels", "cgan.condition=text")
        return batch.x, batch.require("text_emb", "cgan.condition=text")

    def _fake_labels(self, n: int) -> Tensor | None:
        y = self._fake_conditions(n)
        if y is not None and self.section.mode_seeking_weight > 0:
            h = y.shape[0] // 2   # this process's share: its second half repeats its first
            y = torch.cat([y[:h], y[:h], y[2 * h:]])
        return y

    def _fake_conditions(self, n: int) -> Tensor | None:
        if not self.text:
            return super()._fake_labels(n)
        # fakes are asked for the texts of random training examples
        table = self.data.emb  # type: ignore[attr-defined]
        idx = torch.randint(len(table), (n,), generator=self.gen, device=self.gen.device)
        return self.runtime.shard(table[idx.cpu()].to(self.runtime.device))

    def _wrong_labels(self, y: Tensor) -> Tensor:
        """Mismatched conditions for this process's real conditions ``y``: other classes
        (offsets of the global batch drawn from the training stream, this process keeps its
        share), or for text the texts of other examples of the batch from other groups."""
        if self.text:
            return y[mismatched_rows(self._groups, self.gen)]
        assert self.num_classes is not None
        n = y.shape[0] * self.runtime.world_size
        offsets = self.runtime.shard(torch.randint(1, self.num_classes, (n,),
                                                   generator=self.gen, device=self.gen.device))
        return mismatched_labels(y, self.num_classes, self.gen, offsets)

    def _d_adversarial(self, real_in: Tensor, real: Tensor, fake: Tensor,
                       y_real: Tensor | None, y_fake: Tensor | None
                       ) -> tuple[Tensor, dict[str, Any]]:
        assert y_real is not None and y_fake is not None
        w = self.section.mismatch_weight
        a = self.section.aux_classifier_weight
        logits = None
        if a > 0:
            d_real, logits = self.D(real_in, y_real, with_classes=True)
            d_real = d_real.float()
        else:
            d_real = self.D(real_in, y_real).float()
        d_fake = self.D(fake, y_fake).float()
        match = self.objective.d_loss(d_real, d_fake)
        out: dict[str, Any] = {"d_real": d_real, "d_fake": d_fake, "d_match": match}
        adv = match
        if w > 0:
            d_mis = self.D(real, self._wrong_labels(y_real)).float()
            adv = (match + w * self.objective.d_loss(d_real, d_mis)) / (1.0 + w)
            out["d_mis"] = d_mis
        out["d_adv"] = adv
        loss = adv
        if logits is not None:
            ce = F.cross_entropy(logits.float(), y_real)
            loss = loss + a * ce
            out["d_aux"] = ce
            out["d_aux_acc"] = (logits.detach().argmax(1) == y_real).float().mean()
        return loss, out

    def _g_adversarial(self, fake: Tensor, y_fake: Tensor | None, z: Tensor
                       ) -> tuple[Tensor, dict[str, Any]]:
        a = self.section.aux_classifier_weight
        if a <= 0:
            loss, out = super()._g_adversarial(fake, y_fake, z)
        else:
            assert y_fake is not None  # only a conditional D has an auxiliary classifier
            score, logits = self.D(fake, y_fake, with_classes=True)
            adv = self.objective.g_loss(score.float())
            ce = F.cross_entropy(logits.float(), y_fake)
            loss, out = adv + a * ce, {"g_adv": adv, "g_aux": ce}
        m = self.section.mode_seeking_weight
        if m > 0:
            r = mode_seeking_ratio(fake, z)
            loss = loss + m / (r + 1e-5)
            out["g_ms"] = r
        return loss, out

    def _extra_logs(self, d_out: dict[str, Any], g_out: dict[str, Any]) -> dict[str, float]:
        logs = super()._extra_logs(d_out, g_out)
        if "d_match" in d_out:   # not after a steered G-only step
            logs["d_match"] = d_out["d_match"].item()
        if "d_mis" in d_out:
            logs["d_mismatch"] = d_outputs_as_probability(d_out["d_mis"],
                                                          self.objective.critic)
        for key in ("d_aux", "d_aux_acc"):
            if key in d_out:
                logs[key] = d_out[key].item()
        for key, value in g_out.items():
            logs[key] = value.item()
        return logs

    def run_info(self) -> dict[str, Any]:
        hp = self.section
        info = super().run_info()
        if self.text:
            info.pop("num_classes", None)
            info["text_dim"] = self.num_classes
        return {**info, "condition": hp.condition, "mismatch_weight": hp.mismatch_weight,
                "g_conditioning": hp.g_conditioning, "d_conditioning": hp.d_conditioning,
                "aux_classifier_weight": hp.aux_classifier_weight,
                "mode_seeking_weight": hp.mode_seeking_weight}

    # -- text: prompts in, image grids of prompts out ------------------------------------------
    def prompts(self) -> list[str] | None:
        if not self.text:
            return None
        return list((self.spec.extra or {}).get("prompts") or [])

    def sampler(self) -> LatentSampler | TextPromptSampler:
        base = self.latent_sampler()
        prompts = self.prompts()
        if prompts is None:
            return base
        extra = self.spec.extra or {}
        return TextPromptSampler(base, extra.get("text_encoder", "minilm"), prompts)

    def snapshot(self, step: int) -> list[Artefact]:
        if not self.text:
            return super().snapshot(step)
        prompts = (self.prompts() or [])[:MAX_GRID_CLASSES]
        if not prompts:
            return []
        sampler = self.sampler()
        assert isinstance(sampler, TextPromptSampler)
        z = self.fixed_z[:PER_CLASS].repeat(len(prompts), 1)
        emb = embed_texts(prompts, sampler.encoder)   # cached: embedded once per run
        rows = emb.repeat_interleave(PER_CLASS, dim=0)
        return [ImageGrid(sampler.base.decode(z, rows), nrow=PER_CLASS),
                Text([f"row {i + 1}: {p}" for i, p in enumerate(prompts)], name="prompts")]

    # -- evaluation: the GAN's metrics, plus conditional accuracy --------------------------------
    def evaluate(self, final: bool) -> dict[str, Any]:
        results = super().evaluate(final)
        if results.get("fid") is not None:
            results.update(_conditional_accuracy(self))
        return results

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        lines = super().summary_lines(results)
        if "cond_accuracy" in results:
            k = self.spec.num_classes or 0
            acc, worst = min((results[f"cond_accuracy_{i}"], i) for i in range(k))
            names = self.spec.class_names or []
            name = names[worst] if worst < len(names) else str(worst)
            reader = results.get("extractor", "the domain classifier")
            lines.append(f"conditional accuracy {100 * results['cond_accuracy']:.1f}% (the "
                         f"asked class read back by {reader}); lowest: {name} "
                         f"{100 * acc:.1f}%")
        return lines


register_family(CGANFamily)


def _conditional_accuracy(family: CGANFamily) -> dict[str, Any]:
    """The domain classifier reads back the asked class: overall and per class, on
    ``eval.n_samples`` samples spread evenly over the classes (their own seed; the training
    streams are untouched). Empty when image metrics are skipped or the extractor has no
    classes."""
    ev = family.image_eval
    if ev is None or not ev.resolve() or ev.extractor.spec.num_classes is None:
        return {}
    k = family.spec.num_classes or 1
    with torch.random.fork_rng(devices=[]):
        x, y = conditional_samples(family.sampler(), max(1, family.cfg.eval.n_samples // k),
                                   seed=family.streams.seed("eval-classes"))
        res = conditional_accuracy(x, y, ev.extractor)
    out: dict[str, Any] = {"cond_accuracy": float(res["accuracy"])}
    for i, acc in enumerate(res["accuracy_per_class"]):
        if acc is not None:   # None: a class of the classifier this run never asks for
            out[f"cond_accuracy_{i}"] = float(acc)
    return out


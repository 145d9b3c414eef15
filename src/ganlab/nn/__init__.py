"""Architectures. :func:`build_models` returns ``(G, D)`` for a model config and data shape.

Every network takes an optional condition: ``G(z, y=None)`` and ``D(x, y=None)``. Built with
``num_classes`` (class-conditional), ``y`` is int64 class labels of shape (N,) and must be
given; built without (the default), the networks are exactly the unconditional ones and
passing ``y`` is an error.

How a conditional pair takes its labels is a :class:`Conditioning` (the ``cgan`` family's
``g_conditioning``, ``d_conditioning`` and ``aux_classifier_weight``); without one each
architecture keeps its original conditional layout (G: class embedding concatenated to ``z``;
D: projection for the convolutional nets, concatenation for the MLP).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from ganlab.errors import GanlabError

G_CONDITIONING = ("concat", "cbn")
D_CONDITIONING = ("concat", "projection")


@dataclass(frozen=True)
class Conditioning:
    """How class labels enter a conditional pair of networks.

    ``g``: ``concat`` (a learned ``z_dim``-sized class embedding concatenated to ``z``) or
    ``cbn`` (conditional BatchNorm: every BatchNorm of G gets a per-class gain and bias, and
    ``z`` is left alone). ``d``: ``concat`` (a learned class embedding fed as extra inputs:
    extra constant channels of the image for the convolutional nets, extra inputs for the
    MLP) or ``projection`` (Miyato & Koyama, 2018: ``<embed(y), h>`` added to the score).
    ``aux_classifier``: D also has a class head (AC-GAN, Odena et al., 2017), returned by
    ``D(x, y, with_classes=True)`` as ``(score, class_logits)``.
    """

    g: str = "concat"
    d: str = "projection"
    aux_classifier: bool = False

    def __post_init__(self) -> None:
        if self.g not in G_CONDITIONING:
            raise GanlabError(f"g_conditioning: unknown mode {self.g!r}; allowed: "
                              f"{', '.join(G_CONDITIONING)}")
        if self.d not in D_CONDITIONING:
            raise GanlabError(f"d_conditioning: unknown mode {self.d!r}; allowed: "
                              f"{', '.join(D_CONDITIONING)}")


# builder(model_config, sample_shape) -> (G, D); conditional builders also take num_classes
# and, when a Conditioning is asked for, the Conditioning as a fourth argument
Builder = Callable[..., tuple[nn.Module, nn.Module]]
_ARCHS: dict[str, Builder] = {}


def register_arch(name: str, builder: Builder) -> None:
    """Register ``builder(model_config, sample_shape) -> (G, D)`` under ``name``.

    A builder that supports class conditioning also takes ``num_classes`` (an int) as a third
    argument; it is only passed when a conditional model is asked for.
    """
    _ARCHS[name] = builder


def _load_modules() -> None:
    for name in ("ganlab.nn.mlp", "ganlab.nn.dcgan", "ganlab.nn.resnet"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def arch_names() -> list[str]:
    _load_modules()
    return sorted(_ARCHS)


def build_models(cfg: Any, sample_shape: tuple[int, ...], num_classes: int | None = None,
                 conditioning: Conditioning | None = None) -> tuple[nn.Module, nn.Module]:
    """Build generator and discriminator for samples of shape ``sample_shape`` (no batch dim).

    With ``num_classes``, G is ``G(z, y)`` and D is ``D(x, y)`` for int64 labels ``y`` (N,) in
    ``0 .. num_classes - 1``; without, both are unconditional (the same modules, parameters and
    random initialisation as they have always been). ``conditioning`` (conditional models
    only) picks how the labels enter; None keeps the architecture's original layout.
    """
    _load_modules()
    if cfg.arch not in _ARCHS:
        raise GanlabError(f"gan.model.arch: unknown architecture {cfg.arch!r}; "
                          f"allowed: {', '.join(sorted(_ARCHS))}")
    builder = _ARCHS[cfg.arch]
    if num_classes is None:
        if conditioning is not None:
            raise GanlabError("a conditioning mode needs a conditional model (num_classes)")
        return builder(cfg, sample_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise GanlabError(f"num_classes: a conditional model needs a positive number of "
                          f"classes, got {num_classes!r}")
    args: tuple[Any, ...] = (cfg, sample_shape, num_classes)
    if conditioning is not None:
        args += (conditioning,)
    try:
        inspect.signature(builder).bind(*args)
    except TypeError as exc:
        what = ("gan.model.arch", "class-conditional version (gan.conditional=true)") \
            if conditioning is None else ("cgan.model.arch", "choice of conditioning modes")
        raise GanlabError(f"{what[0]}={cfg.arch}: this architecture has no {what[1]}") from exc
    except ValueError:  # no signature to inspect (a builtin): just try it
        pass
    return builder(*args)

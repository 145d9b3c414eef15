"""Architectures. :func:`build_models` returns ``(G, D)`` for a model config and data shape.

Every network takes an optional condition: ``G(z, y=None)`` and ``D(x, y=None)``. Built with
``num_classes`` (class-conditional), ``y`` is int64 class labels of shape (N,) and must be
given; built without (the default), the networks are exactly the unconditional ones and
passing ``y`` is an error.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from ganlab.errors import GanlabError

# builder(model_config, sample_shape) -> (G, D); conditional builders also take num_classes
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


def build_models(cfg: Any, sample_shape: tuple[int, ...],
                 num_classes: int | None = None) -> tuple[nn.Module, nn.Module]:
    """Build generator and discriminator for samples of shape ``sample_shape`` (no batch dim).

    With ``num_classes``, G is ``G(z, y)`` and D is ``D(x, y)`` for int64 labels ``y`` (N,) in
    ``0 .. num_classes - 1``; without, both are unconditional (the same modules, parameters and
    random initialisation as they have always been).
    """
    _load_modules()
    if cfg.arch not in _ARCHS:
        raise GanlabError(f"gan.model.arch: unknown architecture {cfg.arch!r}; "
                          f"allowed: {', '.join(sorted(_ARCHS))}")
    builder = _ARCHS[cfg.arch]
    if num_classes is None:
        return builder(cfg, sample_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise GanlabError(f"num_classes: a conditional model needs a positive number of "
                          f"classes, got {num_classes!r}")
    try:
        inspect.signature(builder).bind(cfg, sample_shape, num_classes)
    except TypeError as exc:
        raise GanlabError(f"gan.model.arch={cfg.arch}: this architecture has no "
                          "class-conditional version (gan.conditional=true)") from exc
    except ValueError:  # no signature to inspect (a builtin): just try it
        pass
    return builder(cfg, sample_shape, num_classes)

"""Architectures. :func:`build_models` returns ``(G, D)`` for a model config and data shape."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from torch import nn

from ganlab.errors import GanlabError

_ARCHS: dict[str, Callable[[Any, tuple[int, ...]], tuple[nn.Module, nn.Module]]] = {}


def register_arch(name: str, builder: Callable[[Any, tuple[int, ...]],
                                               tuple[nn.Module, nn.Module]]) -> None:
    """Register ``builder(model_config, sample_shape) -> (G, D)`` under ``name``."""
    _ARCHS[name] = builder


def _load_modules() -> None:
    for name in ("ganlab.nn.mlp", "ganlab.nn.dcgan", "ganlab.nn.resnet"):
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def arch_names() -> list[str]:
    _load_modules()
    return sorted(_ARCHS)


def build_models(cfg: Any, sample_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """Build generator and discriminator for samples of shape ``sample_shape`` (no batch dim)."""
    _load_modules()
    if cfg.arch not in _ARCHS:
        raise GanlabError(f"gan.model.arch: unknown architecture {cfg.arch!r}; "
                          f"allowed: {', '.join(sorted(_ARCHS))}")
    return _ARCHS[cfg.arch](cfg, sample_shape)

"""Training families: one module (or sub-package) each, plus helpers they share.

Where a new family goes: a module here (or your own package) with its config section, a
:class:`~ganlab.engine.family.Family` subclass and ``register_family(MyFamily)``. The registry
itself lives in :mod:`ganlab.registry` (below the config, which validates each family's
section); the engine (:mod:`ganlab.engine`) never names a family.

- ``gan``: unconditional GANs on points and images (every objective, EMA, pack, R1);
- ``cgan``: class- and text-conditional GANs (matching-aware D, AC-GAN, projection);
- ``pix2pix``, ``cyclegan/``: paired and unpaired image translation;
- ``seqgan``, ``gumbel``: sequence GANs (policy gradient with roll-outs; Gumbel-softmax);
- ``image_eval``: FID / KID / precision-recall during training, shared by the image families.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganlab.config import Config
from ganlab.data import DataSource, DataSpec, build_data
from ganlab.engine.family import Family, FamilyContext, log_line
from ganlab.engine.runtime import Runtime
from ganlab.errors import GanlabError
from ganlab.registry import FAMILIES, FamilyEntry, family_names, get_family, register_family

__all__ = ["FAMILIES", "FamilyEntry", "build_family", "family_names", "get_family",
           "register_family"]


def build_family(cfg: Config, runtime: Runtime | None = None, data: DataSource | None = None,
                 spec: DataSpec | None = None,
                 log: Callable[[str], None] = log_line) -> Family[Any]:
    """The family ``cfg.family`` on ``runtime`` (default: from ``cfg.train``). Without ``data``
    and ``spec`` the training data is built from ``cfg.data``; with ``spec`` alone (a finished
    run's ``run_info.json``) no data is read."""
    entry = get_family(cfg.family)
    if not isinstance(cfg.section, entry.config):
        raise GanlabError(f"family {cfg.family}: the config section is not a "
                          f"{entry.config.__name__}; build the config with ganlab.config.load")
    if runtime is None:
        runtime = Runtime.from_config(cfg.train)
    if data is None and spec is None:
        data = build_data(cfg.data)
    if spec is None:
        assert data is not None
        spec = data.spec()
    family: Family[Any] = entry.family(FamilyContext(cfg, runtime, spec, data, log))
    return family

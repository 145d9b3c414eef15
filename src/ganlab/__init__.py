"""ganlab: a laboratory for generative adversarial networks.

    import ganlab

    run = ganlab.train("ring-ns", train__steps=500)   # -> ganlab.Run
    points = run.sample(2000, seed=1)
    run = ganlab.load_run(run.path)

``import ganlab`` is cheap: the API (:mod:`ganlab.api`, which loads torch) is imported on first
use of one of its names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ganlab.version import __version__

if TYPE_CHECKING:
    from ganlab.api import Run, load_config, load_run, train

__all__ = ["Run", "__version__", "load_config", "load_run", "train"]
_API = {"Run", "load_config", "load_run", "train"}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("ganlab.api"), name)
    raise AttributeError(f"module 'ganlab' has no attribute {name!r}")

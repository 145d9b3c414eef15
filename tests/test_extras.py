"""Optional dependencies: each is in the extra that ganlab.extras names, and a missing one gives
one line that says what needs it and what to install."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

from ganlab import extras
from ganlab.errors import GanlabError

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_each_optional_module_is_in_the_extra_it_names() -> None:
    optional = _pyproject()["optional-dependencies"]
    core = " ".join(_pyproject()["dependencies"])
    for module, (dist, extra) in extras.EXTRA_OF.items():
        assert any(r.startswith(dist) for r in optional[extra]), (module, extra)
        assert dist not in core, f"{dist} is core, not an extra"


def test_an_installed_module_is_not_missing_and_is_imported() -> None:
    assert extras.missing("numpy", "anything") is None
    assert extras.require("json", "anything").dumps([1]) == "[1]"


def test_a_missing_module_says_what_needs_it_and_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(extras.importlib.util, "find_spec",
                        lambda name, *a: None if name == "nltk" else real(name, *a))
    why = extras.missing("nltk.translate.bleu_score", "BLEU")
    assert why == "BLEU needs nltk: pip install 'ganlab[text]' (or pip install nltk)"
    with pytest.raises(GanlabError, match=r"the digits data set needs scikit-learn: pip "
                                          r"install 'ganlab\[data\]'"):
        monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name, *a: None)
        extras.require("sklearn.datasets", "the digits data set")


def test_bleu_without_nltk_is_refused_with_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganlab.metrics.text import bleu

    monkeypatch.setattr(extras.importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(GanlabError, match=r"BLEU needs nltk: pip install 'ganlab\[text\]'"):
        bleu([["a", "b"]], [["a", "b"]])

"""Start-up cost: the CLI parser and ``import ganlab.metrics`` load no heavy library."""

from __future__ import annotations

import subprocess
import sys

import ganlab.metrics

HEAVY = ("torch", "torchmetrics", "scipy", "matplotlib")


def test_cli_parser_and_metrics_package_import_nothing_heavy() -> None:
    code = ("import sys, ganlab.cli, ganlab.metrics; ganlab.cli.build_parser(); "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


def test_lazy_public_names_resolve() -> None:
    assert set(ganlab.metrics.__all__) == set(ganlab.metrics._LAZY)
    assert set(ganlab.metrics.__all__) <= set(dir(ganlab.metrics))
    for name in ganlab.metrics.__all__:
        assert callable(getattr(ganlab.metrics, name)), name
    from ganlab.metrics import FeatureStats, fid  # noqa: F401  (the usual spelling works)


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        ganlab.metrics.no_such_metric  # noqa: B018
    except AttributeError as exc:
        assert "no_such_metric" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_the_type_checkers_listing_and_the_lazy_table_agree() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path(ganlab.metrics.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and getattr(n.test, "id", None) == "TYPE_CHECKING")
    listed = {alias.asname or alias.name: imp.module.removeprefix("ganlab.metrics.")
              for imp in block.body if isinstance(imp, ast.ImportFrom) and imp.module
              for alias in imp.names}
    assert listed == ganlab.metrics._LAZY

"""The package as others install it: version ranges (no exact pins), every import declared, and
(slow) the wheel installed beside an existing torch that it must leave alone."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def requirements(tmp_path_factory) -> list[Requirement]:
    """``Requires-Dist`` of the metadata that setuptools builds from ``pyproject.toml`` now (the
    installed editable package's metadata would show the file as it was at install time)."""
    tmp = tmp_path_factory.mktemp("metadata")
    src = tmp / "source"
    (src / "src" / "ganlab").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    (src / "src" / "ganlab" / "__init__.py").write_text("")
    out = tmp / "out"
    out.mkdir()
    code = ("import sys; from setuptools import build_meta as b; "
            "print(b.prepare_metadata_for_build_wheel(sys.argv[1]))")
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=src, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dist_info = out / proc.stdout.strip().splitlines()[-1]
    meta = Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    assert reqs, "the built metadata lists no requirements"
    return reqs


def _core(reqs: list[Requirement]) -> dict[str, Requirement]:
    return {r.name.lower(): r for r in reqs if r.marker is None}


def test_torch_is_a_range_that_admits_other_releases(requirements):
    torch = _core(requirements)["torch"]
    for v in ("2.13.0", "2.14.0", "2.6.0"):
        assert torch.specifier.contains(v), f"{torch} refuses torch {v}"
    admitted = [v for v in ("2.4.0", "2.6.0", "2.13.0", "2.14.0", "2.20.1")
                if torch.specifier.contains(v)]
    assert len(admitted) > 1
    assert not torch.specifier.contains("2.3.1"), "fused Adam on CPU needs torch >= 2.4"


def test_no_requirement_is_an_exact_pin(requirements):
    pinned = [str(r) for r in requirements if any(s.operator in ("==", "===")
                                                  for s in r.specifier)]
    assert not pinned, f"exact pins in pyproject.toml (put them in constraints.txt): {pinned}"


def test_the_projects_own_pin_is_inside_the_range(requirements):
    pins = [Requirement(line.split("#")[0].strip())
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.split("#")[0].strip()]
    torch_pin = next(r for r in pins if r.name == "torch")
    (spec,) = torch_pin.specifier
    assert spec.operator == "=="
    assert _core(requirements)["torch"].specifier.contains(Version(spec.version))


def test_makefile_passes_the_constraints_to_every_pip_install():
    lines = [ln for ln in (ROOT / "Makefile").read_text().splitlines()
             if re.search(r"\$\(PIP\)\s+install", ln) and "--upgrade pip" not in ln]
    assert lines
    assert all("-c $(CONSTRAINTS)" in ln for ln in lines), lines
    assert any("torch==2.13.0" in ln for ln in lines)


def _third_party_imports() -> dict[str, str]:
    """Top-level module -> one file of ``src/ganlab`` that imports it (stdlib left out)."""
    found: dict[str, str] = {}
    for file in sorted((ROOT / "src" / "ganlab").rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ganlab", "__future__"):
                    found.setdefault(top, str(file.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared(requirements):
    """A module imported anywhere in ganlab comes from a declared distribution (core or an
    extra), so it is never there only because another package happened to pull it in."""
    declared = {r.name.lower().replace("_", "-") for r in requirements}
    dists = importlib.metadata.packages_distributions()
    missing = []
    for module, file in _third_party_imports().items():
        names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if not names & declared:
            missing.append(f"{module} ({file}; distribution {sorted(names) or '?'})")
    assert not missing, f"imported but not in pyproject.toml: {missing}"


def test_the_2d_labs_evaluation_needs_only_core_dependencies(requirements):
    """Every ring run measures W1 with scipy: it must not depend on an extra (or arrive only
    through scikit-learn)."""
    assert "scipy" in _core(requirements)


@pytest.mark.slow
def test_wheel_installs_beside_an_existing_torch_and_trains(tmp_path):
    """tools/check_wheel_install.py: wheel built, fresh venv with torch 2.13.0, the wheel installed
    from the index without constraints.txt, torch untouched, 50 steps of ring-ns trained."""
    report = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "check_wheel_install.py"),
                           "--work", str(tmp_path / "work"), "--json", str(report)],
                          text=True, capture_output=True, timeout=1800)
    result = json.loads(report.read_text())
    assert proc.returncode == 0 and result["ok"], (proc.stdout[-3000:], proc.stderr[-3000:])
    before, after = result["torch_before"], result["torch_after"]
    assert before == after
    assert before["version"].startswith("2.13.0")
    assert not any(p.lower().startswith("torch==") for p in result["would_install"])
    run = Path(result["run"])
    assert (run / "summary.json").is_file() and (run / "metrics.jsonl").is_file()
    assert json.loads((run / "summary.json").read_text())["steps"] == 50

"""Install ganlab's wheel beside a torch that is already there, as a user would, and train once.

    .venv/bin/python tools/check_wheel_install.py [--work DIR] [--keep] [--json FILE]

1. builds the wheel from a copy of the source (``pip wheel --no-deps --no-build-isolation``:
   the running interpreter needs setuptools; nothing is written into the checkout);
2. makes a fresh virtual environment and installs ``torch==2.13.0`` in it (``--torch``);
3. notes torch's version, its dist-info folder and a hash of its RECORD (every file it
   installed, with their hashes);
4. asks pip what installing the wheel would do (``--dry-run --report``) and stops if it would
   touch torch, so a wrong range fails here instead of downloading another torch;
5. installs the wheel with its dependencies from the configured index, *without* this project's
   ``constraints.txt``: the range in ``pyproject.toml`` alone must keep the torch that is there;
6. checks torch is untouched (version, dist-info, RECORD) and runs
   ``ganlab train --preset ring-ns --set train.steps=50 --no-progress --out WORK/runs``.

Exit status 0 when every check holds; each phase's time is printed (and written to ``--json``).
Make target: ``make check-wheel``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"
TRAIN = ["train", "--preset", "ring-ns", "--set", "train.steps=50", "--no-progress"]
PROBE = """
import importlib.metadata as m, json, torch
d = m.distribution("torch")
print(json.dumps({"version": torch.__version__, "file": torch.__file__,
                  "dist_info": str(d._path), "record": d.read_text("RECORD") or ""}))
"""


class CheckFailed(Exception):
    pass


def _env() -> dict[str, str]:
    """The environment for the fresh venv's commands: nothing of this checkout on the path, and
    no PIP_CONSTRAINT (a user's pip has no constraints.txt of ours)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PIP_CONSTRAINT")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(cmd: list[str], cwd: Path, what: str, capture: bool = True) -> str:
    shown = [str(c) if "\n" not in str(c) else "<script>" for c in cmd]
    print(f"$ {' '.join(shown)}", flush=True)
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), text=True,
                          stdout=subprocess.PIPE if capture else None,
                          stderr=subprocess.STDOUT if capture else None)
    if proc.returncode != 0:
        tail = (proc.stdout or "")[-4000:]
        raise CheckFailed(f"{what}: exit status {proc.returncode}\n{tail}")
    return proc.stdout or ""


def copy_source(dest: Path) -> Path:
    """What the build reads (pyproject.toml, README.md, src/), without caches or egg-info."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    return dest


def build_wheel(work: Path, python: str = sys.executable) -> Path:
    src = copy_source(work / "source")
    dist = work / "dist"
    _run([python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist,
          src], work, "building the wheel")
    (wheel,) = dist.glob("ganlab-*.whl")
    return wheel


def torch_state(venv_python: Path, cwd: Path) -> dict[str, str]:
    out = _run([venv_python, "-c", PROBE], cwd, "importing torch").strip().splitlines()[-1]
    state = json.loads(out)
    state["record_sha256"] = hashlib.sha256(state.pop("record").encode()).hexdigest()
    return state


def would_install(venv_python: Path, wheel: Path, cwd: Path) -> list[str]:
    """``name==version`` of everything pip would install for ``wheel`` (nothing installed)."""
    report = cwd / "pip-report.json"
    _run([venv_python, "-m", "pip", "install", "--dry-run", "-q", "--report", report, wheel],
         cwd, "resolving the wheel's dependencies")
    data = json.loads(report.read_text())
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in data["install"]]


def check(work: Path, torch_spec: str = TORCH) -> dict:
    times: dict[str, float] = {}
    result: dict = {"times": times, "work": str(work)}

    def phase(name: str, t0: float) -> None:
        times[name] = round(time.perf_counter() - t0, 1)
        print(f"-- {name}: {times[name]} s", flush=True)

    t_all = t0 = time.perf_counter()
    wheel = build_wheel(work)
    result["wheel"] = str(wheel)
    phase("build wheel", t0)

    t0 = time.perf_counter()
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", venv], work, "creating the venv")
    py = venv / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", torch_spec], work, f"installing {torch_spec}")
    before = torch_state(py, work)
    result["torch_before"] = before
    phase("venv + torch", t0)

    t0 = time.perf_counter()
    plan = would_install(py, wheel, work)
    result["would_install"] = plan
    touched = [p for p in plan if p.split("==")[0].lower() == "torch"]
    if touched:
        raise CheckFailed(f"installing the wheel would replace torch {before['version']} with "
                          f"{touched[0]}: the torch requirement in pyproject.toml does not "
                          "admit it")
    _run([py, "-m", "pip", "install", "-q", wheel], work, "installing the wheel")
    phase("install wheel (no constraints)", t0)

    after = torch_state(py, work)
    result["torch_after"] = after
    if after != before:
        raise CheckFailed(f"torch changed: {before} -> {after}")
    where = _run([py, "-c", "import ganlab; print(ganlab.__file__)"], work, "importing ganlab")
    result["ganlab_file"] = where.strip()
    if not Path(where.strip()).resolve().is_relative_to(venv.resolve()):
        raise CheckFailed(f"ganlab was imported from {where.strip()}, not from the fresh venv")

    t0 = time.perf_counter()
    out = work / "runs"
    _run([venv / "bin" / "ganlab", *TRAIN, "--out", out], work, "ganlab train")
    folders = [p for p in out.iterdir() if (p / "config.yaml").is_file()]
    if len(folders) != 1 or not (folders[0] / "summary.json").is_file():
        raise CheckFailed(f"ganlab train wrote no complete run folder under {out}")
    result["run"] = str(folders[0])
    phase("ganlab train (50 steps)", t0)
    times["total"] = round(time.perf_counter() - t_all, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="an empty or new folder to work in "
                        "(default: a temporary one, removed unless --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--torch", default=TORCH, help=f"the torch to install first ({TORCH})")
    parser.add_argument("--json", type=Path, help="write the result (times, torch) here")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="ganlab-wheel-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(work.iterdir()):
        print(f"--work {work}: not empty", file=sys.stderr)
        return 2
    try:
        result = check(work, args.torch)
        result["ok"] = True
    except CheckFailed as exc:
        result = {"ok": False, "error": str(exc), "work": str(work)}
        print(f"FAILED: {exc}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if result["ok"]:
        before = result["torch_before"]
        print(f"ok: torch {before['version']} ({before['dist_info']}) untouched; "
              f"run {result['run']}; {result['times']}")
    if args.work is None and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

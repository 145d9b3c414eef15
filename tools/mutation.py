"""Mutation score of the losses, the penalties, the families' step code and the metric formulas,
measured with mutmut (3.x) in a scratch worktree. Not run in CI: all groups take about 80 minutes
on 2 shared cores (docs/mutation.md has the time of each).

    git worktree add /work/wt-mut main && (cd /work/wt-mut && make setup)
    /work/wt-mut/.venv/bin/pip install -c constraints.txt 'mutmut>=3.8'
    nice -n 10 python tools/mutation.py /work/wt-mut [GROUP ...] [--workers 1]

For each group below it empties the worktree's ``mutants/`` (mutmut's copy of the sources),
writes the worktree's ``setup.cfg`` (mutmut's config: the one file to mutate and the group's
test files, nothing else), runs ``mutmut run`` on the group's functions only, and prints the
score and every surviving mutant (``mutmut show NAME`` shows its diff). It edits only the
worktree it is given.

Each group starts from an empty ``mutants/``: mutmut copies a file it is not told to mutate
with a newer time stamp than its source and later takes that copy for one it has already
mutated, so a group run after another one's would find nothing to mutate in its file; and a
fresh start means a score never rests on a verdict cached before a test changed.

mutmut skips decorated functions: SeqGAN's ``rewards`` and ``_update_rollout`` keep their
``@torch.no_grad()``, and ``tools/listed_bugs.py`` puts the audit's bugs into those by hand
(weight clipping, the history pool's ``query`` and the EMA update use ``with torch.no_grad():``
in their bodies, so they are mutated). Scores and times on 2 shared cores are in
docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

# group: (file to mutate, functions (mutmut name patterns, without the module), test files)
SEP = "\u01c1"   # what mutmut puts between a class and its method in a mutant's name
GROUPS: dict[str, tuple[str, list[str], list[str]]] = {
    "losses": ("src/ganlab/losses.py", ["*"], ["tests/test_losses.py"]),
    "penalties": ("src/ganlab/penalties.py", ["*"], ["tests/test_penalties.py"]),
    "ema": ("src/ganlab/engine/ema.py", ["x_update_ema*"],
            ["tests/test_wiring_units.py::test_update_ema_averages_parameters_and_copies_buffers",
             "tests/test_wiring_units.py::test_update_ema_decay_zero_copies_and_one_keeps",
             "tests/test_wiring_units.py::test_update_ema_refuses_a_model_whose_buffers_do_not_match"]),
    "pix2pix-step": ("src/ganlab/families/pix2pix.py",
                     [f"x{SEP}Pix2PixFamily{SEP}train_step*"],
                     ["tests/families/test_pix2pix_step.py"]),
    "cyclegan-step": ("src/ganlab/families/cyclegan/family.py",
                      [f"x{SEP}CycleGANFamily{SEP}train_step*", "x_cycle_loss*",
                       "x_identity_loss*"],
                      ["tests/families/test_cyclegan_step.py"]),
    "cyclegan-pool": ("src/ganlab/families/cyclegan/pool.py", [f"x{SEP}HistoryPool{SEP}query*"],
                      ["tests/test_cyclegan.py::test_pool_returns_new_images_while_filling_and_stays_bounded",
                       "tests/test_cyclegan.py::test_pool_swaps_half_the_time_with_a_seeded_generator",
                       "tests/test_cyclegan.py::test_pool_state_round_trips_and_size_zero_passes_through"]),
    "gan-step": ("src/ganlab/families/gan.py",
                 [f"x{SEP}GANFamily{SEP}{f}*" for f in
                  ("train_step", "_d_step", "_g_step", "_d_adversarial",
                                   "_g_adversarial")],
                 # _d_step and _g_step are the cgan family's too: these two of its tests read
                 # the `real` and `z` they pass on
                 ["tests/families/test_gan_step.py",
                  "tests/families/test_cgan_step.py::"
                  "test_d_gradient_is_the_matching_aware_loss_on_the_mismatched_labels",
                  "tests/families/test_cgan_step.py::test_aux_classifier_and_mode_seeking_by_hand"]),
    "cgan-step": ("src/ganlab/families/cgan.py",
                  [f"x{SEP}CGANFamily{SEP}{f}*" for f in
                   ("_d_adversarial", "_g_adversarial", "_wrong_labels")],
                  ["tests/families/test_cgan_step.py"]),
    "seqgan-step": ("src/ganlab/families/seqgan.py",
                    [f"x{SEP}SeqGANFamily{SEP}{f}*" for f in
                     ("train_step", "_g_adversarial_step", "phase", "_d_step", "_mle_step")],
                    ["tests/families/test_seqgan_step.py"]),
    "gumbel-step": ("src/ganlab/families/gumbel.py",
                    [f"x{SEP}GumbelFamily{SEP}{f}*" for f in
                     ("tau", "_relaxed", "_g_adversarial_step", "_d_step")],
                    ["tests/families/test_gumbel_step.py"]),
    "metrics-kid": ("src/ganlab/metrics/kernel_distance.py", ["*"],
                    ["tests/test_metrics_kid.py",
                     "tests/test_metric_contracts.py::test_kid_reports_the_spread_of_its_subsets"]),
    "metrics-fid": ("src/ganlab/metrics/frechet.py", ["*"], ["tests/test_metrics_fid.py"]),
}


def module_of(path: str) -> str:
    return path.removeprefix("src/").removesuffix(".py").replace("/", ".")


def write_config(tree: Path, path: str, tests: list[str]) -> None:
    (tree / "setup.cfg").write_text(
        "[mutmut]\nsource_paths=src/ganlab\n"
        f"only_mutate={path}\n"
        "pytest_add_cli_args_test_selection=\n" + "".join(f"    {t}\n" for t in tests) +
        "pytest_add_cli_args=-p no:cacheprovider\n"
        "process_isolation=forkserver\n", encoding="utf-8")


def results(tree: Path, path: str, patterns: list[str]) -> dict[str, int | None]:
    """Exit code by mutant of the group's functions (1: killed, 0: survived, None: not run)."""
    from fnmatch import fnmatch

    file = tree / "mutants" / f"{path}.meta"
    if not file.is_file():   # mutmut stopped before it ran a mutant: see mutants/*.log
        return {}
    meta = json.loads(file.read_text(encoding="utf-8"))
    mod = module_of(path)
    return {k: v for k, v in meta["exit_code_by_key"].items()
            if any(fnmatch(k, f"{mod}.{p}") for p in patterns)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("worktree", type=Path)
    ap.add_argument("groups", nargs="*", default=list(GROUPS))
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the scores here")
    args = ap.parse_args(argv)
    tree = args.worktree.resolve()
    if tree == Path(__file__).resolve().parents[1]:
        print("refusing to run in the checkout this script runs from; give a scratch worktree")
        return 2
    mutmut = tree / ".venv" / "bin" / "mutmut"
    report: dict[str, dict] = {}
    for group in args.groups:
        path, patterns, tests = GROUPS[group]
        shutil.rmtree(tree / "mutants", ignore_errors=True)
        write_config(tree, path, tests)
        names = [f"{module_of(path)}.{p}" for p in patterns]
        t0 = time.perf_counter()
        subprocess.run([str(mutmut), "run", "--max-children", str(args.workers), *names],
                       cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**_env(), "OMP_NUM_THREADS": "1"})
        took = time.perf_counter() - t0
        codes = results(tree, path, patterns)
        status = Counter(verdict(c) for c in codes.values())
        survivors = sorted(k for k, c in codes.items() if verdict(c) in ("survived", "no tests"))
        total = status["killed"] + status["survived"] + status["no tests"]
        score = status["killed"] / total if total else float("nan")
        diffs = {name: show(mutmut, tree, name) for name in survivors}
        report[group] = {"file": path, "tests": tests, "mutants": len(codes),
                         "status": dict(status), "killed": status["killed"], "run": total,
                         "score": score, "seconds": round(took), "survivors": diffs}
        print(f"{group}: {status['killed']}/{total} killed ({100 * score:.1f}%), "
              f"{', '.join(f'{n} {k}' for k, n in sorted(status.items()))}, {took:.0f} s; "
              f"tests: {' '.join(tests)}", flush=True)
        for name, diff in diffs.items():
            changed = [line for line in diff.splitlines()
                       if line[:1] in "+-" and line[:3] not in ("+++", "---")]
            print(f"  survived: {name}\n" + "".join(f"    {line}\n" for line in changed),
                  end="", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


def verdict(code: int | None) -> str:
    """mutmut's exit code of a mutant's test run, as a verdict (a timeout counts as killed, as
    mutmut counts it; a mutant no selected test reaches counts against the score)."""
    if code is None:
        return "not run"
    return {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests",
            34: "skipped", 36: "killed", 24: "killed", -24: "killed", 152: "killed",
            255: "killed"}.get(code, "suspicious")


def show(mutmut: Path, tree: Path, name: str) -> str:
    """The diff of mutant ``name`` (``mutmut show``)."""
    out = subprocess.run([str(mutmut), "show", name], cwd=tree, capture_output=True, text=True)
    return out.stdout


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Put each deliberate bug of the step-and-metrics audit back into a scratch worktree, one at a
time, and check that the fast tests named for it fail; the source is restored after each.

    python tools/listed_bugs.py /path/to/scratch-worktree [NAME ...]

The worktree must be a separate checkout (``git worktree add``) with its own venv
(``make setup``): this script edits its files. It refuses the checkout it is run from."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

# name: (file, text in the source, the bug, the tests that must fail)
BUGS: dict[str, tuple[str, str, str, list[str]]] = {
    "pix2pix-l1-weight-ignored": (
        "src/ganlab/families/pix2pix.py",
        "g_loss = hp.l1_weight * l1", "g_loss = 1.0 * l1",
        ["tests/families/test_pix2pix_step.py"]),
    "cyclegan-cycle-identity-weights-exchanged": (
        "src/ganlab/families/cyclegan/family.py",
        "lam = hp.lambda_cycle\n        lam_idt = hp.lambda_identity * lam",
        "lam = hp.lambda_identity * hp.lambda_cycle\n        lam_idt = hp.lambda_cycle",
        ["tests/families/test_cyclegan_step.py"]),
    "cyclegan-pool-bypassed": (
        "src/ganlab/families/cyclegan/family.py",
        "pooled_a = self.pool_a.query(fake_a)\n        pooled_b = self.pool_b.query(fake_b)",
        "self.pool_a.query(fake_a)\n        self.pool_b.query(fake_b)\n"
        "        pooled_a, pooled_b = fake_a.detach(), fake_b.detach()",
        ["tests/families/test_cyclegan_step.py"]),
    "seqgan-policy-gradient-sign-flipped": (
        "src/ganlab/families/seqgan.py",
        "loss = -(self.G.log_probs(tokens) * advantage).mean()",
        "loss = (self.G.log_probs(tokens) * advantage).mean()",
        ["tests/families/test_seqgan_step.py"]),
    "seqgan-no-baseline": (
        "src/ganlab/families/seqgan.py",
        'advantage = q - q.mean(0, keepdim=True) if self.section.baseline == "mean" else q',
        "advantage = q",
        ["tests/families/test_seqgan_step.py"]),
    "seqgan-rollout-copied-in-full": (
        "src/ganlab/families/seqgan.py",
        "r.mul_(beta).add_(p, alpha=1.0 - beta)", "r.copy_(p)",
        ["tests/families/test_seqgan_step.py"]),
    "gumbel-temperature-annealed-the-wrong-way": (
        "src/ganlab/families/gumbel.py",
        "return hp.tau_start * (hp.tau_end / hp.tau_start) ** frac",
        "return hp.tau_end * (hp.tau_start / hp.tau_end) ** frac",
        ["tests/families/test_gumbel_step.py"]),
    "fid-seeds-std-ddof-0": (
        "src/ganlab/metrics/api.py",
        "np.std(values, ddof=FID_SEEDS_DDOF)", "np.std(values)",
        ["tests/test_metric_contracts.py"]),
    "memorisation-feature-mirror-search-off": (
        "src/ganlab/metrics/api.py",
        "nn_feat = mem.feature_neighbours(feats(f), ftr, ftr_flip)",
        "nn_feat = mem.feature_neighbours(feats(f), ftr, None)",
        ["tests/test_metric_contracts.py"]),
    "resume-forgets-the-data-position": (
        "src/ganlab/engine/loop.py",
        "self.family.ctx.data.load_state_dict(data_state)", "pass",
        ["tests/families/test_resume_stateful.py"]),
}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    tree = Path(argv[0]).resolve()
    if tree == Path(__file__).resolve().parents[1]:
        print("refusing to edit the checkout this script runs from; give a scratch worktree")
        return 2
    names = argv[1:] or list(BUGS)
    python = tree / ".venv" / "bin" / "python"
    failures = 0
    for name in names:
        rel, good, bad, tests = BUGS[name]
        path = tree / rel
        original = path.read_text(encoding="utf-8")
        if original.count(good) != 1:
            print(f"{name}: the source no longer holds {good!r}: update this script")
            failures += 1
            continue
        path.write_text(original.replace(good, bad), encoding="utf-8")
        try:
            t0 = time.perf_counter()
            cmd = [str(python), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
            proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
            took = time.perf_counter() - t0
        finally:
            path.write_text(original, encoding="utf-8")
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FAILED")]
        if proc.returncode == 1 and lines:
            print(f"{name}: killed in {took:.0f} s by {lines[0].split()[1]}")
        else:
            failures += 1
            print(f"{name}: SURVIVED (pytest exit {proc.returncode})\n{proc.stdout[-1500:]}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

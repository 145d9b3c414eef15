"""Time SeqGAN's roll-out rewards and one adversarial epoch at the oracle's sizes.

SeqGAN's reward of token t is D's mean score over ``rollouts`` completions of the prefix up to
t. Three ways to compute it, on the same roll-out policy, D and generated batch (oracle sizes:
vocabulary 5,000, length 20, batch 64, 16 roll-outs, LSTM 32/32, SeqGAN's CNN-highway D):

* ``loop``: the reference, one prefix at a time (each prefix re-read by the policy, one D call
  per prefix; :func:`ganlab.families.seqgan.rollout_rewards_by_position`), which is what the
  family did before;
* ``batched``: every prefix's completions in one batch from the state after the prefix, scored
  in chunks of 4,096 (:func:`ganlab.families.seqgan.rollout_rewards`, what the family does);
* ``batched bf16``: the same under bfloat16 autocast (``seqgan.rollout_bf16=true``).

Variants alternate round by round in one process; medians are reported. Then one adversarial
epoch of the family at the benchmark's schedule is split into its parts: generating the batch,
the rewards, the policy-gradient step, and the D steps (each generating 64 sequences). Last,
how far bf16 moves the rewards: with the same uniform draws, the mean |Q_bf16 - Q_fp32| beside
the Monte-Carlo spread of Q (the mean |Q - Q'| of two fp32 draws with different roll-outs).

Run: ``.venv/bin/python benchmarks/seq_rollout_speed.py [--rounds 5] [--d-steps 15]``
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ganlab.engine.runtime import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "seq_rollout_speed.md"


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--d-steps", type=int, default=15)
    ap.add_argument("--other", default="other processes shared the machine's 2 cores")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    from ganlab import config
    from ganlab.engine.loop import seed_everything
    from ganlab.families import build_family
    from ganlab.families.seqgan import rollout_rewards, rollout_rewards_by_position

    cfg = config.load(preset="oracle-seqgan", overrides=[
        "train.progress=false", "seqgan.mle_steps=0", "seqgan.d_pretrain_steps=0",
        f"seqgan.d_steps={a.d_steps}", "train.threads=1"])
    seed_everything(0)
    fam = build_family(cfg)
    k, n, length = fam.section.rollouts, cfg.train.batch_size, fam.seq_len
    gen = torch.Generator().manual_seed(1)
    tokens = fam.G.sample(n, length, gen)
    variants: dict[str, Callable[[], object]] = {
        "loop": lambda: rollout_rewards_by_position(fam.G_rollout, fam.D, tokens, k, gen),
        "batched": lambda: rollout_rewards(fam.G_rollout, fam.D, tokens, k, gen),
        "batched bf16": lambda: rollout_rewards(fam.G_rollout, fam.D, tokens, k, gen, bf16=True),
    }
    times: dict[str, list[float]] = {v: [] for v in variants}
    for fn in variants.values():   # warm-up
        fn()
    for r in range(a.rounds):
        for name, fn in variants.items():
            times[name].append(timed(fn))
        print(f"round {r + 1}: " + ", ".join(f"{v} {t[-1]:.2f} s" for v, t in times.items()),
              file=sys.stderr, flush=True)
    med = {v: statistics.median(t) for v, t in times.items()}

    # one adversarial epoch, part by part (the family's own steps)
    parts: dict[str, list[float]] = {"generate 64": [], "rewards": [], "policy-gradient step": [],
                                     f"{a.d_steps} D steps": []}
    for _ in range(max(a.rounds // 2, 2)):
        gen_t = timed(lambda: fam._fake(n))
        fake = fam._fake(n)
        rew_t = timed(lambda f=fake: fam.rewards(f))  # type: ignore[misc]
        whole = timed(lambda: fam._g_adversarial_step(0))
        parts["generate 64"].append(gen_t)
        parts["rewards"].append(rew_t)
        parts["policy-gradient step"].append(max(whole - gen_t - rew_t, 0.0))
        parts[f"{a.d_steps} D steps"].append(timed(
            lambda: [fam._d_step() for _ in range(a.d_steps)]))
    part_med = {p: statistics.median(t) for p, t in parts.items()}
    epoch = sum(part_med.values())

    # how far bf16 moves the rewards, against the Monte-Carlo spread
    u = torch.rand((length - 1) * k * n, length, generator=torch.Generator().manual_seed(2))
    q32 = rollout_rewards(fam.G_rollout, fam.D, tokens, k, None, uniforms=u)
    q16 = rollout_rewards(fam.G_rollout, fam.D, tokens, k, None, uniforms=u, bf16=True)
    u2 = torch.rand(u.shape, generator=torch.Generator().manual_seed(3))
    q32b = rollout_rewards(fam.G_rollout, fam.D, tokens, k, None, uniforms=u2)
    d_bf16 = float((q16 - q32).abs()[:, :-1].mean())
    d_mc = float((q32b - q32).abs()[:, :-1].mean())

    lines = [
        "## SeqGAN roll-out rewards: per-prefix loop vs batched", "",
        f"Command: `.venv/bin/python benchmarks/seq_rollout_speed.py --rounds {a.rounds} "
        f"--d-steps {a.d_steps}`", "",
        f"Measured: {datetime.date.today().isoformat()}, {cpu_model()}, torch "
        f"{torch.__version__}, {a.threads} thread(s); {a.other}.", "",
        f"Sizes: vocabulary {fam.vocab_size}, length {length}, batch {n}, {k} roll-outs per "
        f"token ({(length - 1) * k * n:,} completions per batch), LSTM 32/32, CNN-highway D; "
        f"medians of {a.rounds} interleaved rounds.", "",
        "| rewards of one batch | median s | rounds (s) | speed-up over the loop |",
        "|---|---|---|---|",
    ]
    for v, t in times.items():
        lines.append(f"| {v} | {med[v]:.2f} | {', '.join(f'{x:.2f}' for x in t)} | "
                     f"{med['loop'] / med[v]:.2f}x |")
    lines += ["", f"One adversarial epoch (batched fp32 rewards, {a.d_steps} D steps of 64 real "
              f"+ 64 generated): {epoch:.2f} s, of which " + ", ".join(
                  f"{p} {t:.2f} s ({100 * t / epoch:.0f}%)" for p, t in part_med.items()) + ".",
              "", f"bf16 and the rewards: mean |Q_bf16 - Q_fp32| with the same draws "
              f"{d_bf16:.4f}; Monte-Carlo spread, mean |Q - Q'| of two fp32 draws, {d_mc:.4f}.",
              ""]
    text = "\n".join(lines)
    print(text)
    if not a.no_write:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

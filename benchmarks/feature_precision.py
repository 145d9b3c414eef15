"""bf16 feature extraction against the fp32 protocol: speed, and what it does to FID.

Two measurements, both with the same extractor run in fp32 and under bf16 autocast
(``ganlab eval ... --precision bf16``):

- **Speed**: images per second of each precision on one batch set, interleaved round by round in
  one process (median per round), with the CPU model and its bf16 flags named.
- **FID deviation**: FID of a generated set against the real set, both sides in fp32 (the
  protocol) and both sides in bf16; the difference is what the card of a bf16 FID warns about.
  Features are computed and cached in shards of 1,000 images, so a killed run resumes where
  it was; they are the shards ``benchmarks/fashion_fid.py`` caches, so with ``GANLAB_CACHE``
  at its state folder's ``cache`` only the bf16 passes run (a whole fp32 pass already in the
  ganlab cache as moments is reused as it is).

    .venv/bin/python benchmarks/feature_precision.py --real fashion-mnist:test \\
        --fake RUN_FOLDER --n 10000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ganlab.engine.runtime import cpu_model
from ganlab.features import FeatureExtractor
from ganlab.metrics import cache
from ganlab.metrics.extract import as_extractor, features_and_logits
from ganlab.metrics.frechet import fid_from_stats
from ganlab.metrics.stats import FeatureMoments, FeatureStats

SHARD = 1000


def shard_moments(shard: np.ndarray, ext: FeatureExtractor) -> FeatureMoments:
    """Moments of one shard, from its features as ``features_and_logits`` caches them: the
    same shards of 1,000 that ``benchmarks/fashion_fid.py`` scores, so its passes are reused."""
    m = FeatureMoments.empty(ext.spec.dim)
    m.update(features_and_logits(shard, ext, 32)[0])
    return m


def moments(images: np.ndarray, precision: str, name: str, extractor: str) -> FeatureMoments:
    """Moments of ``images``: the whole set from the cache if there, else in cached shards."""
    ext = as_extractor(extractor, precision=precision)
    whole = cache.load_arrays(cache.cache_key("moments", cache.images_hash(images), ext.card()))
    if whole is not None:
        print(f"{name} {precision}: whole set from the cache", flush=True)
        return FeatureMoments.from_arrays(whole)
    parts = []
    for i in range(0, len(images), SHARD):
        t0 = time.perf_counter()
        parts.append(shard_moments(images[i:i + SHARD], ext))
        print(f"{name} {precision}: shard {i // SHARD + 1}/{-(-len(images) // SHARD)} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return FeatureMoments.merge_all(parts)


def speed(images: np.ndarray, extractor: str, rounds: int) -> dict[str, float]:
    """Median images/s of fp32 and bf16 over interleaved rounds on the same images."""
    x = torch.from_numpy(images)
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    exts = {p: as_extractor(extractor, precision=p) for p in rates}
    for ext in exts.values():  # warm-up
        ext.forward(x[:8])
    for _ in range(rounds):
        for p, ext in exts.items():
            t0 = time.perf_counter()
            for i in range(0, len(x), 32):
                ext.forward(x[i:i + 32])
            rates[p].append(len(x) / (time.perf_counter() - t0))
    return {p: statistics.median(r) for p, r in rates.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", default="fashion-mnist:test")
    ap.add_argument("--fake", required=True, help="a run folder or any image source")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--extractor", default="inception-fid")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--speed-n", type=int, default=128, help="images per speed round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-fid", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from ganlab.cli.inputs import load_images

    real = load_images(args.real, args.n, 0).images
    result: dict[str, object] = {"cpu": cpu_model(), "threads": args.threads,
                                 "extractor": args.extractor}
    rates = speed(real[:args.speed_n], args.extractor, args.rounds)
    result.update(images_per_s=rates, bf16_speedup=rates["bf16"] / rates["fp32"])
    print(f"{cpu_model()}, {args.threads} thread(s): fp32 {rates['fp32']:.1f} images/s, bf16 "
          f"{rates['bf16']:.1f} images/s, bf16/fp32 {rates['bf16'] / rates['fp32']:.2f}x "
          f"(median of {args.rounds} interleaved rounds of {args.speed_n} images)", flush=True)
    if not args.skip_fid:
        fake = load_images(args.fake, args.n, 0).images
        fids = {}
        for p in ("fp32", "bf16"):
            r = FeatureStats.from_moments(moments(real, p, "real", args.extractor))
            f = FeatureStats.from_moments(moments(fake, p, "generated", args.extractor))
            fids[p] = fid_from_stats(r, f)
        result.update(fid=fids, fid_bf16_minus_fp32=fids["bf16"] - fids["fp32"],
                      n=args.n, fake=str(args.fake))
        print(f"FID ({args.n:,} vs {args.n:,}): fp32 {fids['fp32']:.4f}, bf16 "
              f"{fids['bf16']:.4f}, bf16 - fp32 {fids['bf16'] - fids['fp32']:+.4f} "
              f"({(fids['bf16'] / fids['fp32'] - 1) * 100:+.2f}%)", flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

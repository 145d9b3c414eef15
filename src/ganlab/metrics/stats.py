"""Feature statistics as streamed float64 moments: memory stays flat in the sample count.

The moments are sums, so they are computed on shards and merged. A caller that splits one
image set across processes (or machines, or days) does::

    part = feature_moments(shard_images, extractor)  # each process (ganlab.metrics.extract)
    arrays = part.to_arrays()  # n, total, outer: np.savez them, send them, or all-reduce (sum)
    whole = FeatureMoments.merge_all(FeatureMoments.from_arrays(a) for a in gathered)
    stats = FeatureStats.from_moments(whole)  # then fid(stats, other) as usual

``merge_all`` of the shards equals one pass over the whole set up to float64 summation order
(tested to 1e-10 relative on FID); each image must be in exactly one shard.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self, TypeVar

import numpy as np

from ganlab.atomic import write_atomically
from ganlab.errors import GanlabError


class Mergeable(Protocol):
    """Statistics of a set that merge with those of a disjoint set."""

    def merge(self, other: Self) -> Self: ...


M = TypeVar("M", bound=Mergeable)


def merge_shards(parts: Iterable[M], what: str) -> M:
    """``a.merge(b).merge(c)...`` over the shards of one set (any statistics with ``merge``);
    at least one shard, else a one-line error naming ``what``."""
    merged: M | None = None
    for part in parts:
        merged = part if merged is None else merged.merge(part)
    if merged is None:
        raise GanlabError(f"no {what} to merge: give at least one shard")
    return merged


@dataclass
class FeatureMoments:
    """Running n, sum(x) and sum(x x^T) in float64; additive across disjoint shards."""

    n: int
    total: np.ndarray  # (d,)
    outer: np.ndarray  # (d, d)

    @classmethod
    def empty(cls, dim: int) -> FeatureMoments:
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    def update(self, feats: np.ndarray) -> None:
        """Add a batch of features (N, d)."""
        x = np.asarray(feats, dtype=np.float64)
        if not np.isfinite(x).all():
            raise GanlabError(
                f"features contain NaN or infinite values ({int((~np.isfinite(x)).sum())} "
                "entries): the extractor or the input produced them; metrics refuse them"
            )
        self.n += x.shape[0]
        self.total += x.sum(0)
        self.outer += x.T @ x

    def merge(self, other: FeatureMoments) -> FeatureMoments:
        """Moments of the union of two disjoint sample sets (e.g. two processes)."""
        if self.total.shape != other.total.shape:
            raise GanlabError(
                f"cannot merge moments of {self.total.shape[0]}-d and {other.total.shape[0]}-d "
                "features: the shards were made with different extractors"
            )
        return FeatureMoments(self.n + other.n, self.total + other.total, self.outer + other.outer)

    @classmethod
    def merge_all(cls, parts: Iterable[FeatureMoments]) -> FeatureMoments:
        """Moments of the union of any number of disjoint shards (at least one)."""
        return merge_shards(parts, "moments")

    def to_arrays(self) -> dict[str, np.ndarray | np.generic]:
        """``n`` (int64), ``total`` and ``outer`` (float64): for np.savez or an all-reduce sum."""
        return {"n": np.int64(self.n), "total": self.total, "outer": self.outer}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray | np.generic]) -> FeatureMoments:
        """Inverse of :meth:`to_arrays` (also reads an ``np.load`` of a saved shard)."""
        try:
            return cls(
                int(arrays["n"]),
                np.asarray(arrays["total"], np.float64),
                np.asarray(arrays["outer"], np.float64),
            )
        except KeyError as exc:
            raise GanlabError(
                f"not feature moments (needs n, total, outer): missing {exc}"
            ) from None

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, unbiased covariance)."""
        if self.n < 2:
            raise GanlabError(f"need at least 2 samples for a covariance, got {self.n}")
        mu = self.total / self.n
        cov = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, (cov + cov.T) / 2


STATS_FORMAT = "ganlab-stats/1"
#: the string metadata a statistics file may carry beside mu, sigma and n (read back by load)
META_KEYS = ("format", "source", "seed", "fingerprint", "extractor", "weights_sha256", "resize",
             "precision", "ganlab_version")
UNVERIFIED = "unverified: made by another tool"


@dataclass
class FeatureStats:
    """Mean and covariance of features, with how many samples made them.

    ``n`` is None for statistics made by another tool that did not record it. ``meta`` holds
    the string metadata of a statistics file (source, seed, fingerprint, extractor, weights
    sha256, resize ...). ``origin`` is ``"ganlab"``, or for a file read without ganlab's
    metadata (pytorch-fid, clean-fid, TTUR, ADM ...) ``"unverified: made by another tool"``:
    its extractor, resize and images cannot be checked.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int | None
    meta: dict[str, str] = field(default_factory=dict)
    origin: str = "ganlab"

    @classmethod
    def from_moments(cls, m: FeatureMoments) -> FeatureStats:
        mu, sigma = m.mean_cov()
        return cls(mu, sigma, m.n)

    @classmethod
    def from_features(cls, feats: np.ndarray, chunk: int = 4096) -> FeatureStats:
        return cls.from_moments(moments_of(feats, chunk))

    @classmethod
    def from_batches(cls, batches: Iterable[np.ndarray], dim: int) -> FeatureStats:
        m = FeatureMoments.empty(dim)
        for b in batches:
            m.update(b)
        return cls.from_moments(m)

    @property
    def fingerprint(self) -> str | None:
        """sha256 of the images these statistics describe, when a ganlab file recorded it."""
        return self.meta.get("fingerprint") or None

    def save(self, path: str | Path, **meta: str) -> Path:
        """Write an .npz that pytorch-fid, clean-fid and TTUR read as they are.

        ``mu`` (d,) and ``sigma`` (d, d) are float64 arrays at the top level, as those tools
        expect (``np.load(path)["mu"]``); beside them ganlab keeps ``n`` (int64) and string
        metadata (``self.meta`` updated by ``meta``: source, fingerprint, extractor ...), which
        the other tools ignore. Written atomically; ``.npz`` is appended to a name without it
        (pytorch-fid recognises statistics by that suffix). Returns the path written.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")

        info = {"format": STATS_FORMAT, **self.meta, **{k: str(v) for k, v in meta.items()}}
        arrays: dict[str, np.ndarray | np.generic] = {
            "mu": np.asarray(self.mu, np.float64),
            "sigma": np.asarray(self.sigma, np.float64),
        }
        if self.n is not None:
            arrays["n"] = np.int64(self.n)
        arrays.update({k: np.str_(v) for k, v in info.items() if k not in arrays})

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to a name
                np.savez(fh, allow_pickle=False, **arrays)

        return write_atomically(path, write)

    @classmethod
    def load(cls, path: str | Path) -> FeatureStats:
        """Statistics from ganlab, pytorch-fid, clean-fid, TTUR or ADM (guided-diffusion).

        All of them are an .npz with float arrays ``mu`` (d,) and ``sigma`` (d, d) at the top
        level; ``n`` is optional (None when absent); other arrays (ADM's ``mu_s``/``sigma_s``
        and ``arr_0``) are ignored and never read. ganlab's string metadata (:data:`META_KEYS`)
        is kept in ``meta``; a file without its ``extractor`` gets an unverified ``origin``.
        """
        try:
            with np.load(path, allow_pickle=False) as z:
                files = list(z.files)
                if "mu" not in files or "sigma" not in files:
                    raise GanlabError(
                        f"{path} is not a statistics file: it needs float arrays 'mu' (d,) and "
                        "'sigma' (d, d), as ganlab, pytorch-fid, clean-fid, TTUR and ADM write "
                        f"them (it has: {', '.join(files) or 'nothing'})"
                    )
                mu, sigma = np.asarray(z["mu"], np.float64), np.asarray(z["sigma"], np.float64)
                n = int(z["n"]) if "n" in files and z["n"].ndim == 0 else None
                meta = {k: str(z[k]) for k in META_KEYS if k in files and z[k].ndim == 0}
        except GanlabError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GanlabError(f"{path} is not a readable statistics .npz: {exc}") from exc
        d = mu.shape[0] if mu.ndim == 1 else -1
        if mu.ndim != 1 or sigma.shape != (d, d):
            raise GanlabError(
                f"{path}: 'mu' must be (d,) and 'sigma' (d, d), got {mu.shape} and {sigma.shape}"
            )
        if "extractor" in meta:
            origin = "ganlab"
        elif "format" in meta:
            origin = "unverified: written without the extractor's name"
        else:
            origin = UNVERIFIED
        stats = cls(mu, sigma, n, meta, origin)
        stats.check_finite(str(path))
        return stats

    def check_finite(self, where: str) -> None:
        """Refuse statistics with NaN or infinite entries (one-line GanlabError)."""
        if not (np.isfinite(self.mu).all() and np.isfinite(self.sigma).all()):
            raise GanlabError(
                f"{where}: statistics contain NaN or infinite values; the features they were "
                "made from were not finite"
            )


def moments_of(feats: np.ndarray, chunk: int = 4096) -> FeatureMoments:
    """Moments of a feature array (N, d), accumulated ``chunk`` rows at a time."""
    m = FeatureMoments.empty(feats.shape[1])
    for i in range(0, len(feats), chunk):
        m.update(feats[i : i + chunk])
    return m

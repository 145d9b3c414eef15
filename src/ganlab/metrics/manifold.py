"""k-NN manifold metrics: precision/recall (Kynkäänniemi et al. 2019) and density/coverage
(Naeem et al. 2020), in bounded memory.

With real features R (n_r, d), generated features F (n_f, d), and NND_k(x) the distance from a
point to its k-th nearest neighbour in its own set (itself excluded):

- precision = mean over fakes f of [exists real r: ||f - r|| < NND_k(r)]  (fakes inside some
  real k-NN ball);
- recall    = mean over reals r of [exists fake f: ||r - f|| < NND_k(f)]  (reals inside some
  *fake* k-NN ball: the radii are the generated points');
- density   = (1/k) * mean over fakes f of #{real r: ||f - r|| < NND_k(r)};
- coverage  = mean over reals r of [min over fakes ||r - f|| < NND_k(r)].

These are the formulas of the papers' code (NVlabs ``precision-recall`` and the ``prdc``
package, strict ``<``). No N x N matrix is ever held: query rows are taken in blocks of at
most :data:`BLOCK_BYTES` against all reference rows. Each block's squared distances are
computed in float32 as ||a||^2 + ||b||^2 - 2 a.b; a pair is settled from the float32 value
only when it is further from the decision (the k-th smallest distance, a ball's radius) than
the float32 error bound ((d + 8) 2^-24 (||a||^2 + ||b||^2)); the few pairs within that band
are recomputed exactly in float64 from the difference a - b. So the results equal a dense
float64 computation (radii and nearest-neighbour distances to float64 rounding, counts
exactly, ties included: a point sitting on a ball's boundary is outside, as with ``<``), at
float32 matrix-multiply speed, in memory of a few blocks (about 64 MiB each by default) plus
O(N) vectors. float32 inputs are used as they are; other dtypes are converted once (a copy).
"""

from __future__ import annotations

import numpy as np

from ganlab.errors import GanlabError

#: bytes of one block of float32 squared distances (rows x all reference rows)
BLOCK_BYTES = 64 * 2**20
_U32 = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32, 2^-24
_EXTRA = 8  # candidates beyond k kept per row before the exact float64 re-ranking


def as_f32(x: np.ndarray) -> np.ndarray:
    """A 2-D float32 view of ``x`` (no copy when it already is float32)."""
    a = np.asarray(x)
    if a.ndim != 2:
        raise GanlabError(f"features must be a 2-D array (N, d), got shape {a.shape}")
    return a if a.dtype == np.float32 else a.astype(np.float32)


def sq_norms(x: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Squared Euclidean norms of the rows of x, float64, without a float64 copy of x."""
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        xb = np.asarray(x[i : i + chunk], np.float64)
        out[i : i + chunk] = np.einsum("ij,ij->i", xb, xb)
    return out


def rows_per_block(n_cols: int, block_bytes: int | None = None) -> int:
    """Query rows per block so that one float32 block (rows x n_cols) fits ``block_bytes``."""
    budget = BLOCK_BYTES if block_bytes is None else block_bytes
    return max(8, budget // (4 * max(n_cols, 1)))


def exact_sq(x: np.ndarray, y: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """float64 ||x[i] - y[j]||^2 for index pairs, from the differences (no cancellation).

    The same pair of vectors always gives the same bits (a row's sum does not depend on the
    batch it is in), so a point on a ball's boundary compares equal to the ball's radius.
    """
    out = np.empty(len(i))
    step = max(1, 2**20 // max(x.shape[1], 1))  # 8 MiB of float64 differences at a time
    for s in range(0, len(i), step):
        diff = np.asarray(x[i[s : s + step]], np.float64)
        diff -= y[j[s : s + step]]
        np.square(diff, out=diff)
        out[s : s + step] = diff.sum(1)
    return out


def row_groups(ii: np.ndarray, n_rows: int) -> np.ndarray:
    """Start of each row's run in ``ii`` (row indices sorted ascending, every row present)."""
    return np.searchsorted(ii, np.arange(n_rows))


def _sq_block(xb: np.ndarray, xx_b: np.ndarray, y: np.ndarray, yy32: np.ndarray) -> np.ndarray:
    """float32 ||x||^2 + ||y||^2 - 2 x.y for a block of rows (may dip just below 0)."""
    g: np.ndarray = xb @ y.T
    g *= -2.0
    g += xx_b.astype(np.float32)[:, None]
    g += yy32[None, :]
    return g


def _tolerance(d: int, xx_b: np.ndarray, yy_max: float) -> float:
    """Bound on |float32 block value - exact squared distance| for every pair of a block."""
    return (d + 8) * _U32 * (float(xx_b.max(initial=0.0)) + yy_max) * 1.01


def _below(t: np.ndarray) -> np.ndarray:
    """float32 values <= the float64 thresholds ``t`` (rounded down)."""
    t32 = t.astype(np.float32)
    return np.where(t32 > t, np.nextafter(t32, np.float32(-np.inf)), t32)


def _above(t: np.ndarray) -> np.ndarray:
    """float32 values >= the float64 thresholds ``t`` (rounded up)."""
    t32 = t.astype(np.float32)
    return np.where(t32 < t, np.nextafter(t32, np.float32(np.inf)), t32)


def kth_nearest(
    queries: np.ndarray,
    refs: np.ndarray,
    kth: int,
    exclude_self: bool = False,
    block_bytes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(index, squared distance) of each query's ``kth`` nearest ref (0 = the nearest).

    Squared distances are exact float64 (from differences); ties go to the lower index.
    ``exclude_self``: query i is never matched with ref i (queries and refs are one set).
    Memory: one (rows x len(refs)) float32 block at a time.
    """
    import torch  # topk: the m smallest of each row without a copy of the block

    q, r = as_f32(queries), as_f32(refs)
    n_q, n_r = len(q), len(r)
    avail = n_r - (1 if exclude_self else 0)
    if kth < 0 or kth >= avail:
        raise GanlabError(
            f"the {kth + 1}-th nearest neighbour needs more than {kth} other points, got {avail}"
        )
    if q.shape[1] != r.shape[1]:
        raise GanlabError(f"features differ in dimension: {q.shape[1]} vs {r.shape[1]}")
    d = q.shape[1]
    qq, rr = sq_norms(q), sq_norms(r)
    rr32, rr_max = rr.astype(np.float32), float(rr.max(initial=0.0))
    m = min(kth + 1 + _EXTRA + (1 if exclude_self else 0), n_r)
    idx_out = np.empty(n_q, np.int64)
    sq_out = np.empty(n_q)
    step = rows_per_block(n_r, block_bytes)
    for i0 in range(0, n_q, step):
        i1 = min(i0 + step, n_q)
        rows = np.arange(i0, i1)
        block = _sq_block(q[i0:i1], qq[i0:i1], r, rr32)
        tol = _tolerance(d, qq[i0:i1], rr_max)
        if exclude_self:
            block[rows - i0, rows] = np.inf
        if m < n_r:  # candidates: the m smallest float32 values of each row (no copy)
            vals, cand = torch.topk(torch.from_numpy(block), m, dim=1, largest=False, sorted=False)
            thr = vals.max(1).values.numpy()
            ii, jj = np.repeat(np.arange(i1 - i0), m), cand.numpy().ravel()
        else:  # few refs: all of them
            ii, jj = np.divmod(np.arange((i1 - i0) * n_r), n_r)
        ex = exact_sq(q, r, ii + i0, jj)
        if exclude_self:
            ex[jj == ii + i0] = np.inf
        order = np.lexsort((jj, ex, ii))  # by row, then exact distance, then index
        sel = order[row_groups(ii, i1 - i0) + kth]
        pick, val = jj[sel], ex[sel]
        if m < n_r:  # every non-candidate's float32 value is >= thr
            for row in np.flatnonzero(val >= thr.astype(np.float64) - tol):  # rare: widen
                cols = np.flatnonzero(block[row] <= val[row] + tol)
                e = exact_sq(q, r, np.full(len(cols), i0 + row), cols)
                if exclude_self:
                    e[cols == i0 + row] = np.inf
                o = np.lexsort((cols, e))[kth]
                pick[row], val[row] = cols[o], e[o]
        idx_out[i0:i1], sq_out[i0:i1] = pick, val
    return idx_out, sq_out


def pairwise_distances(x: np.ndarray, y: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Euclidean distances (len(x), len(y)) in float64, computed in row chunks.

    This is the dense matrix (N x M float64): for small sets and tests only; the metrics here
    never build it.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    yy = (y * y).sum(1)
    out = np.empty((len(x), len(y)))
    for i in range(0, len(x), chunk):
        xb = x[i : i + chunk]
        d2 = (xb * xb).sum(1)[:, None] + yy[None] - 2.0 * xb @ y.T
        out[i : i + chunk] = np.sqrt(np.clip(d2, 0.0, None))
    return out


def knn_radii(x: np.ndarray, k: int, block_bytes: int | None = None) -> np.ndarray:
    """Distance of each point to its k-th nearest neighbour in x (itself excluded), float64."""
    if len(x) <= k:
        raise GanlabError(f"k-NN radii with k={k} need more than {k} points, got {len(x)}")
    if k < 1:
        raise GanlabError(f"k-NN radii need k >= 1, got {k}")
    radii: np.ndarray = np.sqrt(
        kth_nearest(x, x, k - 1, exclude_self=True, block_bytes=block_bytes)[1])
    return radii


def _inside(
    block: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    radius: np.ndarray,
    exact_of: object,
    per_row: bool,
) -> np.ndarray:
    """Boolean block: distance < radius, exact; float32 decides outside the [low, high] band."""
    t_low, t_high = (low[:, None], high[:, None]) if per_row else (low[None, :], high[None, :])
    inside = block < t_low
    unsure = block <= t_high
    unsure &= ~inside
    ii, jj = np.nonzero(unsure)
    if len(ii):
        dist = np.sqrt(exact_of(ii, jj))  # type: ignore[operator]
        inside[ii, jj] = dist < (radius[ii] if per_row else radius[jj])
    return inside


def prdc(
    real: np.ndarray, fake: np.ndarray, k: int = 5, block_bytes: int | None = None
) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features against real ones.

    Exact (equal to the dense float64 computation) in memory of a few blocks of
    ``block_bytes`` (default :data:`BLOCK_BYTES`) plus O(N): see the module docstring.
    """
    r, f = as_f32(real), as_f32(fake)
    if r.shape[1] != f.shape[1]:
        raise GanlabError(f"real and generated features differ: {r.shape[1]}-d vs {f.shape[1]}-d")
    real_r = knn_radii(r, k, block_bytes)
    fake_r = knn_radii(f, k, block_bytes)
    real_r2, fake_r2 = real_r**2, fake_r**2
    d = r.shape[1]
    rr, ff = sq_norms(r), sq_norms(f)
    ff32, ff_max = ff.astype(np.float32), float(ff.max(initial=0.0))
    fake_hit = np.zeros(len(f), bool)  # fake inside some real ball (precision)
    fake_count = np.zeros(len(f), np.int64)  # number of real balls holding it (density)
    real_covered = np.zeros(len(r), bool)  # real ball holding some fake (coverage)
    real_hit = np.zeros(len(r), bool)  # real inside some fake ball (recall)
    step = rows_per_block(len(f), block_bytes)
    for i0 in range(0, len(r), step):
        i1 = min(i0 + step, len(r))
        block = _sq_block(r[i0:i1], rr[i0:i1], f, ff32)  # (real rows, all fakes)
        tol = _tolerance(d, rr[i0:i1], ff_max)

        def exact_of(ii: np.ndarray, jj: np.ndarray, i0: int = i0) -> np.ndarray:
            return exact_sq(r, f, ii + i0, jj)

        rad = real_r2[i0:i1]
        in_real = _inside(
            block, _below(rad - tol), _above(rad + tol), real_r[i0:i1], exact_of, per_row=True
        )
        fake_hit |= in_real.any(0)
        fake_count += np.count_nonzero(in_real, axis=0)
        real_covered[i0:i1] = in_real.any(1)
        del in_real
        in_fake = _inside(
            block, _below(fake_r2 - tol), _above(fake_r2 + tol), fake_r, exact_of, per_row=False
        )
        real_hit[i0:i1] = in_fake.any(1)
    return {
        "precision": float(fake_hit.mean()),
        "recall": float(real_hit.mean()),
        "density": float(fake_count.mean() / k),
        "coverage": float(real_covered.mean()),
        "k": float(k),
    }

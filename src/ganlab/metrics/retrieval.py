"""Text-image agreement by retrieval: does a scorer that never saw a generated image pick the
text an image was made from, out of distractor texts?

No CLIP weights exist offline, so the scorer is trained here, on **real** images only: a small
CNN over the images and a linear map of the frozen sentence embeddings into one 128-d space,
trained with the symmetric InfoNCE loss of CLIP (Radford et al. 2021) on the training split.
For each test image, its own text and ``distractors`` texts of *other* test emoji are ranked by
cosine similarity; top-1 and top-5 are the shares of images whose own text ranks first / in
the first five. Three rows make a result readable:

* **real** test images with their own texts: the ceiling (what the scorer can do at all);
* **generated** images, one per test text, asked for that text: the generator's agreement;
* **shuffled**: real test images scored against a random other test text as if it were
  theirs: the floor (chance is 1 / (distractors + 1)); the row that holds that other text is
  not drawn again as a distractor, or the text would compete with itself.

The test texts are names the generator never trained on (the emoji split is per base emoji).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganlab.atomic import write_atomically
from ganlab.data.emoji import load_emoji
from ganlab.data.images import convert
from ganlab.data.mismatch import mismatched_rows
from ganlab.metrics.cache import cache_dir
from ganlab.text_encoder import embed_texts

EMBED = 128


class TextImageScorer(nn.Module):
    """Images (N, 3, H, W) in [-1, 1] and sentence embeddings (N, D) -> unit vectors."""

    def __init__(self, text_dim: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for w in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(c, w, 3, 2, 1), nn.GroupNorm(8, w), nn.SiLU()]
            c = w
        self.image = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                   nn.Linear(c, EMBED))
        self.text = nn.Sequential(nn.Linear(text_dim, 256), nn.SiLU(), nn.Linear(256, EMBED))
        self.log_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    def encode_images(self, x: Tensor) -> Tensor:
        return F.normalize(self.image(x), dim=1)

    def encode_texts(self, e: Tensor) -> Tensor:
        return F.normalize(self.text(e), dim=1)


def train_scorer(images: Tensor, text_emb: Tensor, steps: int = 1500, batch_size: int = 128,
                 seed: int = 0, lr: float = 2e-3) -> TextImageScorer:
    """InfoNCE on real (image, text) pairs; ``images`` uint8 (N, 3, H, W)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = TextImageScorer(text_emb.shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    x_all = images.float() / 127.5 - 1.0
    for step in range(steps):
        idx = torch.randint(len(x_all), (batch_size,), generator=g)
        x = x_all[idx]
        if torch.rand((), generator=g) < 0.5:   # flips: the names do not say left or right
            x = x.flip(3)
        zi, zt = model.encode_images(x), model.encode_texts(text_emb[idx])
        logits = model.log_scale.exp().clamp(max=100.0) * zi @ zt.T
        # texts shared by several images in the batch (variants) count as correct for each
        same = (text_emb[idx] @ text_emb[idx].T) > 0.999
        target = same.float() / same.float().sum(1, keepdim=True)
        loss = 0.5 * (torch.sum(-target * logits.log_softmax(1), 1).mean()
                      + torch.sum(-target * logits.log_softmax(0).T, 1).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        opt.step()
        for group in opt.param_groups:      # cosine decay
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (step + 1) / steps))
    return model.eval()


@dataclass
class Retrieval:
    top1: float
    top5: float
    n: int
    candidates: int


@torch.no_grad()
def retrieval(model: TextImageScorer, images: Tensor, own: Tensor, pool: Tensor,
              groups: Tensor, distractors: int = 99, seed: int = 0,
              own_rows: Tensor | None = None) -> Retrieval:
    """Rank each image's ``own`` text (row i) among ``distractors`` rows of ``pool`` drawn
    from other groups; ``images`` float in [-1, 1]; ``groups[i]`` is image i's group and
    ``pool`` row j's group is ``groups[j]``.

    ``own_rows[i]`` is the row of ``pool`` that holds image i's own text when that row lies in
    another group (the shuffled floor, whose own text is another emoji's): that row is never
    drawn as a distractor. Drawn, it would tie with the own text, and rounding would decide
    the tie."""
    g = torch.Generator().manual_seed(seed)
    rows = torch.arange(len(pool))
    chunks = images.split(256)  # type: ignore[no-untyped-call]  # torch leaves it unannotated
    zi = torch.cat([model.encode_images(c) for c in chunks])
    zown = model.encode_texts(own)
    zpool = model.encode_texts(pool)
    n = len(images)
    ranks = torch.empty(n, dtype=torch.long)
    for i in range(n):
        other = groups != groups[i]
        if own_rows is not None:
            other &= rows != own_rows[i]
        others = torch.nonzero(other).flatten()
        pick = others[torch.randperm(len(others), generator=g)[:distractors]]
        s_own = zi[i] @ zown[i]
        s_other = zpool[pick] @ zi[i]
        ranks[i] = int((s_other >= s_own).sum())
    k = min(distractors, len(pool) - 1)
    return Retrieval(float((ranks == 0).float().mean()), float((ranks < 5).float().mean()), n,
                     k + 1)


def run_retrieval(generate: Callable[[Tensor, int], Tensor], encoder: str, resolution: int,
                  data_path: str | None = None, steps: int = 1500, distractors: int = 99,
                  seed: int = 0) -> dict[str, object]:
    """Retrieval rows (real / generated / shuffled) for a text-conditional emoji generator.

    ``generate(text_embeddings, seed)`` returns one image (float in [-1, 1], at
    ``resolution``) per embedding, made with sentence encoder ``encoder``; ``data_path`` is
    the emoji data folder (default: the installed package)."""
    import hashlib

    import numpy as np
    from safetensors.torch import load_file, save_file

    res = resolution

    def load(split: str) -> tuple[Tensor, Tensor, list[str], list[str]]:
        s = load_emoji(split, data_path)
        imgs = torch.from_numpy(np.ascontiguousarray(convert(s.images, res, 3)))
        return imgs, embed_texts(s.texts, encoder), s.texts, s.bases or s.names

    train_x, train_e, _, _ = load("train")
    key = hashlib.sha256(f"{encoder}|{res}|{steps}|{seed}|{len(train_x)}".encode()).hexdigest()
    path = cache_dir() / f"retrieval-scorer-{key[:24]}.safetensors"
    if path.is_file():
        model = TextImageScorer(train_e.shape[1])
        model.load_state_dict(load_file(str(path)))
        model.eval()
    else:
        with torch.random.fork_rng(devices=[]):
            model = train_scorer(train_x, train_e, steps=steps, seed=seed)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        write_atomically(path, lambda tmp: save_file(state, str(tmp)))
    test_x, test_e, texts, bases = load("test")
    ids = {b: i for i, b in enumerate(dict.fromkeys(bases))}
    groups = torch.tensor([ids[b] for b in bases])
    real = test_x.float() / 127.5 - 1.0
    fake = generate(test_e, seed)
    wrong_rows = mismatched_rows(groups, torch.Generator().manual_seed(seed + 1))
    wrong = test_e[wrong_rows]
    rows = {
        "real": retrieval(model, real, test_e, test_e, groups, distractors, seed),
        "generated": retrieval(model, fake, test_e, test_e, groups, distractors, seed),
        "shuffled": retrieval(model, real, wrong, test_e, groups, distractors, seed,
                              own_rows=wrong_rows),
    }
    out: dict[str, object] = {f"{name}_{k}": getattr(r, k) for name, r in rows.items()
                              for k in ("top1", "top5")}
    out.update(n_test=len(test_e), candidates=rows["real"].candidates, n_train=len(train_x),
               scorer_steps=steps, encoder=encoder, scorer=str(path))
    return out

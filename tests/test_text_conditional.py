"""Text-conditional GANs: condition vectors through every conditioning mode, mismatched texts
from other emoji, the sentence encoders, a smoke run on a small emoji package, sample --text."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from ganlab.cli import main
from ganlab.data.mismatch import mismatched_rows
from ganlab.errors import GanlabError
from ganlab.nn import Conditioning, build_models
from ganlab.text_encoder import HashingEncoder, embed_texts


def test_mismatched_texts_never_keep_their_own_group() -> None:
    g = torch.Generator().manual_seed(0)
    for trial in range(50):
        groups = torch.randint(0, 2 + trial % 5, (16,), generator=g)
        if bool((groups == groups[0]).all()):
            continue
        j = mismatched_rows(groups, g)
        assert not bool((groups[j] == groups).any())
    with pytest.raises(GanlabError, match="at least two different texts"):
        mismatched_rows(torch.zeros(8, dtype=torch.long), g)


def _model(arch: str) -> SimpleNamespace:
    return SimpleNamespace(arch=arch, z_dim=6, width=8, depth=2, g_width=None, d_width=None,
                           spectral_norm=False, batch_norm_g=True, batch_norm_d=True)


@pytest.mark.parametrize(("arch", "g", "d"), [
    ("dcgan", "concat", "projection"), ("dcgan", "cbn", "concat"),
    ("resnet", "cbn", "projection"), ("resnet", "concat", "concat"),
    ("mlp", "concat", "projection"), ("mlp", "concat", "concat")])
def test_condition_vectors_in_every_mode_and_one_hot_equals_the_label(arch: str, g: str,
                                                                      d: str) -> None:
    torch.manual_seed(0)
    shape = (2,) if arch == "mlp" else (3, 16, 16)
    G, D = build_models(_model(arch), shape, 5, Conditioning(g=g, d=d))
    G.eval()
    D.eval()
    z = torch.randn(4, 6)
    vec = torch.nn.functional.normalize(torch.randn(4, 5), dim=1)
    x = G(z, vec)
    assert x.shape == (4, *shape) and D(x, vec).shape == (4,)
    y = torch.tensor([0, 3, 1, 4])
    one_hot = torch.nn.functional.one_hot(y, 5).float()
    assert torch.allclose(G(z, one_hot), G(z, y), atol=1e-5)
    assert torch.allclose(D(x, one_hot), D(x, y), atol=1e-5)
    with pytest.raises(GanlabError, match=r"condition vectors of shape \(4, 5\)"):
        D(x, torch.randn(4, 7))


def test_hashing_encoder_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    e = HashingEncoder().encode(["smiling cat", "cat smiling", "red car"])
    assert torch.allclose(e.norm(dim=1), torch.ones(3))
    assert torch.allclose(e[0], e[1]) and float(e[0] @ e[2]) == 0.0
    a = embed_texts(["smiling cat", "red car"], "hashing")
    assert len(list(tmp_path.glob("text-hashing-*.npy"))) == 1
    assert torch.equal(a, embed_texts(["smiling cat", "red car"], "hashing"))
    with pytest.raises(GanlabError, match="empty text") as err:
        embed_texts(["ok", "  "], "hashing", use_cache=False)
    assert "\n" not in str(err.value)


def _package(root: Path, n: int = 30) -> Path:
    """A small emoji package: n emoji of three colours, names by colour and shape."""
    pkg = root / "emoji-datasource-google"
    img = pkg / "img" / "google" / "64"
    img.mkdir(parents=True)
    colours = {"red": (230, 30, 30, 255), "green": (30, 200, 30, 255),
               "blue": (30, 30, 230, 255)}
    entries = []
    for i in range(n):
        colour = list(colours)[i % 3]
        name = f"{colour} thing {i}"
        Image.new("RGBA", (64, 64), colours[colour]).save(img / f"{i:04x}.png")
        entries.append({"name": name.upper(), "short_name": f"t{i}", "short_names": [f"t{i}"],
                        "image": f"{i:04x}.png", "sort_order": i, "category": "Symbols",
                        "subcategory": "geometric", "has_img_google": True})
    (pkg / "emoji.json").write_text(json.dumps(entries), encoding="utf-8")
    return pkg


def test_text_to_image_smoke_run_and_sample_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    pkg = _package(tmp_path)
    argv = ["train", "--preset", "emoji-t2i", "--out", str(tmp_path / "runs"), "--no-progress"]
    for o in (f"data.path={pkg}", "data.text_encoder=hashing", "data.resolution=16",
              "cgan.model.width=8", "train.threads=1", "train.steps=4", "train.batch_size=8",
              "train.log_every=2", "train.snapshot_every=4", "train.checkpoint_every=2",
              "eval.n_samples=100"):
        argv += ["--set", o]
    assert main(argv) == 0
    (run,) = (tmp_path / "runs").iterdir()
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(0.0 <= r["d_mismatch"] <= 1.0 for r in rows)
    info = json.loads((run / "run_info.json").read_text())
    assert info["condition"] == "text" and info["text_dim"] == 256
    assert (run / "samples" / "prompts-step-0000004.txt").read_text().startswith("row 1: ")
    out = tmp_path / "cat.npz"
    assert main(["sample", str(run), "--text", "red thing", "-n", "5", "--npz", str(out)]) == 0
    assert "of 'red thing'" in capsys.readouterr().out
    import numpy as np

    assert np.load(out)["images"].shape == (5, 3, 16, 16)
    assert main(["eval", "retrieval", str(run), "--scorer-steps", "5", "--distractors", "5",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["n_test"] == 3 and r["candidates"] == 3       # 3 held-out emoji: 2 distractors
    assert all(0.0 <= r[f"{k}_top1"] <= r[f"{k}_top5"] <= 1.0
               for k in ("real", "generated", "shuffled"))
    assert main(["sample", str(run), "--text", " ", "-n", "2"]) == 2
    assert main(["sample", str(run), "--class", "1", "-n", "2"]) == 2
    err = capsys.readouterr().err
    assert "the text is empty" in err and "conditioned on text, not classes" in err


def test_text_condition_needs_text_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    data = tmp_path / "d.npz"
    import numpy as np

    np.savez(data, images=np.zeros((8, 16, 16), np.uint8), labels=np.arange(8) % 2)
    argv = ["train", "--preset", "emoji-t2i", "--out", str(tmp_path / "r"), "--no-progress",
            "--set", f"data.name=npz:{data}", "--set", "data.labels=true"]
    assert main(argv) == 2
    assert "needs images with text embeddings" in capsys.readouterr().err
    argv = ["config", "--preset", "emoji-t2i", "--set", "cgan.aux_classifier_weight=1"]
    assert main(argv) == 2
    assert "AC-GAN's class head needs class labels" in capsys.readouterr().err


def test_the_retrieval_scorer_learns_real_pairs_and_the_floor_stays_at_chance() -> None:
    from ganlab.metrics.retrieval import retrieval, train_scorer

    g = torch.Generator().manual_seed(0)
    colours = torch.tensor([[230, 30, 30], [30, 200, 30], [30, 30, 230], [200, 200, 30],
                            [30, 200, 200], [200, 30, 200]], dtype=torch.uint8)
    names = ["red", "green", "blue", "yellow", "cyan", "magenta"]
    k = torch.randint(0, 6, (120,), generator=g)
    images = colours[k][:, :, None, None].expand(-1, -1, 16, 16).contiguous()
    emb = HashingEncoder().encode([f"{names[i]} square" for i in k.tolist()])
    model = train_scorer(images, emb, steps=60, batch_size=32)
    x = images.float() / 127.5 - 1.0
    real = retrieval(model, x, emb, emb, k, distractors=5)
    wrong = emb[mismatched_rows(k, torch.Generator().manual_seed(1))]
    floor = retrieval(model, x, wrong, emb, k, distractors=5)
    assert real.top1 > 0.9 and floor.top1 < 0.2 and real.candidates == 6


def test_the_floor_never_ranks_a_text_against_itself() -> None:
    """The shuffled floor's own text is another emoji's row of the pool; drawn as a distractor
    it would tie with itself and rounding would pick the winner. An image equal to the text it
    is scored against must rank first whatever the distractors are."""
    from ganlab.metrics.retrieval import retrieval

    class Identity(torch.nn.Module):
        def encode_images(self, x: torch.Tensor) -> torch.Tensor:
            return x

        def encode_texts(self, e: torch.Tensor) -> torch.Tensor:
            return e

    pool = torch.eye(12)   # one-hot texts: every score is exactly 0 or 1, ties exact
    groups = torch.arange(12) // 2
    rows = mismatched_rows(groups, torch.Generator().manual_seed(1))
    images = pool[rows]   # each image is exactly the other text it is scored against
    every = 11            # every other row is a candidate, the own text's row included
    floor = retrieval(Identity(), images, pool[rows], pool, groups,  # type: ignore[arg-type]
                      distractors=every, own_rows=rows)
    assert floor.top1 == 1.0
    unguarded = retrieval(Identity(), images, pool[rows], pool, groups,  # type: ignore[arg-type]
                          distractors=every)
    assert unguarded.top1 == 0.0   # the tie with its own row counted against it

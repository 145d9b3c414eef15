"""CLIP score with a tiny random CLIP saved to a folder and loaded by path, checked against
torchmetrics' CLIPScore with the same model; and ``ganlab eval clipscore``'s errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganlab.cli import main
from ganlab.errors import GanlabError
from ganlab.metrics import clipscore as cs

TEXTS = ["a cat", "smiling dog", "red fish", "a tree in the sun", "blue car", "happy face"]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (the optional extra 'clip')"
    )
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    root = tmp_path_factory.mktemp("tinyclip")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    letters = "abcdefghijklmnopqrstuvwxyz"
    for suffix in ("", "</w>"):
        for ch in letters:
            vocab[ch + suffix] = len(vocab)
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")  # no merges: one token a letter
    tokenizer = CLIPTokenizer(str(root / "vocab.json"), str(root / "merges.txt"))
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2,
                     "max_position_embeddings": 32, "bos_token_id": 0, "eos_token_id": 1,
                     "pad_token_id": 1},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )  # fmt: skip
    level = transformers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()
    try:
        CLIPModel(config).save_pretrained(str(root))
        image_processor = CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
        CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(
            str(root)
        )
    finally:
        transformers.utils.logging.set_verbosity(level)
    return root


def _images(n: int = len(TEXTS), channels: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, 20, 24), dtype=torch.uint8, generator=gen)


class _TensorFeatures(torch.nn.Module):
    """transformers 5 returns an output object from get_*_features, torchmetrics 1.x expects
    the tensor: hand it the projected embeddings (pooler_output), nothing else changed."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.config = model, model.config

    def get_image_features(self, *args, **kw):
        return cs._embedding(self.model.get_image_features(*args, **kw))

    def get_text_features(self, *args, **kw):
        return cs._embedding(self.model.get_text_features(*args, **kw))


def test_clip_score_matches_torchmetrics(clip_dir) -> None:
    from torchmetrics.functional.multimodal.clip_score import _clip_score_update
    from torchmetrics.multimodal.clip_score import CLIPScore

    model, processor = cs.load_clip(clip_dir)
    tm_model = _TensorFeatures(model)
    images = _images()
    res = cs.clip_score(images, TEXTS, clip_dir, batch_size=4)  # two batches
    per_pair, n = _clip_score_update(images, TEXTS, tm_model, processor)
    assert n == len(TEXTS)
    np.testing.assert_allclose(res["scores"], per_pair.double().numpy(), rtol=1e-4, atol=1e-4)
    assert res["clip_score"] == pytest.approx(float(per_pair.clamp_min(0).mean()), abs=1e-4)

    metric = CLIPScore(model_name_or_path=lambda: (tm_model, processor))
    metric.update(images, TEXTS)
    assert res["clip_score_clamp_mean"] == pytest.approx(float(metric.compute()), abs=1e-4)
    # where no pair's cosine is negative, the paper's score and torchmetrics' agree
    keep = [i for i, s in enumerate(res["scores"]) if s > 0]
    assert keep, "the tiny model gives at least one positive pair"
    sub = cs.clip_score(images[keep], [TEXTS[i] for i in keep], clip_dir)
    metric = CLIPScore(model_name_or_path=lambda: (tm_model, processor))
    metric.update(images[keep], [TEXTS[i] for i in keep])
    assert sub["clip_score"] == pytest.approx(float(metric.compute()), abs=1e-4)
    assert 0 <= res["clip_score"] <= 100
    assert res.card.metric == "clip_score" and len(res.card.weights_sha256) == 64
    assert res.card.n_fake == len(TEXTS) and res.card.extra["image_size"] == 32


def test_grey_images_are_repeated_to_rgb(clip_dir) -> None:
    grey = _images(channels=1)
    a = cs.clip_score(grey, TEXTS, clip_dir)
    b = cs.clip_score(grey.expand(-1, 3, -1, -1).contiguous(), TEXTS, clip_dir)
    assert a["scores"] == pytest.approx(b["scores"])


def test_cli_clipscore(clip_dir, tmp_path, capsys) -> None:
    npz = tmp_path / "g.npz"
    np.savez(npz, images=_images().numpy())
    texts = tmp_path / "t.txt"
    texts.write_text("\n".join(TEXTS) + "\n")
    assert main(["eval", "clipscore", str(npz), "--texts", str(texts), "--clip", str(clip_dir),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["clipscore"]
    want = cs.clip_score(_images(), TEXTS, clip_dir)
    assert out["values"]["clip_score"] == pytest.approx(want["clip_score"])
    assert main(["eval", "clipscore", str(npz), "--texts", str(texts), "--clip",
                 str(clip_dir)]) == 0
    assert "clipscore.clip_score:" in capsys.readouterr().out


def _error(argv: list[str], capsys, match: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ganlab: error:") and match in err[0], err


def test_cli_clipscore_errors(tmp_path, capsys) -> None:
    """One-line errors; none needs transformers (they come before the model loads)."""
    npz = tmp_path / "g.npz"
    np.savez(npz, images=_images(3).numpy())
    texts = tmp_path / "t.txt"
    texts.write_text("a cat\ndog\nfish\n")
    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / "config.json").write_text("{}")
    base = ["eval", "clipscore", str(npz), "--texts", str(texts), "--clip"]
    _error([*base, str(tmp_path / "nowhere")], capsys, "CLIP model directory not found")
    _error([*base, str(tmp_path)], capsys, "has no config.json")
    short = tmp_path / "short.txt"
    short.write_text("a cat\ndog\n")
    _error(["eval", "clipscore", str(npz), "--texts", str(short), "--clip", str(clip)],
           capsys, "3 images but 2 texts")
    blank = tmp_path / "blank.txt"
    blank.write_text("a cat\n  \nfish\n")
    _error(["eval", "clipscore", str(npz), "--texts", str(blank), "--clip", str(clip)],
           capsys, "text 2 (line 2) is empty")
    _error(["eval", "clipscore", str(npz), "--texts", str(tmp_path / "none.txt"), "--clip",
            str(clip)], capsys, "texts file not found")
    with pytest.raises(GanlabError, match="text 1"):
        cs.check_texts([""])


def test_missing_transformers_names_the_install(tmp_path, monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_transformers(name, *args, **kw):
        if name == "transformers" or name.startswith("transformers."):
            raise ImportError(name)
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(GanlabError, match="pip install transformers"):
        cs.load_clip(tmp_path)

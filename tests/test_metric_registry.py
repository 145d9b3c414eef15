"""The metric registry: one registration gives a metric its command, its JSON and its report
panel; every built-in metric is registered with the keys it returns."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import ganlab.metrics
from ganlab.cli import build_parser
from ganlab.cli import main as cli_main
from ganlab.errors import GanlabError
from ganlab.metrics import registry
from ganlab.metrics.card import MetricCard, MetricResult
from ganlab.metrics.registry import Command, MetricInfo, get_metric, register_metric
from ganlab.report.plots import panels_of, shared_panels
from helpers import TinyExtractor

# -- a metric of the test's own ------------------------------------------------------------------


def mean_brightness(real: np.ndarray, fake: np.ndarray, *, channel: int | None = None,
                    seed: int = 0) -> MetricResult:
    """Mean pixel value (0-255) of the real and the generated images (one channel or all)."""
    pick = slice(None) if channel is None else slice(channel, channel + 1)
    r, f = float(real[:, pick].mean()), float(fake[:, pick].mean())
    card = MetricCard("mean_brightness", n_real=len(real), n_fake=len(fake), seed=seed,
                      extra={"channel": channel})
    return MetricResult({"brightness_real": r, "brightness_fake": f, "brightness_gap": f - r},
                        card)


def brightness_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", type=int, default=None, help="one channel only")


BRIGHTNESS = MetricInfo(
    "mean_brightness", mean_brightness, ("brightness_real", "brightness_fake", "brightness_gap"),
    "mean pixel value of generated vs real images",
    panels=(("brightness_real", "brightness_fake"),),
    command=Command(arguments=brightness_arguments),
)


@pytest.fixture
def brightness() -> Iterator[MetricInfo]:
    register_metric(BRIGHTNESS)
    yield BRIGHTNESS
    registry.unregister_metric(BRIGHTNESS.name)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    ts = tmp_path / "tiny.pt"
    torch.jit.script(TinyExtractor()).save(str(ts))
    rng = np.random.default_rng(0)
    out = {"ts": str(ts)}
    for name, high in (("a", 256), ("b", 180), ("t", 256)):
        path = tmp_path / f"{name}.npz"
        np.savez(path, images=rng.integers(0, high, size=(40, 3, 8, 8), dtype=np.uint8))
        out[name] = str(path)
    return out


def _images(spec: str, n: int | None = None, seed: int = 0) -> np.ndarray:
    from ganlab.metrics.sources import load_images

    return load_images(spec, n, seed).images


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = cli_main(argv)
    out, _ = capsys.readouterr()
    return rc, out


def _eval_commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    ev = sub.choices["eval"]
    evsub = next(a for a in ev._actions if isinstance(a, argparse._SubParsersAction))
    return dict(evsub.choices)


def test_a_registered_metric_is_an_eval_command_with_the_shared_options(
        brightness: MetricInfo, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    p = _eval_commands()["mean_brightness"]
    args = p.parse_args([files["a"], files["b"]])
    assert (args.extractor, args.n, args.seed, args.batch_size, args.json, args.channel) == (
        "inception-fid", None, 0, 32, False, None)
    assert "mean pixel value of generated vs real images" in _help(["eval", "--help"], capsys)

    rc, out = _run(["eval", "mean_brightness", files["a"], files["b"], "--n", "10", "--seed", "3"],
                   capsys)
    real, fake = _images(files["a"], 10, 3), _images(files["b"], 10, 3)
    assert rc == 0
    assert f"mean_brightness.brightness_real: {real.mean():.6g}" in out.splitlines()
    assert f"mean_brightness.brightness_fake: {fake.mean():.6g}" in out.splitlines()
    assert "n_real=10 n_fake=10" in out

    rc, out = _run(["eval", "mean_brightness", files["a"], files["b"], "--channel", "1",
                    "--seed", "5", "--json"], capsys)
    res = json.loads(out)["mean_brightness"]
    assert rc == 0 and res["card"]["extra"] == {"channel": 1} and res["card"]["seed"] == 5
    assert res["values"]["brightness_gap"] == pytest.approx(
        _images(files["b"])[:, 1].mean() - _images(files["a"])[:, 1].mean())


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        cli_main(argv)
    return capsys.readouterr().out


def test_a_registered_metric_shares_a_report_panel(brightness: MetricInfo) -> None:
    assert ("brightness_real", "brightness_fake") in shared_panels()
    keys = ["fid", "brightness_real", "kid_mean", "brightness_gap", "brightness_fake", "kid_std"]
    assert panels_of(keys) == [["fid"], ["brightness_real", "brightness_fake"],
                               ["kid_mean", "kid_std"], ["brightness_gap"]]
    registry.unregister_metric("mean_brightness")
    assert ("brightness_real", "brightness_fake") not in shared_panels()
    assert "mean_brightness" not in _eval_commands()


def test_a_metric_from_an_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    point = metadata.EntryPoint(name="mean_brightness", group="ganlab.metrics",
                                value=f"{__name__}:BRIGHTNESS")
    real = metadata.entry_points

    def entry_points(**kw: Any) -> Any:
        return [point] if kw.get("group") == "ganlab.metrics" else real(**kw)

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    try:
        assert registry.metric_names()[-1] == "mean_brightness"
        assert get_metric("mean_brightness") is BRIGHTNESS
        assert "mean_brightness" in _eval_commands()
    finally:
        registry.unregister_metric("mean_brightness")


def test_a_metric_is_checked_when_it_is_made() -> None:
    with pytest.raises(GanlabError, match="panels name keys it does not report: b"):
        MetricInfo("x", mean_brightness, ("a",), "x", panels=(("a", "b"),))
    with pytest.raises(GanlabError, match="logged name keys it does not report: c"):
        MetricInfo("x", mean_brightness, ("a",), "x", logged={"x_c": "c"})
    with pytest.raises(GanlabError, match="'package.module:function'"):
        MetricInfo("x", "ganlab.metrics.api.fid", ("fid",), "x")
    with pytest.raises(GanlabError, match="'package.module:function'"):
        MetricInfo("x", mean_brightness, (), "x", command=Command(run="no colon"))
    with pytest.raises(GanlabError, match="unknown metric 'nope'; allowed: all, cas"):
        get_metric("nope")
    assert MetricInfo("x", mean_brightness, (), "x").result == "x"
    with pytest.raises(GanlabError, match="no 'no_such'"):
        registry.resolve("ganlab.metrics.api:no_such")


# -- the built-in metrics ------------------------------------------------------------------------

COMMANDS = ["fid", "kid", "is", "prdc", "modes", "memorization", "mifid", "all", "conditional",
            "clipscore", "retrieval"]


def test_every_eval_command_but_selftest_comes_from_the_registry() -> None:
    assert [i.name for i in registry.commands()] == COMMANDS
    built = _eval_commands()
    assert list(built) == [*COMMANDS, "selftest", "translation"]
    for info in registry.commands():
        assert built[info.name].description == info.command.description


def test_every_built_in_function_resolves() -> None:
    for info in registry.metrics():
        function = info.load()
        assert callable(function), info.name
        public = getattr(ganlab.metrics, function.__name__, None)
        assert public is None or public is function
        assert all(get_metric(part) for part in info.parts)
    assert ganlab.metrics.register_metric is register_metric


def test_what_training_logs_and_the_report_panels() -> None:
    # what families/image_eval.py logs of ganlab.metrics.evaluate's results
    assert registry.flat_keys("all") == {
        "fid": ("fid", "fid"),
        "kid_mean": ("kid", "kid_mean"),
        "kid_std": ("kid", "kid_std"),
        "precision": ("prdc", "precision"),
        "recall": ("prdc", "recall"),
        "density": ("prdc", "density"),
        "coverage": ("prdc", "coverage"),
        "score": ("score", "score_mean"),
        "per_image_entropy": ("score", "per_image_entropy"),
        "marginal_entropy": ("score", "marginal_entropy"),
    }
    assert registry.flat_keys("kid") == {"kid_mean": ("kid", "kid_mean"),
                                         "kid_std": ("kid", "kid_std")}
    assert set(shared_panels()) == {
        ("kid_mean", "kid_std"), ("precision", "recall", "density", "coverage"),
        ("per_image_entropy", "marginal_entropy"),
        ("stacked_kl", "stacked_kl_channels", "stacked_kl_dependence",
         "stacked_kl_channels_confident"),
        ("stacked_confidence", "stacked_confident_fraction"),
    }


def _keys(name: str) -> set[str]:
    return set(get_metric(name).keys)


def test_built_in_metrics_return_their_registered_keys(files: dict[str, str],
                                                       tmp_path: Path) -> None:
    from ganlab.metrics import api
    from ganlab.metrics.extract import as_extractor

    ext = as_extractor(files["ts"])
    a, b, t = _images(files["a"]), _images(files["b"]), _images(files["t"])
    assert set(api.fid(a, b, ext).values) == _keys("fid")
    assert set(api.kid(a, b, ext, subsets=5, subset_size=20).values) == _keys("kid")
    assert set(api.prdc(a, b, ext, k=3).values) == _keys("prdc")
    assert set(api.mifid(a, b, t, ext).values) == _keys("mifid")
    assert set(api.fid_over_seeds(a, [b, t], ext).values) == _keys("fid_over_seeds")
    full = api.memorization(b, t, a, files["ts"], grid_path=tmp_path / "pairs.png")
    assert set(full.values) == _keys("memorization")
    pixels = api.memorization(b, t)
    assert set(pixels.values) == {k for k in _keys("memorization")
                                  if k.startswith("pixel_")}
    bundle = api.evaluate(a, b, ext, kid_subsets=5, kid_subset_size=20)
    parts = {p.result: p for p in registry.parts_of("all")}
    assert set(bundle) == set(parts) - {"score"}  # the tiny extractor does not classify
    for result_name, res in bundle.items():
        assert set(res.values) == set(parts[result_name].keys), result_name


def test_generic_runner_gives_the_numbers_of_the_api(files: dict[str, str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.metrics import api

    a, b = _images(files["a"], 30, 2), _images(files["b"], 30, 2)
    common = ["--extractor", files["ts"], "--n", "30", "--seed", "2", "--json"]
    rc, out = _run(["eval", "kid", files["a"], files["b"], "--subsets", "4", "--subset-size",
                    "16", *common], capsys)
    want = api.kid(a, b, files["ts"], subsets=4, subset_size=16, seed=2)
    assert rc == 0 and json.loads(out)["kid"]["values"] == pytest.approx(want.values)
    rc, out = _run(["eval", "prdc", files["a"], files["b"], "--k", "3", *common], capsys)
    got = json.loads(out)["prdc"]
    assert rc == 0 and got["values"] == pytest.approx(api.prdc(a, b, files["ts"], k=3).values)
    assert set(got["values"]) == _keys("prdc") and got["card"]["n_fake"] == 30


class Quadrants(torch.nn.Module):
    """A classifier small enough to script: 16 features (4x4 mean pool), 4 logits (the
    quadrants' brightness)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.mean(1, keepdim=True)
        pool = torch.nn.functional.adaptive_avg_pool2d
        return torch.flatten(pool(x, 4), 1), 10 * torch.flatten(pool(x, 2), 1)


def test_classifier_metrics_return_their_registered_keys(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from ganlab.features.base import ExtractorSpec, FeatureExtractor
    from ganlab.features.classifier import normalize_unit
    from ganlab.metrics import api
    from ganlab.metrics.conditional import evaluate_conditional

    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path))
    ext = FeatureExtractor(ExtractorSpec("quadrants", None, 1, "x/127.5 - 1", 16, 4),
                           torch.jit.script(Quadrants()), normalize_unit, "0" * 64)
    rng = np.random.default_rng(0)
    real, fake = (rng.integers(0, 256, size=(48, 1, 16, 16), dtype=np.uint8) for _ in range(2))
    labels = np.repeat(np.arange(4), 12)
    assert set(api.inception_score(fake, ext, splits=2).values) == _keys("is")
    plain = set(api.mode_counts(fake, ext).values)
    stacked = set(api.mode_counts(rng.integers(0, 256, size=(20, 3, 16, 16), dtype=np.uint8),
                                  ext, stacked=True).values)
    assert plain | stacked == _keys("modes") and "histogram" not in stacked
    bundle = api.evaluate(real, fake, ext, kid_subsets=3, kid_subset_size=10, score_splits=2)
    assert {r: set(res.values) for r, res in bundle.items()} == {
        p.result: set(p.keys) for p in registry.parts_of("all")}
    conditional = evaluate_conditional(real, labels, fake, labels, ext, kid_subsets=3,
                                       kid_subset_size=6, use_cache=False)
    assert {r: set(res.values) for r, res in conditional.items()} == {
        p.result: set(p.keys) for p in registry.parts_of("conditional") if p.name != "cas"}

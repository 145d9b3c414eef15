"""The Python API (``ganlab.train``, ``ganlab.load_run``, ``Run``): the README's example as it is
written there, an image run's round trip, class-conditional sampling, the errors, ``until=`` and
``Run.resume()``, and the notebook view."""

from __future__ import annotations

import base64
import io
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import ganlab
from ganlab import metrics
from ganlab.errors import GanlabError
from golden_runs import runs as golden_runs
from helpers import TIMINGS, TinyExtractor, untimed_metrics

ROOT = Path(__file__).resolve().parents[1]
RUN_KEYS = {"name", "steps", "wall_time"}   # what summary.json adds to the final evaluation


def readme_api_example() -> str:
    """The first ``python`` block of README.md's section "The Python API"."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = re.split(r"^## The Python API[ \t]*$", text, flags=re.M)
    assert len(parts) == 2, "README.md needs one section '## The Python API'"
    section = re.split(r"^## ", parts[1], flags=re.M)[0]
    block = re.search(r"^```python\n(.*?)^```", section, flags=re.M | re.S)
    assert block, "the section 'The Python API' has no python block"
    return block.group(1)


def test_readme_api_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = readme_api_example()
    for call in ("ganlab.train(", ".sample(", ".metrics[-1]", "ganlab.load_run(", ".evaluate("):
        assert call in code
    scope: dict = {}
    exec(compile(code, "README.md: The Python API", "exec"), scope)
    run, points = scope["run"], scope["points"]
    assert isinstance(run, ganlab.Run)
    assert run.path.resolve().parent == tmp_path / "runs"
    assert points.shape == (1000, 2) and bool(torch.isfinite(points).all())
    assert run.metrics[-1]["step"] == run.config.train.steps == run.step
    out = capsys.readouterr().out
    assert "'d_loss'" in out and "'modes_captured'" in out and "'w1'" in out


# -- an image run and a class-conditional one, trained once for the module -----------------

@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Tiny runs from tests/golden_runs.py: ``image`` (gan, fashion-dcgan-ns on an npz, measured
    in TinyExtractor's features) and ``cgan`` (fashion-cgan on the labelled npz)."""
    tmp = tmp_path_factory.mktemp("api")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANLAB_CACHE", str(tmp / "cache"))
        torch.manual_seed(0)
        ts = tmp / "tiny.pt"
        torch.jit.script(TinyExtractor()).save(str(ts))
        specs = golden_runs(tmp / "data")   # also writes the labelled npz both runs read
        npz = tmp / "data" / "labelled.npz"
        common = ["train.threads=1", "train.progress=false"]
        preset, overrides = specs["gan-images"]
        image = ganlab.train(preset, [*overrides, *common], out=tmp / "runs",
                             eval__extractor=str(ts), eval__n_samples=40)
        preset, overrides = specs["cgan"]
        cgan = ganlab.train(preset, [*overrides, *common], out=tmp / "runs", eval__n_samples=10)
        real = torch.from_numpy(np.load(npz)["images"][:, None])   # uint8 (40, 1, 28, 28)
        yield SimpleNamespace(image=image, cgan=cgan, ts=str(ts), npz=npz, real=real)


def test_an_image_run_loads_and_samples_deterministically(lab):
    run = ganlab.load_run(lab.image.path)
    assert run.path == lab.image.path and run.step == 6 and run.summary is not None
    x = run.sample(6, seed=3)
    assert x.shape == (6, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert torch.equal(x, run.sample(6, seed=3))
    assert torch.equal(x, lab.image.sample(6, seed=3))   # the Run train returned, the same model
    assert not torch.equal(x, run.sample(6, seed=4))
    images = run.images(6, seed=3)
    assert images.dtype == torch.uint8 and images.shape == (6, 1, 28, 28)


def test_evaluate_a_metric_is_that_metrics_function(lab, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(Path(lab.ts).parent / "cache"))
    run = ganlab.load_run(lab.image.path)
    got = run.evaluate("fid", real=lab.real, n=40, seed=2, extractor=lab.ts)
    want = metrics.fid(lab.real, run.images(40, 2), lab.ts, use_cache=False)
    assert math.isfinite(got["fid"]) and got["fid"] == want["fid"]
    assert got.card.n_fake == 40
    from_file = run.evaluate("fid", real=str(lab.npz), n=40, seed=2, extractor=lab.ts)
    assert from_file["fid"] == want["fid"]


def test_evaluate_without_a_metric_repeats_the_final_evaluation(lab, monkeypatch):
    monkeypatch.setenv("GANLAB_CACHE", str(Path(lab.ts).parent / "cache"))
    run = ganlab.load_run(lab.image.path)
    summary = run.summary
    got = run.evaluate()
    notes = {k for k in summary if k.endswith("_note")}   # summary.json's word on inf / nan
    assert set(got) == set(summary) - RUN_KEYS - notes
    assert "fid" in got and "kid_mean" in got
    assert ({k: v for k, v in got.items() if k not in TIMINGS}
            == {k: summary[k] for k in got if k not in TIMINGS})


def test_label_picks_the_class_the_generator_is_called_with(lab):
    run = ganlab.load_run(lab.cgan.path)
    sampler = run.sampler()
    assert sampler.num_classes == 10
    seen: list[torch.Tensor] = []
    hook = sampler.G.register_forward_pre_hook(lambda _m, args: seen.append(args[1].clone()))
    try:
        x = run.sample(8, seed=5, label=3)
    finally:
        hook.remove()
    assert sum(len(y) for y in seen) == 8 and all(bool((y == 3).all()) for y in seen)
    assert x.shape == (8, 1, 28, 28)
    assert torch.equal(x, sampler.sample(8, 5, condition=3))
    assert not torch.equal(x, run.sample(8, seed=5, label=4))
    per_sample = run.sample(2, seed=5, label=[3, 4])
    assert torch.equal(per_sample, sampler.sample(2, 5, condition=torch.tensor([3, 4])))


def test_wrong_inputs_raise_ganlab_errors_that_name_the_problem(lab, tmp_path):
    (tmp_path / "not-a-run").mkdir()
    with pytest.raises(GanlabError, match="not a ganlab run folder"):
        ganlab.load_run(tmp_path / "not-a-run")
    cgan = ganlab.load_run(lab.cgan.path)
    with pytest.raises(GanlabError, match="a label or a text, not both"):
        cgan.sample(2, label=1, text="a shirt")
    with pytest.raises(GanlabError, match="not a text-conditional run"):
        cgan.sample(2, text="a shirt")
    with pytest.raises(GanlabError, match="class 10 is out of range"):
        cgan.sample(2, label=10)
    image = ganlab.load_run(lab.image.path)
    with pytest.raises(GanlabError, match="unconditional"):
        image.sample(2, label=1)
    with pytest.raises(GanlabError, match="unknown metric 'fdi'"):
        image.evaluate("fdi")
    with pytest.raises(GanlabError, match="unknown metric '_n'"):
        image.evaluate("_n")
    with pytest.raises(GanlabError, match="'ring-nss' is neither a preset"):
        ganlab.train("ring-nss", out=tmp_path / "runs")
    with pytest.raises(GanlabError, match="train.stepz"):
        ganlab.train("ring-ns", out=tmp_path / "runs", train__stepz=5)
    assert not (tmp_path / "runs").exists()


def test_a_string_keyword_stays_a_string():
    assert ganlab.load_config("ring-ns", name="2024").name == "2024"


@pytest.mark.parametrize("metric", ["MetricResult", "fid", "fid_over_seeds"])
def test_evaluate_refuses_what_it_cannot_compute(lab, metric):
    with pytest.raises(GanlabError):
        ganlab.load_run(lab.image.path).evaluate(metric, n=4)


# -- until= and resume ---------------------------------------------------------------------

def test_until_stops_with_a_checkpoint_and_resume_ends_as_an_uninterrupted_run(
        tmp_path, tiny_ring_overrides):
    overrides = [*tiny_ring_overrides, "train.steps=20", "train.threads=1"]
    whole = ganlab.train("ring-ns", overrides, out=tmp_path / "whole")
    part = ganlab.train("ring-ns", overrides, out=tmp_path / "part", until=10)
    assert part.step == 10 and part.summary is None and part.report_path is None
    assert part.resume() is part
    assert part.step == 20 and part.report_path is not None
    assert untimed_metrics(part.path) == untimed_metrics(whole.path)
    untimed = [{k: v for k, v in run.summary.items() if k not in TIMINGS} for run in (part, whole)]
    assert untimed[0] == untimed[1]
    assert torch.equal(part.sample(50, seed=1), whole.sample(50, seed=1))


# -- Jupyter -------------------------------------------------------------------------------

def test_repr_html_shows_the_latest_grid_and_the_summary(lab):
    run = ganlab.load_run(lab.image.path)
    page = run._repr_html_()
    found = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert found, page[:500]
    png = base64.b64decode(found.group(1))
    grids = [p for p in run.samples() if p.suffix == ".png"]
    latest = max(grids, key=lambda p: int(re.search(r"step-(\d+)", p.name).group(1)))
    assert latest.name == "step-0000006.png" and png == latest.read_bytes()
    assert Image.open(io.BytesIO(png)).format == "PNG"
    summary = run.summary
    assert f"<td>steps</td><td>{summary['steps']}</td>" in page
    assert f"<td>fid</td><td>{summary['fid']:.4g}</td>" in page
    assert f"<td>kid_mean</td><td>{summary['kid_mean']:.4g}</td>" in page
    assert json.dumps(summary["card"]) not in page   # nested cards stay out of the table


def test_an_fid_card_names_the_sampling_seed(lab, capsys):
    """Through the API and through `ganlab eval fid REAL RUN`, the card says which seed drew
    the generated images."""
    from ganlab.cli import main

    res = ganlab.load_run(lab.image.path).evaluate("fid", real=lab.real, n=40, seed=7,
                                                   extractor=lab.ts)
    assert res.card.seed == 7
    capsys.readouterr()
    assert main(["eval", "fid", str(lab.npz), str(lab.image.path), "--n", "40", "--seed", "5",
                 "--extractor", str(lab.ts), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fid"]["card"]["seed"] == 5
    assert main(["eval", "all", str(lab.npz), str(lab.image.path), "--n", "40", "--seed", "6",
                 "--extractor", str(lab.ts), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["fid"]["card"]["seed"] == 6


def test_a_run_folders_card_names_the_seed_its_evaluation_sampled_with(lab):
    """Training-time evaluation draws its samples from the run's ``eval`` stream: the card in
    summary.json (the same as in metrics.jsonl) says which seed that was, on top and on the
    FID."""
    from ganlab.engine.streams import Streams

    run = ganlab.load_run(lab.image.path)
    want = Streams(run.config.seed).seed("eval")
    assert want != run.config.seed   # its own stream, not the training seed
    card = run.summary["card"]
    assert card["sampling_seed"] == want and card["metrics"]["fid"]["seed"] == want

"""Curves, the HTML report, and a real report opened in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganlab.cli import main
from ganlab.report.grid import make_grid, save_grid
from ganlab.report.html import MAX_SNAPSHOTS, snapshot_files, write_report
from ganlab.report.plots import metric_keys, panels_of, save_curves, split_metric_keys

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def records(n: int = 5) -> list[dict[str, float]]:
    return [{"step": 10 * (i + 1), "d_loss": 1.0 - 0.1 * i, "g_loss": 0.7, "d_real": 0.6,
             "d_fake": 0.4, "d_grad_norm": 2.0, "g_grad_norm": 1.0, "wall_time": i,
             "lr_factor": 1.0, "fid": 50.0 - i} for i in range(n)]


def test_curves(tmp_path: Path) -> None:
    assert metric_keys(records()) == ["fid"]
    out = save_curves(records(), tmp_path)
    assert [p.name for _, p in out] == ["losses.png", "d_outputs.png", "grad_norms.png",
                                        "metrics.png"]
    assert all(Image.open(p).size[0] > 300 for _, p in out)
    assert save_curves([], tmp_path / "none") == []


def test_grid_layout(tmp_path: Path) -> None:
    imgs = torch.zeros(5, 1, 4, 4, dtype=torch.uint8)
    assert make_grid(imgs, nrow=3, pad=1).shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    path = save_grid(imgs, tmp_path / "g.png", scale=2)
    assert Image.open(path).size == (2 * (3 * 6 + 2), 2 * (2 * 6 + 2))


def fake_run(folder: Path, n_snaps: int = 3) -> Path:
    folder.mkdir()
    (folder / "config.yaml").write_text("name: demo <&>\ntrain: {steps: 50}\n")
    (folder / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records()) + '{"step": 6')  # torn last line
    (folder / "summary.json").write_text(json.dumps({"name": "demo", "steps": 50,
                                                     "wall_time": 1.5, "fid": 12.25}))
    for i in range(n_snaps):
        save_grid(torch.randint(0, 255, (4, 1, 8, 8), dtype=torch.uint8),
                  folder / "samples" / f"step-{i * 10:07d}.png")
    return folder


def test_report_is_self_contained(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run")
    text = write_report(run).read_text()
    srcs = re.findall(r"<img[^>]* src='([^']*)'", text)
    assert len(srcs) == 1 + 3 + 4  # viewer + strip + curves
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in text and "https://" not in text
    assert "name: demo &lt;&amp;&gt;" in text and "12.25" in text
    assert not list(run.glob(".report*"))  # no temporary file left behind


def test_many_snapshots_are_thinned(tmp_path: Path) -> None:
    run = fake_run(tmp_path / "run", n_snaps=MAX_SNAPSHOTS + 7)
    snaps = snapshot_files(run)
    assert len(snaps) == MAX_SNAPSHOTS and snaps[0][0] == 0
    assert snaps[-1][0] == 10 * (MAX_SNAPSHOTS + 6)


def test_report_without_summary_or_snapshots(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("name: x\n")
    text = write_report(tmp_path).read_text()
    assert "has not finished" in text and "No snapshots" in text


def test_evaluation_table_leaves_out_training_numbers(tmp_path: Path) -> None:
    # a family's extra training numbers (d_match) are logged every step; evaluations (every
    # other log step here) add fid, a per-class metric and eval_seconds: only the evaluations'
    # own columns are tabled, the per-class values are drawn with their metric
    recs = [{"step": 10 * (i + 1), "d_loss": 1.0, "g_loss": 0.7, "d_match": 0.5 + i}
            for i in range(4)]
    for r in recs[1::2]:
        r.update(fid=40.0 - r["step"], acc=0.5, acc_0=0.4, acc_1=0.6, eval_seconds=1.5)
    assert split_metric_keys(recs) == (["fid", "acc", "acc_0", "acc_1"], ["d_match"])
    assert panels_of(["fid", "acc", "acc_0", "acc_1"]) == [["fid"], ["acc", "acc_0", "acc_1"]]
    curves = save_curves(recs, tmp_path / "plots")
    assert [(t, p.name) for t, p in curves][-2:] == [
        ("Evaluations", "metrics.png"), ("Other training numbers", "training_terms.png")]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (tmp_path / "config.yaml").write_text("name: x\n")
    text = write_report(tmp_path).read_text()
    table = re.search(r"<table id='evaluations'>.*?</table>", text, re.S)
    assert table is not None
    heads = re.findall(r"<th>(.*?)</th>", table.group(0))
    assert heads == ["step", "fid", "acc", "seconds"]
    assert table.group(0).count("<tr>") == 3   # the header and the two evaluations


def test_summary_names_per_class_values_by_class(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(
        {"steps": 10, "acc": 0.9, "acc_0": 0.8, "acc_1": 1.0, "run_12": 3}))
    (tmp_path / "run_info.json").write_text(json.dumps(
        {"family": "cgan", "data": {"class_names": ["T-shirt", "trouser"]}}))
    (tmp_path / "config.yaml").write_text("name: x\n")
    heads = re.findall(r"<th>(.*?)</th>", write_report(tmp_path).read_text())
    # run_12 is not a per-class value: there is no run_ metric beside it
    assert {"acc", "acc_0 (T-shirt)", "acc_1 (trouser)", "run_12"} <= set(heads)


# ---------------------------------------------------------------------------------------------
# A real report in a real browser

PROBE = ("<script>window.addEventListener('load',function(){var ok=0,all=document.images;"
         "for(var i=0;i<all.length;i++){if(all[i].complete&&all[i].naturalWidth>0){ok++;}}"
         "document.title='loaded '+ok+' of '+all.length;});</script>")


def open_in_chromium(html_file: Path, tmp_path: Path) -> tuple[str, str]:
    """Load ``html_file`` plus a probe script; return (dumped DOM, browser log)."""
    probe = tmp_path / f"probe-{html_file.parent.name}.html"
    probe.write_text(html_file.read_text().replace("</body>", PROBE + "</body>"))
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--enable-logging=stderr", "--v=0",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
           "--dump-dom", probe.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    return proc.stdout, proc.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "CONSOLE" in line and re.search(r"error|uncaught|failed", line, re.I)]


def tiny_image_run(tmp_path: Path) -> Path:
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    np.savez(data, images=rng.integers(0, 256, (64, 28, 28)).astype(np.uint8))
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path / "img"),
            "--no-progress"]
    for o in (f"data.name=npz:{data}", "train.steps=10", "gan.model.width=8", "train.threads=1",
              "train.batch_size=16", "train.log_every=5", "train.snapshot_every=5"):
        args += ["--set", o]
    assert main(args) == 0
    (run,) = (tmp_path / "img").iterdir()
    return run


def tiny_ring_run(tmp_path: Path) -> Path:
    args = ["train", "--preset", "ring-ns", "--out", str(tmp_path / "ring"), "--no-progress"]
    for o in ("train.steps=10", "gan.model.width=16", "train.threads=1", "train.log_every=5",
              "train.snapshot_every=5", "eval.n_samples=200"):
        args += ["--set", o]
    assert main(args) == 0
    (run,) = (tmp_path / "ring").iterdir()
    return run


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_real_reports_load_every_image_in_chromium(tmp_path: Path) -> None:
    for run in (tiny_image_run(tmp_path), tiny_ring_run(tmp_path)):
        report = run / "report.html"
        assert report.is_file()
        n_img = report.read_text().count("<img ")
        assert n_img >= 1 + 3 + 3  # viewer, snapshots 0/5/10, three curve groups
        dom, log = open_in_chromium(report, tmp_path)
        assert f"<title>loaded {n_img} of {n_img}</title>" in dom, log[-2000:]
        assert console_errors(log) == []


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_probe_catches_broken_pages(tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "report.html"
    bad.parent.mkdir()
    bad.write_text("<html><body><img src='data:image/png;base64,AAAA'>"
                   "<script>undefinedFunction();</script></body></html>")
    dom, log = open_in_chromium(bad, tmp_path)
    assert "<title>loaded 0 of 1</title>" in dom
    assert console_errors(log), log[-2000:]


def test_a_runs_declared_curves_decide_what_is_an_evaluation() -> None:
    """A family's curve groups travel through run_info.json; the numbers in them are training
    curves, never evaluation columns. Older runs fall back to the adversarial groups."""
    from ganlab.families.pix2pix import Pix2PixFamily
    from ganlab.report.curves import GAN_CURVES, curve_groups

    info = {"curves": [g.to_json() for g in Pix2PixFamily.curves]}
    groups = curve_groups(json.loads(json.dumps(info)))
    assert groups == list(Pix2PixFamily.curves)
    recs = [{"step": 2, "g_loss": 1.0, "l1": 0.5, "g_adv": 0.7, "d_loss": 1.2},
            {"step": 4, "g_loss": 0.9, "l1": 0.4, "g_adv": 0.6, "d_loss": 1.1, "psnr": 9.0,
             "eval_seconds": 0.1}]
    assert split_metric_keys(recs, groups) == (["psnr"], [])
    assert set(metric_keys(recs, list(GAN_CURVES))) == {"l1", "g_adv", "psnr"}
    assert curve_groups({}) == curve_groups({"curves": [{"name": "x"}]}) == list(GAN_CURVES)

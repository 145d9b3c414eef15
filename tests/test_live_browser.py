"""The live page in a real browser (Debian's chromium driven by Playwright) on a ring run:
points and heat map move, pause stops the step count, a learning rate changes in place, a bad
value is refused in the page, the objective switches, and a fork trains.

The screenshots go to a temporary folder, or to docs/live/ with GANLAB_UPDATE_SCREENSHOTS=1
(the pictures of docs/live.md come from this test).
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from livepage import CHROMIUM, screenshot_folder, wait_for

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium; make setup installs "
                "it where apt-get works)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(pip install -e '.[dev]')")
pytest.importorskip("uvicorn")

from ganlab import config, runs  # noqa: E402
from ganlab.api import build_trainer  # noqa: E402
from ganlab.engine.loop import Trainer  # noqa: E402
from ganlab.live.server import LiveServer  # noqa: E402
from ganlab.live.views import LiveView  # noqa: E402


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return screenshot_folder(tmp_path)


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[tuple[Trainer, LiveServer]]:
    cfg = config.load(preset="ring-ns", overrides=[
        "train.steps=100000", "train.threads=1", "train.progress=false", "train.log_every=10",
        "train.snapshot_every=0", "train.checkpoint_every=100000", "gan.model.width=128",
        "train.batch_size=256", "eval.n_samples=500"])
    trainer = build_trainer(cfg, runs.new_run(cfg, tmp_path / "runs"))
    live = LiveView(trainer.steering)
    trainer.steering.watch(live)
    server = LiveServer(live, "127.0.0.1", 0)
    server.start()
    thread = threading.Thread(target=trainer.run, kwargs={"until": 100000}, daemon=True)
    thread.start()
    yield trainer, server
    server.stop()
    # the run stays paused (a daemon thread that waits on its command queue)
    trainer.steering.submit("pause").result(30)


def test_the_live_page_shows_and_steers_a_ring_run(ring: tuple[Trainer, LiveServer],
                                                   shots: Path) -> None:
    trainer, server = ring
    family = trainer.family
    live = server.slot.live
    assert live is not None
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1640, "height": 1020})
        page.goto(server.url)
        status = page.locator("#status")
        sync_api.expect(status).to_have_text("running", timeout=30_000)

        def plane() -> str:
            return str(page.evaluate("document.getElementById('plane').toDataURL()"))

        wait_for("the first view", lambda: live.view.get("step", -1) > 0)
        first, heat = plane(), live.view["heat"]
        wait_for("the points and heat map to move",
                 lambda: plane() != first and live.view["heat"] != heat)
        wait_for("a few logged steps", lambda: trainer.step >= 60, 40)
        time.sleep(1.0)   # two more views, so the curves and metrics have filled in
        page.screenshot(path=str(shots / "ring-running.png"))

        # pause: the step count stops
        page.click("#pause")
        sync_api.expect(status).to_have_text("paused")
        stopped = trainer.step
        time.sleep(1.0)
        assert trainer.step == stopped
        assert int(page.locator("#step").inner_text()) == stopped

        # a learning rate, changed in place: Adam's moments are kept
        opt = family.optimizers()["G"]
        first_param = opt.param_groups[0]["params"][0]
        moments = {k: v.clone() for k, v in opt.state[first_param].items()}
        field = page.locator('.field[data-key="optim.G.lr"]')
        field.locator("input").fill("0.0002")
        field.locator("button").click()
        sync_api.expect(page.locator("#message")).to_contain_text("optim.G.lr")
        wait_for("the new rate", lambda: opt.param_groups[0]["lr"] == 2e-4)
        assert all(torch.equal(opt.state[first_param][k], v) for k, v in moments.items())

        # a value the config refuses, refused in the page with one line
        field = page.locator('.field[data-key="n_critic"]')
        field.locator("input").fill("0")
        field.locator("button").click()
        sync_api.expect(page.locator("#message")).to_have_text(
            "gan.n_critic: must be > 0, got 0")
        assert family.section.n_critic == 1
        page.screenshot(path=str(shots / "ring-paused-refused.png"))

        # the objective: WGAN-GP from here on, the networks kept; the critic's own scale
        page.select_option("#objective", "wgan-gp")
        wait_for("the objective", lambda: family.objective.name == "wgan-gp")
        field.locator("input").fill("5")
        field.locator("button").click()
        wait_for("n_critic", lambda: family.section.n_critic == 5)
        page.click("#pause")
        sync_api.expect(status).to_have_text("running")
        switched = trainer.step
        wait_for("views of the critic", lambda: live.view.get("critic") is True
                 and live.view["step"] > switched + 20, 40)
        sync_api.expect(page.locator("#cb-label")).to_have_text("critic score (its own scale)")
        time.sleep(0.6)
        page.screenshot(path=str(shots / "ring-wgan-gp.png"))

        # draw data with the mouse: an S, trained on from the next step
        page.click("#draw-toggle")
        box = page.locator("#plane").bounding_box()
        assert box is not None
        cx, cy, r = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / 5
        page.mouse.move(cx + r, cy - r)
        page.mouse.down()
        for i in range(61):
            t = 3.1416 * 1.5 * i / 60
            page.mouse.move(cx + r * math.cos(t + 0.0), cy - r - r * math.sin(t) * 0.9
                            if i < 30 else cy + r * math.sin(t - 3.1416 * 0.75) * 0.9,
                            steps=2)
        page.mouse.up()
        page.click("#draw-use")
        sync_api.expect(page.locator("#message")).to_contain_text("drawn data")
        wait_for("the drawn data", lambda: family.data.mixture is not None
                 and family.data.mixture.n_modes >= 20)
        drawn_at = trainer.step
        wait_for("views of the drawn data", lambda: live.view["step"] > drawn_at + 30, 40)
        time.sleep(0.6)
        page.screenshot(path=str(shots / "ring-drawn.png"))

        # fork: a new run folder from the state now, trained by its own process
        page.click("#fork")
        sync_api.expect(page.locator("#message")).to_contain_text("forked into", timeout=30_000)
        message = page.locator("#message").inner_text()
        page.screenshot(path=str(shots / "ring-forked.png"))
        browser.close()
    child = Path(message.split("forked into ")[1].split(" (training")[0])
    pid = int(message.split("process ")[1].rstrip(")"))
    forked_at = runs.read_run_info(child)["parent"]["step"]
    try:
        trainer.steering.submit("pause").result(30)   # the CPU for the fork
        wait_for("the fork to train", lambda: any(
            r["step"] > forked_at for r in runs.read_metrics(child)), 90)
    finally:
        os.kill(pid, signal.SIGTERM)
    # the fork carries the changes made before it, and names its parent
    events = runs.read_events(child)
    assert any(e.get("key") == "objective.name" and e["new"] == "wgan-gp" for e in events)
    assert events[-1]["what"] == "forked" and events[-1]["new"] == str(trainer.run_dir)

"""The guided tour of docs/live.md, walked in a real browser (Debian's chromium driven by
Playwright): each of the five experiments starts its preset, presses what the tour says to
press, and checks what the tour says you will see, read from the page's state (the view the
page draws and the numbers under the plane). Marked slow (a few hundred steps each, several
minutes in all): ``pytest -m slow tests/test_live_tour.py``.

With GANLAB_UPDATE_SCREENSHOTS=1 the screenshots of the tour go to docs/live/ (else to a
temporary folder); the numbers each experiment read are printed (``-s``).
"""

from __future__ import annotations

import io
import math
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from livepage import CHROMIUM, screenshot_folder
from livepage import wait_for as _wait_for

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                               "(pip install -e '.[dev]')")
pytest.importorskip("uvicorn")

from PIL import Image  # noqa: E402

from ganlab import config, runs  # noqa: E402
from ganlab.api import build_trainer  # noqa: E402
from ganlab.engine.loop import Trainer  # noqa: E402
from ganlab.live.server import LiveServer  # noqa: E402
from ganlab.live.views import LiveView  # noqa: E402

pytestmark = pytest.mark.slow
VIEWPORT = {"width": 1400, "height": 900}


def wait_for(what: str, ok: Callable[[], bool], timeout: float = 120.0) -> None:
    """The tour's waits: a change may take a few hundred steps to show."""
    _wait_for(what, ok, timeout)


class Tour:
    """One experiment: its preset trained in a thread with the live page, and the browser
    page on it."""

    def __init__(self, preset: str, tmp: Path, browser: Any, shots: Path) -> None:
        # the preset as it is, only longer, quieter and with no periodic files
        cfg = config.load(preset=preset, overrides=[
            "train.steps=100000", "train.threads=1", "train.progress=false",
            "train.log_every=10", "train.snapshot_every=0", "train.checkpoint_every=100000"])
        self.trainer: Trainer = build_trainer(cfg, runs.new_run(cfg, tmp / "runs"))
        self.family: Any = self.trainer.family
        self.live = LiveView(self.trainer.steering)
        self.trainer.steering.watch(self.live)
        self.server = LiveServer(self.live, "127.0.0.1", 0)
        self.server.start()
        self.thread = threading.Thread(target=self.trainer.run, kwargs={"until": 100000},
                                       daemon=True)
        self.thread.start()
        self.shots = shots
        self.page = browser.new_page(viewport=VIEWPORT)
        self.page.goto(self.server.url)
        sync_api.expect(self.page.locator("#status")).to_have_text("running", timeout=60_000)
        wait_for("the first view", lambda: "fake" in self.live.view and "heat" in self.live.view)

    def close(self) -> None:
        self.page.close()
        self.server.stop()
        self.trainer.steering.submit("pause").result(60)   # the daemon thread waits

    # -- pressing what the tour says -------------------------------------------------------
    def pause(self) -> None:
        self.page.click("#pause")
        sync_api.expect(self.page.locator("#status")).to_have_text("paused")

    def resume(self) -> None:
        self.page.click("#pause")
        sync_api.expect(self.page.locator("#status")).to_have_text("running")

    def set(self, key: str, text: str) -> None:
        field = self.page.locator(f'.field[data-key="{key}"]')
        field.locator("input").fill(text)
        field.locator("button").click()
        sync_api.expect(self.page.locator("#message")).to_contain_text(key)

    def updates(self, mode: str) -> None:
        self.page.check(f'input[name=updates][value="{mode}"]')
        wait_for("updates", lambda: self.family.updates == mode)

    def objective(self, name: str) -> None:
        self.page.select_option("#objective", name)
        wait_for("the objective", lambda: self.family.objective.name == name)

    def press_step(self, which: str) -> None:
        before = self.trainer.step
        self.page.click(f'[data-step="{which}"]')
        wait_for("the step", lambda: self.trainer.step == before + 1)

    def train_for(self, steps: int) -> None:
        start = self.trainer.step
        wait_for(f"{steps} steps", lambda: self.trainer.step >= start + steps, 600)

    # -- reading what the page shows ---------------------------------------------------------
    def fresh(self, objective: str | None = None) -> dict[str, Any]:
        """A view whose points, heat map and numbers were all made after now (and, while
        paused, after the last change); what the page then draws."""
        step, old = self.trainer.step, self.live.view
        wait_for("a fresh view", lambda: self.live.view is not old
                 and all(self.live.view.get(f"{p}_step", -1) >= step
                         for p in ("points", "heat", "metrics"))
                 and (objective is None or self.live.view.get("objective") == objective))
        if self.trainer.steering.paused:   # the step stands still: a heat map made after
            old = self.live.view
            wait_for("the next view", lambda: self.live.view is not old
                     and self.live.view["heat"] is not old["heat"])
        time.sleep(0.5)   # the page has drawn it
        return self.live.view

    def footer(self) -> dict[str, float]:
        """The numbers under the plane: the push's median and D's mean scores now."""
        text = self.page.locator("#view-foot").inner_text()
        num = r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)"
        found = {"median": re.search(rf"median {num}", text),
                 "d_real": re.search(rf"\(x\) {num}", text),
                 "d_fake": re.search(rf"\(G\(z\)\) {num}", text)}
        assert all(found.values()), text
        return {k: float(m.group(1)) for k, m in found.items() if m is not None}

    def shot(self, name: str) -> None:
        png = self.page.screenshot()
        img = Image.open(io.BytesIO(png)).convert("RGB")
        img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            self.shots / name, optimize=True)


def push_median(view: dict[str, Any]) -> float:
    return statistics.median(math.hypot(*p) for p in view["push"])


def spread(view: dict[str, Any], key: str = "fake") -> float:
    return float(torch.tensor(view[key]).std(0).mean())


def gathered(view: dict[str, Any]) -> float:
    """The share of G's points in the three squares (side 0.05) that hold most of them."""
    cells = torch.floor(torch.tensor(view["fake"]) / 0.05)
    _, counts = torch.unique(cells, dim=0, return_counts=True)
    return float(counts.sort(descending=True).values[:3].sum()) / len(view["fake"])


def toward_modes(view: dict[str, Any], means: torch.Tensor) -> float:
    """The share of G's points whose push points towards their nearest mode."""
    fake, push = torch.tensor(view["fake"]), torch.tensor(view["push"])
    near = means.float()[torch.cdist(fake, means.float()).argmin(1)]
    return float((((near - fake) * push).sum(1) > 0).float().mean())


def say(**numbers: Any) -> None:
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in numbers.items()), flush=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return screenshot_folder(tmp_path)


@pytest.fixture
def tour(tmp_path: Path, browser: Any, shots: Path,
         request: pytest.FixtureRequest) -> Iterator[Callable[[str], Tour]]:
    made: list[Tour] = []

    def start(preset: str) -> Tour:
        made.append(Tour(preset, tmp_path, browser, shots))
        return made[-1]
    yield start
    for t in made:
        t.close()


def test_1_js_saturates_and_wgan_gp_does_not(tour: Callable[[str], Tour]) -> None:
    t = tour("ring-minimax")
    t.pause()
    v = t.fresh()
    js0, push0 = v["metrics"]["js"], push_median(v)
    assert js0 > 0.69   # log 2: G's and the data's points share no bin
    # D trained alone, without R1, becomes the best discriminator of this G
    t.set("objective.r1_gamma", "0")
    t.updates("d")
    t.resume()
    t.train_for(100)
    v = t.fresh()
    foot = t.footer()
    say(exp=1, paused_at=v["step"] - 100, js=js0, push_before=push0, push_saturated=foot["median"],
        d_real=foot["d_real"], d_fake=foot["d_fake"], js_now=v["metrics"]["js"])
    assert foot["d_real"] > 0.95 and foot["d_fake"] < 0.02
    assert foot["median"] < push0 / 5 and foot["median"] < 0.01   # minimax's push vanishes
    saturated = foot["median"]
    t.shot("tour-1-minimax-saturated.png")
    # a critic instead: its slope pushes every point towards the data
    t.objective("wgan-gp")
    t.set("n_critic", "5")
    t.train_for(30)
    v = t.fresh("wgan-gp")
    foot = t.footer()
    toward = toward_modes(v, t.family.data.mixture.means)
    say(exp=1, critic_push=foot["median"], toward=toward, critic_range=str(v["heat_range"]))
    assert v["critic"] is True and foot["median"] > 100 * saturated and toward > 0.6
    sync_api.expect(t.page.locator("#cb-label")).to_have_text("critic score (its own scale)")
    t.shot("tour-1-wgan-gp.png")


def test_2_minimax_against_non_saturating(tour: Callable[[str], Tour]) -> None:
    t = tour("ring-minimax")
    t.pause()
    t.set("objective.r1_gamma", "0")
    presses = 0
    while True:   # until the footer says D(G(z)) is below 0.1
        for _ in range(10):
            t.press_step("d")
        presses += 10
        t.fresh("minimax")
        minimax = t.footer()
        if minimax["d_fake"] < 0.1 or presses >= 60:
            break
    t.objective("ns")
    t.fresh("ns")
    ns = t.footer()
    t.shot("tour-2-non-saturating.png")
    t.objective("minimax")
    t.fresh("minimax")
    again = t.footer()
    p = minimax["d_fake"]
    say(exp=2, step=t.trainer.step, presses=presses, d_real=minimax["d_real"], d_fake=p,
        push_minimax=minimax["median"], push_ns=ns["median"],
        ratio=ns["median"] / minimax["median"], predicted=(1 - p) / p)
    assert again["median"] == minimax["median"]   # the same networks, the same push
    assert p < 0.1 and ns["median"] > 5 * minimax["median"]


def test_3_ema_and_r1_on_the_grid(tour: Callable[[str], Tour]) -> None:
    t = tour("grid-ns")
    t.train_for(300)
    t.page.check('[data-layer="ema"]')
    first = t.fresh()
    t.train_for(40)
    second = t.fresh()
    move_g = float((torch.tensor(second["fake"]) - torch.tensor(first["fake"]))
                   .norm(dim=1).mean())
    move_ema = float((torch.tensor(second["ema"]) - torch.tensor(first["ema"]))
                     .norm(dim=1).mean())
    m = second["metrics"]
    say(exp=3, step=second["step"], move_g=move_g, move_ema=move_ema,
        modes_ema=m["modes_captured"], hq_ema=m["high_quality"], spread_g=spread(second),
        spread_ema=spread(second, "ema"))
    assert second["metrics_of"] == "G_ema" and move_g > 5 * move_ema
    t.shot("tour-3-grid-ema.png")
    # R1 off and EMA off: the numbers are G's own
    t.set("objective.r1_gamma", "0")
    t.page.uncheck("#ema")
    wait_for("EMA off", lambda: t.family.G_ema is None)
    t.train_for(100)
    v = t.fresh()
    assert v["metrics_of"] == "G"
    say(exp=3, step=v["step"], modes_g=v["metrics"]["modes_captured"],
        hq_g=v["metrics"]["high_quality"], spread_g=spread(v), d_now=str(v["d_now"]))


def test_4_clipping_against_the_gradient_penalty(tour: Callable[[str], Tour]) -> None:
    t = tour("ring-wgan")
    t.train_for(100)
    v = t.fresh()
    clipped_span = v["heat_range"][1] - v["heat_range"][0]
    clipped = t.footer()
    t.shot("tour-4-clipped-critic.png")
    t.objective("wgan-gp")
    t.set("objective.clip", "")   # the preset sets 0.01 explicitly: empty is the default
    wait_for("no clipping", lambda: not t.family.clip)
    t.train_for(40)
    v = t.fresh("wgan-gp")
    gp_span = v["heat_range"][1] - v["heat_range"][0]
    gp = t.footer()
    say(exp=4, clipped_span=clipped_span, clipped_push=clipped["median"], gp_span=gp_span,
        gp_push=gp["median"], r_fake=float(torch.tensor(v["fake"]).norm(dim=1).mean()))
    assert clipped_span < 0.05 and clipped["median"] < 0.02
    assert gp_span > 10 * clipped_span and gp["median"] > 3 * clipped["median"]
    t.shot("tour-4-gradient-penalty.png")


def test_5_g_steps_only_against_d_steps_only(tour: Callable[[str], Tour]) -> None:
    t = tour("ring-ns")
    t.train_for(200)
    before = t.fresh()
    t.updates("d")
    t.train_for(60)
    d_only = t.footer()
    t.updates("g")
    t.train_for(20)
    first = t.fresh()
    g_start = first["step"] - 20
    while True:   # until G's points have gathered (how soon varies from run to run)
        t.train_for(40)
        frozen = t.fresh()
        if gathered(frozen) > 0.6 or frozen["step"] - g_start >= 400:
            break
    g_foot = t.footer()
    say(exp=5, spread_before=spread(before), d_only_d_real=d_only["d_real"],
        d_only_d_fake=d_only["d_fake"], gathered_before=gathered(before),
        gathered_g_only=gathered(frozen), g_only_steps=frozen["step"] - g_start,
        g_only_spread=spread(frozen),
        g_only_d_fake=g_foot["d_fake"], modes=frozen["metrics"]["modes_captured"])
    assert frozen["heat"] == first["heat"]   # D does not change: its map stands still
    # G's points gather where D's fixed score is highest
    assert gathered(frozen) > 0.6 and gathered(before) < 0.3
    t.shot("tour-5-g-only.png")
    t.updates("both")
    t.train_for(60)
    after = t.fresh()
    say(exp=5, spread_after=spread(after), gathered_after=gathered(after))
    assert gathered(after) < gathered(frozen) - 0.2

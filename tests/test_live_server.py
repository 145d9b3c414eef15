"""The live page's server: every command, refused values, the token, the files it serves."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

pytest.importorskip("starlette")
pytest.importorskip("httpx")
from starlette.testclient import TestClient  # noqa: E402

from ganlab import config, runs  # noqa: E402
from ganlab.api import build_trainer  # noqa: E402
from ganlab.engine.loop import Trainer  # noqa: E402
from ganlab.live.server import MAX_BODY, make_app  # noqa: E402
from ganlab.live.views import LiveView  # noqa: E402

TOKEN = "test-token"
H = {"X-Ganlab-Token": TOKEN}


class Session:
    """A tiny ring run, paused before its first step, trained in a thread, with its page."""

    def __init__(self, tmp: Path, overrides: list[str]) -> None:
        cfg = config.load(preset="ring-ns", overrides=[*overrides, "train.steps=30",
                                                       "train.threads=1"])
        self.trainer: Trainer = build_trainer(cfg, runs.new_run(cfg, tmp))
        self.steering = self.trainer.steering
        paused = self.steering.submit("pause")
        self.live = LiveView(self.steering)
        self.steering.watch(self.live)
        self.spawned: list[Path] = []
        self.client = TestClient(make_app(self.live, TOKEN, spawn=self._spawn))
        self.thread = threading.Thread(target=self.trainer.run, daemon=True)
        self.thread.start()
        paused.result(60)   # the loop took it, before step 0

    def _spawn(self, path: Path) -> int:
        self.spawned.append(path)
        return 4242

    def cmd(self, cmd: str, key: str = "", value: object = None, **kw: object):
        return self.client.post("/api/command", json={"cmd": cmd, "key": key, "value": value},
                                headers=H, **kw)

    def close(self) -> None:
        self.steering.submit("resume")
        self.thread.join(60)
        assert not self.thread.is_alive()


@pytest.fixture
def session(tmp_path: Path, tiny_ring_overrides: list[str]) -> Iterator[Session]:
    s = Session(tmp_path, tiny_ring_overrides)
    yield s
    s.close()


def test_every_route_needs_the_token(session: Session) -> None:
    c = session.client
    for path in ("/", "/static/live.js", "/api/state", "/api/stream"):
        assert c.get(path).status_code == 403
        assert c.get(path, params={"token": "wrong"}).status_code == 403
        assert c.get(path, headers={"X-Ganlab-Token": "wrong"}).status_code == 403
    for headers in ({}, {"X-Ganlab-Token": "nope"}):
        r = c.post("/api/command", json={"cmd": "pause"}, headers=headers)
        assert r.status_code == 403 and "token" in r.json()["error"]
    page = c.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and f"live.js?token={TOKEN}" in page.text
    assert "http://" not in page.text and "https://" not in page.text   # nothing from a CDN
    assert c.get("/api/state", headers=H).json()["static"]["kind"] == "plane"


def test_only_the_packaged_files_are_served(session: Session) -> None:
    c = session.client
    assert c.get("/static/live.js", headers=H).headers["content-type"].startswith("text/javascript")
    assert c.get("/static/live.css", headers=H).status_code == 200
    for name in ("index.html", "server.py", "..%2Fserver.py", "%2Fetc%2Fpasswd", "live.js.map"):
        assert c.get(f"/static/{name}", headers=H).status_code == 404


def test_pause_resume_and_single_steps(session: Session) -> None:
    s = session
    assert s.steering.paused and s.trainer.step == 0
    # each answer comes when the loop takes the command, before the step it lets run
    for before, (mode, what) in enumerate((("d", "d"), ("g", "g"), ("full", "both"))):
        r = s.cmd("step", value=mode)
        assert r.status_code == 200, r.text
        assert r.json()["event"] == {"step": before, "what": "step", "new": what}
    s.cmd("pause")   # a command after the step waits for it: the step count is 3 then
    assert s.trainer.step == 3 and s.steering.paused
    r = s.cmd("resume")
    assert r.json()["event"]["what"] == "resume"
    s.thread.join(60)
    assert s.trainer.step == 30
    assert s.cmd("pause").json()["error"].startswith("the run has ended")


def test_every_setting_changes_in_place(session: Session) -> None:
    s = session
    s.cmd("step", value="full")        # Adam has moments now
    opt = s.trainer.family.optimizers()["G"]
    moments = {k: v.clone() for k, v in opt.state[opt.param_groups[0]["params"][0]].items()}
    changes = {"optim.G.lr": 5e-4, "optim.D.lr": 2e-3, "n_critic": 3,
               "objective.name": "wgan-gp", "objective.gp_weight": 2.5,
               "objective.r1_gamma": 0.0, "objective.clip": 0.05, "ema.enabled": False,
               "updates": "d"}
    for key, value in changes.items():
        r = s.cmd("set", key, value)
        assert r.status_code == 200, r.text
        assert r.json()["event"]["new"] == value
    f = s.trainer.family
    assert opt.param_groups[0]["lr"] == 5e-4
    assert f.optimizers()["D"].param_groups[0]["lr"] == 2e-3
    after = opt.state[opt.param_groups[0]["params"][0]]
    assert all(torch.equal(after[k], v) for k, v in moments.items())   # Adam's state kept
    assert (f.section.n_critic, f.objective.name, f.gp_weight, f.r1_gamma, f.clip) == \
        (3, "wgan-gp", 2.5, 0.0, 0.05)
    assert f.G_ema is None and f.updates == "d"
    assert s.client.get("/api/state", headers=H).json()["tick"]["settings"]["n_critic"] == 3
    events = [e for e in runs.read_events(s.trainer.run_dir) if e["what"] == "set"]
    assert [e["key"] for e in events] == list(changes)
    assert events[0] == {"step": 1, "what": "set", "key": "optim.G.lr", "old": 0.001,
                         "new": 5e-4}


@pytest.mark.parametrize(("body", "words"), [
    ({"cmd": "set", "key": "n_critic", "value": 0}, "gan.n_critic: must be > 0, got 0"),
    ({"cmd": "set", "key": "optim.G.lr", "value": -1}, "must be > 0"),
    ({"cmd": "set", "key": "optim.G.lr", "value": "fast"}, "optim.G.lr"),
    ({"cmd": "set", "key": "objective.name", "value": "nope"}, "unknown objective 'nope'"),
    ({"cmd": "set", "key": "model.width", "value": 8}, "cannot change while a run trains"),
    ({"cmd": "set", "key": "updates", "value": "both-ish"}, "not one of"),
    ({"cmd": "set", "key": "n_critic", "value": [2]}, "value a number"),
    ({"cmd": "step", "value": "x"}, "step: 'x' is not one of"),
    ({"cmd": "shutdown"}, "unknown command 'shutdown'"),
    ({"nope": 1}, "a command is a JSON object"),
    (["pause"], "a command is a JSON object"),
])
def test_bad_commands_are_refused_with_one_line(session: Session, body: object,
                                                words: str) -> None:
    r = session.client.post("/api/command", json=body, headers=H)
    assert r.status_code == 400
    error = r.json()["error"]
    assert words in error and "\n" not in error
    assert session.trainer.family.section.n_critic == 1   # nothing changed


def test_bodies_are_bounded_and_must_be_json(session: Session) -> None:
    c = session.client
    big = json.dumps({"cmd": "pause", "pad": "x" * MAX_BODY})
    assert c.post("/api/command", content=big, headers=H).status_code == 413
    assert c.post("/api/command", content=b"{not json", headers=H).status_code == 400


def test_snapshot_and_fork(session: Session) -> None:
    s = session
    s.cmd("step", value="full")
    r = s.cmd("snapshot")
    assert r.status_code == 200
    assert Path(r.json()["event"]["new"]).name == "step-0000001"
    r = s.cmd("fork", value=True)
    child = Path(r.json()["event"]["new"])
    assert r.json()["pid"] == 4242 and s.spawned == [child]
    assert runs.read_run_info(child)["parent"]["step"] == 1
    assert (child / runs.CHECKPOINTS / "step-0000001").is_dir()
    assert s.cmd("fork", value=False).json().get("pid") is None   # a fork left for later


def test_the_stream_sends_the_run_and_ends_with_it(session: Session) -> None:
    s = session
    s.cmd("resume")
    s.thread.join(60)
    with s.client.stream("GET", "/api/stream", headers=H) as r:
        text = "".join(r.iter_text())
    kinds = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event:")]
    assert kinds[:2] == ["static", "tick"]
    ticks = [json.loads(block.split("data: ", 1)[1]) for block in text.split("\n\n")
             if block.startswith("event: tick")]
    assert ticks[-1]["finished"] and ticks[-1]["step"] == 30
    assert ticks[0]["records"][-1]["step"] == 30     # the curves' records
    assert "view" in kinds                           # the plane, computed for the page


@pytest.mark.parametrize("name", ["gan-images", "cgan", "pix2pix", "cyclegan", "seqgan"])
def test_other_runs_show_their_snapshot_live(name: str, tmp_path: Path) -> None:
    """Image, class-conditional, translation and sequence runs: the page shows what their
    snapshot shows (grids, a row per class, input | output | target, sentences)."""
    from golden_runs import COMMON
    from golden_runs import runs as golden

    preset, overrides = golden(tmp_path / "data")[name]
    cfg = config.load(preset=preset, overrides=[*COMMON, *overrides])
    trainer = build_trainer(cfg, runs.new_run(cfg, tmp_path / "runs"))
    live = LiveView(trainer.steering)
    trainer.steering.watch(live)
    live.watchers = 1   # as if a page were open
    assert trainer.run() == 0
    view = live.view
    assert live.static["kind"] == "snapshot" and view["snapshot_step"] == cfg.train.steps
    if name == "seqgan":
        assert view["texts"] and all(isinstance(t, str) for t in view["texts"][0]["lines"])
    else:
        assert view["images"][0]["src"].startswith("data:image/png;base64,")
    assert live.records[-1]["step"] == cfg.train.steps


def test_rewind_forks_from_an_earlier_checkpoint(session: Session) -> None:
    s = session
    s.cmd("step", value="full")
    s.cmd("set", "n_critic", 2)
    s.cmd("snapshot")                               # the checkpoint of step 1
    s.cmd("step", value="d")
    s.cmd("set", "objective.name", "hinge")          # after step 2: not in the rewind
    r = s.cmd("rewind", value=1)
    assert r.status_code == 200, r.text
    child = Path(r.json()["event"]["new"])
    assert r.json()["event"]["from"] == 1 and r.json()["pid"] == 4242 and s.spawned == [child]
    assert ckpt_steps(child) == [1] and runs.read_run_info(child)["parent"]["step"] == 1
    keys = [e.get("key") for e in runs.read_events(child) if e["what"] == "set"]
    assert keys == ["n_critic"]
    for value, words in ((7, "no checkpoint of step 7; there are: 1"), ("1", "give the step")):
        r = s.cmd("rewind", value=value)
        assert r.status_code == 400 and words in r.json()["error"]


def ckpt_steps(run: Path) -> list[int]:
    from ganlab.engine import checkpoint as ckpt

    return [ckpt.step_of(p) for p in ckpt.folders(run / runs.CHECKPOINTS)]


def test_drawn_data_replaces_the_real_points(session: Session) -> None:
    s = session
    pts = [[0.25, 0.25], [-0.25, 0.25], [0.0, -0.3]]
    r = s.cmd("draw", value={"points": pts, "std": 0.03})
    assert r.status_code == 200, r.text
    assert r.json()["event"]["new"] == {"points": pts, "std": 0.03}
    mixture = s.trainer.family.data.mixture
    assert mixture.n_modes == 3 and mixture.std == 0.03
    for value, words in (({"points": [[9, 9]]}, "inside the plane"),
                         ({"points": []}, "between 1 and 2000 points"),
                         ({"points": [[0, 0]] * 2001}, "between 1 and 2000 points"),
                         ({"points": [["a", 0]]}, "is not a point"),
                         ({"points": [[0, 0]], "std": -1}, "data.std"),
                         ([[0, 0]], "give {")):
        r = s.cmd("draw", value=value)
        assert r.status_code == 400 and words in r.json()["error"], r.text


def test_the_start_page_picks_a_preset_then_serves_the_run() -> None:
    from ganlab.live.server import Slot

    slot = Slot()
    client = TestClient(make_app(slot, TOKEN))
    page = client.get("/", headers=H)
    assert page.status_code == 200 and "start.js" in page.text
    names = [p["name"] for p in client.get("/api/presets", headers=H).json()]
    assert names[0] == "grid-best" and "fashion-dcgan-ns" in names   # 2-D runs first
    assert client.get("/api/state", headers=H).json() == {"start": True}
    assert client.post("/api/command", json={"cmd": "pause"}, headers=H).status_code == 409
    assert client.post("/api/start", json={"preset": "../etc"}, headers=H).status_code == 400
    assert client.post("/api/start", json={"preset": "ring-ns"}).status_code == 403
    r = client.post("/api/start", json={"preset": "ring-ns", "points": [[0, 0]]}, headers=H)
    assert r.status_code == 200
    assert slot.starts.get_nowait().preset == "ring-ns"


def test_a_text_conditional_run_takes_a_prompt_from_the_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_text_conditional import _package

    monkeypatch.setenv("GANLAB_CACHE", str(tmp_path / "cache"))
    cfg = config.load(preset="emoji-t2i", overrides=[
        f"data.path={_package(tmp_path)}", "data.text_encoder=hashing", "data.resolution=16",
        "cgan.model.width=8", "train.threads=1", "train.steps=2", "train.batch_size=8",
        "train.log_every=1", "train.snapshot_every=0", "eval.n_samples=100",
        "train.progress=false"])
    trainer = build_trainer(cfg, runs.new_run(cfg, tmp_path / "runs"))
    live = LiveView(trainer.steering)
    trainer.steering.watch(live)
    client = TestClient(make_app(live, TOKEN))
    assert live.static["prompts"] is True
    for body in ({"text": ""}, {"text": "x" * 201}, {"nope": 1}):
        assert client.post("/api/prompt", json=body, headers=H).status_code == 400
    assert client.post("/api/prompt", json={"text": "red thing"}, headers=H).status_code == 200
    assert trainer.run() == 0
    first = live.view["images"][0]
    assert first["name"] == "“red thing”" and first["src"].startswith("data:image/png")


def test_the_stream_sends_each_record_once_even_when_the_list_is_capped() -> None:
    from ganlab.live.server import _records_after

    records = [{"step": s} for s in range(10, 60, 10)]
    assert _records_after(records, -1) == records
    assert _records_after(records, 30) == [{"step": 40}, {"step": 50}]
    assert _records_after(records[-2:], 50) == []
    assert _records_after(records, -1, most=2) == [{"step": 40}, {"step": 50}]

"""``ganlab.train(..., live=...)``: the Python API serves the run's live page as ``--live`` does."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import ganlab
from ganlab import runs
from ganlab.errors import GanlabError

pytest.importorskip("uvicorn")
from ganlab.live import LiveSession  # noqa: E402


def _request(url: str, body: dict[str, Any] | None = None) -> Any:
    base, token = url.split("/?token=")
    req = urllib.request.Request(
        f"{base}{'/api/command' if body else '/api/state'}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"X-Ganlab-Token": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_train_live_serves_the_page_that_steers_the_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        tiny_ring_overrides: list[str]) -> None:
    seen: dict[str, Any] = {}
    attach = LiveSession.attach

    def attach_then_steer(self: LiveSession, trainer: Any) -> None:
        attach(self, trainer)
        assert self.server is not None
        url = seen["url"] = self.server.url
        trainer.steering.submit("pause")   # the loop waits before step 0 for the page

        def page() -> None:
            try:
                seen["state"] = _request(url)
                seen["set"] = _request(url, {"cmd": "set", "key": "optim.G.lr", "value": 5e-4})
                _request(url, {"cmd": "resume"})
            finally:   # a failed request must not leave the run paused for ever
                trainer.steering.submit("resume")
        seen["thread"] = threading.Thread(target=page, daemon=True)
        seen["thread"].start()

    monkeypatch.setattr(LiveSession, "attach", attach_then_steer)
    overrides = [*tiny_ring_overrides, "train.steps=10", "train.threads=1"]
    run = ganlab.train("ring-ns", overrides, out=tmp_path, live={"port": 0})
    seen["thread"].join(30)
    assert seen["state"]["static"]["name"] == "ring-ns"
    assert seen["set"]["event"]["new"] == 5e-4
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("live page: ")]
    assert line == f"live page: {seen['url']}"
    events = runs.read_events(run.path)
    assert [e["key"] for e in events if e["what"] == "set"] == ["optim.G.lr"]
    assert run.metrics[-1]["step"] == 10
    with pytest.raises(urllib.error.URLError):   # the page is gone once train() returns
        _request(seen["url"])


def test_live_options_are_checked_before_any_run_folder(tmp_path: Path) -> None:
    with pytest.raises(GanlabError, match="unknown option.*prot.*known: host, port"):
        ganlab.train("ring-ns", out=tmp_path, live={"prot": 0})
    with pytest.raises(GanlabError, match="live: True, False or a mapping"):
        ganlab.train("ring-ns", out=tmp_path, live="yes")  # type: ignore[arg-type]
    assert not list(tmp_path.iterdir())

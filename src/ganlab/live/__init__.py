"""ganlab live: watch and steer a run in the browser while it trains (``ganlab train --live``).

:class:`LiveSession` attaches to a trainer (``api.train_config(..., attach=session.attach)``):
it watches the trainer's :class:`~ganlab.engine.steering.Steering` with a
:class:`~ganlab.live.views.LiveView` and serves the page (:mod:`ganlab.live.server`). Needs
the ``live`` extra (Starlette, Uvicorn); see docs/live.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ganlab.extras import require

if TYPE_CHECKING:
    from ganlab.engine.loop import Trainer
    from ganlab.live.server import LiveServer, Start

__all__ = ["LiveSession", "require_live"]


def require_live() -> None:
    """A :class:`~ganlab.errors.GanlabError` naming what to install when the ``live`` extra
    is missing (before any run folder is made)."""
    require("starlette", "--live (the live page)")
    require("uvicorn", "--live (the live page)")


class LiveSession:
    """The live page of one run: started when the trainer is attached, stopped by
    :meth:`close`. A server that cannot start is reported by ``say`` and the run trains on."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 say: Callable[[str], None] = print) -> None:
        require_live()
        self.host, self.port, self.say = host, port, say
        self.server: LiveServer | None = None
        self.points: list[list[float]] | None = None   # drawn data to train on from step 0

    def _serve(self, live: object) -> bool:
        from ganlab.errors import GanlabError
        from ganlab.live.server import LiveServer
        from ganlab.live.views import LiveView

        assert live is None or isinstance(live, LiveView)
        try:
            self.server = LiveServer(live, self.host, self.port)
        except GanlabError as exc:   # the run trains on without its page
            self.say(f"{exc}; training without the live page")
            return False
        self.server.start()
        self.say(f"live page: {self.server.url}")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            self.say(f"note: listening on {self.host}: whoever has this address (its token) "
                     "can steer the run")
        return True

    def open(self) -> None:
        """``ganlab live``: serve the start page before any run exists."""
        from ganlab.errors import GanlabError

        if not self._serve(None):
            raise GanlabError(f"ganlab live: cannot serve the page on {self.host}:{self.port}")

    def wait_for_start(self) -> Start:
        """Block until the start page picks a run (Ctrl-C raises KeyboardInterrupt)."""
        import queue

        assert self.server is not None
        while True:
            try:
                return self.server.slot.starts.get(timeout=0.5)
            except queue.Empty:
                continue

    def attach(self, trainer: Trainer) -> None:
        from ganlab.live.views import LiveView

        live = LiveView(trainer.steering)
        if self.server is None and not self._serve(live):
            return
        assert self.server is not None
        self.server.slot.live = live
        trainer.steering.watch(live)
        if self.points:   # drawn on the start page: the data from step 0
            done = trainer.steering.submit("draw", value={"points": self.points, "std": 0.02})
            done.add_done_callback(lambda f: setattr(
                trainer.steering, "message", str(f.exception())) if f.exception() else None)

    def close(self, linger: float = 0.5) -> None:
        """Stop serving (after ``linger`` seconds, so pages see the run's end)."""
        if self.server is not None:
            time.sleep(linger)
            self.server.stop()
            self.server = None

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
    from ganlab.live.server import LiveServer

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

    def attach(self, trainer: Trainer) -> None:
        from ganlab.errors import GanlabError
        from ganlab.live.server import LiveServer
        from ganlab.live.views import LiveView

        live = LiveView(trainer.steering)
        try:
            self.server = LiveServer(live, self.host, self.port)
        except GanlabError as exc:   # the run trains on without its page
            self.say(f"{exc}; training without the live page")
            return
        trainer.steering.watch(live)
        self.server.start()
        self.say(f"live page: {self.server.url}")
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            self.say(f"note: listening on {self.host}: whoever has this address (its token) "
                     "can steer the run")

    def close(self, linger: float = 0.5) -> None:
        """Stop serving (after ``linger`` seconds, so pages see the run's end)."""
        if self.server is not None:
            time.sleep(linger)
            self.server.stop()
            self.server = None

"""The live page's server: Starlette routes and server-sent events, served by Uvicorn in a
background thread, so the training loop never waits on a page.

Safe by default: it binds 127.0.0.1; every request carries the session's random token (the
``token`` query parameter or the ``X-Ganlab-Token`` header; the printed address holds it), so
neither another local user nor a web page open in the same browser can steer the run;
``--host`` binds wider with the same rule. Values are checked by the config's own constraints
and refused with one line; no file path is ever read from a request (the page's files are a
fixed table of the package's own); request bodies are bounded. A failing server, or a page
closed, never touches the training: the loop only reads the command queue.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import queue
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ganlab import config as config_mod
from ganlab import runs
from ganlab.engine.steering import COMMANDS
from ganlab.errors import GanlabError
from ganlab.live.views import LiveView

MAX_BODY = 64 * 1024      # bytes of a command (drawn data: up to 2000 points)
COMMAND_WAIT = 20.0       # seconds a command waits for the loop before "queued" is answered
STREAM_POLL = 0.1         # seconds between looks at the state for a page's stream
POINT_DATA = ("ring", "grid", "mixture", "spiral", "swissroll")   # the 2-D data sets
JS, CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
STATIC = {"live.js": JS, "start.js": JS, "live.css": CSS}   # the only files served
TOKEN_HEADER = "x-ganlab-token"


def _static(name: str) -> str:
    return (resources.files("ganlab.live") / "static" / name).read_text(encoding="utf-8")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def spawn_training(run_dir: Path) -> int:
    """``ganlab resume RUN_DIR`` in its own process (a fork trains beside its parent), its
    output in ``RUN_DIR/train.log``; returns its pid."""
    with open(run_dir / runs.TRAIN_LOG, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "ganlab", "resume", str(run_dir),
                                 "--no-progress"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return proc.pid


@dataclass
class Start:
    """What the start page of ``ganlab live`` asked for: a preset, and drawn 2-D data."""

    preset: str
    points: list[list[float]] | None = None


class Slot:
    """The run a page shows: there from the start for ``--live``; for ``ganlab live`` empty
    (the start page) until a run is chosen (``starts`` hears the choice) and attached."""

    def __init__(self, live: LiveView | None = None) -> None:
        self.live = live
        self.starts: queue.Queue[Start] = queue.Queue(maxsize=1)


def _presets() -> list[dict[str, str]]:
    """The presets the start page offers, 2-D ones first."""
    out = []
    for name in config_mod.preset_names():
        cfg = config_mod.load(preset=name)
        kind = "2-D points" if cfg.data.name in POINT_DATA else cfg.family
        out.append({"name": name, "description": cfg.description, "kind": kind})
    return sorted(out, key=lambda p: (p["kind"] != "2-D points", p["name"]))


def _records_after(records: list[dict[str, Any]], step: int, most: int = 2000
                   ) -> list[dict[str, Any]]:
    """The newest records logged after ``step`` (at most ``most``), oldest first."""
    out: list[dict[str, Any]] = []
    for r in reversed(records):
        if int(r.get("step", 0)) <= step or len(out) >= most:
            break
        out.append(r)
    return out[::-1]


async def _json_body(request: Request) -> Any:
    """The request's JSON body (at most :data:`MAX_BODY` bytes), or the response refusing it."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > MAX_BODY:
        return _error(413, f"a command is a JSON object of at most {MAX_BODY} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return _error(413, f"a command is a JSON object of at most {MAX_BODY} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "a command is a JSON object such as {\"cmd\": \"pause\"}")


def make_app(slot: Slot | LiveView, token: str,
             spawn: Callable[[Path], int] = spawn_training) -> Starlette:
    """The page's routes over the run in ``slot`` (its steering and views); ``token`` guards
    them all. An empty slot serves the start page until a run fills it."""
    if isinstance(slot, LiveView):
        slot = Slot(slot)
    here = slot

    def authorised(request: Request) -> bool:
        given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
        return hmac.compare_digest(given.encode(), token.encode())

    def guarded(handler: Callable[[Request], Awaitable[Response]]
                ) -> Callable[[Request], Awaitable[Response]]:
        async def wrapper(request: Request) -> Response:
            if not authorised(request):
                return _error(403, "missing or wrong token: open the address that "
                                   "`ganlab train --live` printed (it ends in ?token=...)")
            return await handler(request)
        return wrapper

    async def index(request: Request) -> Response:
        name = "index.html" if here.live is not None else "start.html"
        page = _static(name).replace("{{token}}", token)
        return Response(page, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:   # a fixed table: no path from the request reaches a file
            return _error(404, f"no such file: {name[:40]!r}")
        return Response(_static(name), media_type=STATIC[name])

    async def presets(request: Request) -> Response:
        return JSONResponse(_presets())

    async def start(request: Request) -> Response:
        data = await _json_body(request)
        if isinstance(data, Response):
            return data
        if not isinstance(data, dict) or data.get("preset") not in config_mod.preset_names():
            return _error(400, "choose one of the presets (`ganlab presets` lists them)")
        points = data.get("points")
        if points is not None and not (isinstance(points, list) and 0 < len(points) <= 2000):
            return _error(400, "drawn data: between 1 and 2000 points [x, y]")
        if here.live is not None or here.starts.full():
            return _error(409, "a run has already started")
        here.starts.put(Start(str(data["preset"]), points))
        return JSONResponse({"ok": True})

    async def prompt(request: Request) -> Response:
        live = here.live
        if live is None or live.snapshots is None or not live.static.get("prompts"):
            return _error(409, "this run takes no prompts (it is not text-conditional)")
        data = await _json_body(request)
        if isinstance(data, Response):
            return data
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str) or not 0 < len(text.strip()) <= 200:
            return _error(400, "a prompt is a text of 1 to 200 characters")
        live.snapshots.prompt = text.strip()
        live.want_view.set()
        return JSONResponse({"ok": True})

    async def state(request: Request) -> Response:
        live = here.live
        if live is None:
            return JSONResponse({"start": True})
        return JSONResponse({"static": live.static, "tick": live.tick, "view": live.view,
                             "records": live.records[-500:]})

    async def stream(request: Request) -> Response:
        live = here.live
        if live is None:
            return _error(409, "no run yet: choose one on the start page")

        async def events() -> AsyncIterator[str]:
            live.watchers += 1
            live.want_view.set()
            try:
                yield f"event: static\ndata: {json.dumps(live.static)}\n\n"
                sent_tick: object = None
                sent_view: object = None
                last_step = -1   # the newest record sent (the list is capped: no indices)
                idle = 0.0
                while True:
                    tick, view, records = live.tick, live.view, live.records
                    if tick is not sent_tick:
                        new = _records_after(records, last_step)
                        if new:
                            last_step = int(new[-1].get("step", last_step))
                        yield f"event: tick\ndata: {json.dumps({**tick, 'records': new})}\n\n"
                        sent_tick, idle = tick, 0.0
                    if view is not sent_view and view:
                        yield f"event: view\ndata: {json.dumps(view)}\n\n"
                        sent_view = view
                    if tick.get("finished"):
                        return
                    await asyncio.sleep(STREAM_POLL)
                    idle += STREAM_POLL
                    if idle >= 15:   # a comment line keeps proxies from closing the stream
                        yield ": ping\n\n"
                        idle = 0.0
            finally:
                live.watchers -= 1
        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    async def command(request: Request) -> Response:
        live = here.live
        if live is None:
            return _error(409, "no run yet: choose one on the start page")
        steering = live.steering
        data = await _json_body(request)
        if isinstance(data, Response):
            return data
        if not isinstance(data, dict) or not isinstance(data.get("cmd"), str):
            return _error(400, "a command is a JSON object such as {\"cmd\": \"pause\"}")
        kind, key, value = data["cmd"], data.get("key", ""), data.get("value")
        if kind not in COMMANDS:
            return _error(400, f"unknown command {kind[:40]!r}; known: {', '.join(COMMANDS)}")
        if not isinstance(key, str) or (isinstance(value, (dict, list)) and kind != "draw"):
            return _error(400, "key is a text and value a number, a text, true/false or null")
        train_fork = False
        try:
            if kind == "set":
                steering.check(key, value)   # refused here at once, with one line
            elif kind == "draw":
                steering.check_draw(value)
            elif kind == "fork":
                train_fork, value = bool(value), None
            elif kind == "rewind":   # a fork from an earlier checkpoint, trained at once
                train_fork = True
            event = await asyncio.wait_for(asyncio.wrap_future(
                steering.submit(kind, key, value)), COMMAND_WAIT)
        except GanlabError as exc:
            return _error(400, str(exc).splitlines()[0])
        except TimeoutError:
            return JSONResponse({"queued": True}, status_code=202)
        reply: dict[str, Any] = {"ok": True, "event": event}
        if train_fork:
            try:
                reply["pid"] = spawn(Path(event["new"]))
            except OSError as exc:
                reply["message"] = f"the fork could not start training: {exc}"
        return JSONResponse(reply)

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    routes = [Route("/", guarded(index)),
              Route("/favicon.ico", favicon),
              Route("/api/presets", guarded(presets)),
              Route("/api/start", guarded(start), methods=["POST"]),
              Route("/static/{name}", guarded(static)),
              Route("/api/state", guarded(state)),
              Route("/api/stream", guarded(stream)),
              Route("/api/command", guarded(command), methods=["POST"]),
              Route("/api/prompt", guarded(prompt), methods=["POST"])]
    return Starlette(routes=routes)


class LiveServer:
    """Uvicorn serving :func:`make_app` on ``host:port`` (0: a free port) from a daemon
    thread. :meth:`start` binds first, so the address is known (and a port in use is
    refused) before the run's first step."""

    def __init__(self, live: LiveView | None, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None) -> None:
        self.slot = Slot(live)
        self.host = host
        self.token = token or secrets.token_urlsafe(18)
        self.app = make_app(self.slot, self.token)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise GanlabError(f"--live: cannot listen on {host}:{port} ({exc.strerror or exc});"
                              " choose another --port") from exc
        self._sock.listen(128)   # connections wait in the backlog until Uvicorn serves
        self.port = int(self._sock.getsockname()[1])
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.error = ""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?token={self.token}"

    def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(self.app, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1,
                                limit_concurrency=64)
        self._server = uvicorn.Server(config)

        def serve() -> None:
            try:
                self._server.run(sockets=[self._sock])
            except BaseException as exc:   # never reaches the training thread
                self.error = f"{type(exc).__name__}: {exc}"

        self._thread = threading.Thread(target=serve, name="ganlab-live", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 3.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(wait)
        self._sock.close()

"""What the live page shows of a training run, computed on the training thread between steps.

Two kinds of state, each replaced whole (so the server's thread reads it without a lock):

- the *tick*: the step, whether the run is paused, steps per second, the live settings and
  the optimisers' current rates, the events, the logged records (a few times a second;
  cheap);
- the *view*: what the model makes now: for a 2-D run the real and generated points, the
  discriminator's score over the plane, the push each generated point gets from G's loss,
  G's image of a regular grid of latents and the 2-D lab's numbers; for the other runs their
  snapshot (image grid, a row per class, input | output | target, sentences). It costs a
  forward pass or more, so it is computed only while a page watches, and at most
  :data:`BUDGET` of the wall time (the interval stretches when a view is slow).

Nothing here draws from the run's training streams or changes a network's state: the
latents and real points come from fixed seeds, networks run in eval mode and are put back.
"""

from __future__ import annotations

import base64
import io
import math
import threading
import time
from typing import Any, cast

import torch
from PIL import Image
from torch import Tensor, nn

from ganlab import runs
from ganlab.engine.steering import Steering
from ganlab.families.gan import GANFamily
from ganlab.report.artefacts import ImageGrid, Text
from ganlab.report.grid import make_grid
from ganlab.report.scatter2d import discriminator_map
from ganlab.sampling import LatentModel, run_in_eval_mode

TICK = 0.2          # seconds between ticks
MIN_VIEW = 0.25     # seconds between views at the least
BUDGET = 0.04       # the share of wall time views may take
N_POINTS = 500      # generated (and real) points shown
N_W1 = 200          # points of the live W1 (exact, so quadratic)
HEAT = 48           # heat map resolution (HEAT x HEAT)
LATTICE = 15        # G's image of a LATTICE x LATTICE grid of latents in [-2, 2]^2
MAX_RECORDS = 5000  # logged records kept for the curves


def _r(x: Tensor, nd: int = 3) -> list[Any]:
    """A tensor as nested lists of rounded floats (compact JSON)."""
    out: list[Any] = torch.round(x.double(), decimals=nd).tolist()
    return out


def png_data_url(images: Tensor, nrow: int | None = None) -> str:
    """Images (N, C, H, W) as one grid, a ``data:image/png`` URL."""
    canvas = make_grid(images, nrow)
    img = Image.fromarray(canvas[:, :, 0] if canvas.shape[2] == 1 else canvas)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class PlaneView:
    """The 2-D view of a GAN on points (ring, grid, drawn data)."""

    def __init__(self, family: GANFamily[Any]) -> None:
        self.family = family
        g = cast(LatentModel, family.G)
        self.z = g.sample_latent(N_POINTS, family.streams.fixed("live"))
        real = family.data.batch(N_POINTS, family.streams.fixed("snapshot-real")).x
        assert real is not None
        self.real = real.float().cpu()
        self.bounds = family.plane_bounds()
        lin = torch.linspace(-2.0, 2.0, LATTICE)
        gy, gx = torch.meshgrid(lin, lin, indexing="ij")
        lattice = torch.zeros(LATTICE * LATTICE, getattr(g, "z_dim", 2))
        lattice[:, 0], lattice[:, 1] = gx.flatten(), gy.flatten()
        self.lattice = lattice

    def static(self) -> dict[str, Any]:
        return {"kind": "plane", "bounds": list(self.bounds), "real": _r(self.real),
                "lattice_size": LATTICE}

    def __call__(self) -> dict[str, Any]:
        f = self.family
        device = f.gen.device
        fake = run_in_eval_mode(f.G, self.z.to(device))
        push = self._push(f.D, fake.to(device))
        lattice = run_in_eval_mode(f.G, self.lattice.to(device))
        critic = f.objective.critic
        heat = discriminator_map(f.D, self.bounds, res=HEAT, critic=critic)
        out: dict[str, Any] = {
            "fake": _r(fake), "push": _r(push, 4), "lattice": _r(lattice),
            "heat": _r(heat, 4), "heat_range": [float(heat.min()), float(heat.max())],
            "critic": critic, "objective": f.objective.name}
        sampled = fake
        if f.G_ema is not None:
            sampled = run_in_eval_mode(f.G_ema, self.z.to(device))
            out["ema"] = _r(sampled)
        out["metrics"] = f.points_diagnostics(sampled, n_w1=N_W1)
        out["metrics_of"] = "G_ema" if f.G_ema is not None else "G"
        return out

    def _push(self, D: nn.Module, fake: Tensor) -> Tensor:
        """Minus the gradient of G's loss with respect to each generated point: where G's
        update moves it (times the batch size, so it does not shrink with the batch)."""
        was = D.training
        D.eval()
        try:
            with torch.enable_grad():
                x = fake.detach().clone().requires_grad_(True)
                loss = self.family.objective.g_loss(D(x).float())
                (grad,) = torch.autograd.grad(loss, [x])
        finally:
            D.train(was)
        return (-grad * x.shape[0]).cpu()


class SnapshotView:
    """Any other run: its snapshot artefacts (image grids, sentences), rendered in memory."""

    def __init__(self, steering: Steering) -> None:
        self.steering = steering

    def static(self) -> dict[str, Any]:
        return {"kind": "snapshot"}

    def __call__(self) -> dict[str, Any]:
        family = self.steering.family
        images: list[dict[str, str]] = []
        texts: list[dict[str, Any]] = []
        with torch.random.fork_rng(devices=[]):
            artefacts = family.snapshot(self.steering.trainer.step)
        for art in artefacts:
            if isinstance(art, ImageGrid):
                images.append({"name": art.name, "src": png_data_url(art.images, art.nrow)})
            elif isinstance(art, Text):
                texts.append({"name": art.name, "lines": art.lines[:40]})
        return {"images": images, "texts": texts}


class LiveView:
    """Watches a :class:`Steering` (see the module docstring); ``watchers`` is the number of
    pages connected (views are computed only while it is above 0, or once when asked)."""

    def __init__(self, steering: Steering) -> None:
        self.steering = steering
        family = steering.family
        is_plane = isinstance(family, GANFamily) and family.spec.kind == "points" and \
            tuple(family.spec.sample_shape) == (2,)
        self._make = PlaneView(cast(GANFamily[Any], family)) if is_plane else \
            SnapshotView(steering)
        self.static = {**self._make.static(), "name": steering.trainer.cfg.name,
                       "run": str(steering.run_dir), "family": family.name,
                       "keys": list(steering.live_keys()),
                       "update_modes": list(family.update_modes),
                       "curves": [c.to_json() for c in family.curves],
                       "total": steering.trainer.cfg.train.steps}
        self.records: list[dict[str, Any]] = runs.read_metrics(steering.run_dir)[-MAX_RECORDS:]
        self._seen: object = None
        self.tick: dict[str, Any] = {}
        self.view: dict[str, Any] = {}
        self.view_seconds = 0.0
        self.watchers = 0
        self.want_view = threading.Event()
        self._next_tick = 0.0
        self._next_view = 0.0
        self._rate: tuple[float, int] = (time.perf_counter(), steering.trainer.step)
        self.steps_per_s = 0.0
        self.on_step(steering)

    def on_step(self, steering: Steering) -> None:
        now = time.perf_counter()
        record = getattr(steering, "last_record", None)
        if record is not None and record is not self._seen:
            self._seen = record
            self.records = [*self.records[-MAX_RECORDS + 1:], record]
        if now >= self._next_tick or steering.finished or steering.paused:
            self._next_tick = now + TICK
            self._publish_tick(now)
        wanted = (self.watchers > 0 or self.want_view.is_set()) and now >= self._next_view
        if wanted or steering.finished:   # the last view stays for pages opened later
            self.want_view.clear()
            t0 = time.perf_counter()
            view = {**self._make(), "step": steering.trainer.step}
            cost = time.perf_counter() - t0
            self.view_seconds += cost
            self.view = view
            self._next_view = time.perf_counter() + max(MIN_VIEW, cost / BUDGET)

    def _publish_tick(self, now: float) -> None:
        s = self.steering
        t0, step0 = self._rate
        if now - t0 >= 1.0:
            self.steps_per_s = (s.trainer.step - step0) / (now - t0)
            self._rate = (now, s.trainer.step)
        if s.paused or s.finished:
            self.steps_per_s = 0.0
        lrs = {name: opt.param_groups[0]["lr"]
               for name, opt in s.family.optimizers().items()}
        self.tick = {"step": s.trainer.step, "paused": s.paused, "finished": s.finished,
                     "steps_per_s": round(self.steps_per_s, 1) if math.isfinite(
                         self.steps_per_s) else 0.0,
                     "settings": s.settings(), "lr": lrs, "events": s.events()[-200:],
                     "n_records": len(self.records), "message": s.message}

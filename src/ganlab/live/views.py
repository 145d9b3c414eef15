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
from collections.abc import Callable
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
MIN_VIEW = 0.2      # seconds between two computations of one part of the view, at the least
MAX_VIEW = 5.0      # ... and at the most (a first, slow computation must not stall a part)
# the share of wall time each part of a view may take (its interval stretches when it is slow)
SHARES = {"points": 0.04, "heat": 0.025, "metrics": 0.015, "snapshot": 0.03}
N_POINTS = 500      # generated (and real) points shown
N_W1 = 100          # points of the live W1 (exact: its cost grows as the cube)
HEAT = 48           # heat map resolution (HEAT x HEAT)
LATTICE = 15        # G's image of a LATTICE x LATTICE grid of latents in [-2, 2]^2
MAX_RECORDS = 5000  # logged records kept for the curves


def _r(x: Tensor, nd: int = 3) -> list[Any]:
    """A tensor as nested lists of rounded floats (compact JSON)."""
    out: list[Any] = torch.round(x.double(), decimals=nd).tolist()
    return out


def finite(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with non-finite numbers as None (JSON has no inf or NaN)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in values.items()}


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
        self._source: object = None
        self.real = self._real()
        self.bounds = family.plane_bounds()
        lin = torch.linspace(-2.0, 2.0, LATTICE)
        gy, gx = torch.meshgrid(lin, lin, indexing="ij")
        lattice = torch.zeros(LATTICE * LATTICE, getattr(g, "z_dim", 2))
        lattice[:, 0], lattice[:, 1] = gx.flatten(), gy.flatten()
        self.lattice = lattice

    def _real(self) -> Tensor:
        """Real points from a fixed seed (again when drawn data replaced the source)."""
        f = self.family
        self._source = f.data
        real = f.data.batch(N_POINTS, f.streams.fixed("snapshot-real")).x
        assert real is not None
        return real.float().cpu()

    def static(self) -> dict[str, Any]:
        return {"kind": "plane", "bounds": list(self.bounds), "real": _r(self.real),
                "lattice_size": LATTICE}

    def parts(self) -> dict[str, Callable[[], dict[str, Any]]]:
        return {"points": self.points, "heat": self.heat, "metrics": self.metrics}

    def points(self) -> dict[str, Any]:
        """G's points, the push each gets, G's image of the latent grid (and G_ema's points)."""
        f = self.family
        device = f.gen.device
        drawn = f.data is not self._source   # drawn data: new real points
        if drawn:
            self.real = self._real()
        fake = run_in_eval_mode(f.G, self.z.to(device))
        push, d_fake = self._push(f.D, fake.to(device))
        critic = f.objective.critic
        d_real = run_in_eval_mode(f.D, self.real.to(device))

        def mean(t: Tensor) -> float:
            return float(t.mean()) if critic else float(torch.sigmoid(t).mean())

        out: dict[str, Any] = {
            "fake": _r(fake), "push": _r(push, 4),
            "lattice": _r(run_in_eval_mode(f.G, self.lattice.to(device))),
            "objective": f.objective.name,
            # D's mean score now on the real points and on G's points shown (a probability,
            # or a critic's raw score)
            "d_now": finite({"real": mean(d_real), "fake": mean(d_fake)})}
        out["ema"] = None if f.G_ema is None else \
            _r(run_in_eval_mode(f.G_ema, self.z.to(device)))
        if drawn:
            out["real"] = _r(self.real)
        return out

    def heat(self) -> dict[str, Any]:
        """D's score over the plane: probabilities, or a critic's scores on their own scale."""
        critic = self.family.objective.critic
        heat = discriminator_map(self.family.D, self.bounds, res=HEAT, critic=critic)
        return {"heat": _r(heat, 4), "heat_range": [float(heat.min()), float(heat.max())],
                "critic": critic}

    def metrics(self) -> dict[str, Any]:
        """The 2-D lab's numbers for the points the run samples from (G_ema when on)."""
        f = self.family
        g = f.G_ema if f.G_ema is not None else f.G
        sampled = run_in_eval_mode(g, self.z.to(f.gen.device))
        return {"metrics": finite(f.points_diagnostics(sampled, n_w1=N_W1)),
                "metrics_of": "G_ema" if f.G_ema is not None else "G"}

    def _push(self, D: nn.Module, fake: Tensor) -> tuple[Tensor, Tensor]:
        """Minus the gradient of G's loss with respect to each generated point: where G's
        update moves it (times the batch size, so it does not shrink with the batch); and D's
        outputs on the points."""
        was = D.training
        D.eval()
        try:
            with torch.enable_grad():
                x = fake.detach().clone().requires_grad_(True)
                scores = D(x).float()
                loss = self.family.objective.g_loss(scores)
                (grad,) = torch.autograd.grad(loss, [x])
        finally:
            D.train(was)
        return (-grad * x.shape[0]).cpu(), scores.detach().cpu()


class SnapshotView:
    """Any other run: its snapshot artefacts (image grids, sentences), rendered in memory."""

    def __init__(self, steering: Steering) -> None:
        self.steering = steering
        self.prompt: str | None = None   # a text-conditional run's prompt from the page

    def static(self) -> dict[str, Any]:
        return {"kind": "snapshot", "prompts": self.steering.family.prompts() is not None}

    def parts(self) -> dict[str, Callable[[], dict[str, Any]]]:
        return {"snapshot": self.snapshot}

    def snapshot(self) -> dict[str, Any]:
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
        prompt = self.prompt
        if prompt and family.prompts() is not None:   # 8 samples of the page's prompt
            with torch.random.fork_rng(devices=[]):
                x = family.sampler().sample(8, 0, condition=prompt)
            images.insert(0, {"name": f"“{prompt}”", "src": png_data_url(x, 8)})
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
        self.view_seconds = 0.0      # spent computing views, for the overhead benchmark
        self._parts = self._make.parts()
        self.snapshots = self._make if isinstance(self._make, SnapshotView) else None
        self._due: dict[str, float] = {}
        self.watchers = 0
        self.want_view = threading.Event()
        self._next_tick = 0.0
        self._rate: tuple[float, int] = (time.perf_counter(), steering.trainer.step)
        self.steps_per_s = 0.0
        self.on_step(steering)

    def on_step(self, steering: Steering) -> None:
        now = time.perf_counter()
        record = getattr(steering, "last_record", None)
        if record is not None and record is not self._seen:
            self._seen = record
            self.records = [*self.records[-MAX_RECORDS + 1:], finite(record)]
        if now >= self._next_tick or steering.finished or steering.paused:
            self._next_tick = now + TICK
            self._publish_tick(now)
        if self.watchers > 0 or self.want_view.is_set() or steering.finished:
            self.want_view.clear()
            self._update_view(now, force=steering.finished)

    def _update_view(self, now: float, force: bool) -> None:
        """Recompute the parts of the view that are due (all of them when ``force``)."""
        new: dict[str, Any] = {}
        for name, make in self._parts.items():
            if not force and now < self._due.get(name, 0.0):
                continue
            t0 = time.perf_counter()
            new.update(make())
            new[f"{name}_step"] = self.steering.trainer.step   # when each part was made
            cost = time.perf_counter() - t0
            self.view_seconds += cost
            wait = min(MAX_VIEW, max(MIN_VIEW, cost / SHARES[name]))
            self._due[name] = time.perf_counter() + wait
        if new:
            self.view = {**self.view, **new, "step": self.steering.trainer.step}

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
                     "n_records": len(self.records), "message": s.message,
                     "checkpoints": s.checkpoint_steps()}

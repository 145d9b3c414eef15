"""The Python API: train a run, open a finished one, sample and evaluate it.

    import ganlab

    run = ganlab.train("ring-ns", train__steps=500)       # a preset, a YAML path or a Config
    x = run.sample(2000, seed=1)                          # tensors: points, images, ...
    run.metrics[-1]                                       # the logged records
    run = ganlab.load_run(run.path)                       # the same run, from its folder

Overrides are keyword arguments (``train__steps=500`` is ``--set train.steps=500``), a mapping
(``{"train.steps": 500}``) or ``KEY=VALUE`` strings. The ``ganlab`` command is a thin layer
over these functions: what it prints is what they return.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor

from ganlab import config as config_mod
from ganlab import runs
from ganlab.config import Config
from ganlab.data import DataSpec
from ganlab.engine import checkpoint as ckpt
from ganlab.engine.family import Family, log_line, timed_evaluation
from ganlab.engine.loop import Trainer, seed_everything
from ganlab.engine.runtime import Runtime
from ganlab.errors import GanlabError
from ganlab.families import build_family
from ganlab.metrics.card import MetricResult
from ganlab.metrics.registry import get_metric
from ganlab.metrics.sources import load_images
from ganlab.sampling import ImageGenerator, LatentSampler, Sampler, TextPromptSampler

__all__ = ["Run", "TrainOutcome", "build_trainer", "load_config", "load_run", "train",
           "train_config"]

Overrides = Mapping[str, Any] | Sequence[str] | None
DEFAULT_EVAL_SAMPLES = 10_000   # generated images a metric reads (the FID protocol's count)


def _render(value: Any) -> str:
    """A Python value as the YAML text of a ``--set`` override: JSON, which YAML reads back
    as the same value (a string stays a string: ``name="2024"`` is not the number 2024)."""
    return json.dumps(value)   # bool -> true, None -> null, lists and dicts as flow YAML


def override_strings(overrides: Overrides = None, **kw: Any) -> list[str]:
    """``KEY=VALUE`` strings from a mapping, strings, or keywords (``a__b=1`` is ``a.b=1``)."""
    out: list[str] = []
    if isinstance(overrides, Mapping):
        out += [f"{k}={_render(v)}" for k, v in overrides.items()]
    elif overrides is not None:
        if isinstance(overrides, str):
            raise GanlabError(f"overrides: a list of KEY=VALUE strings or a mapping, not the "
                              f"string {overrides!r}")
        out += [str(o) for o in overrides]
    out += [f"{k.replace('__', '.')}={_render(v)}" for k, v in kw.items()]
    return out


def load_config(preset_or_config: str | Path | Config | None = None,
                overrides: Overrides = None, **kw: Any) -> Config:
    """A validated config: a preset name, a YAML file, a :class:`Config` (copied), or None
    (the default preset), with overrides applied."""
    items = override_strings(overrides, **kw)
    if isinstance(preset_or_config, Config):
        data = config_mod.to_dict(preset_or_config)
        for item in items:
            data = config_mod.apply_override(data, item)
        return config_mod.from_dict(data)
    if preset_or_config is None:
        return config_mod.load(preset=config_mod.DEFAULT_PRESET, overrides=items)
    text = str(preset_or_config)
    if text in config_mod.preset_names():
        return config_mod.load(preset=text, overrides=items)
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml") or path.exists():
        return config_mod.load(path=path, overrides=items)
    raise GanlabError(f"{text!r} is neither a preset (`ganlab presets` lists them) nor a "
                      "YAML file")


def build_trainer(cfg: Config, run_dir: str | Path, runtime: Runtime | None = None,
                  stream: IO[str] | None = None) -> Trainer:
    """A :class:`Trainer` for ``cfg`` in ``run_dir``: the global seed set, then the family
    built with its data (which may fail: nothing is trained yet)."""
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    runtime = runtime or Runtime.from_config(cfg.train)
    if cfg.train.precision == "auto" and runtime.is_main:
        log_line(f"train.precision auto: {runtime.precision} ({runtime.precision_reason})")
    seed_everything(cfg.seed)
    family = build_family(cfg, runtime)
    return Trainer(cfg, Path(run_dir), family, stream=stream)


def _remove_unstarted_run(run_dir: Path) -> None:
    """Remove a run folder that holds nothing of a run yet (its config and lock files), so a
    config whose data cannot be read leaves no empty folder behind."""
    left = {p.name for p in run_dir.iterdir()} - {runs.CONFIG, runs.LOCK, runs.LOCK_PID}
    if not left or all(name.startswith(f".{runs.LOCK_PID}.") for name in left):
        shutil.rmtree(run_dir, ignore_errors=True)


@dataclasses.dataclass
class TrainOutcome:
    """What a training call ended with: the exit code (0, or 130/143 for a stop by signal,
    3 for divergence), the run, and the trainer (its ``results`` when the run completed)."""

    code: int
    run: Run
    trainer: Trainer

    @property
    def complete(self) -> bool:
        return self.code == 0 and self.trainer.step >= self.trainer.cfg.train.steps


def train_config(cfg: Config, out: str | Path | None = None, until: int | None = None,
                 runtime: Runtime | None = None,
                 announce: Callable[[str], None] | None = None,
                 attach: Callable[[Trainer], object] | None = None) -> TrainOutcome:
    """Train ``cfg`` in a new run folder under ``out`` (default ``cfg.out_dir``), holding its
    lock; ``announce`` hears the run folder as soon as training starts; ``attach`` gets the
    trainer before its first step (the live page watches and steers it through
    ``trainer.steering``)."""
    # a device that is not here fails before the run folder; several processes join up here
    runtime = runtime or Runtime.from_config(cfg.train)
    run_dir = runtime.broadcast(runs.new_run(cfg, out) if runtime.is_main else None)
    with runs.lock_run(run_dir):
        try:
            trainer = build_trainer(cfg, run_dir, runtime)   # reads the data: may fail
        except BaseException:
            if runtime.is_main:
                _remove_unstarted_run(run_dir)
            raise
        if runtime.is_main and announce is not None:
            announce(f"run folder: {run_dir}")
        if runtime.is_main and attach is not None:
            attach(trainer)
        code = trainer.run(until=until)
    return TrainOutcome(code, Run(run_dir), trainer)


LIVE_OPTIONS = ("host", "port")   # what ``live=`` takes as a mapping


def live_session(live: bool | Mapping[str, Any], say: Callable[[str], None] = print) -> Any:
    """The live page's session for ``live=`` (None when it is off): True serves on
    127.0.0.1:8765 as ``--live`` does; a mapping picks ``host`` and ``port`` (0: a free one).
    The missing ``live`` extra is named before any run folder is made."""
    if live is False or live is None:
        return None
    if live is True:
        options: dict[str, Any] = {}
    elif isinstance(live, Mapping):
        options = dict(live)
    else:
        raise GanlabError(f"live: True, False or a mapping such as {{'port': 0}}, not {live!r}")
    unknown = sorted(set(options) - set(LIVE_OPTIONS))
    if unknown:
        raise GanlabError(f"live: unknown option(s) {', '.join(unknown)}; known: "
                          f"{', '.join(LIVE_OPTIONS)}")
    from ganlab.live import LiveSession

    return LiveSession(str(options.get("host", "127.0.0.1")), int(options.get("port", 8765)),
                       say=say)


def train(preset_or_config: str | Path | Config | None = None, overrides: Overrides = None, *,
          out: str | Path | None = None, until: int | None = None, device: str | None = None,
          progress: bool = False, live: bool | Mapping[str, Any] = False, **kw: Any) -> Run:
    """Train a preset, a YAML file or a :class:`Config` and return its :class:`Run`.

    ``overrides`` and keywords change settings (``train__steps=500``); ``until`` stops after
    that step with a checkpoint (continue with :meth:`Run.resume`). A run stopped by Ctrl-C or
    the divergence guard raises a :class:`GanlabError` that names its folder.

    ``live=True`` serves the run's live page while it trains, as ``ganlab train --live``
    (docs/live.md; needs the ``live`` extra); it prints the address to open, and stops serving
    when the call returns. A mapping picks the address::

        run = ganlab.train("ring-ns", live=True)             # http://127.0.0.1:8765/?token=...
        run = ganlab.train("grid-ns", live={"port": 0})      # a free port
    """
    cfg = load_config(preset_or_config, overrides, **kw)
    if device is not None:
        cfg.train.device = device
    cfg.train.progress = progress
    session = live_session(live)
    try:
        outcome = train_config(cfg, out, until,
                               attach=session.attach if session is not None else None)
    finally:
        if session is not None:
            session.close()
    if outcome.code != 0:
        raise GanlabError(f"{outcome.run.path}: training stopped with exit code "
                          f"{outcome.code} at step {outcome.trainer.step}; continue with "
                          f"ganlab.load_run({str(outcome.run.path)!r}).resume()")
    return outcome.run


def load_run(path: str | Path, device: str | None = "cpu") -> Run:
    """The run in folder ``path`` (made by ``ganlab train`` or :func:`train`). Its model is
    rebuilt from the latest checkpoint when first sampled; no training data is read."""
    run = Run(runs.require_run_folder(path), device=device)
    run.config  # noqa: B018 (read and validated now: a broken folder fails here, not later)
    return run


class Run:
    """A run folder and the model in it, for notebooks and scripts.

    ``sample`` draws tensors from the latest checkpoint (the EMA generator where there is
    one); ``evaluate`` measures it as ``ganlab eval`` does; ``metrics`` are the logged records,
    ``summary`` the final evaluation, ``report_path`` the HTML report. Shown in Jupyter, a run
    displays its latest sample grid and summary."""

    def __init__(self, path: str | Path, device: str | None = "cpu") -> None:
        self.path = Path(path)
        self.device = device
        self._config: Config | None = None
        self._family: Family[Any] | None = None
        self._checkpoint: Path | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- the folder ------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The run's resolved config (``config.yaml``)."""
        if self._config is None:
            self._config = runs.open_run(self.path)[0]
        return self._config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def metrics(self) -> list[dict[str, Any]]:
        """Every logged record of ``metrics.jsonl``, oldest first."""
        return runs.read_metrics(self.path)

    @property
    def summary(self) -> dict[str, Any] | None:
        """The final evaluation (``summary.json``); None until the run is complete."""
        return runs.read_summary(self.path)

    @property
    def report_path(self) -> Path | None:
        """``report.html``, once written (at the end of the run)."""
        path = self.path / runs.REPORT
        return path if path.is_file() else None

    @property
    def step(self) -> int:
        """The step of the latest checkpoint (0 before the first one)."""
        last = ckpt.latest(self.path / runs.CHECKPOINTS)
        return 0 if last is None else ckpt.step_of(last)

    def samples(self) -> list[Path]:
        """The snapshot files under ``samples/``, oldest first."""
        folder = self.path / runs.SAMPLES
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []

    # -- the model -------------------------------------------------------------------------
    def _load(self, with_data: bool = False, n_eval: int | None = None) -> Family[Any]:
        cfg = self.config
        if n_eval is not None:
            cfg = dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, n_samples=n_eval))
        path = ckpt.latest(self.path / runs.CHECKPOINTS)
        if path is None:
            raise GanlabError(f"{self.path}: no checkpoint yet; train longer or wait for the "
                              f"first one (every {cfg.train.checkpoint_every} steps)")
        runtime = Runtime.from_config(cfg.train, device=self.device)
        if with_data:
            family = build_family(cfg, runtime, log=lambda _msg: None)
        else:
            try:
                spec = DataSpec.from_json(runs.read_run_info(self.path)["data"])
            except (ValueError, KeyError, TypeError) as exc:
                raise GanlabError(f"{self.path / runs.RUN_INFO}: unreadable ({exc}); delete it "
                                  f"and run `ganlab resume {self.path}` to write it again") from exc
            family = build_family(cfg, runtime, spec=spec, log=lambda _msg: None)
        family.weights_restored(ckpt.load_weights(path, family.modules()))
        self._checkpoint = path
        return family

    @property
    def family(self) -> Family[Any]:
        """The run's family at its latest checkpoint (built without training data)."""
        if self._family is None:
            self._family = self._load()
        return self._family

    @property
    def checkpoint(self) -> Path:
        """The checkpoint the model was loaded from."""
        self.family  # noqa: B018 (loads it)
        assert self._checkpoint is not None
        return self._checkpoint

    def sampler(self) -> Sampler:
        """What ``ganlab sample`` draws from (see :mod:`ganlab.sampling`)."""
        return self.family.sampler()

    def sample(self, n: int, seed: int = 0, label: Any = None, text: Any = None) -> Any:
        """``n`` samples from ``seed``: images float (N, C, H, W) in [-1, 1], points (N, D), or
        a list of sentences. ``label`` picks the class of a class-conditional run (an int, or
        one per sample); ``text`` the prompt of a text-conditional one (a text or one each)."""
        if label is not None and text is not None:
            raise GanlabError("sample: give a label or a text, not both")
        sampler = self.sampler()
        if text is not None and not isinstance(sampler, TextPromptSampler):
            raise GanlabError(f"{self.path}: not a text-conditional run; it takes no text")
        if label is not None and isinstance(sampler, TextPromptSampler):
            raise GanlabError(f"{self.path}: a text-conditional run; give text=, not label=")
        return sampler.sample(n, seed, condition=text if text is not None else label)

    def generator(self) -> ImageGenerator:
        """The image generator with uint8 output, for metrics (``generate(n, seed)``)."""
        sampler = self.sampler()
        if isinstance(sampler, TextPromptSampler):
            raise GanlabError(f"{self.path}: a text-conditional run draws images for prompts; "
                              "use run.sample(n, seed, text=...) and ganlab.metrics on those")
        if sampler.kind != "images" or not isinstance(sampler, LatentSampler):
            raise GanlabError(f"{self.checkpoint}: this run makes {sampler.kind} (samples of "
                              f"shape {self.family.spec.sample_shape}), not images")
        return ImageGenerator(sampler, self.checkpoint)

    def images(self, n: int, seed: int = 0) -> Tensor:
        """``n`` generated images as uint8 (N, C, H, W), what the metrics read."""
        return self.generator().sample(n, seed)

    # -- measuring -------------------------------------------------------------------------
    def evaluate(self, metric: str | None = None, real: Any = None, n: int | None = None,
                 seed: int = 0, **kw: Any) -> Any:
        """Measure the run.

        Without ``metric``: the family's own final evaluation on its held-out data (what the
        run's summary holds; ``n`` overrides ``eval.n_samples``), a dict of numbers and cards.
        With ``metric``, a registered metric (those of ``ganlab eval``: ``fid``, ``kid``,
        ``prdc``, ``is``, ``modes``, ``all``, ...): its function on ``n`` (default 10,000)
        generated images from ``seed``, against ``real`` when it compares (uint8 images, a
        dataset name such as ``fashion-mnist:test``, a folder, an .npz), keywords passed on
        (``extractor=``, ...); a :class:`~ganlab.metrics.card.MetricResult`.
        """
        if metric is None:
            family = self._load(with_data=True, n_eval=n)
            with torch.random.fork_rng(devices=[]):
                return timed_evaluation(family, final=True)
        info = get_metric(metric)   # an unknown name is refused with the registered ones
        if info.command is None:
            raise GanlabError(f"evaluate: {metric} takes more than generated images (labels, "
                              f"several sets); call ganlab.metrics.{info.name} directly")
        compares = info.compares
        if compares and real is None:
            raise GanlabError(f"evaluate: {metric} compares generated images with real ones; "
                              "give real= (images, a dataset name, a folder or an .npz)")
        if not compares and real is not None:
            raise GanlabError(f"evaluate: {metric} reads generated images only; drop real=")
        fake = self.images(DEFAULT_EVAL_SAMPLES if n is None else n, seed)
        fn = info.load()
        if compares and isinstance(real, (str, Path)):
            real = load_images(str(real)).images
        result = fn(real, fake, **kw) if compares else fn(fake, **kw)
        if isinstance(result, MetricResult) and result.card.seed is None:
            result.card.seed = seed   # the card names the seed the generated images came from
        return result

    # -- training more ---------------------------------------------------------------------
    def resume(self, overrides: Overrides = None, until: int | None = None,
               progress: bool = False, live: bool | Mapping[str, Any] = False,
               **kw: Any) -> Run:
        """Continue training from the latest checkpoint (``train__steps=...`` to go further);
        ``live`` serves its live page meanwhile, as in :func:`train`."""
        session = live_session(live)
        try:
            code = resume_run(self.path, override_strings(overrides, **kw), until=until,
                              progress=progress, device=self.device, say=lambda _m: None,
                              attach=session.attach if session is not None else None)
        finally:
            if session is not None:
                session.close()
        if code != 0:
            raise GanlabError(f"{self.path}: resume stopped with exit code {code}")
        self._config = self._family = None
        return self

    # -- Jupyter ---------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        parts = [f"<b>ganlab run</b> <code>{html.escape(str(self.path))}</code>"]
        grids = [p for p in self.samples() if p.suffix == ".png"]
        if grids:
            data = base64.b64encode(grids[-1].read_bytes()).decode("ascii")
            parts.append(f'<div><img src="data:image/png;base64,{data}" '
                         f'style="max-width:320px;image-rendering:pixelated" '
                         f'alt="{html.escape(grids[-1].name)}"></div>')
        summary = self.summary
        if summary:
            rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(_fmt(v))}"
                           "</td></tr>" for k, v in summary.items()
                           if isinstance(v, (int, float, str)))
            parts.append(f"<table>{rows}</table>")
        return "\n".join(parts)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def resume_run(path: str | Path, overrides: list[str] | None = None, until: int | None = None,
               progress: bool = True, device: str | None = None,
               say: Callable[[str], None] = print,
               stream: IO[str] | None = None,
               attach: Callable[[Trainer], object] | None = None) -> int:
    """Continue the run in ``path`` under its lock; returns the exit code (see
    :meth:`Trainer.run`). ``say`` hears what the command line prints; ``attach`` gets the
    trainer before its first step (see :func:`train_config`). A steered run replays its
    changes (``events.jsonl``) at their steps."""
    with runs.lock_run(path):
        return _resume_locked(Path(path), overrides or [], until, progress, device, say, stream,
                              attach)


def _resume_locked(path: Path, overrides: list[str], until: int | None, progress: bool,
                   device: str | None, say: Callable[[str], None],
                   stream: IO[str] | None,
                   attach: Callable[[Trainer], object] | None = None) -> int:
    # the config is read under the lock, so it is the one a resume that just ended may have
    # rewritten
    cfg, run_dir = runs.open_run(path, overrides)
    ckpt.remove_debris(run_dir / runs.CHECKPOINTS)   # what a save killed midway left
    if not progress:
        cfg.train.progress = False
    made_on = cfg.train.device
    if device:   # this process only: config.yaml keeps the device the run was made with
        cfg.train.device = device
    trainer = build_trainer(cfg, run_dir, stream=stream)
    try:
        restored = trainer.restore()
    except GanlabError as exc:
        if not overrides:
            raise
        raise GanlabError(f"{exc} (this resume changed: {', '.join(overrides)}; drop the "
                          "override that changes a network)") from exc
    if not restored:
        print(f"{run_dir}: no checkpoint yet; starting from step 0", file=sys.stderr)
    if overrides:   # only now: the checkpoint loaded with the new config
        runs.save_config(dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, device=made_on)), run_dir)
    if trainer.step >= cfg.train.steps and not (run_dir / runs.SUMMARY).is_file():
        say(f"{run_dir}: all {trainer.step} steps trained; writing the summary and report")
        trainer.finish()
        end_lines(trainer, run_dir, say)
        return 0
    if trainer.step >= cfg.train.steps:
        say(f"{run_dir}: already trained {trainer.step} of {cfg.train.steps} steps; "
            "raise train.steps with --set to train further")
        return 0
    say(f"resuming {run_dir} at step {trainer.step} of {cfg.train.steps}")
    if attach is not None:
        attach(trainer)
    code = trainer.run(until=until)
    if code == 0 and trainer.step >= cfg.train.steps:
        end_lines(trainer, run_dir, say)
    return code


def end_lines(trainer: Trainer, run_dir: Path, say: Callable[[str], None] = print) -> None:
    """The lines that end a completed run: the family's summary, the folder, the report."""
    results = getattr(trainer, "results", None)
    if results is not None:  # an image run without metrics says why in its summary lines
        for line in trainer.family.summary_lines(results):
            say(line)
    say(f"run folder: {run_dir}")
    report = run_dir / runs.REPORT
    if report.exists():
        say(f"report: {report}")

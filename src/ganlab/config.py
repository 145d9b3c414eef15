"""Typed run configuration: dataclasses, YAML presets, ``--set`` overrides and validation.

A config is a tree of dataclasses. :func:`from_dict` builds one from plain data and rejects
an unknown key, a wrong type or an impossible value with one line that names the key and what
is allowed. Presets are YAML files in ``ganlab/presets``; a preset may name a ``base`` preset
whose values it overrides.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ganlab.errors import GanlabError


@dataclass
class ObjectiveConfig:
    """Which loss, and the discriminator regularisers that go with it."""

    name: str = "ns"
    lsgan_a: float = 0.0
    lsgan_b: float = 1.0
    lsgan_c: float = 1.0
    clip: float | None = None          # WGAN weight clipping; default 0.01 for "wgan"
    gp_weight: float | None = None     # WGAN-GP lambda; default 10 for "wgan-gp"
    r1_gamma: float = 0.0              # R1 penalty weight gamma (applied as gamma/2 * R1)


@dataclass
class DataConfig:
    """What to train on. 2-D mixtures use the mixture fields; image sets use the image fields."""

    name: str = "ring"
    path: str | None = None
    # 2-D data
    std: float | None = None           # per-mode std; default from the named geometry
    means: list[list[float]] | None = None  # for name=mixture
    weights: list[float] | None = None      # for name=mixture (normalised)
    noise: float = 0.0                 # for spiral / swissroll
    # images
    split: str = "train"
    resolution: int | None = None
    channels: int | None = None
    limit: int | None = None           # use only the first N images
    labels: bool = False
    # folders too large for memory: read in DataLoader workers, with augmentation
    stream: bool = False               # read a folder: / pairs: set file by file in workers
    workers: int = 2                   # DataLoader worker processes when streaming
    load_size: int | None = None       # resize to this, then random-crop to data.resolution
    flip: bool = False                 # random horizontal flips when streaming


@dataclass
class ModelConfig:
    """Generator and discriminator architecture."""

    arch: str = "mlp"
    z_dim: int = 2
    width: int = 128
    depth: int = 3
    g_width: int | None = None
    d_width: int | None = None
    spectral_norm: bool = False
    batch_norm_g: bool = True
    batch_norm_d: bool = True          # DCGAN D only; ignored with spectral norm; must be off
                                       # with a gradient penalty or R1 (validated)


@dataclass
class TrainConfig:
    """The optimisation schedule."""

    steps: int = 2000
    batch_size: int = 256
    n_critic: int = 1
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    betas_g: list[float] = field(default_factory=lambda: [0.5, 0.999])
    betas_d: list[float] = field(default_factory=lambda: [0.5, 0.999])
    lr_decay: str = "none"             # none | linear | cosine (last step: factor 1/steps)
    ema: bool = False
    ema_decay: float = 0.999
    ema_start: int = 0
    log_every: int = 50
    snapshot_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    progress: bool = True
    threads: int | None = None
    channels_last: bool = False
    bf16: bool = False
    tensorboard: bool = False          # also write RUN/tensorboard/events.out.tfevents.*


@dataclass
class EvalConfig:
    """Evaluation at the end of a run (and every ``every`` steps if > 0).

    Image runs report FID, KID, precision/recall (and a classifier score) in the feature space
    of ``extractor``: ``auto`` is the domain classifier of the training data when one exists
    (``fashion-classifier`` for fashion-mnist, ``digits-classifier`` for mnist / mnist-5k),
    else the metrics are skipped with a log line. ``reference`` is the real image set to
    compare with (an input such as ``fashion-mnist:test``, ``npz:PATH``, a folder or an .npz
    file); by default the held-out split of the training data.
    """

    every: int = 0
    n_samples: int = 2500
    extractor: str = "auto"
    reference: str | None = None


@dataclass
class Config:
    """A whole run."""

    name: str = "ring-ns"
    seed: int = 0
    family: str = "gan"
    description: str = ""
    out_dir: str = "runs"
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


# ---------------------------------------------------------------------------------------------
# Validation

_CHOICES: dict[str, tuple[str, ...]] = {
    "train.lr_decay": ("none", "linear", "cosine"),
    "family": ("gan",),
}

_POSITIVE = {"train.steps", "train.batch_size", "train.n_critic", "train.lr_g", "train.lr_d",
             "train.log_every", "train.checkpoint_every",
             "train.keep_checkpoints", "model.z_dim", "model.width", "model.depth",
             "eval.n_samples"}
_NON_NEGATIVE = {"objective.r1_gamma", "data.noise", "eval.every", "train.ema_start",
                 "train.snapshot_every"}
_PROBABILITY = {"train.ema_decay"}


def register_family(name: str) -> None:
    """Allow ``family: name`` in configs (called by each training family module)."""
    if name not in _CHOICES["family"]:
        _CHOICES["family"] = (*_CHOICES["family"], name)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except GanlabError as exc:
                errors.append(str(exc))
        raise GanlabError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if origin is list:
        if not isinstance(value, list | tuple):
            raise GanlabError(f"{key}: expected a list, got {value!r}")
        (inner,) = args
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise GanlabError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise GanlabError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                number = None
        if number is None:
            raise GanlabError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):
            raise GanlabError(f"{key}: must be a finite number, got {value!r}")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        raise GanlabError(f"{key}: expected a string, got {value!r}")
    raise GanlabError(f"{key}: unsupported type {_type_name(tp)}")


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    if not isinstance(data, dict):
        raise GanlabError(f"{prefix or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise GanlabError(f"config key {full!r} is unknown; allowed keys"
                              f"{' under ' + prefix[:-1] if prefix else ''}: {', '.join(names)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value, f"{full}.")
        else:
            kwargs[key] = _coerce(value, tp, full)
    return cls(**kwargs)


def _check_values(cfg: Config) -> None:
    flat = flatten(to_dict(cfg))
    for key, allowed in _CHOICES.items():
        if flat[key] not in allowed:
            raise GanlabError(f"{key}: {flat[key]!r} is not allowed; choose one of "
                              f"{', '.join(allowed)}")
    for key in _POSITIVE:
        if flat[key] <= 0:
            raise GanlabError(f"{key}: must be > 0, got {flat[key]!r}")
    for key in _NON_NEGATIVE:
        if flat[key] < 0:
            raise GanlabError(f"{key}: must be >= 0, got {flat[key]!r}")
    for key in _PROBABILITY:
        if not 0.0 <= flat[key] < 1.0:
            raise GanlabError(f"{key}: must be in [0, 1), got {flat[key]!r}")
    for key in ("train.betas_g", "train.betas_d"):
        betas = flat[key]
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise GanlabError(f"{key}: expected two numbers in [0, 1), got {betas!r}")
    for key in ("objective.clip", "objective.gp_weight", "data.std", "train.threads",
                "model.g_width", "model.d_width", "data.limit", "data.resolution",
                "data.channels"):
        if flat[key] is not None and flat[key] <= 0:
            raise GanlabError(f"{key}: must be > 0 when set, got {flat[key]!r}")
    if flat["eval.n_samples"] < MIN_EVAL_SAMPLES:
        raise GanlabError(f"eval.n_samples: must be >= {MIN_EVAL_SAMPLES} (precision/recall "
                          f"use 5 nearest neighbours), got {flat['eval.n_samples']!r}")
    from ganlab.losses import get_objective

    get_objective(cfg.objective.name)  # raises with the allowed names
    _check_penalty_with_batch_norm(cfg)
    _check_extractor(cfg.eval.extractor)
    if cfg.eval.reference is not None and not cfg.eval.reference.strip():
        raise GanlabError("eval.reference: must name real images (e.g. fashion-mnist:test, "
                          "npz:PATH, a folder) or be left out for the held-out split")


def _check_penalty_with_batch_norm(cfg: Config) -> None:
    """Gradient penalties are per-sample; BatchNorm in D mixes the samples of a batch."""
    o, m = cfg.objective, cfg.model
    gp = o.gp_weight if o.gp_weight is not None else (10.0 if o.name == "wgan-gp" else 0.0)
    uses_bn = m.arch == "dcgan" and m.batch_norm_d and not m.spectral_norm
    if uses_bn and (gp > 0 or o.r1_gamma > 0):
        which = "objective.gp_weight" if gp > 0 else "objective.r1_gamma"
        raise GanlabError(
            f"model.batch_norm_d: BatchNorm in the discriminator couples the samples of a batch, "
            f"so the per-sample gradient penalty ({which}) is ill-defined; set "
            "model.batch_norm_d=false (as the fashion-dcgan-wgan-gp preset does)")


TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts")
MIN_EVAL_SAMPLES = 10


def _check_extractor(name: str) -> None:
    """``auto``, a registered extractor, or a TorchScript file (checked when it is used)."""
    if name == "auto" or name.endswith(TORCHSCRIPT_SUFFIXES):
        return
    from ganlab.features.registry import EXTRACTORS

    if name not in EXTRACTORS:
        raise GanlabError(f"eval.extractor: unknown feature extractor {name!r}; choose one of "
                          f"auto, {', '.join(EXTRACTORS)}, or a TorchScript file "
                          f"({', '.join(TORCHSCRIPT_SUFFIXES)})")


def from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` from nested plain data."""
    cfg = _build(Config, data or {}, "")
    _check_values(cfg)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain data (for YAML) from a config."""
    return dataclasses.asdict(cfg)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"steps": 1}}`` -> ``{"train.steps": 1}``."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def apply_override(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``key.path=value`` override (value parsed as YAML) to nested plain data."""
    if "=" not in assignment:
        raise GanlabError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.steps=5000")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise GanlabError(f"--set {assignment!r}: cannot parse the value: {exc}") from exc
    parts = key.strip().split(".")
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return _merge(data, nested)


# ---------------------------------------------------------------------------------------------
# Presets and files


def preset_names() -> list[str]:
    """Names of the built-in presets, sorted."""
    folder = resources.files("ganlab") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise GanlabError(f"{where}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise GanlabError(f"{where}: expected a mapping at the top level")
    return data


def preset_data(name: str, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """Plain data of a preset, with its ``base`` chain resolved."""
    if name not in preset_names():
        raise GanlabError(f"unknown preset {name!r}; run `ganlab presets` to list them "
                          f"({', '.join(preset_names())})")
    if name in _seen:
        raise GanlabError(f"preset {name!r}: circular base chain {' -> '.join(_seen)}")
    text = (resources.files("ganlab") / "presets" / f"{name}.yaml").read_text()
    data = _read_yaml(text, f"preset {name}")
    base = data.pop("base", None)
    own_name = data.get("name", name)
    if base:
        data = _merge(preset_data(base, (*_seen, name)), data)
    data["name"] = own_name
    return data


def file_data(path: str | Path) -> dict[str, Any]:
    """Plain data of a YAML config file, with an optional ``base: PRESET`` resolved."""
    path = Path(path)
    if not path.is_file():
        raise GanlabError(f"config file {str(path)!r} does not exist")
    data = _read_yaml(path.read_text(), str(path))
    base = data.pop("base", None)
    if base:
        data = _merge(preset_data(base), data)
    return data


def load(
    path: str | Path | None = None,
    preset: str | None = None,
    overrides: list[str] | None = None,
) -> Config:
    """Resolve a config from a file or a preset (or the default preset) plus overrides."""
    if path is not None and preset is not None:
        raise GanlabError("give either a config file or --preset, not both")
    data = file_data(path) if path is not None else preset_data(preset or DEFAULT_PRESET)
    for item in overrides or []:
        data = apply_override(data, item)
    return from_dict(data)


def dump(cfg: Config) -> str:
    """YAML text of a config (what a run folder stores as ``config.yaml``)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


DEFAULT_PRESET = "fashion-dcgan-ns"

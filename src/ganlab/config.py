"""Typed run configuration: dataclasses, YAML presets, ``--set`` overrides and validation.

A config is a tree of dataclasses. The shared part holds what the training loop owns (``train``:
steps, intervals, lr schedule, device, threads; ``data``; ``eval``; ``seed``); each family
declares its own section (networks, optimisers by name, loss weights) as a dataclass and
registers it (:mod:`ganlab.registry`) before validation, so ``family: NAME`` validates that
family's keys. The section lives in YAML under the family's name (``gan:``).

Constraints sit next to the fields (``setting(2000, check="positive")``) and are checked by one
walker for every section; a dataclass may add cross-field checks in a ``validate(prefix)``
method. :func:`from_dict` rejects an unknown key, a wrong type or an impossible value with one
line that names the key and what is allowed; a key that moved names its new home. Presets are
YAML files in ``ganlab/presets``; a preset may name a ``base`` preset whose values it overrides.

Why dataclasses and not pydantic: the checks need one-line messages that name the dotted key
and what to do (``train.steps: must be > 0, got 0``), YAML 1.1 quirks (``1e-4`` read as a
string) and "moved to" hints; this module is that, in a few hundred lines, with no dependency.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ganlab.data.registry import data_names
from ganlab.errors import GanlabError
from ganlab.registry import FAMILIES

DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+|mps|meta)$")
Check = str  # "positive", "non_negative", "probability", "positive_or_none", "betas", "run_name"
SEED_MAX = 2**63 - 1        # torch and NumPy seeds are 64-bit
MAX_STEPS = 10**9
MAX_NAME = 200              # run folders are NAME-YYYYmmdd-HHMMSS[-N]; file names stop at 255


def setting(default: Any = dataclasses.MISSING, *, check: Check | None = None,
            choices: tuple[str, ...] | None = None,
            factory: Any = dataclasses.MISSING, maximum: int | float | None = None) -> Any:
    """A config field with its constraint next to it (checked by :func:`validate_tree`);
    ``maximum`` bounds a number from above (absurd values fail at config time, not hours
    later)."""
    meta = {"check": check, "choices": choices, "maximum": maximum}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class DataConfig:
    """What to train on. 2-D mixtures use the mixture fields; image sets use the image fields."""

    name: str = "ring"
    path: str | None = None
    # 2-D data
    # per-mode std (default: the named geometry's); means and weights for name=mixture
    std: float | None = setting(None, check="positive_or_none")
    means: list[list[float]] | None = None
    weights: list[float] | None = None      # normalised
    noise: float = setting(0.0, check="non_negative")  # for spiral / swissroll
    # images; limit keeps the first N
    split: str = "train"
    resolution: int | None = setting(None, check="positive_or_none")
    channels: int | None = setting(None, check="positive_or_none")
    limit: int | None = setting(None, check="positive_or_none")
    labels: bool = False
    # folders too large for memory: read file by file in DataLoader workers; load_size
    # resizes before a random crop to data.resolution; flip adds random horizontal flips
    stream: bool = False
    workers: int = setting(2, check="non_negative")
    load_size: int | None = setting(None, check="positive_or_none")
    flip: bool = False
    # token sequences (text corpora, the oracle): length, tokenizer, vocabulary cap
    seq_len: int | None = setting(None, check="positive_or_none")
    tokenizer: str = setting("word", choices=("char", "word"))
    vocab_size: int | None = setting(None, check="positive_or_none")
    # texts paired with images (emoji-text): the sentence encoder (ganlab.text_encoder)
    text_encoder: str = setting("minilm", choices=("minilm", "hashing"))

    def validate(self, prefix: str) -> None:
        _check_data_name(self.name, f"{prefix}name")
        if self.stream and not self.name.startswith(("folder:", "pairs:", "unpaired:")):
            raise GanlabError(f"{prefix}stream: streaming reads a folder of image files "
                              f"(data.name=folder:PATH); {self.name!r} is read into memory, "
                              "set data.stream=false")


@dataclass
class TrainConfig:
    """What the training loop owns: the schedule, intervals, where and how it computes."""

    steps: int = setting(2000, check="positive", maximum=MAX_STEPS)
    batch_size: int = setting(256, check="positive")
    lr_decay: str = setting("none", choices=("none", "linear", "cosine", "hold-linear"))
    # linear: from 1 at step 0; hold-linear: 1 for the first half, then linear; last step 1/steps
    log_every: int = setting(50, check="positive")
    snapshot_every: int = setting(500, check="non_negative")
    checkpoint_every: int = setting(1000, check="positive")
    keep_checkpoints: int = setting(2, check="positive")
    progress: bool = True
    threads: int | None = setting(None, check="positive_or_none")
    device: str = "auto"               # auto | cpu | cuda | cuda:N | mps (auto: CUDA if present)
    # bf16: autocast on the device; auto: bf16 where the device has fast bf16 units (a CPU
    # with AMX or AVX512-BF16, a CUDA GPU with bf16), fp32 elsewhere (ganlab.engine.runtime).
    # The default stays fp32: bf16 matched fp32's FID on the image DCGAN (docs/benchmarks.md,
    # "fp32 against bf16 autocast at equal steps"), the protocol presets use auto, and the
    # other families are unmeasured in bf16.
    precision: str = setting("fp32", choices=("fp32", "bf16", "auto"))
    channels_last: bool = False        # image networks in channels_last memory format
    sync_batchnorm: bool = False       # several GPUs: BatchNorm statistics over the global batch
    tensorboard: bool = False          # also write RUN/tensorboard/events.out.tfevents.*
    # divergence guard: after every step, weights, gradients and logged numbers must be finite;
    # "stop" ends the run there (the last checkpoint is finite), "rollback" goes back to the last
    # checkpoint with the learning rates times rollback_lr (at most max_rollbacks times)
    on_divergence: str = setting("stop", choices=("stop", "rollback", "ignore"))
    rollback_lr: float = setting(0.5, check="probability")
    max_rollbacks: int = setting(3, check="non_negative")

    def validate(self, prefix: str) -> None:
        if not DEVICE.match(self.device.strip().lower()):
            raise GanlabError(f"{prefix}device: {self.device!r} is not a device; use auto, cpu, "
                              "cuda, cuda:N or mps")


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

    every: int = setting(0, check="non_negative")
    n_samples: int = setting(2500, check="positive")
    extractor: str = "auto"
    reference: str | None = None

    def validate(self, prefix: str) -> None:
        if self.n_samples < MIN_EVAL_SAMPLES:
            raise GanlabError(f"{prefix}n_samples: must be >= {MIN_EVAL_SAMPLES} (precision/"
                              f"recall use 5 nearest neighbours), got {self.n_samples!r}")
        _check_extractor(self.extractor)
        if self.reference is not None and not self.reference.strip():
            raise GanlabError(f"{prefix}reference: must name real images (e.g. "
                              "fashion-mnist:test, npz:PATH, a folder) or be left out for the "
                              "held-out split")


@dataclass
class OptimizerConfig:
    """One Adam optimiser (families name theirs: ``optim: {G: {...}, D: {...}}``)."""

    lr: float = setting(2e-4, check="positive")
    betas: list[float] = setting(check="betas", factory=lambda: [0.5, 0.999])
    weight_decay: float = setting(0.0, check="non_negative")


@dataclass
class Config:
    """A whole run: the shared part, plus ``section``, the family's own config (a dataclass
    stored in YAML under the family's name)."""

    name: str = setting("ring-ns", check="run_name")   # names the run folder under out_dir
    seed: int = setting(0, check="non_negative", maximum=SEED_MAX)
    family: str = "gan"
    description: str = ""
    out_dir: str = "runs"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    section: Any = None


# ---------------------------------------------------------------------------------------------
# Validation

# keys that moved when families got their own sections: old -> new (for the error message)
MOVED = {
    "objective": "gan.objective", "model": "gan.model",
    "train.n_critic": "gan.n_critic", "train.lr_g": "gan.optim.G.lr",
    "train.lr_d": "gan.optim.D.lr", "train.betas_g": "gan.optim.G.betas",
    "train.betas_d": "gan.optim.D.betas", "train.ema": "gan.ema.enabled",
    "train.ema_decay": "gan.ema.decay", "train.ema_start": "gan.ema.start",
    "train.bf16": "train.precision (bf16 or fp32)",
}
TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts")
MIN_EVAL_SAMPLES = 10


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, f"{key}.")
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
    if origin is dict:
        if not isinstance(value, dict):
            raise GanlabError(f"{key}: expected a mapping of names to settings, got {value!r}")
        _, inner = args
        return {str(k): _coerce(v, inner, f"{key}.{k}") for k, v in value.items()}
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


def _build(cls: type, data: Any, prefix: str) -> Any:
    """``cls(**data)`` with every value coerced to its field's type; unknown keys refused."""
    if not isinstance(data, dict):
        raise GanlabError(f"{prefix[:-1] or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "section"]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            if full in MOVED:
                raise GanlabError(f"config key {full!r} has moved: use {MOVED[full]} "
                                  "(each family now owns its networks and optimisers)")
            raise GanlabError(f"config key {full!r} is unknown; allowed keys"
                              f"{' under ' + prefix[:-1] if prefix else ''}: {', '.join(names)}")
        kwargs[key] = _coerce(_with_defaults(cls, key, value), hints[key], full)
    return cls(**kwargs)


def _with_defaults(cls: type, key: str, value: Any) -> Any:
    """A mapping of named settings (e.g. ``optim: {G: ..., D: ...}``) given in part is merged
    over the field's default mapping, so ``optim: {G: {lr: 1e-4}}`` keeps D's settings."""
    f = next(f for f in dataclasses.fields(cls) if f.name == key)
    if not isinstance(value, dict) or f.default_factory is dataclasses.MISSING:
        return value
    default = f.default_factory()
    if not isinstance(default, dict):
        return value
    plain = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) and not isinstance(v, type)
             else v for k, v in default.items()}
    return _merge(plain, value)


def check_run_name(name: Any, key: str = "name") -> None:
    """A run name is a plain folder name: not empty, no path separators, not ``.``/``..``,
    no control characters, at most :data:`MAX_NAME` characters (the run folder stays inside
    ``--out``)."""
    if not isinstance(name, str) or not name.strip():
        raise GanlabError(f"{key}: must not be empty; it names the run folder (e.g. "
                          "name=my-run)")
    if ("/" in name or "\\" in name or (os.altsep and os.altsep in name)
            or name in (".", "..") or Path(name).is_absolute()):
        raise GanlabError(f"{key}: {name!r} is not a plain folder name; a run name may not "
                          "hold path separators or be . or .. (choose where runs go with "
                          "--out or out_dir)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise GanlabError(f"{key}: {name!r} holds control characters; use a plain folder name")
    if len(name) > MAX_NAME:
        raise GanlabError(f"{key}: {len(name)} characters is too long for a folder name; use "
                          f"at most {MAX_NAME}")


def _check_data_name(name: str, key: str) -> None:
    """A registered data name, or ``PREFIX:PATH`` for a registered prefix (``folder:``,
    ``npz:``), so a typo fails at config time rather than after the run folder is made (the
    names come from the dataset registry, which imports no data module to list them)."""
    names = data_names()
    plain = [n for n in names if not n.endswith(":PATH")]
    prefixes = [n[:-len("PATH")] for n in names if n.endswith(":PATH")]
    if name in plain:
        return
    for prefix in prefixes:
        if name.startswith(prefix):
            if name[len(prefix):].strip():
                return
            raise GanlabError(f"{key}: {name!r} names no path; give {prefix}PATH")
    close = difflib.get_close_matches(name, plain + prefixes, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise GanlabError(f"{key}: unknown data {name!r}; {hint}allowed: {', '.join(names)}")


def _check_field(key: str, value: Any, check: Check | None,
                 choices: tuple[str, ...] | None, maximum: int | float | None = None) -> None:
    if choices is not None and value not in choices:
        raise GanlabError(f"{key}: {value!r} is not allowed; choose one of {', '.join(choices)}")
    if maximum is not None and value is not None and value > maximum:
        raise GanlabError(f"{key}: must be <= {maximum}, got {value!r}")
    if check == "run_name":
        check_run_name(value, key)
        return
    if check is None or (check == "positive_or_none" and value is None):
        return
    if check in ("positive", "positive_or_none") and not value > 0:
        raise GanlabError(f"{key}: must be > 0{' when set' if check.endswith('none') else ''}, "
                          f"got {value!r}")
    if check == "non_negative" and value < 0:
        raise GanlabError(f"{key}: must be >= 0, got {value!r}")
    if check == "probability" and not 0.0 <= value < 1.0:
        raise GanlabError(f"{key}: must be in [0, 1), got {value!r}")
    if check == "betas" and (len(value) != 2 or not all(0.0 <= b < 1.0 for b in value)):
        raise GanlabError(f"{key}: expected two numbers in [0, 1), got {value!r}")


def validate_tree(obj: Any, prefix: str = "") -> None:
    """Check every field's constraint (see :func:`setting`), depth first, then each
    dataclass's own ``validate(prefix)`` for checks that involve several fields."""
    for f in dataclasses.fields(obj):
        if f.name == "section":   # the family's section: checked under its own name
            continue
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        _check_field(key, value, f.metadata.get("check"), f.metadata.get("choices"),
                     f.metadata.get("maximum"))
        if dataclasses.is_dataclass(value):
            validate_tree(value, f"{key}.")
        elif isinstance(value, dict):
            for name, item in value.items():
                if dataclasses.is_dataclass(item):
                    validate_tree(item, f"{key}.{name}.")
    check = getattr(obj, "validate", None)
    if callable(check):
        check(prefix)


def _check_extractor(name: str) -> None:
    """``auto``, a registered extractor, or a TorchScript file (checked when it is used)."""
    if name == "auto" or name.endswith(TORCHSCRIPT_SUFFIXES):
        return
    from ganlab.features.registry import EXTRACTORS  # loads torch: only for a name to check

    if name not in EXTRACTORS:
        raise GanlabError(f"eval.extractor: unknown feature extractor {name!r}; choose one of "
                          f"auto, {', '.join(EXTRACTORS)}, or a TorchScript file "
                          f"({', '.join(TORCHSCRIPT_SUFFIXES)})")


def from_dict(data: dict[str, Any]) -> Config:
    """Build and validate a :class:`Config` (and its family's section) from plain data."""
    data = dict(data or {})
    family = data.get("family", "gan")
    if not isinstance(family, str):
        raise GanlabError(f"family: expected a family name, got {family!r}")
    entry = FAMILIES.get(family)   # raises with the registered names
    section_data = data.pop(family, None) or {}
    for other in FAMILIES.names():  # a file may hold sections of several families (a shared
        data.pop(other, None)       # base); only the trained family's is kept and checked
    cfg = _build(Config, data, "")
    cfg.section = _build(entry.config, section_data, f"{family}.")
    validate_tree(cfg)
    validate_tree(cfg.section, f"{family}.")
    return cfg


def to_dict(cfg: Config) -> dict[str, Any]:
    """Nested plain data (for YAML) from a config; the section under the family's name."""
    out = {f.name: dataclasses.asdict(getattr(cfg, f.name)) if dataclasses.is_dataclass(
        getattr(cfg, f.name)) else getattr(cfg, f.name)
        for f in dataclasses.fields(cfg) if f.name != "section"}
    if cfg.section is not None:
        out[cfg.family] = dataclasses.asdict(cfg.section)
    return out


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


# PyYAML also raises ValueError / OverflowError for impossible dates (2001-13-45, 0000-00-00)
# and RecursionError for deeply nested input
YAML_ERRORS = (yaml.YAMLError, ValueError, OverflowError, RecursionError)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def apply_override(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``key.path=value`` override (value parsed as YAML) to nested plain data."""
    if "=" not in assignment:
        raise GanlabError(f"--set {assignment!r}: expected KEY=VALUE, e.g. train.steps=5000")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except YAML_ERRORS as exc:
        raise GanlabError(f"--set {assignment!r}: cannot parse the value: "
                          f"{_one_line(exc)}") from exc
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
    except YAML_ERRORS as exc:
        raise GanlabError(f"{where}: not valid YAML: {_one_line(exc)}") from exc
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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise GanlabError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the "
                          "config as UTF-8") from None
    except OSError as exc:
        raise GanlabError(f"{path}: cannot read the config ({exc.strerror or exc})") from None
    data = _read_yaml(text, str(path))
    base = data.pop("base", None)
    own_name = data.get("name")
    if base:
        data = _merge(preset_data(base), data)
    # a file that names no run is named after itself (my-run.yaml -> runs/my-run-...), not
    # after its base preset or the default
    data["name"] = own_name if own_name is not None else (path.stem[:MAX_NAME] or "run")
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
    cfg = from_dict(data)
    check_override_sections(cfg, overrides)
    return cfg


def check_override_sections(cfg: Config, overrides: list[str] | None) -> None:
    """An override aimed at another family's section would be dropped with that section:
    refuse it instead (``--set gan.model.width=8`` on a config that trains ``cgan``)."""
    for item in overrides or []:
        head = item.split("=", 1)[0].strip().split(".", 1)[0]
        if head != cfg.family and head in FAMILIES.names():
            raise GanlabError(f"--set {item}: this config trains family {cfg.family!r}, whose "
                              f"settings are under {cfg.family}. (e.g. "
                              f"{cfg.family}.{item.split('.', 1)[-1]}); {head}. applies only "
                              f"with family={head}")


def dump(cfg: Config) -> str:
    """YAML text of a config (what a run folder stores as ``config.yaml``)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


DEFAULT_PRESET = "fashion-dcgan-ns"

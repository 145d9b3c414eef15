"""The metric registry: every metric once, with everything that names it.

A :class:`MetricInfo` holds a metric's function (``"module:function"``, imported on first
call, so this module and ``import ganlab.metrics`` load no torch), the value keys of the
:class:`~ganlab.metrics.card.MetricResult` it returns, its one-line help, its ``ganlab eval
NAME`` command (:class:`Command`: inputs, default extractor, its own options, its runner) and
its report panels (keys drawn together). The command line (:mod:`ganlab.cli.eval`), the
report (:mod:`ganlab.report.plots`) and training-time evaluation (which record keys a bundle
such as ``evaluate`` logs: :func:`flat_keys`) all read it from here.

:func:`register_metric` is the one way in: the built-in metrics below go through it, a test or
a notebook calls it, and another package names a :class:`MetricInfo` under the entry-point
group ``ganlab.metrics``. This module knows no argparse: a command's option adder and runner
are references like the function, and the built-in ones live in :mod:`ganlab.cli.eval` beside
the shared options, input loading and printing they use. A metric without ``run`` gets the
generic runner there: its inputs loaded, its function called with the options its signature
names, its result printed (or ``--json``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ganlab.errors import GanlabError
from ganlab.registry import Registry

#: a function: the object itself, or ``"package.module:name"`` (imported on first use)
Ref = str | Callable[..., Any]

#: the inputs of a command that compares generated images with real ones
AB_INPUTS = (
    "A: real images (folder, .npz, dataset name, stats .npz); B: generated (also a run folder)"
)


def resolve(ref: Ref) -> Callable[..., Any]:
    """The function a :data:`Ref` names (importing its module)."""
    if callable(ref):
        return ref
    module, _, name = ref.partition(":")
    try:
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except AttributeError:
        raise GanlabError(f"{ref}: module {module} has no {name!r}") from None
    return fn


def _check_ref(ref: Ref | None, what: str) -> None:
    if ref is None or callable(ref):
        return
    module, sep, name = ref.partition(":")
    if not (sep and module and name.isidentifier()):
        raise GanlabError(f"{what} {ref!r}: expected a function or 'package.module:function'")


@dataclass(frozen=True)
class Command:
    """How ``ganlab eval NAME`` reads its arguments and runs.

    ``inputs``: its positional arguments, each an image set (``a`` real, ``b`` generated);
    ``extractor``: the default of ``--extractor``, or ``None`` when the command takes none of
    the shared options (``--extractor``, ``--weights``, ``--resize``, ``--n``, ``--seed``,
    ``--batch-size``, ``--no-cache``, ``--compile``, ``--json``) and adds what it needs itself;
    ``arguments(parser)`` adds its own options (before the shared ones); ``run(args) -> exit
    code`` runs it (``None``: the generic runner of :mod:`ganlab.cli.eval`, which calls the
    metric's function with the inputs and every option its signature names)."""

    inputs: tuple[str, ...] = ("a", "b")
    extractor: str | None = "inception-fid"
    description: str | None = None
    arguments: Ref | None = None
    run: Ref | None = None

    def __post_init__(self) -> None:
        _check_ref(self.arguments, "arguments")
        _check_ref(self.run, "run")


@dataclass(frozen=True)
class MetricInfo:
    """A metric: its function, the keys it reports, its command and its report panels.

    ``keys``: every value key the function's :class:`~ganlab.metrics.card.MetricResult` can
    hold (some only with an option: memorization's ``feature_*`` with an extractor).
    ``panels``: groups of those keys drawn in one panel of the report (any other key gets a
    panel of its own). ``logged``: record key -> value key, what training-time evaluation logs
    of it under which name (``score`` is the classifier score's ``score_mean``); panels follow
    the logged names. ``result``: the name its result goes under in a bundle's results and in
    ``ganlab eval`` output (default ``name``). ``parts``: for a bundle (``all``,
    ``conditional``), the metrics whose results it returns; it reports no keys of its own.
    ``command``: ``None`` for a metric of the Python API only."""

    name: str
    function: Ref
    keys: tuple[str, ...]
    help: str
    panels: tuple[tuple[str, ...], ...] = ()
    logged: Mapping[str, str] = field(default_factory=dict)
    result: str = ""
    parts: tuple[str, ...] = ()
    command: Command | None = field(default_factory=Command)

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise GanlabError(f"metric name {self.name!r}: use letters, digits, _ and -")
        _check_ref(self.function, f"metric {self.name}: function")
        if not self.result:
            object.__setattr__(self, "result", self.name)  # frozen: set once, here
        for what, used in (("panels", [k for p in self.panels for k in p]),
                           ("logged", list(self.logged.values()))):
            unknown = [k for k in used if k not in self.keys]
            if unknown:
                raise GanlabError(f"metric {self.name}: {what} name keys it does not report: "
                                  f"{', '.join(unknown)} (keys: {', '.join(self.keys)})")

    @property
    def compares(self) -> bool:
        """Whether the metric reads real images beside the generated ones (its command's
        inputs name both sides, ``a`` and ``b``)."""
        return self.command is not None and "a" in self.command.inputs

    def load(self) -> Callable[..., Any]:
        """The metric's function (importing its module)."""
        return resolve(self.function)

    def record_panels(self) -> list[tuple[str, ...]]:
        """:attr:`panels` in the names training logs them under (as named when not logged)."""
        names: dict[str, list[str]] = {}
        for record, key in self.logged.items():
            names.setdefault(key, []).append(record)
        return [tuple(r for k in panel for r in names.get(k, [k])) for panel in self.panels]


def _from_entry_point(loaded: Any, name: str) -> MetricInfo:
    if not isinstance(loaded, MetricInfo):
        raise GanlabError(f"entry point {name!r} of group ganlab.metrics: expected a "
                          f"MetricInfo, got {type(loaded).__name__}")
    if loaded.name != name:
        raise GanlabError(f"entry point {name!r} of group ganlab.metrics names metric "
                          f"{loaded.name!r}: the two must agree")
    return loaded


METRICS: Registry[MetricInfo] = Registry("metric", group="ganlab.metrics",
                                         from_entry_point=_from_entry_point)
_BUILTIN: list[str] = []  # the built-in metrics in listing order (filled below)


def register_metric(info: MetricInfo) -> MetricInfo:
    """Add (or replace) a metric: ``ganlab eval NAME`` (unless ``command`` is None), its
    report panels and its logged keys follow."""
    if not isinstance(info, MetricInfo):
        raise GanlabError(f"register_metric takes a MetricInfo, got {type(info).__name__}")
    return METRICS.register(info.name, info)


def unregister_metric(name: str) -> None:
    """Remove a registered metric (tests use this to clean up)."""
    METRICS.unregister(name)


def get_metric(name: str) -> MetricInfo:
    """The entry of metric ``name``; a GanlabError lists the known ones."""
    return METRICS.get(name)


def metric_names() -> list[str]:
    """Every metric: the built-in ones in their listing order, then the others by name."""
    names = METRICS.names()
    return [n for n in _BUILTIN if n in names] + [n for n in names if n not in _BUILTIN]


def metrics() -> list[MetricInfo]:
    """Every metric's entry, in :func:`metric_names` order."""
    return [METRICS.get(n) for n in metric_names()]


def commands() -> list[MetricInfo]:
    """The metrics with a ``ganlab eval`` command, in listing order."""
    return [info for info in metrics() if info.command is not None]


def parts_of(name: str) -> list[MetricInfo]:
    """The metrics whose results bundle ``name`` returns (itself when it is no bundle)."""
    info = get_metric(name)
    return [get_metric(p) for p in info.parts] if info.parts else [info]


def flat_keys(name: str) -> dict[str, tuple[str, str]]:
    """record key -> (result name, value key) of what training logs of metric (or bundle)
    ``name``: ``flat_keys("all")`` maps ``kid_mean`` to ``("kid", "kid_mean")`` and
    ``score`` to ``("score", "score_mean")`` for :func:`ganlab.metrics.evaluate`'s results."""
    return {record: (part.result, key)
            for part in parts_of(name) for record, key in part.logged.items()}


def report_panels() -> list[tuple[str, ...]]:
    """Every metric's panels in record names: keys of one group are drawn together."""
    return [panel for info in metrics() for panel in info.record_panels()]


# -- the built-in metrics -------------------------------------------------------------------------

_CLI = "ganlab.cli.eval"
_MEMORIZATION_SUMMARY = ("threshold", "threshold_quantile", "fraction_closer",
                         "expected_fraction", "fraction_mirrored_matches", "min_distance",
                         "median_distance", "reference_median_distance")


def _builtin(info: MetricInfo) -> None:
    register_metric(info)
    _BUILTIN.append(info.name)


_builtin(MetricInfo(
    "fid", "ganlab.metrics.api:fid", ("fid",), "Fréchet Inception Distance",
    logged={"fid": "fid"},
    command=Command(description=AB_INPUTS, arguments=f"{_CLI}:fid_arguments",
                    run=f"{_CLI}:cmd_fid"),
))
_builtin(MetricInfo(
    "fid_over_seeds", "ganlab.metrics.api:fid_over_seeds", ("fid_mean", "fid_std", "fid_values"),
    "FID of several generated sets (one per seed): mean, std and every value "
    "(`ganlab eval fid --seeds N`)",
    result="fid", command=None,
))
_builtin(MetricInfo(
    "kid", "ganlab.metrics.api:kid", ("kid_mean", "kid_std", "subsets", "subset_size"),
    "Kernel Inception Distance",
    panels=(("kid_mean", "kid_std"),), logged={"kid_mean": "kid_mean", "kid_std": "kid_std"},
    command=Command(description=AB_INPUTS, arguments=f"{_CLI}:kid_arguments"),
))
_builtin(MetricInfo(
    "is", "ganlab.metrics.api:inception_score",
    ("score_mean", "score_std", "splits", "per_image_entropy", "marginal_entropy", "max_score"),
    "classifier (Inception-style) score with entropies",
    panels=(("per_image_entropy", "marginal_entropy"),),
    logged={"score": "score_mean", "per_image_entropy": "per_image_entropy",
            "marginal_entropy": "marginal_entropy"},
    result="score",
    command=Command(inputs=("b",), extractor="fashion-classifier",
                    arguments=f"{_CLI}:is_arguments"),
))
_builtin(MetricInfo(
    "prdc", "ganlab.metrics.api:prdc", ("precision", "recall", "density", "coverage", "k"),
    "precision, recall, density, coverage",
    panels=(("precision", "recall", "density", "coverage"),),
    logged={k: k for k in ("precision", "recall", "density", "coverage")},
    command=Command(description=AB_INPUTS, arguments=f"{_CLI}:prdc_arguments"),
))
_builtin(MetricInfo(
    "modes", "ganlab.metrics.api:mode_counts",
    ("modes_captured", "num_modes", "kl_gen_data", "n", "confidence",
     "histogram",                                           # one class per mode
     "kl_channels", "kl_dependence", "channel_histograms",  # stacked digits: 1,000 modes
     "kl_channels_confident", "confident_fraction"),
    "class histogram, modes captured, KL to the data",
    panels=(("kl_gen_data", "kl_channels", "kl_dependence", "kl_channels_confident"),
            ("confidence", "confident_fraction")),
    # stacked digits during training (the only mode counting training logs)
    logged={"stacked_modes": "modes_captured", "stacked_kl": "kl_gen_data",
            "stacked_kl_channels": "kl_channels", "stacked_kl_dependence": "kl_dependence",
            "stacked_kl_channels_confident": "kl_channels_confident",
            "stacked_confidence": "confidence",
            "stacked_confident_fraction": "confident_fraction"},
    command=Command(inputs=("b",), extractor="digits-classifier",
                    arguments=f"{_CLI}:modes_arguments", run=f"{_CLI}:cmd_modes"),
))
_builtin(MetricInfo(
    "memorization", "ganlab.metrics.api:memorization",
    (*(f"pixel_{k}" for k in _MEMORIZATION_SUMMARY),
     "pixel_flagged", "pixel_nearest_index", "pixel_nearest_mirrored",
     *(f"feature_{k}" for k in _MEMORIZATION_SUMMARY),  # with an extractor
     "grid"),                                            # with a grid path
    "nearest training neighbours of generated images",
    command=Command(inputs=("b",), extractor="none",
                    arguments=f"{_CLI}:memorization_arguments",
                    run=f"{_CLI}:cmd_memorization"),
))
_builtin(MetricInfo(
    "mifid", "ganlab.metrics.api:mifid",
    ("mifid", "fid", "memorization_distance", "epsilon", "penalty"),
    "memorization-informed FID: FID / penalty for samples near training images",
    command=Command(
        description="MiFID as scored in Kaggle's Generative Dog Images: d = mean over B of the "
        "min cosine distance (1 - |cos|) of its features to TRAIN's; MiFID = FID(A, B) / d "
        "when d < --epsilon, else FID. " + AB_INPUTS,
        arguments=f"{_CLI}:mifid_arguments", run=f"{_CLI}:cmd_mifid"),
))
_builtin(MetricInfo(
    "all", "ganlab.metrics.api:evaluate", (),
    "FID, KID, PRDC (and score if the extractor classifies)",
    parts=("fid", "kid", "prdc", "is"),
    command=Command(arguments=f"{_CLI}:all_arguments", run=f"{_CLI}:cmd_all"),
))
_builtin(MetricInfo(
    "conditional_accuracy", "ganlab.metrics.conditional:conditional_accuracy",
    ("accuracy", "accuracy_per_class", "accuracy_class_mean", "confusion"),
    "how often the domain classifier reads back the asked class",
    logged={"cond_accuracy": "accuracy"},  # with cond_accuracy_<class> per class
    result="accuracy", command=None,
))
_builtin(MetricInfo(
    "per_class_distances", "ganlab.metrics.conditional:per_class_distances",
    ("fid_per_class", "kid_per_class", "kid_std_per_class", "fid_class_mean", "kid_class_mean",
     "fid", "kid", "kid_std"),
    "FID and KID of each class's generated images against that class's real ones",
    result="distances", command=None,
))
_builtin(MetricInfo(
    "intra_class_diversity", "ganlab.metrics.conditional:intra_class_diversity",
    ("diversity_fake_per_class", "diversity_real_per_class", "diversity_ratio_per_class",
     "diversity_ratio_class_mean", "diversity_ratio_min", "diversity_ratio_min_class"),
    "mean pairwise feature distance within a class, generated over real",
    result="diversity", command=None,
))
_builtin(MetricInfo(
    "cas", "ganlab.metrics.conditional:classification_accuracy_score",
    ("cas", "real_accuracy", "gap_points", "cas_per_class", "real_accuracy_per_class"),
    "classification accuracy score: a classifier trained on generated images, tested on real",
    command=None,
))
_builtin(MetricInfo(
    "conditional", "ganlab.metrics.conditional:evaluate_conditional", (),
    "class-conditional generators: per-class accuracy, FID/KID, diversity, CAS",
    parts=("conditional_accuracy", "per_class_distances", "intra_class_diversity", "cas"),
    command=Command(
        extractor="fashion-classifier",
        description="A: labelled real images (e.g. fashion-mnist:test; CAS's test set). "
        "B: a class-conditional run folder (sampled --n-per-class a class) or labelled "
        "generated images (.npz with 'images' and 'labels' = the asked class). One row per "
        "class: conditional accuracy (the classifier reads back the asked class), FID and KID "
        "against that class's real images, intra-class diversity (generated / real mean "
        "pairwise feature distance); --cas adds the classification accuracy score.",
        arguments=f"{_CLI}:conditional_arguments", run=f"{_CLI}:cmd_conditional"),
))
_builtin(MetricInfo(
    "clipscore", "ganlab.metrics.clipscore:clip_score",
    ("clip_score", "clip_score_std", "clip_score_clamp_mean", "scores"),
    "CLIP score: 100 * max(cos(image, text), 0), averaged (local CLIP model)",
    command=Command(
        inputs=("images",), extractor=None,
        description="IMAGES: a folder, .npz, .npy or run folder; --texts: a file with one text "
        "per image, one a line, in the images' order (or a JSON list of strings); --clip: a "
        "local directory holding a CLIP model in Hugging Face transformers layout (needs "
        "pip install transformers; nothing is downloaded).",
        arguments=f"{_CLI}:clipscore_arguments", run=f"{_CLI}:cmd_clipscore"),
))
_builtin(MetricInfo(
    "retrieval", "ganlab.metrics.retrieval:run_retrieval",
    ("real_top1", "real_top5", "generated_top1", "generated_top5", "shuffled_top1",
     "shuffled_top5", "n_test", "candidates", "n_train", "scorer_steps", "encoder", "scorer"),
    "text-image agreement of a text-conditional run: does a scorer trained on real images "
    "only pick each generated image's own text among distractors",
    command=Command(inputs=(), extractor=None, arguments=f"{_CLI}:retrieval_arguments",
                    run=f"{_CLI}:cmd_retrieval"),
))

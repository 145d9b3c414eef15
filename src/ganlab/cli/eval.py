"""``ganlab eval ...``, ``ganlab stats`` and ``ganlab classifier train``.

Inputs may be a folder of images, an .npz file (key ``images``, or its only array), an .npy
image array, a dataset name (``fashion-mnist:test``, ``mnist-5k``, ``digits`` ...), a run
folder (sampled through its generator) or, where statistics suffice (FID), a statistics .npz
(``mu``, ``sigma``) written by ``ganlab stats`` or by pytorch-fid, clean-fid, TTUR or ADM.
``ganlab eval selftest`` runs known-answer checks of the metrics themselves.

Every ``ganlab eval METRIC`` comes from the metric registry (:mod:`ganlab.metrics.registry`):
its inputs, then its own options (``<metric>_arguments`` below), then the shared ones
(:func:`add_shared_options`); it runs with ``cmd_<metric>`` or, when it has no runner of its
own, :func:`run_metric`. The registry names these functions by ``"ganlab.cli.eval:..."`` so
that the metrics package knows nothing of argparse, while they live here beside the input
loading and printing they share.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import ganlab
from ganlab import metrics
from ganlab.errors import GanlabError, positive_int
from ganlab.metrics.registry import MetricInfo, commands, resolve
from ganlab.strictjson import dumps_strict

# The inputs, the extractors and the metric code load torch or numpy: they are imported inside
# the commands, so that building the ``ganlab`` parser (``ganlab --help``) stays fast.


def add_shared_options(p: argparse.ArgumentParser, extractor: str = "inception-fid") -> None:
    """The options every image metric shares (and ``ganlab stats``): the extractor and its
    weights and resize, how many images (``--n``, ``--seed``), batching, cache, ``--json``."""
    p.add_argument(
        "--extractor",
        default=extractor,
        help=f"inception-fid, digits-classifier, fashion-classifier or a TorchScript path "
        f"(default {extractor})",
    )
    p.add_argument("--weights", default=None, help="weights file for the extractor")
    p.add_argument("--resize", default="tf1-bilinear", choices=("tf1-bilinear", "clean"))
    p.add_argument(
        "--n", type=positive_int, default=None, help="images to use (run folders: samples)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--no-cache", action="store_true", help="do not read or write cached features")
    p.add_argument(
        "--compile", action="store_true", help="compile the extractor (slow start, faster run)"
    )
    p.add_argument(
        "--precision", default="fp32", choices=("fp32", "bf16"),
        help="the extractor's arithmetic: fp32 (default, the protocol, equal to the TF "
             "reference) or bf16 autocast (faster where the CPU or GPU has bf16 units; the "
             "card says so; see docs/evaluation.md for the FID deviation it causes)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _load(spec: str, args: argparse.Namespace, seed: int | None = None) -> Any:
    from ganlab.cli.inputs import load_images

    if seed is None:
        seed = getattr(args, "seed", 0)   # a command without the shared options: all, seed 0
    return load_images(spec, getattr(args, "n", None), seed).images


def _ext(args: argparse.Namespace) -> Any:
    """The extractor named on the command line (built once per process)."""
    from ganlab.metrics.extract import as_extractor

    return as_extractor(args.extractor, args.weights, args.resize, args.compile,
                        getattr(args, "precision", "fp32"))


def _kw(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "weights": args.weights,
        "resize": args.resize,
        "batch_size": args.batch_size,
        "progress": True,
        "use_cache": not args.no_cache,
    }


def _print(results: dict[str, Any], args: argparse.Namespace) -> int:
    """Strict JSON with cards (--json), else one `metric: value` line per number."""
    as_dicts = {k: v.to_dict() for k, v in results.items()}
    if args.json:
        print(dumps_strict(as_dicts))
        return 0
    for name, d in as_dicts.items():
        card = d["card"]
        for key, value in d["values"].items():
            if isinstance(value, list) and len(value) > 12:
                continue
            shown = f"{value:.6g}" if isinstance(value, float) else value
            print(f"{name}.{key}: {shown}")
        sets = "".join(
            f" {side}={str(card[f'{side}_fingerprint'])[:12]}"
            for side in ("real", "fake")
            if card[f"{side}_fingerprint"]
        )
        print(
            f"  [{card['extractor']} sha256={str(card['weights_sha256'])[:12]} "
            f"resize={card['resize']} n_real={card['n_real']} n_fake={card['n_fake']}{sets} "
            f"ganlab {card['ganlab_version']}]"
        )
        for note in card["notes"]:
            print(f"  note: {note}")
    return 0


def _real_or_stats(spec: str, args: argparse.Namespace) -> Any:
    """A statistics .npz (has mu and sigma: ganlab's or another tool's) or images."""
    import numpy as np

    from ganlab.metrics.api import check_stats
    from ganlab.metrics.stats import FeatureStats

    p = Path(spec)
    if p.suffix == ".npz" and p.is_file():
        try:
            with np.load(p, allow_pickle=False) as z:
                is_stats = "mu" in z.files and "sigma" in z.files
        except (OSError, ValueError, EOFError) as exc:
            raise GanlabError(f"{p}: cannot read the npz ({exc})") from exc
        if not is_stats:
            return _load(spec, args)
        stats = FeatureStats.load(p)
        check_stats(stats, _ext(args), str(p))
        return stats
    return _load(spec, args)


def _same_set(a: str, b: str) -> bool:
    """Do two input specs name the same set (same text, or the same file or folder)?"""
    strip = [x.split(":", 1)[1] if x.startswith(("folder:", "npz:")) else x for x in (a, b)]
    if a == b or strip[0] == strip[1]:
        return True
    pa, pb = Path(strip[0]), Path(strip[1])
    return pa.exists() and pb.exists() and pa.resolve() == pb.resolve()


def _fingerprint_checks(inputs: list[tuple[str, Any]], args: argparse.Namespace) -> list[str]:
    """Warnings for a statistics file whose fingerprint differs from the set it describes.

    The set is the other input when it names the file's ``source``, and ``--check-against``.
    """
    from ganlab.cli.inputs import load_images
    from ganlab.metrics.cache import images_hash
    from ganlab.metrics.stats import FeatureStats

    stats_sides = [(spec, x) for spec, x in inputs if isinstance(x, FeatureStats)]
    image_sides = [(spec, x) for spec, x in inputs if not isinstance(x, FeatureStats)]
    if args.check_against and not stats_sides:
        raise GanlabError(
            "--check-against compares a statistics file's fingerprint with a set: give a "
            "statistics .npz (from `ganlab stats`) as A or B"
        )
    out = []
    for spec, stats in stats_sides:
        source, want = stats.meta.get("source"), stats.fingerprint
        targets: list[tuple[str, Any]] = [
            (other, images) for other, images in image_sides
            if source is not None and _same_set(other, source)
        ]  # fmt: skip
        if args.check_against:  # the same subset as `ganlab stats` took (its n and seed)
            seed = int(stats.meta.get("seed", 0))
            images = load_images(args.check_against, stats.n, seed).images
            targets.append((args.check_against, images))
        for other, images in targets:
            got = images_hash(images)
            if want is None:
                out.append(
                    f"{spec} records no fingerprint ({stats.origin}), so it cannot be checked "
                    f"against {other} (fingerprint {got[:16]}, N={len(images)})"
                )
            elif got != want:
                out.append(
                    f"{spec} describes {source or 'a set'} with fingerprint {want[:16]} "
                    f"(N={stats.n}), but {other} has fingerprint {got[:16]} (N={len(images)}): "
                    "not the same images, so FIDs against them are not comparable"
                )
    for line in out:
        print(f"ganlab: warning: {line}", file=sys.stderr)
    return out


def cmd_fid(args: argparse.Namespace) -> int:
    real = _real_or_stats(args.a, args)
    if args.seeds > 1:
        fakes = [_load(args.b, args, args.seed + i) for i in range(args.seeds)]
        seeds = [args.seed + i for i in range(args.seeds)]
        warnings = _fingerprint_checks([(args.a, real)], args)
        res = metrics.fid_over_seeds(real, fakes, _ext(args), seeds, **_kw(args))
    else:
        fake = _real_or_stats(args.b, args)
        warnings = _fingerprint_checks([(args.a, real), (args.b, fake)], args)
        res = metrics.fid(real, fake, _ext(args), seed=args.seed, **_kw(args))
    res.card.notes.extend(warnings)
    return _print({"fid": res}, args)


def cmd_modes(args: argparse.Namespace) -> int:
    from ganlab.cli.inputs import load_images

    labels = load_images(args.real).labels if args.real else None
    if args.real and labels is None:
        raise GanlabError(f"--real {args.real} has no labels; give a dataset name")
    res = metrics.mode_counts(
        _load(args.b, args), _ext(args), real_labels=labels, stacked=args.stacked,
        batch_size=args.batch_size, progress=True, use_cache=not args.no_cache,
    )  # fmt: skip
    return _print({"modes": res}, args)


def cmd_memorization(args: argparse.Namespace) -> int:
    n = args.n
    args.n = None  # --n limits the generated set only
    train = _load(args.train, args)
    test = _load(args.test, args) if args.test else None
    args.n = n
    res = metrics.memorization(
        _load(args.b, args), train, test,
        None if args.extractor == "none" else args.extractor,
        quantile=args.quantile, grid_path=args.grid, batch_size=args.batch_size,
        progress=True, use_cache=not args.no_cache,
    )  # fmt: skip
    if not args.json:
        for key in ("pixel_nearest_index", "pixel_nearest_mirrored"):
            res.values.pop(key)
    return _print({"memorization": res}, args)


def cmd_mifid(args: argparse.Namespace) -> int:
    """FID divided by the memorization penalty (Kaggle "Generative Dog Images")."""
    from ganlab.metrics.stats import FeatureStats

    real = _real_or_stats(args.a, args)
    fake = _load(args.b, args)
    if args.train is None and isinstance(real, FeatureStats):
        raise GanlabError(f"{args.a} is a statistics file: give the training images with --train")
    n = args.n
    args.n = None  # --n limits A and B; the training set is read whole
    train = None if args.train is None else _load(args.train, args)
    args.n = n
    warnings = _fingerprint_checks([(args.a, real), (args.b, fake)], args)
    res = metrics.mifid(real, fake, train, _ext(args), epsilon=args.epsilon, **_kw(args))
    res.card.notes.extend(warnings)
    return _print({"mifid": res}, args)


def cmd_all(args: argparse.Namespace) -> int:
    """FID, KID, PRDC (+ score): one extractor pass per input set feeds them all."""
    real, fake = _load(args.a, args), _load(args.b, args)
    results = metrics.evaluate(
        real, fake, _ext(args), kid_subset_size=args.subset_size, seed=args.seed, **_kw(args)
    )
    return _print(results, args)


def _conditional_fake(spec: str, args: argparse.Namespace) -> tuple[Any, Any, list[str] | None]:
    """A class-conditional run's sampler, or labelled generated images: (fake, labels, names)."""
    from ganlab.cli.inputs import load_images
    from ganlab.runs import is_run_folder

    path = Path(spec)
    if is_run_folder(path):
        from ganlab.api import load_run

        run = load_run(path)
        sampler = run.sampler()
        if getattr(sampler, "kind", None) != "images":
            raise GanlabError(f"{spec}: this run makes {sampler.kind}, not images")
        if getattr(sampler, "num_classes", None) is None:
            raise GanlabError(
                f"{spec} is not class-conditional (train with family=cgan or "
                "gan.conditional=true), so it cannot be evaluated class by class"
            )
        names = getattr(run.family.spec, "class_names", None)
        return sampler, None, list(names) if names else None
    gen = load_images(spec)
    if gen.labels is None:
        raise GanlabError(
            f"{spec} has no labels: give a class-conditional run folder, an .npz with "
            "'images' and 'labels' (the asked class of each), or a folder of class subfolders"
        )
    return gen.images, gen.labels, None


def _class_names(extractor: str, k: int, run_names: list[str] | None) -> list[str]:
    if run_names and len(run_names) >= k:
        return [str(n) for n in run_names[:k]]
    if extractor == "fashion-classifier" and k == 10:
        from ganlab.data.images import FASHION_CLASSES

        return list(FASHION_CLASSES)
    return [str(c) for c in range(k)]


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _conditional_table(results: dict[str, Any], names: list[str]) -> list[str]:
    acc, dist, div = (results[k].values for k in ("accuracy", "distances", "diversity"))
    cas = results["cas"].values if "cas" in results else None
    head = f"{'class':<16} {'n':>5} {'cond.acc':>8} {'FID':>9} {'KID':>9} {'div.ratio':>9}"
    if cas:
        head += f" {'CAS':>6} {'real':>6}"
    lines = [head]
    n_fake = results["accuracy"].card.extra["n_fake_per_class"]
    for c, name in enumerate(names):
        row = (
            f"{f'{c} {name}'[:16]:<16} {n_fake[c]:>5} "
            f"{_fmt(acc['accuracy_per_class'][c], '8.3f')} "
            f"{_fmt(dist['fid_per_class'][c], '9.3f')} "
            f"{_fmt(dist['kid_per_class'][c], '9.4f')} "
            f"{_fmt(div['diversity_ratio_per_class'][c], '9.3f')}"
        )
        if cas:
            row += (f" {_fmt(cas['cas_per_class'][c], '6.3f')} "
                    f"{_fmt(cas['real_accuracy_per_class'][c], '6.3f')}")
        lines.append(row)
    lines.append(
        f"{'class mean':<16} {'':>5} {_fmt(acc['accuracy_class_mean'], '8.3f')} "
        f"{_fmt(dist['fid_class_mean'], '9.3f')} {_fmt(dist['kid_class_mean'], '9.4f')} "
        f"{_fmt(div['diversity_ratio_class_mean'], '9.3f')}"
    )
    row = (
        f"{'all (overall)':<16} {sum(n_fake):>5} {_fmt(acc['accuracy'], '8.3f')} "
        f"{_fmt(dist['fid'], '9.3f')} {_fmt(dist['kid'], '9.4f')} {'':>9}"
    )
    if cas:
        row += f" {_fmt(cas['cas'], '6.3f')} {_fmt(cas['real_accuracy'], '6.3f')}"
    lines.append(row)
    if cas:
        extra = results["cas"].card.extra
        lines.append(
            f"classification accuracy score {cas['cas']:.4f} vs real-data accuracy "
            f"{cas['real_accuracy']:.4f}: gap {cas['gap_points']:.1f} points "
            f"({extra['epochs']} epochs, {sum(extra['n_train_per_class'])} training images, "
            f"{extra['n_test']} test images)"
        )
    worst = div["diversity_ratio_min_class"]
    if worst is not None:
        lines.append(f"lowest diversity ratio: class {worst} {names[worst]} "
                     f"({div['diversity_ratio_min']:.3f}; 1 = as varied as the real class)")
    card = results["distances"].card
    lines.append(
        f"  [{card.extractor} sha256={str(card.weights_sha256)[:12]} n_real={card.n_real} "
        f"n_fake={card.n_fake} seed={card.seed} ganlab {card.ganlab_version}]"
    )
    return lines


def cmd_conditional(args: argparse.Namespace) -> int:
    """Class-conditional evaluation: one row per class, and overall rows."""
    from ganlab.cli.inputs import load_images
    from ganlab.metrics.conditional import evaluate_conditional

    real = load_images(args.a, args.n, args.seed)
    if real.labels is None:
        raise GanlabError(f"{args.a} has no labels: give a labelled dataset (e.g. "
                          "fashion-mnist:test) or an .npz with 'images' and 'labels'")
    fake, fake_labels, run_names = _conditional_fake(args.b, args)
    ext = _ext(args)
    cas_train = None
    if args.cas:
        from ganlab.features.classifier_train import classifier_datasets

        domain = str(ext.spec.name).removesuffix("-classifier")
        trained_on = classifier_datasets().get(domain)
        train_spec = args.train or (f"{trained_on}:train" if trained_on else None)
        if train_spec is None:
            raise GanlabError(f"--cas with extractor {ext.spec.name}: give the real training "
                              "set with --train (and use digits- or fashion-classifier)")
        train = load_images(train_spec)
        if train.labels is None:
            raise GanlabError(f"--train {train_spec} has no labels")
        cas_train = (train.images, train.labels)
    results = evaluate_conditional(
        real.images, real.labels, fake, fake_labels, ext, n_per_class=args.n_per_class,
        seed=args.seed, kid_subsets=args.subsets, kid_subset_size=args.subset_size,
        cas=args.cas, cas_epochs=args.cas_epochs, cas_train=cas_train,
        batch_size=args.batch_size, use_cache=not args.no_cache,
        log=lambda msg: print(f"CAS: {msg}", file=sys.stderr, flush=True),
    )  # fmt: skip
    if args.json:
        print(dumps_strict({k: v.to_dict() for k, v in results.items()}))
        return 0
    k = int(ext.spec.num_classes or 0)
    print("\n".join(_conditional_table(results, _class_names(str(ext.spec.name), k, run_names))))
    return 0


def cmd_clipscore(args: argparse.Namespace) -> int:
    """CLIP score of images against one text each, with a local CLIP model."""
    from ganlab.metrics.clipscore import clip_score, read_texts

    texts = read_texts(args.texts)
    images = _load(args.images, args)
    res = clip_score(images, texts, args.clip, batch_size=args.batch_size, device=args.device)
    if not args.json:
        res.values.pop("scores")
    return _print({"clipscore": res}, args)


def cmd_stats(args: argparse.Namespace) -> int:
    from ganlab.metrics.cache import images_hash
    from ganlab.metrics.extract import statistics

    images = _load(args.dataset, args)
    ext = _ext(args)
    stats = statistics(images, ext, args.batch_size, True, not args.no_cache)
    card = ext.card()
    src = Path(args.dataset)
    fingerprint = images_hash(images)
    out = stats.save(
        args.out,
        source=str(src.resolve()) if src.exists() else args.dataset,
        seed=str(args.seed),
        fingerprint=fingerprint,
        extractor=str(card["name"]),
        weights_sha256=str(card["weights_sha256"]),
        resize=args.resize,
        ganlab_version=ganlab.__version__,
        **({"precision": str(card["precision"])} if "precision" in card else {}),
    )
    info = {"out": str(out), "n": stats.n, "dim": int(stats.mu.shape[0]),
            "fingerprint": fingerprint, **card}  # fmt: skip
    print(json.dumps(info, indent=2) if args.json else f"wrote {out} (n={stats.n}, {card['name']})")
    return 0


def cmd_selftest(args: argparse.Namespace) -> int:
    """Known-answer checks of the metrics; exit 1 when one fails."""
    from ganlab.metrics import selftest

    results = selftest.run_checks(args.check or None)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, allow_nan=False))
    else:
        print(selftest.report(results))
    return 1 if any(r.status == "FAIL" for r in results) else 0


def cmd_classifier_train(args: argparse.Namespace) -> int:
    from ganlab.features.classifier_train import train_classifier

    info = train_classifier(args.domain, Path(args.out) if args.out else None, args.seed)
    print(json.dumps(info, indent=2))
    return 0


def cmd_retrieval(args: argparse.Namespace) -> int:
    from ganlab.api import load_run
    from ganlab.metrics.retrieval import run_retrieval
    from ganlab.sampling import TextPromptSampler

    run = load_run(args.run, device=args.device)
    sampler = run.sampler()
    if not isinstance(sampler, TextPromptSampler):
        raise GanlabError(f"{args.run}: not a text-conditional run (cgan.condition=text); "
                          "retrieval measures text-image agreement")
    base = sampler.base
    r = run_retrieval(lambda emb, seed: base.sample(len(emb), seed, condition=emb),
                      sampler.encoder, run.family.spec.sample_shape[-1], run.config.data.path,
                      args.scorer_steps, args.distractors, args.seed)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    k = r["candidates"]
    assert isinstance(k, int)
    print(f"retrieval on {r['n_test']} held-out emoji texts, {k} candidates each (own text + "
          f"{k - 1} of other emoji); scorer trained on {r['n_train']} real training images "
          f"({r['scorer_steps']} steps, {r['encoder']} text embeddings), never on generated "
          "ones")
    print("              top-1   top-5")
    for name, note in (("real", "ceiling"), ("generated", ""),
                       ("shuffled", f"floor; chance {1 / k:.3f} / {min(5, k) / k:.3f}")):
        print(f"  {name:<10}  {r[name + '_top1']:.3f}   {r[name + '_top5']:.3f}"
              + (f"   ({note})" if note else ""))
    return 0


# -- commands built from the metric registry -------------------------------------------------------

# parsed options the generic runner never hands to a metric function (bookkeeping; --n and
# --seed choose the images; --compile and --no-cache become the extractor and use_cache)
_NOT_OPTIONS = frozenset({"func", "command", "eval_command", "argv", "n", "json", "compile",
                          "no_cache", "precision"})


def run_metric(info: MetricInfo, args: argparse.Namespace) -> int:
    """Run a metric that has no runner of its own: load its inputs (``--n``, ``--seed``), call
    its function with them and with every option its signature names (``extractor`` is the
    extractor built from ``--extractor``, ``--weights``, ``--resize``, ``--compile``;
    ``use_cache`` is ``not --no-cache``; ``progress`` is True), print its result."""
    import inspect

    function = info.load()
    inputs = info.command.inputs if info.command is not None else ()
    params = inspect.signature(function).parameters
    given = {k: v for k, v in vars(args).items() if k not in _NOT_OPTIONS and k not in inputs}
    given.update(progress=True, use_cache=not getattr(args, "no_cache", False))
    if "extractor" in given and "extractor" in params:
        given["extractor"] = _ext(args)
    result = function(*(_load(getattr(args, name), args) for name in inputs),
                      **{k: v for k, v in given.items() if k in params})
    return _print({info.result: result}, args)


def add_metric_command(evsub: Any, info: MetricInfo) -> argparse.ArgumentParser:
    """``ganlab eval NAME``: its inputs, its own options, then the shared options."""
    cmd = info.command
    if cmd is None:
        raise GanlabError(f"metric {info.name} has no command")
    p: argparse.ArgumentParser = evsub.add_parser(info.name, help=info.help,
                                                  description=cmd.description)
    for name in cmd.inputs:
        p.add_argument(name)
    if cmd.arguments is not None:
        resolve(cmd.arguments)(p)
    if cmd.extractor is not None:
        add_shared_options(p, cmd.extractor)
    p.set_defaults(func=functools.partial(_run_command, info))
    return p


def _run_command(info: MetricInfo, args: argparse.Namespace) -> int:
    """The metric's own runner (imported only now), else :func:`run_metric`."""
    if info.command is not None and info.command.run is not None:
        return int(resolve(info.command.run)(args) or 0)
    return run_metric(info, args)


def fid_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seeds", type=positive_int, default=1,
        help="sample B this many times; mean, sample std (ddof 1), all",
    )
    p.add_argument(
        "--check-against",
        default=None,
        metavar="SPEC",
        help="warn unless the statistics file given as A or B describes exactly this set "
        "(same fingerprint: sha256 of its images in order)",
    )


def kid_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subsets", type=positive_int, default=100)
    p.add_argument("--subset-size", type=positive_int, default=1000)


def is_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--splits", type=positive_int, default=10)


def prdc_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=positive_int, default=5)


def modes_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real", default=None, help="labelled dataset giving the class distribution")
    p.add_argument("--stacked", action="store_true", help="3-channel stacked digits, 1,000 modes")


def memorization_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train", required=True, help="training images")
    p.add_argument("--test", default=None, help="held-out real images (sets the threshold)")
    p.add_argument("--quantile", type=float, default=0.05)
    p.add_argument("--grid", default=None, help="write a PNG of the closest pairs here")


def mifid_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--train", default=None, help="training images (default: A, which must then be images)"
    )
    p.add_argument("--epsilon", type=float, default=0.1, help="penalty threshold (default 0.1)")
    p.add_argument("--check-against", default=None, metavar="SPEC", help=argparse.SUPPRESS)


def all_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subset-size", type=positive_int, default=1000)


def conditional_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-per-class", type=positive_int, default=500,
                   help="samples a class from a run folder (default 500)")
    p.add_argument("--subsets", type=positive_int, default=100, help="KID subsets")
    p.add_argument("--subset-size", type=positive_int, default=1000,
                   help="KID subset size (capped by each class's size)")
    p.add_argument("--cas", action="store_true",
                   help="classification accuracy score: train a classifier on the generated "
                   "images only, test on A; beside the same classifier trained on real images")
    p.add_argument("--cas-epochs", type=positive_int, default=2)
    p.add_argument("--train", default=None,
                   help="labelled real training set of CAS's baseline (default: the "
                   "extractor's domain, e.g. fashion-mnist:train)")


def clipscore_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--texts", required=True, help="one text per image, one a line")
    p.add_argument("--clip", required=True, help="directory of a transformers CLIP model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--n", type=positive_int, default=None, help="images to use (run: samples)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def retrieval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--distractors", type=positive_int, default=99)
    p.add_argument("--scorer-steps", type=positive_int, default=1500,
                   help="training steps of the scorer (cached once trained)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true")


# Modules that add ``eval`` sub-commands with ``add_eval_commands(eval_subparsers)``.
_EVAL_COMMAND_MODULES = ("ganlab.cli.translate",)


def add_commands(subparsers: Any) -> None:
    """Register ``eval`` (a command per registered metric, then ``selftest``), ``stats`` and
    ``classifier`` on the main parser's subparsers."""
    ev = subparsers.add_parser("eval", help="evaluate generated images (FID, KID, IS, PRDC, ...)")
    evsub = ev.add_subparsers(dest="eval_command", metavar="METRIC", required=True)
    for info in commands():
        add_metric_command(evsub, info)

    p = evsub.add_parser(   # checks the metrics; not one itself
        "selftest",
        help="known-answer checks of FID, KID, PRDC, the resize and the Inception port",
        description="Runs checks whose right answer is known (closed forms, pinned values) on "
        "the CPU in under a minute; prints each, what it means, PASS/FAIL/SKIP; exits 1 if one "
        "fails.",
    )
    p.add_argument(
        "--check", action="append", default=None, metavar="NAME", help="run only this check"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_selftest)

    for name in _EVAL_COMMAND_MODULES:   # metrics whose command lives beside its family
        importlib.import_module(name).add_eval_commands(evsub)

    p = subparsers.add_parser("stats", help="feature statistics (mu, sigma) of a dataset to .npz")
    p.add_argument("dataset")
    p.add_argument("--out", required=True)
    add_shared_options(p)
    p.set_defaults(func=cmd_stats)

    cl = subparsers.add_parser("classifier", help="the digits / fashion evaluation classifiers")
    clsub = cl.add_subparsers(dest="classifier_command", metavar="ACTION", required=True)
    p = clsub.add_parser("train", help="train and write weights + JSON (reproducible)")
    p.add_argument("domain", choices=("digits", "fashion"))
    p.add_argument("--out", default=None, help="folder (default: the package's weights/)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_classifier_train)

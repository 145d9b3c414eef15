"""The ``ganlab`` command."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
from pathlib import Path

from ganlab import __version__
from ganlab import config as config_mod
from ganlab.errors import GanlabError, positive_int

# Modules that add their own subcommands with ``add_commands(subparsers)``.
_COMMAND_MODULES = ("ganlab.cli.sample", "ganlab.cli.eval", "ganlab.cli.lab",
                    "ganlab.cli.translate", "ganlab.cli.compare")


def _print_end(trainer, run_dir: Path) -> None:
    results = getattr(trainer, "results", None)
    if results is not None:  # an image run without metrics says why in its summary lines
        for line in trainer.family.summary_lines(results):
            print(line)
    report = run_dir / "report.html"
    print(f"run folder: {run_dir}")
    if report.exists():
        print(f"report: {report}")


def cmd_train(args: argparse.Namespace) -> int:
    from ganlab.train.loop import Trainer
    from ganlab.train.rundir import lock_run, new_run
    from ganlab.train.runtime import Runtime

    if args.config is None and args.preset is None:
        name = config_mod.DEFAULT_PRESET
        cfg = config_mod.load(preset=name, overrides=args.set)
        print(f"no config given: training the default preset {name!r}"
              f"{' - ' + cfg.description if cfg.description else ''}\n"
              f"(`ganlab presets` lists the others; `ganlab train --preset NAME` picks one)")
    else:
        cfg = config_mod.load(path=args.config, preset=args.preset, overrides=args.set)
    if args.no_progress:
        cfg.train.progress = False
    if args.device:
        cfg.train.device = args.device
    if args.nproc > 1:
        return _launch(args)
    # a device that is not here fails before the run folder; several processes join up here
    runtime = Runtime.from_config(cfg.train)
    run_dir = runtime.broadcast(new_run(cfg, args.out) if runtime.is_main else None)
    with lock_run(run_dir):
        try:
            trainer = Trainer(cfg, run_dir, runtime=runtime)   # reads the data: may fail
        except BaseException:
            if runtime.is_main:
                _remove_unstarted_run(run_dir)
            raise
        if runtime.is_main:
            print(f"run folder: {run_dir}", flush=True)
        code = trainer.run(until=args.until)
        if code == 0 and trainer.step >= cfg.train.steps and runtime.is_main:
            _print_end(trainer, run_dir)
        return code


def _launch(args: argparse.Namespace) -> int:
    """``--nproc N``: run this same command in N processes through torch's elastic launcher
    (what ``torchrun --standalone --nproc-per-node N -m ganlab ...`` does)."""
    import os

    from torch.distributed.run import main as torchrun

    if "WORLD_SIZE" in os.environ:
        raise GanlabError("--nproc: this process was already started by a launcher "
                          "(WORLD_SIZE is set); drop --nproc")
    argv = list(args.argv)
    i = argv.index("--nproc")
    del argv[i:i + 2]
    try:
        torchrun(["--standalone", "--nproc-per-node", str(args.nproc), "-m", "ganlab", *argv])
    except Exception as exc:  # the launcher raises ChildFailedError when a process fails
        raise GanlabError(f"--nproc {args.nproc}: a training process failed ({exc})") from exc
    return 0


def _remove_unstarted_run(run_dir: Path) -> None:
    """Remove a run folder that holds nothing of a run yet (its config and lock files), so a
    config whose data cannot be read leaves no empty folder behind."""
    import shutil

    from ganlab.train.rundir import CONFIG, LOCK, LOCK_PID

    left = {p.name for p in run_dir.iterdir()} - {CONFIG, LOCK, LOCK_PID}
    if not left or all(name.startswith(f".{LOCK_PID}.") for name in left):
        shutil.rmtree(run_dir, ignore_errors=True)


def cmd_resume(args: argparse.Namespace) -> int:
    from ganlab.train.rundir import lock_run

    # one process at a time; the config is read under the lock, so it is the one that a
    # resume which just ended may have rewritten
    if args.nproc > 1:   # the processes it starts take the lock
        return _launch(args)
    with lock_run(args.run_dir):
        return _resume_locked(args)


def _resume_locked(args: argparse.Namespace) -> int:
    from ganlab.train import checkpoint as ckpt
    from ganlab.train.loop import Trainer
    from ganlab.train.rundir import SUMMARY, open_run, save_config

    cfg, run_dir = open_run(args.run_dir, args.set)
    ckpt.remove_debris(run_dir / "checkpoints")   # what a save killed midway left
    if args.no_progress:
        cfg.train.progress = False
    made_on = cfg.train.device
    if args.device:   # this process only: config.yaml keeps the device the run was made with
        cfg.train.device = args.device
    trainer = Trainer(cfg, run_dir)
    try:
        restored = trainer.restore()
    except GanlabError as exc:
        if not args.set:
            raise
        raise GanlabError(f"{exc} (this resume changed: {', '.join(args.set)}; drop the "
                          "override that changes a network)") from exc
    if not restored:
        print(f"{run_dir}: no checkpoint yet; starting from step 0", file=sys.stderr)
    if args.set:   # only now: the checkpoint loaded with the new config
        save_config(dataclasses.replace(cfg, train=dataclasses.replace(
            cfg.train, device=made_on)), run_dir)
    if trainer.step >= cfg.train.steps and not (run_dir / SUMMARY).is_file():
        print(f"{run_dir}: all {trainer.step} steps trained; writing the summary and report",
              flush=True)
        trainer.finish()
        _print_end(trainer, run_dir)
        return 0
    if trainer.step >= cfg.train.steps:
        print(f"{run_dir}: already trained {trainer.step} of {cfg.train.steps} steps; "
              "raise train.steps with --set to train further")
        return 0
    print(f"resuming {run_dir} at step {trainer.step} of {cfg.train.steps}", flush=True)
    code = trainer.run(until=args.until)
    if code == 0 and trainer.step >= cfg.train.steps:
        _print_end(trainer, run_dir)
    return code


def cmd_presets(args: argparse.Namespace) -> int:
    names = config_mod.preset_names()
    width = max(len(n) for n in names)
    for name in names:
        cfg = config_mod.load(preset=name)
        mark = " (default)" if name == config_mod.DEFAULT_PRESET else ""
        print(f"{name:<{width}}  {cfg.description}{mark}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    cfg = config_mod.load(path=args.config, preset=args.preset, overrides=args.set)
    print(config_mod.dump(cfg), end="")
    return 0


def _step_number(text: str) -> int:
    """``--until``: a step number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a step number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a step number >= 0, got {value}")
    return value


def _add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.steps=5000 (repeatable)")
    p.add_argument("--until", type=_step_number, default=None, metavar="STEP",
                   help="stop after this step with a checkpoint (continue with `ganlab resume`)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto (CUDA when present, default), cpu, cuda, cuda:N or mps; "
                        "sets train.device")
    p.add_argument("--nproc", type=positive_int, default=1, metavar="N",
                   help="train data-parallel in N processes (gloo on the CPU, NCCL on GPUs); "
                        "the global batch train.batch_size is split over them")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ganlab",
        description="Train classic GANs, evaluate them with metrics you can trust, "
                    "and see why they fail.")
    parser.add_argument("--version", action="version", version=f"ganlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train a GAN from a preset or a YAML config")
    p.add_argument("config", nargs="?", default=None, help="YAML config file")
    p.add_argument("--preset", default=None, help="a built-in preset (see `ganlab presets`)")
    p.add_argument("--out", default=None, help="folder for run folders (default: runs)")
    _add_run_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a run from its latest checkpoint")
    p.add_argument("run_dir", help="the run folder that `ganlab train` printed")
    _add_run_options(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("presets", help="list the built-in presets")
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("config", help="print a resolved, validated config")
    p.add_argument("config", nargs="?", default=None)
    p.add_argument("--preset", default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(func=cmd_config)

    for name in _COMMAND_MODULES:
        # a command module that fails to import is a broken install: let the error show
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if os.environ.get("RANK", "0") != "0":   # one voice: only the main process prints
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except GanlabError as exc:
        print(f"ganlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

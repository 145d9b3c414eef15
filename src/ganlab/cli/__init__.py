"""The ``ganlab`` command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

from ganlab import __version__
from ganlab import config as config_mod
from ganlab.errors import GanlabError, positive_int

# Modules that add their own subcommands with ``add_commands(subparsers)``.
_COMMAND_MODULES = ("ganlab.cli.sample", "ganlab.cli.eval", "ganlab.cli.lab",
                    "ganlab.cli.translate", "ganlab.cli.compare")


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    from ganlab import api  # loads torch: imported when a verb runs, not for --help

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
    session = _live_session(args)
    if args.nproc > 1:
        return _launch(args)
    try:
        outcome = api.train_config(cfg, args.out, args.until, announce=_say,
                                   attach=session.attach if session else None)
    finally:
        if session is not None:
            session.close()
    if outcome.complete and outcome.trainer.is_main:
        api.end_lines(outcome.trainer, outcome.run.path)
    return outcome.code


def cmd_live(args: argparse.Namespace) -> int:
    """``ganlab live``: a start page that picks a preset (or drawn 2-D data), then the run's
    page, as ``ganlab train --preset NAME --live``."""
    from ganlab import api
    from ganlab.live import LiveSession

    session = LiveSession(args.host, args.port, say=_say)
    session.open()
    try:
        try:
            choice = session.wait_for_start()
        except KeyboardInterrupt:
            print("\nstopped before a run started", file=sys.stderr)
            return 130
        cfg = config_mod.load(preset=choice.preset, overrides=args.set)
        session.points = choice.points
        outcome = api.train_config(cfg, args.out, announce=_say, attach=session.attach)
    finally:
        session.close()
    if outcome.complete:
        api.end_lines(outcome.trainer, outcome.run.path)
    return outcome.code


def _live_session(args: argparse.Namespace) -> Any:
    """``--live``: the page's session (the missing extra is named before anything starts)."""
    if not args.live:
        return None
    if args.nproc > 1:
        raise GanlabError("--live: one process only; drop --nproc")
    from ganlab.live import LiveSession

    return LiveSession(args.host, args.port, say=_say)


def _launch(args: argparse.Namespace) -> int:
    """``--nproc N``: run this same command in N processes through torch's elastic launcher
    (what ``torchrun --standalone --nproc-per-node N -m ganlab ...`` does)."""
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


def cmd_resume(args: argparse.Namespace) -> int:
    # one process at a time: the run folder's lock is held for the whole resume
    session = _live_session(args)
    if args.nproc > 1:   # the processes it starts take the lock
        return _launch(args)
    from ganlab import api

    try:
        return api.resume_run(args.run_dir, args.set, until=args.until,
                              progress=not args.no_progress, device=args.device, say=_say,
                              attach=session.attach if session else None)
    finally:
        if session is not None:
            session.close()


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
    p.add_argument("--live", action="store_true",
                   help="watch and steer the run in the browser: serves a page and prints its "
                        "address (needs ganlab[live]; see docs/live.md)")
    p.add_argument("--host", default="127.0.0.1",
                   help="--live: the address to listen on (default 127.0.0.1, this machine "
                        "only); every request carries the printed token")
    p.add_argument("--port", type=int, default=8765,
                   help="--live: the port (default 8765; 0 picks a free one)")


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

    p = sub.add_parser("live", help="a page in the browser to pick a preset (or draw 2-D "
                                    "data), then watch and steer its run (see docs/live.md)")
    p.add_argument("--out", default=None, help="folder for run folders (default: runs)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value of the chosen preset (repeatable)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8765, help="the port (0 picks a free one)")
    p.set_defaults(func=cmd_live)

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
        code = int(args.func(args) or 0)
    except GanlabError as exc:
        print(f"ganlab: error: {exc}", file=sys.stderr)
        code = 2
    _end_if_one_of_several(code)
    return code


def _end_if_one_of_several(code: int) -> None:
    """End a process of a multi-process run here, its files written and streams flushed,
    without Python's teardown. torch's gloo threads may still be freeing the tensors of the
    last collective; a teardown that catches one doing so aborts the process ("terminate
    called without an active exception", SIGABRT), which fails the whole run."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())

"""``ganlab sample`` and ``ganlab interpolate``: what a trained run makes, written as files.

``sample`` works for every kind of sampler a family exports: images (a grid, PNG files or an
.npz), points (.csv / .npz and a scatter plot) and text (a .txt file).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganlab.atomic import write_text
from ganlab.errors import GanlabError

if TYPE_CHECKING:
    import numpy as np

# numpy, Pillow, torch (via ganlab.api, ganlab.sampling and ganlab.report.grid) and matplotlib
# (via ganlab.report.scatter2d) are imported inside the commands, so that building the
# ``ganlab`` parser (``ganlab --help``) stays fast.

GRID_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def _save_individual(images: np.ndarray, folder: Path) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(images.transpose(0, 2, 3, 1)):
        mode = {1: "L", 3: "RGB", 4: "RGBA"}[a.shape[2]]
        Image.fromarray(a[:, :, 0] if mode == "L" else a, mode).save(folder / f"{i:05d}.png")


def cmd_sample(args: argparse.Namespace) -> int:
    from ganlab.api import load_run

    if args.n < 1:
        raise GanlabError(f"-n: must be >= 1, got {args.n}")
    run = load_run(args.run_dir, device=args.device)
    sampler = run.sampler()
    text = _check_text(getattr(args, "text", None), sampler, run)
    label = _check_class(args.label, sampler, run)
    condition = text if text is not None else label
    samples = sampler.sample(args.n, args.seed) if condition is None else \
        sampler.sample(args.n, args.seed, condition=condition)
    writer = {"images": _write_images, "points": _write_points, "text": _write_text}.get(
        sampler.kind)
    if writer is None:
        raise GanlabError(f"{run.path}: the family's sampler makes {sampler.kind!r}, which "
                          f"`ganlab sample` cannot write (it writes images, points and text)")
    wrote = writer(samples, args, Path(run.path), run)
    of_class = "" if label is None else f" of class {_class_name(label, run)}"
    if text is not None:
        of_class = f" of {text!r}"
    print(f"sampled {args.n} {sampler.kind}{of_class} from {sampler.source} at "
          f"{run.checkpoint} (seed {args.seed})")
    for line in wrote:
        print(f"wrote {line}")
    return 0


def _check_text(text: str | None, sampler: Any, run: Any) -> str | None:
    """``--text``: a non-empty prompt for a text-conditional run, or a clear error."""
    from ganlab.sampling import TextPromptSampler

    if text is None:
        return None
    if not isinstance(sampler, TextPromptSampler):
        raise GanlabError(f"--text: {run.path} is not text-conditional (text-conditional "
                          "runs are made with cgan.condition=text, e.g. --preset emoji-t2i); "
                          "leave out --text")
    if not text.strip():
        raise GanlabError("--text: the text is empty; give a few words, e.g. --text "
                          "\"smiling cat\"")
    return text


def _check_class(label: int | None, sampler: Any, run: Any) -> int | None:
    """``--class``: a class of a class-conditional run, or a clear error."""
    from ganlab.sampling import TextPromptSampler

    if label is None:
        return None
    if isinstance(sampler, TextPromptSampler):
        raise GanlabError(f"--class {label}: {run.path} is conditioned on text, not "
                          "classes; use --text \"...\"")
    k = getattr(sampler, "num_classes", None)
    if k is None:
        raise GanlabError(f"--class {label}: {run.path} is not class-conditional (class-"
                          "conditional runs are made with family=cgan or gan.conditional=true), "
                          "so it cannot sample by class; leave out --class")
    if not 0 <= label < k:
        names = run.family.spec.class_names
        listed = f" ({', '.join(f'{i}={n}' for i, n in enumerate(names))})" if names else ""
        raise GanlabError(f"--class {label}: this run has {k} classes, 0 to {k - 1}{listed}")
    return label


def _class_name(label: int, run: Any) -> str:
    names = run.family.spec.class_names
    return f"{label} ({names[label]})" if names and label < len(names) else str(label)


def _default_name(args: argparse.Namespace, suffix: str) -> str:
    """``sample-seedSEED.SUFFIX``, or ``sample-classK-seedSEED.SUFFIX`` with ``--class``."""
    of_class = "" if args.label is None else f"class{args.label}-"
    text = getattr(args, "text", None)
    if text:
        of_class = "text-" + "".join(c if c.isalnum() else "_" for c in text)[:40] + "-"
    return f"sample-{of_class}seed{args.seed}{suffix}"


def _write_images(samples: Any, args: argparse.Namespace, run_dir: Path, run: Any) -> list[str]:
    import numpy as np

    from ganlab.report.grid import save_grid, to_uint8

    images = to_uint8(samples)
    wrote = []
    if args.npz:
        path = Path(args.npz)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, images=images.numpy())
        wrote.append(f"{path} ({args.n} images, uint8 NCHW, key 'images')")
    if args.out or not args.npz:
        out = Path(args.out) if args.out else run_dir / _default_name(args, ".png")
        if out.suffix.lower() in GRID_SUFFIXES:
            save_grid(images, out, nrow=args.nrow, scale=args.scale)
            wrote.append(f"{out} (grid of {args.n})")
        else:
            _save_individual(images.numpy(), out)
            wrote.append(f"{out}/ ({args.n} PNG files)")
    return wrote


def _write_points(samples: Any, args: argparse.Namespace, run_dir: Path, run: Any) -> list[str]:
    """Points go to .npz (key 'points') or .csv, and a scatter plot beside them."""
    import numpy as np

    points = samples.numpy()
    wrote = []
    if args.npz:
        path = Path(args.npz)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, points=points)
        wrote.append(f"{path} ({len(points)} points of dimension {points.shape[1]}, "
                     "key 'points')")
    out = Path(args.out) if args.out else run_dir / _default_name(args, ".csv")
    if args.out or not args.npz:
        if out.suffix.lower() == ".csv":
            out.parent.mkdir(parents=True, exist_ok=True)
            header = ",".join(f"x{i}" for i in range(points.shape[1]))
            np.savetxt(out, points, delimiter=",", header=header, comments="", fmt="%.6g")
            wrote.append(f"{out} ({len(points)} points)")
            out = out.with_suffix(".png")
        elif out.suffix.lower() != ".png":
            raise GanlabError(f"--out {out}: a run that makes points writes .csv (with a "
                              ".png scatter beside it), .png, or --npz FILE")
        if points.shape[1] == 2:
            from ganlab.report.scatter2d import save_scatter

            bounds = run.family.spec.extra.get("bounds")
            if bounds is None:
                lo, hi = float(points.min()) - 0.1, float(points.max()) + 0.1
                bounds = [lo, hi, lo, hi]
            save_scatter(out, samples[:0], samples, None, tuple(bounds),
                         title=f"{args.n} samples, seed {args.seed}")
            wrote.append(f"{out} (scatter)")
    return wrote


def _write_text(samples: Any, args: argparse.Namespace, run_dir: Path, run: Any) -> list[str]:
    out = Path(args.out) if args.out else run_dir / _default_name(args, ".txt")
    write_text(out, "".join(f"{line}\n" for line in samples))
    for line in samples:     # sentences are read on the terminal too
        print(line)
    return [f"{out} ({len(samples)} lines)"]


def cmd_interpolate(args: argparse.Namespace) -> int:
    from ganlab.api import load_run
    from ganlab.report.grid import save_grid
    from ganlab.sampling import interpolate

    gen = load_run(args.run_dir).generator()
    images = interpolate(gen, args.rows, args.steps, args.seed, spherical=not args.linear)
    out = Path(args.out) if args.out else Path(args.run_dir) / f"interpolate-seed{args.seed}.png"
    if out.suffix.lower() not in GRID_SUFFIXES:
        raise GanlabError(f"--out {out}: give an image file name ending in .png")
    save_grid(images, out, nrow=args.steps, scale=args.scale)
    kind = "linear" if args.linear else "spherical"
    print(f"wrote {out}: {args.rows} {kind} interpolations of {args.steps} steps "
          f"(seed {args.seed})")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``sample`` and ``interpolate`` to the ``ganlab`` command."""
    p = sub.add_parser("sample", help="draw samples from a trained run (images, points or "
                                      "text; the EMA generator if any)")
    p.add_argument("run_dir", help="a run folder with a checkpoint")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, mps or auto")
    p.add_argument("-n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--class", dest="label", type=int, default=None, metavar="K",
                   help="class-conditional runs (gan.conditional=true): every sample of "
                        "class K (0 to num_classes - 1; default: the classes in turn)")
    p.add_argument("--text", default=None, metavar="TEXT",
                   help="text-conditional runs (cgan.condition=text): every sample of this "
                        "text, e.g. \"smiling cat\" (default: the run's held-out prompts)")
    p.add_argument("--out", default=None,
                   help="images: a .png file for one grid, or a folder for one PNG per image "
                        "(default RUN_DIR/sample-seedSEED.png, sample-classK-seedSEED.png "
                        "with --class); points: a .csv (and a .png "
                        "scatter beside it) or a .png; text: a .txt file")
    p.add_argument("--npz", default=None,
                   help="also (or only) write an .npz with 'images' or 'points'")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row")
    p.add_argument("--scale", type=int, default=2, help="enlarge the grid (default 2)")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("interpolate", help="latent interpolation strips of a trained run")
    p.add_argument("run_dir", help="a run folder with a checkpoint")
    p.add_argument("--rows", type=int, default=4, help="number of latent pairs (default 4)")
    p.add_argument("--steps", type=int, default=10, help="images per row (default 10)")
    p.add_argument("--seed", type=int, default=0, help="latent seed (default 0)")
    p.add_argument("--linear", action="store_true", help="linear instead of spherical")
    p.add_argument("--out", default=None,
                   help="PNG file (default RUN_DIR/interpolate-seedSEED.png)")
    p.add_argument("--scale", type=int, default=2, help="enlarge the strip (default 2)")
    p.set_defaults(func=cmd_interpolate)

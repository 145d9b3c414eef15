"""``ganlab translate RUN INPUT OUTPUT_DIR`` and ``ganlab eval translation RUN``.

``translate`` runs the translator of an image-to-image run (pix2pix, CycleGAN: any family
with a ``translator()``, see :mod:`ganlab.translation`) on an image file or a folder of images
(searched recursively). Each input is converted to the run's input channels, centre-cropped
to a square and resized to the run's resolution, as training data is; the command writes one
PNG per input (the folder's layout kept, ``.png`` suffix) and ``grid.png`` with input | output
rows.

``eval translation`` rebuilds the run's family *with its data* (the held-out pairs or domains
its config names), loads the latest checkpoint and prints the family's final evaluation.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ganlab.atomic import write_atomically
from ganlab.errors import GanlabError, positive_int
from ganlab.strictjson import dumps_strict

# numpy, Pillow and torch (via the run, the image reader and ganlab.report.grid) are imported
# inside the commands, so that building the ``ganlab`` parser (``ganlab --help``) stays fast.

GRID = "grid.png"
MAX_GRID_ROWS = 64


def _inputs(path: Path) -> tuple[Path, list[Path]]:
    """(root, image files) of an INPUT: one image file, or the images under a folder."""
    from ganlab.data.imageio import IMAGE_SUFFIXES, list_folder

    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise GanlabError(f"{path}: not an image file (expected "
                              f"{', '.join(IMAGE_SUFFIXES)})")
        return path.parent, [path]
    if path.is_dir():
        files, _, _ = list_folder(path)   # an empty folder is a one-line error there
        return path, files
    raise GanlabError(f"{path}: no such file or folder")


def _read(files: list[Path], shape: tuple[int, ...]) -> Any:
    """Images converted to ``shape`` (C, H, W) as training data is: float in [-1, 1]."""
    import numpy as np
    import torch

    from ganlab.data.imageio import open_image, resize, to_float, to_mode

    c, h, w = shape
    if h != w:
        raise GanlabError(f"the run's inputs are {h}x{w}; only square inputs are supported")
    arrays = []
    for f in files:
        a = np.asarray(resize(to_mode(open_image(f), c), h), dtype=np.uint8)
        arrays.append(a[:, :, None] if a.ndim == 2 else a)
    return to_float(torch.from_numpy(np.stack(arrays).transpose(0, 3, 1, 2).copy()))


def _write_png(image: Any, path: Path) -> None:
    from PIL import Image

    from ganlab.report.grid import to_uint8

    a = to_uint8(image[None])[0].permute(1, 2, 0).numpy()
    img = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: img.save(tmp, format="PNG"))


def translate_files(translator: Any, files: list[Path], root: Path, out_dir: Path,
                    direction: str) -> list[Path]:
    """Translate ``files`` and write one PNG each under ``out_dir`` (paths below ``root``
    kept) and the grid; returns the written paths."""
    from ganlab.translation import side_by_side

    x = _read(files, translator.input_shape(direction))
    y = translator(x, direction)
    written = []
    for f, img in zip(files, y, strict=True):
        target = out_dir / f.relative_to(root).with_suffix(".png")
        _write_png(img, target)
        written.append(target)
    grid = side_by_side([x[:MAX_GRID_ROWS], y[:MAX_GRID_ROWS]])
    grid.save(out_dir / GRID)
    return written


def cmd_translate(args: argparse.Namespace) -> int:
    from ganlab.api import load_run
    from ganlab.translation import check_direction, translator_of

    root, files = _inputs(Path(args.input))   # check the input before loading the model
    run = load_run(args.run_dir, device=args.device)
    translator = translator_of(run.family)
    if args.direction is None:
        args.direction = translator.directions[0]
    check_direction(translator, args.direction)
    out_dir = Path(args.output_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise GanlabError(f"{out_dir}: exists and is not a folder; give a folder for the "
                          "outputs")
    written = translate_files(translator, files, root, out_dir, args.direction)
    print(f"translated {len(written)} image(s) {args.direction} with {run.checkpoint}: "
          f"{out_dir} (side by side: {out_dir / GRID})")
    return 0


def cmd_eval_translation(args: argparse.Namespace) -> int:
    from ganlab.api import load_run
    from ganlab.translation import translator_of

    run = load_run(args.run_dir, device=args.device)
    translator_of(run.family)   # refuse a family that does not translate
    results = run.evaluate(n=args.n)   # rebuilt with its data, on its held-out examples
    family = run.family
    if args.json:
        print(dumps_strict(results))
        return 0
    for key, value in results.items():
        if isinstance(value, float):
            print(f"{key}: {value:.6g}")
        elif isinstance(value, (int, str)):
            print(f"{key}: {value}")
    for line in family.summary_lines(results):
        print(line)
    return 0


def add_commands(subparsers: Any) -> None:
    """Register ``translate``."""
    p = subparsers.add_parser(
        "translate", help="translate an image or a folder with an image-to-image run",
        description="Translate INPUT (an image file or a folder of images) with the latest "
                    "checkpoint of RUN_DIR (pix2pix or CycleGAN); writes one PNG per input "
                    "and grid.png (input | output) to OUTPUT_DIR.")
    p.add_argument("run_dir", help="the run folder")
    p.add_argument("input", help="an image file or a folder of images (searched recursively)")
    p.add_argument("output_dir", help="where the translated PNGs go (made if missing)")
    p.add_argument("--direction", default=None, choices=("AtoB", "BtoA"),
                   help="which way to translate (default: the run's first, AtoB)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    p.set_defaults(func=cmd_translate)


def add_eval_commands(evsub: Any) -> None:
    """Register ``eval translation`` on the ``eval`` command's table."""
    p = evsub.add_parser(
        "translation", help="PSNR/SSIM/FID of an image-to-image run on its held-out data",
        description="Rebuild RUN's family with its data at the latest checkpoint and print "
                    "its final evaluation (pix2pix: PSNR, SSIM, FID/KID and class accuracy of "
                    "held-out translations vs their targets; CycleGAN: per direction).")
    p.add_argument("run_dir", help="the run folder")
    p.add_argument("--n", type=positive_int, default=None,
                   help="held-out examples to translate (default: the run's eval.n_samples)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or mps")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_eval_translation)

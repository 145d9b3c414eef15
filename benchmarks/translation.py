"""Image-to-image benchmarks: ``python benchmarks/translation.py pix2pix|cyclegan ARGS``.

``pix2pix``: the L1 / cGAN / L1 + cGAN ablation on edges -> Fashion-MNIST
(:mod:`translation_pix2pix`); ``cyclegan``: the CycleGAN benchmark (:mod:`translation_cyclegan`).
Each writes its table to ``docs/benchmarks/`` (see ``--help`` of each).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

MODULES = {"pix2pix": "translation_pix2pix", "cyclegan": "translation_cyclegan"}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in MODULES:
        raise SystemExit(f"usage: python benchmarks/translation.py {{{','.join(MODULES)}}} "
                         "[ARGS]  (ARGS: see --help of each)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    importlib.import_module(MODULES[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])

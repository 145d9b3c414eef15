"""What the ``eval`` verbs read: a run folder (sampled through :func:`ganlab.api.load_run`) or
anything :func:`ganlab.metrics.sources.load_images` reads (a folder, .npz, .npy, a dataset).
The metrics themselves never see a run folder."""

from __future__ import annotations

from ganlab import runs
from ganlab.api import load_run
from ganlab.metrics import sources
from ganlab.metrics.sources import ImageSet

DEFAULT_RUN_SAMPLES = 10_000


def load_images(spec: str, n: int | None = None, seed: int = 0) -> ImageSet:
    """The images of ``spec``; a run folder gives ``n`` (default 10,000) samples from
    ``seed``, any other spec a seeded subset of ``n``."""
    if runs.is_run_folder(spec):
        images = load_run(spec).images(n or DEFAULT_RUN_SAMPLES, seed)
        return ImageSet(sources.to_nchw(images.numpy(), spec), f"run:{spec}")
    return sources.load_images(spec, n, seed)

"""Where ganlab keeps what it can always recompute (features, statistics, text embeddings,
trained scorers): ``$GANLAB_CACHE``, or ``~/.cache/ganlab``. Deleting it loses nothing."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$GANLAB_CACHE, or ~/.cache/ganlab."""
    root = os.environ.get("GANLAB_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "ganlab"

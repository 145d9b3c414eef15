"""What the two real-browser tests of the live page share: the browser's path, waiting on the
page, and where screenshots go (docs/live/ when GANLAB_UPDATE_SCREENSHOTS=1, else tmp)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]


def wait_for(what: str, ok: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``ok`` every 0.1 s; fail naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def screenshot_folder(tmp_path: Path) -> Path:
    """docs/live/ when the screenshots are to be updated, else the test's own tmp folder."""
    if os.environ.get("GANLAB_UPDATE_SCREENSHOTS") == "1":
        folder = ROOT / "docs" / "live"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path

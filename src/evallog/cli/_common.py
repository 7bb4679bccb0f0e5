"""Helpers shared by the CLI commands that read runs (``ls``, ``show``, ``compare``, ``verify``, ...)."""

from __future__ import annotations

import sys
import time
from typing import Any

__all__ = ["_Progress", "_load"]


class _Progress:
    """A one-line progress indicator on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        of = f"/{total}" if total else ""
        sys.stderr.write(f"\r\x1b[K{stage}: {done}{of}")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _load(spec: str) -> Any:
    """``load_run`` on a path, or on ``FOLDER@RUN_ID``."""
    import os

    from evallog.readers import load_run

    if not os.path.exists(spec) and "@" in spec:
        path, _, run_id = spec.rpartition("@")
        if os.path.exists(path):
            return load_run(path, run_id=run_id)
    return load_run(spec)

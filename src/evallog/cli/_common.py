"""Helpers shared by the CLI commands that read runs (``ls``, ``show``, ``compare``, ``verify``, ...)."""

from __future__ import annotations

from typing import Any

__all__ = ["_load"]


def _load(spec: str) -> Any:
    """``load_run`` on a path, or on ``FOLDER@RUN_ID``."""
    import os

    from evallog.readers import load_run

    if not os.path.exists(spec) and "@" in spec:
        path, _, run_id = spec.rpartition("@")
        if os.path.exists(path):
            return load_run(path, run_id=run_id)
    return load_run(spec)

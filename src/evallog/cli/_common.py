"""Helpers shared by the CLI commands that read runs (``ls``, ``show``, ``compare``, ``verify``, ...)."""

from __future__ import annotations

from typing import Any

__all__ = ["_load"]


def _load(spec: str) -> Any:
    """``load_run`` on a path, or on ``FOLDER@RUN_ID`` (FOLDER may be a Parquet store)."""
    import os

    from evallog.readers import load_run
    from evallog.store import is_store

    path, run_id = spec, None
    if not os.path.exists(spec) and "@" in spec:
        path, _, run_id = spec.rpartition("@")
        if not os.path.exists(path):
            path, run_id = spec, None
    if os.path.isdir(path) and is_store(path):  # an exported Parquet store
        from evallog.store_runs import load_run as load_stored_run

        return load_stored_run(path, run_id)
    return load_run(path, run_id=run_id)

"""Runs read back from a Parquet store, as :class:`~evallog.readers.Run` objects.

:func:`load_runs` rebuilds each run's results document from the store's
``results`` files (or from the store's results index, one small file, when it
is current: see :mod:`evallog.store`), so :func:`evallog.leaderboard.leaderboard` and
:func:`evallog.compare.compare` work on a store as on run folders. Group
membership travels in each results file's key-value metadata
(``evallog.group_subtasks``). Samples of a :class:`StoreRun` are read from
the ``record`` column of its Parquet files (the original lines), with the
filter the export recorded.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson

from evallog.errors import ReadError
from evallog.readers import Run, parse_run_timestamp
from evallog.store import filesystem, pyarrow_parquet, read_results_docs, store_files

__all__ = ["StoreRun", "StoreTaskSamples", "load_runs", "load_run"]



class StoreTaskSamples:
    """The samples of one task of a stored run: re-iterable, one record (dict) at a time."""

    def __init__(self, files: list[str], task: str, storage_options: dict[str, Any] | None) -> None:
        self.files = files
        self.task = task
        self.storage_options = storage_options
        self.skipped = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        pq = pyarrow_parquet()
        for url in self.files:
            fs, path = filesystem(url, self.storage_options)
            with fs.open(path, "rb") as fh:
                pf = pq.ParquetFile(fh)
                for batch in pf.iter_batches(columns=["filter", "record"], batch_size=8192):
                    for filt, line in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                        rec = orjson.loads(line)
                        if "filter" not in rec:
                            rec["filter"] = filt
                        yield rec

    def __len__(self) -> int:
        pq = pyarrow_parquet()
        total = 0
        for url in self.files:
            fs, path = filesystem(url, self.storage_options)
            with fs.open(path, "rb") as fh:
                total += pq.ParquetFile(fh).metadata.num_rows
        return total


class StoreRun(Run):
    """A run of a Parquet store: ``results`` rebuilt from the ``results`` table,
    samples read from the ``samples`` files (``sample_files`` maps each task to
    its first file; :attr:`task_files` lists all)."""

    task_files: dict[str, list[str]]
    storage_options: dict[str, Any] | None

    def samples(self, task: str, *, skip_corrupt: bool = False) -> Any:  # noqa: ARG002
        files = self.task_files.get(task)
        if not files:
            known = ", ".join(sorted(self.task_files)) or "none"
            raise ReadError(f"no samples for this task in the stored run (tasks with samples: {known})",
                            path=self.path, task=task)
        return StoreTaskSamples(files, task, self.storage_options)

    def n_samples(self, task: str) -> int:
        files = self.task_files.get(task)
        return len(StoreTaskSamples(files, task, self.storage_options)) if files else 0


def _partitions(url: str) -> dict[str, str]:
    out = {}
    for part in url.split("/"):
        key, sep, value = part.partition("=")
        if sep and key in ("model", "task", "run"):
            out[key] = unquote(value)
    return out


def load_runs(root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None,
              with_samples: bool = True) -> list[StoreRun]:
    """Every run of the store at ``root``, sorted by model then timestamp.

    ``with_samples=False`` skips listing the samples files (runs without a
    results file are then left out, and :meth:`StoreRun.samples` has nothing
    to read): what a leaderboard needs, one query whatever the store's size.
    """
    root = os.fspath(root)
    task_files: dict[tuple[str, str], dict[str, list[str]]] = {}
    for url in store_files(root, "samples", storage_options) if with_samples else []:
        p = _partitions(url)
        task_files.setdefault((p.get("model", ""), p.get("run", "")), {}).setdefault(p.get("task", ""), []).append(url)
    docs = read_results_docs(root, storage_options)
    keys = sorted(set(docs) | set(task_files))
    _, base = filesystem(root, storage_options)
    runs: list[StoreRun] = []
    for model, run_id in keys:
        doc = docs.get((model, run_id), {})
        files = {t: sorted(v, key=_part_number) for t, v in sorted(task_files.get((model, run_id), {}).items())}
        tasks = list(doc.get("results", {}))
        tasks += [t for t in files if t not in tasks]
        run = StoreRun(
            path=Path(posixpath.join(base, "samples")), model=model, model_name=model, run_id=run_id,
            timestamp=parse_run_timestamp(run_id), flavor="store", results=doc,
            results_file=Path(base) / "results" if doc else None, tasks=tasks,
            sample_files={t: Path(v[0]) for t, v in files.items()},
        )
        run.task_files = files
        run.storage_options = storage_options
        runs.append(run)
    return runs


def _part_number(url: str) -> int:
    name = url.rsplit("/", 1)[-1]
    digits = name.removeprefix("part-").removesuffix(".parquet")
    return int(digits) if digits.isdigit() else 0


def load_run(root: str | os.PathLike[str], run_id: str | None = None, *, model: str | None = None,
             storage_options: dict[str, Any] | None = None) -> StoreRun:
    """One run of the store: the one with ``run_id`` (and ``model``), else the latest of the only model."""
    runs = [r for r in load_runs(root, storage_options=storage_options)
            if (run_id is None or r.run_id == run_id) and (model is None or r.model == model)]
    if not runs:
        raise ReadError(f"no run{f' with id {run_id!r}' if run_id else 's'} in this store", path=root)
    if len({r.model for r in runs}) > 1:
        names = ", ".join(sorted({r.model for r in runs}))
        raise ReadError(f"several models match ({names}); pass model=", path=root)
    return max(runs, key=lambda r: (r.timestamp.isoformat() if r.timestamp else "", r.run_id))

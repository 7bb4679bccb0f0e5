"""The Parquet store: runs exported into a Hive-partitioned dataset.

Layout (the column contract is in :mod:`evallog.arrow_rows`)::

    DEST/samples/model=<model>/task=<task>/run=<run_id>/part-<k>.parquet
    DEST/results/model=<model>/run=<run_id>/part-0.parquet
    DEST/_evallog/runs/model=<model>/run=<run_id>.json     # export marker

Partition values are percent-encoded (``/`` -> ``%2F``) as Hive, Spark,
pyarrow and Polars expect; the files also hold ``model``, ``task`` and
``run_id`` as columns, so readers that ignore the partitioning (evallog's
DuckDB views do) see the exact names. Files are zstd-compressed with one
row group per ~16 MiB of JSON read (``row_group_bytes``), written one at a
time: locally to a temporary name then renamed, on object stores by a single
upload that appears whole on completion. The marker, written last, records
the source files' sizes and modification times: a run exported before and
unchanged since is skipped; a changed run is rewritten and its stale files
removed. Folders starting with ``_`` are ignored by Spark, pyarrow and
DuckDB globs over ``samples/`` and ``results/``.

Public API::

    export_parquet(paths, dest, *, force=False, storage_options=None) -> ExportReport
    is_store(root, storage_options=None) -> bool
    store_files(root, table, storage_options=None) -> list[str]
"""

from __future__ import annotations

import logging
import os
import posixpath
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import orjson

from evallog.arrow_rows import SampleBatcher, model_of, pyarrow, results_doc, results_table, samples_schema
from evallog.atomic import atomic_writer
from evallog.errors import ConfigError, ReadError, WriteError
from evallog.readers import Run, list_runs

__all__ = [
    "ExportReport",
    "RunExport",
    "export_parquet",
    "export_runs",
    "is_store",
    "store_files",
    "table_sources",
    "TABLE_GLOBS",
    "read_results_docs",
    "filesystem",
    "partition_value",
    "samples_to_parquet",
    "STORE_VERSION",
]

logger = logging.getLogger(__name__)

STORE_VERSION = 1
MARKER_DIR = "_evallog/runs"
INDEX_PATH = "_evallog/results_index.json"
DEFAULT_ROW_GROUP_BYTES = 16 << 20
_WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "write_statistics": ["run_id", "model", "task", "doc_id", "filter", "metric"],
    "write_page_index": True,
}


@dataclass
class RunExport:
    """What happened to one run: ``"exported"``, ``"skipped"`` (unchanged) or ``"in progress"``."""

    model: str
    run_id: str
    status: str
    samples: int = 0
    files: list[str] = field(default_factory=list)


@dataclass
class ExportReport:
    dest: str
    runs: list[RunExport] = field(default_factory=list)

    @property
    def exported(self) -> list[RunExport]:
        return [r for r in self.runs if r.status == "exported"]

    @property
    def skipped(self) -> list[RunExport]:
        return [r for r in self.runs if r.status != "exported"]

    def lines(self) -> Iterator[str]:
        for r in self.runs:
            what = f"{r.samples} samples, {len(r.files)} files" if r.status == "exported" else r.status
            yield f"{r.model}@{r.run_id}: {what}"


# ---------------------------------------------------------------- file system


def filesystem(url: str, storage_options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """``(fsspec filesystem, path inside it)`` for a local path or an fsspec URL."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(os.fspath(url), **(storage_options or {}))
    return fs, path.rstrip("/") or path


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def partition_value(value: str) -> str:
    """Hive's escaping of a partition value (every byte outside ``[A-Za-z0-9._~-]``)."""
    return quote(value, safe="") or "__HIVE_DEFAULT_PARTITION__"


@contextmanager
def _open_atomic(fs: Any, path: str) -> Iterator[BinaryIO]:
    if _is_local(fs):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(Path(path), fsync=False) as fh:
            yield fh
        return
    try:
        fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with fs.open(path, "wb") as fh:  # object stores publish the object on close
            yield fh
    except OSError as exc:
        raise WriteError(f"cannot write: {exc}", path=path) from exc


# ---------------------------------------------------------------- markers


def _fingerprint(run: Run) -> dict[str, Any]:
    files = [run.results_file] if run.results_file else []
    files += list(run.sample_files.values())
    out: dict[str, Any] = {"store_version": STORE_VERSION, "files": {}}
    for path in files:
        st = os.stat(path)
        out["files"][path.name] = [st.st_size, st.st_mtime_ns]
    return out


def _marker_path(root: str, model: str, run_id: str) -> str:
    return f"{root}/{MARKER_DIR}/model={partition_value(model)}/run={partition_value(run_id)}.json"


def _read_marker(fs: Any, path: str) -> dict[str, Any] | None:
    try:
        with fs.open(path, "rb") as fh:
            data = orjson.loads(fh.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- writing


def _task_folder(root: str, run: Run, task: str) -> str:
    return (f"{root}/samples/model={partition_value(model_of(run))}/task={partition_value(task)}"
            f"/run={partition_value(run.run_id)}")


def _write_task(fs: Any, folder: str, run: Run, task: str, row_group_bytes: int) -> tuple[list[str], int]:
    """Write the samples of one task; a new part file starts when a batch brings a new metric."""
    pq = pyarrow_parquet()
    batcher = SampleBatcher(run, task, batch_bytes=row_group_bytes)
    files: list[str] = []
    batches = iter(batcher)
    pending: Any = next(batches, None)
    if pending is None:  # an empty samples file still gets a (row-less) file with the base schema
        pending = samples_schema([]).empty_table()
    part = 0
    while pending is not None:
        schema = pending.schema
        path = f"{folder}/part-{part}.parquet"
        with _open_atomic(fs, path) as fh, pq.ParquetWriter(fh, schema, **_WRITER_OPTIONS) as writer:
            while pending is not None and set(pending.schema.names) <= set(schema.names):
                writer.write_table(_conform(pending, schema), row_group_size=max(pending.num_rows, 1))
                pending = next(batches, None)
        files.append(path)
        if pending is not None:  # a new metric: widen (old metrics, then the new ones) in a new part
            old = _metric_names(schema.names)
            metrics = old + [m for m in _metric_names(pending.schema.names) if m not in old]
            pending = _conform(pending, samples_schema(metrics))
        part += 1
    return files, batcher.rows


def _metric_names(names: list[str]) -> list[str]:
    fixed = set(samples_schema([]).names)
    return [n for n in names if n not in fixed]


def _conform(batch: Any, schema: Any) -> Any:
    """``batch`` as a table of ``schema``: missing metric columns become nulls."""
    pa = pyarrow()
    arrays = [
        batch.column(batch.schema.get_field_index(f.name)) if f.name in batch.schema.names
        else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def pyarrow_parquet() -> Any:
    from evallog._extras import require

    return require("pyarrow.parquet", "parquet", "the Parquet store")


def _write_results(fs: Any, root: str, run: Run) -> str:
    pq = pyarrow_parquet()
    path = (f"{root}/results/model={partition_value(model_of(run))}/run={partition_value(run.run_id)}"
            "/part-0.parquet")
    with _open_atomic(fs, path) as fh:
        pq.write_table(results_table(run), fh, **_WRITER_OPTIONS)
    return path


def _export_run(fs: Any, root: str, run: Run, *, force: bool, row_group_bytes: int,
                before_write: Callable[[], None] | None = None) -> RunExport:
    model = model_of(run)
    if run.in_progress:
        logger.warning("not exporting %s@%s: the run is still in progress", model, run.run_id)
        return RunExport(model, run.run_id, "in progress")
    marker_path = _marker_path(root, model, run.run_id)
    fingerprint = _fingerprint(run)
    old = _read_marker(fs, marker_path)
    if not force and old is not None and old.get("fingerprint") == fingerprint:
        return RunExport(model, run.run_id, "skipped", samples=int(old.get("samples", 0)), files=old.get("files", []))
    if before_write is not None:
        before_write()
    files: list[str] = []
    n = 0
    for task in run.sample_files:
        written, rows = _write_task(fs, _task_folder(root, run, task), run, task, row_group_bytes)
        files += written
        n += rows
    if run.results_file is not None:
        files.append(_write_results(fs, root, run))
    for stale in (old or {}).get("files", []):
        if stale not in files and fs.exists(stale):
            fs.rm(stale)
    marker = {"model": model, "run_id": run.run_id, "samples": n, "files": files, "fingerprint": fingerprint}
    with _open_atomic(fs, marker_path) as fh:
        fh.write(orjson.dumps(marker, option=orjson.OPT_INDENT_2))
    return RunExport(model, run.run_id, "exported", samples=n, files=files)


def export_runs(runs: Iterable[Run], dest: str | os.PathLike[str], *, force: bool = False,
                storage_options: dict[str, Any] | None = None,
                row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES) -> ExportReport:
    """Export already-loaded runs into the store at ``dest``; see :func:`export_parquet`."""
    if row_group_bytes <= 0:
        raise ConfigError(f"row_group_bytes must be positive, got {row_group_bytes}")
    fs, root = filesystem(os.fspath(dest), storage_options)
    report = ExportReport(os.fspath(dest))
    index = f"{root}/{INDEX_PATH}"

    def drop_index() -> None:  # the store is about to change: the index is stale until rebuilt
        if fs.exists(index):
            fs.rm(index)

    for run in runs:
        report.runs.append(_export_run(fs, root, run, force=force, row_group_bytes=row_group_bytes,
                                       before_write=drop_index))
    if not fs.exists(index):
        _write_index(fs, root)
    return report


def export_parquet(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
                   dest: str | os.PathLike[str], *, force: bool = False,
                   storage_options: dict[str, Any] | None = None,
                   row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES) -> ExportReport:
    """Export every finished run found under ``paths`` into the Parquet store at ``dest``.

    ``paths`` are run folders, output folders or results files of lm-eval,
    lmms-eval or evallog (see :func:`evallog.readers.list_runs`); ``dest`` a
    local folder or an fsspec URL (``s3://bucket/store``, ``memory://store``)
    with ``storage_options`` passed to fsspec. Runs still in progress are
    left out; runs exported before and unchanged since are skipped unless
    ``force``. Memory stays bounded by a few times ``row_group_bytes``.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    runs: list[Run] = []
    for path in paths:
        found = list_runs(path)
        if not found:
            raise ReadError("no runs found", path=path)
        runs += found
    return export_runs(runs, dest, force=force, storage_options=storage_options, row_group_bytes=row_group_bytes)


def samples_to_parquet(sample_file: str | os.PathLike[str], dest: str | os.PathLike[str], *,
                       row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES) -> Path:
    """One samples file (JSONL of any flavor) as one Parquet file of the store's schema.

    ``dest`` is a folder: the file is ``<dest>/<samples file stem>.parquet``
    (the name keeps the harness's run id and task, e.g.
    ``samples_gsm8k_2026-01-02T03-04-05.000001.parquet``). Used to publish
    details as Parquet on the Hub.
    """
    from evallog.readers import load_run

    source = Path(sample_file)
    run = load_run(source)
    task = next((t for t, p in run.sample_files.items() if p.name == source.name), None)
    if task is None:
        raise ReadError("not a samples file of lm-eval, lmms-eval or evallog", path=source)
    out = Path(dest) / (source.name.removesuffix(".jsonl") + ".parquet")
    fs, _ = filesystem(os.fspath(dest))
    with tempfile.TemporaryDirectory(prefix=".evallog-", dir=dest) as tmp:
        parts, _ = _write_task(fs, tmp, run, task, row_group_bytes)
        if len(parts) == 1:
            os.replace(parts[0], out)
        else:  # a metric appeared mid-file: one file with every metric column
            _merge_parts(parts, out)
    return out


def _merge_parts(parts: list[str], out: Path) -> None:
    pq = pyarrow_parquet()
    metrics: list[str] = []
    for part in parts:
        metrics += [m for m in _metric_names(pq.read_schema(part).names) if m not in metrics]
    schema = samples_schema(metrics)
    with atomic_writer(out, fsync=False) as fh, pq.ParquetWriter(fh, schema, **_WRITER_OPTIONS) as writer:
        for part in parts:
            pf = pq.ParquetFile(part)
            for i in range(pf.num_row_groups):
                group = pf.read_row_group(i)
                writer.write_table(_conform(group, schema), row_group_size=max(group.num_rows, 1))


# ---------------------------------------------------------------- reading


# the Parquet files of each table, relative to the store's root (the layout above)
TABLE_GLOBS: dict[str, str] = {"samples": "samples/*/*/*/*.parquet", "results": "results/*/*/*.parquet"}


def store_files(root: str, table: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """The Parquet files of ``table`` (``"samples"`` or ``"results"``) in the store at ``root``,
    as paths or URLs DuckDB and fsspec can open."""
    if table not in TABLE_GLOBS:
        raise ConfigError(f"unknown store table {table!r}; choose samples or results")
    fs, path = filesystem(root, storage_options)
    found = sorted(fs.glob(f"{path}/{TABLE_GLOBS[table]}"))
    if _is_local(fs):
        return found
    return [fs.unstrip_protocol(p) for p in found]


def table_sources(root: str, table: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """What DuckDB should read for ``table``: a glob pattern for a local store that has files
    (DuckDB expands it, fast), the listed file URLs for a remote one, ``[]`` when empty."""
    fs, path = filesystem(root, storage_options)
    if not _is_local(fs):
        return store_files(root, table, storage_options)
    pattern = f"{path}/{TABLE_GLOBS[table]}"
    return [pattern] if next(Path(path).glob(TABLE_GLOBS[table]), None) is not None else []


# ---------------------------------------------------------------- results index
# ``_evallog/results_index.json``: every run's results document (rebuilt from its
# results file) in one small file, so that listing the runs of a store with thousands
# of runs reads one file. Derived data: removed before an export changes the store,
# rebuilt after it; ignored when it does not list exactly the results files present.


def _results_paths(fs: Any, root: str) -> list[str]:
    return sorted(fs.glob(f"{root}/{TABLE_GLOBS['results']}"))


def results_docs_from_files(fs: Any, paths: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """``(model, run_id)`` -> results document, from each results file of the store."""
    pq = pyarrow_parquet()
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        with fs.open(path, "rb") as fh:
            table = pq.read_table(fh)
        if table.num_rows:
            docs[(table.column("model")[0].as_py(), table.column("run_id")[0].as_py())] = results_doc(table)
    return docs


def _write_index(fs: Any, root: str) -> None:
    paths = _results_paths(fs, root)
    docs = results_docs_from_files(fs, paths)
    index = {"store_version": STORE_VERSION, "results_files": [p[len(root) + 1:] for p in paths],
             "runs": [{"model": m, "run_id": r, "doc": d} for (m, r), d in docs.items()]}
    with _open_atomic(fs, f"{root}/{INDEX_PATH}") as fh:
        fh.write(orjson.dumps(index))


def read_results_docs(root: str, storage_options: dict[str, Any] | None = None
                      ) -> dict[tuple[str, str], dict[str, Any]]:
    """Every run's results document: from the index when it is current (no pyarrow needed),
    else from the results files."""
    fs, path = filesystem(root, storage_options)
    paths = _results_paths(fs, path)
    try:
        with fs.open(f"{path}/{INDEX_PATH}", "rb") as fh:
            index = orjson.loads(fh.read())
    except (OSError, ValueError):
        index = None
    if not isinstance(index, dict) or index.get("results_files") != [p[len(path) + 1:] for p in paths]:
        return results_docs_from_files(fs, paths)
    return {(e["model"], e["run_id"]): e["doc"] for e in index["runs"]}


def is_store(root: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> bool:
    """Whether ``root`` holds an exported store: an evallog marker folder (``_evallog/runs``), or
    a ``samples/`` or ``results/`` folder that is empty or partitioned by ``model=``."""
    fs, path = filesystem(os.fspath(root), storage_options)
    if fs.isdir(f"{path}/{MARKER_DIR}"):
        return True
    for name in ("samples", "results"):
        folder = f"{path}/{name}"
        if fs.isdir(folder):
            entries = [posixpath.basename(p.rstrip("/")) for p in fs.ls(folder, detail=False)]
            if not entries or any(e.startswith("model=") for e in entries):
                return True
    return False

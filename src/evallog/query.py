"""SQL over runs with DuckDB: views ``samples`` and ``results``.

::

    evallog.sql("SELECT task, model, avg(acc) FROM samples GROUP BY ALL", "store/")   # -> pyarrow.Table

    with evallog.sql_connect("s3://bucket/store", "outputs/") as con:            # a DuckDB connection
        con.sql("SELECT * FROM results WHERE metric = 'acc'").show()

Each root is either an exported store (see :mod:`evallog.store`), local or
remote (any fsspec URL: ``s3://``, ``gs://``, ``hf://``, ``memory://``; the
filesystem is registered with DuckDB, so no DuckDB extension is needed), or
a local folder of runs of lm-eval, lmms-eval or evallog: those are read
through evallog's readers with the store's declared schema and converted
on the fly into a temporary store (the same code as ``evallog export``),
deleted when the connection closes. The views read every root at once,
columns matched by name (``union_by_name``): the column contract is in
:mod:`evallog.arrow_rows`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from evallog._extras import require
from evallog.arrow_rows import EXTRA, RECORD_COLUMN, RESULT_COLUMNS, SAMPLE_KEY_COLUMNS
from evallog.errors import ConfigError, ReadError
from evallog.store import export_parquet, filesystem, is_store, table_sources

__all__ = ["sql", "sql_connect", "TABLES"]

TABLES = ("samples", "results")


def _duckdb() -> Any:
    return require("duckdb", EXTRA, "evallog sql")


def _is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sources(roots: Sequence[str], tables: Sequence[str], storage_options: dict[str, Any] | None,
             stack: ExitStack, con: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {t: [] for t in tables}
    registered: set[str] = set()
    for root in roots:
        if _is_url(root):
            fs, _ = filesystem(root, storage_options)
            name = type(fs).__name__
            if name not in registered:
                con.register_filesystem(fs)
                registered.add(name)
        if not is_store(root, storage_options):
            if _is_url(root):
                raise ReadError("not an exported store (no samples/ or results/ folder): run "
                                "`evallog export ... --to parquet` first", path=root)
            if not os.path.exists(root):
                raise ReadError("no such file or folder", path=root)
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="evallog-sql-"))
            export_parquet(root, tmp)
            root = tmp
        for table in tables:
            out[table] += table_sources(root, table, storage_options)
    return out


_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE", "bool_": "BOOLEAN"}


def _empty_select(columns: Sequence[tuple[str, str]]) -> str:
    cols = ", ".join(f'NULL::{_DUCKDB_TYPES[t]} AS "{n}"' for n, t in columns)
    return f"SELECT {cols} WHERE false"


def _create_views(con: Any, sources: dict[str, list[str]]) -> None:
    empty = {"samples": [*SAMPLE_KEY_COLUMNS, (RECORD_COLUMN, "string")], "results": list(RESULT_COLUMNS)}
    for table, found in sources.items():
        if found:
            listed = ", ".join(_quote(f) for f in found)
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet([{listed}], "
                        "union_by_name = true, hive_partitioning = false)")
        else:
            con.execute(f"CREATE OR REPLACE VIEW {table} AS {_empty_select(empty[table])}")


@contextmanager
def sql_connect(*roots: str | os.PathLike[str], storage_options: dict[str, Any] | None = None,
                database: str = ":memory:", tables: Sequence[str] = TABLES) -> Iterator[Any]:
    """A DuckDB connection with views ``samples`` and ``results`` (or only ``tables``) over
    ``roots`` (default: the current folder); closed, and temporary files removed, on exit."""
    duckdb = _duckdb()
    names = [os.fspath(r) for r in roots] or ["."]
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(sorted(unknown))}; choose among {', '.join(TABLES)}")
    with ExitStack() as stack:
        con = duckdb.connect(database)
        stack.callback(con.close)
        try:  # footers are read when the views are bound: keep them for the queries
            con.execute("SET parquet_metadata_cache = true")
        except duckdb.Error:  # an older DuckDB without the setting
            pass
        _create_views(con, _sources(names, tables, storage_options, stack, con))
        yield con


def sql(query: str, *roots: str | os.PathLike[str], params: Sequence[Any] | dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None) -> Any:
    """Run ``query`` over the views ``samples`` and ``results`` of ``roots``; a ``pyarrow.Table``.

    ``params`` fill ``?`` / ``$name`` placeholders. A query DuckDB rejects
    raises :class:`~evallog.errors.ConfigError` with DuckDB's message.
    """
    duckdb = _duckdb()
    with sql_connect(*roots, storage_options=storage_options) as con:
        try:
            rel = con.sql(query, params=params) if params is not None else con.sql(query)
            if rel is None:  # a statement without a result (CREATE, SET, ...)
                return require("pyarrow", EXTRA, "evallog sql").table({})
            return rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
        except duckdb.Error as exc:
            raise ConfigError(f"query failed: {exc}") from exc

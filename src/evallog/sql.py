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
from evallog.arrow_rows import EXTRA, results_schema, samples_schema
from evallog.errors import ConfigError, ReadError
from evallog.store import export_parquet, filesystem, is_store, store_files

__all__ = ["sql", "sql_connect", "TABLES"]

TABLES = ("samples", "results")


def _duckdb() -> Any:
    return require("duckdb", EXTRA, "evallog sql")


def _is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files(roots: Sequence[str], storage_options: dict[str, Any] | None, stack: ExitStack,
           con: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {t: [] for t in TABLES}
    registered: set[str] = set()
    for root in roots:
        root = os.fspath(root)
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
        for table in TABLES:
            out[table] += store_files(root, table, storage_options)
    return out


def _create_views(con: Any, files: dict[str, list[str]]) -> None:
    empty = {"samples": samples_schema([]).empty_table(), "results": results_schema().empty_table()}
    for table in TABLES:
        if files[table]:
            listed = ", ".join(_quote(f) for f in files[table])
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet([{listed}], "
                        "union_by_name = true, hive_partitioning = false)")
        else:
            con.register(f"_evallog_empty_{table}", empty[table])
            con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM _evallog_empty_{table}")


@contextmanager
def sql_connect(*roots: str | os.PathLike[str], storage_options: dict[str, Any] | None = None,
                database: str = ":memory:") -> Iterator[Any]:
    """A DuckDB connection with views ``samples`` and ``results`` over ``roots``
    (default: the current folder); closed, and temporary files removed, on exit."""
    duckdb = _duckdb()
    names = [os.fspath(r) for r in roots] or ["."]
    with ExitStack() as stack:
        con = duckdb.connect(database)
        stack.callback(con.close)
        _create_views(con, _files(names, storage_options, stack, con))
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

"""``evallog sql "SELECT ..." [ROOT...]``: SQL over runs with DuckDB.

The views ``samples`` and ``results`` cover every ROOT: an exported Parquet
store (local or an fsspec URL) or a local folder of runs (read directly,
nothing to export first). The result prints as one of evallog's tables, or
as an Arrow IPC stream with ``--fmt arrow``.
"""

from __future__ import annotations

import argparse
import sys

from evallog.render import FORMATS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sql",
        help="run a SQL query (DuckDB) over the samples and results of stores or run folders",
        description=(
            "Run QUERY with DuckDB over the views `samples` (one row per sample line) and "
            "`results` (one row per run, task, filter and metric) of every ROOT: a Parquet store "
            "written by `evallog export --to parquet` (local, s3://, gs://, hf://, memory://) or a "
            "local folder of lm-eval / lmms-eval / evallog runs. Default ROOT: the current folder."
        ),
    )
    parser.add_argument("query", metavar="QUERY", help="the SQL query")
    parser.add_argument("roots", nargs="*", metavar="ROOT", help="store or run folder (default: .)")
    parser.add_argument("--fmt", choices=[*FORMATS, "arrow"], default="markdown",
                        help="output format (default: markdown; json is a list of row objects; "
                             "arrow writes an Arrow IPC stream)")
    parser.add_argument("--storage-option", action="append", metavar="KEY=VALUE",
                        help="fsspec option for remote roots (repeatable)")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from evallog.cli._export import _options
    from evallog.query import sql

    table = sql(args.query, *args.roots, storage_options=_options(args.storage_option))
    if args.fmt == "arrow":
        from evallog.arrow_rows import pyarrow

        pa = pyarrow("evallog sql --fmt arrow")
        sink = sys.stdout.buffer
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        sink.flush()
        return 0
    from evallog.render import render_table

    headers = list(table.column_names)
    rows = [list(r.values()) for r in table.to_pylist()]
    rows = [[_cell(v) for v in row] for row in rows]
    sys.stdout.write(render_table(headers, rows, args.fmt))
    sys.stdout.flush()
    return 0


def _cell(value: object) -> object:
    """Values render_table knows: numbers, strings, booleans and None; the rest as text."""
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return str(value)

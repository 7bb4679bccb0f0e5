"""Dataframes of samples and results: Arrow tables, with pandas / Polars one call away.

::

    from evallog import frames
    t = frames.samples("store/", task="gsm8k", columns=["model", "doc_id", "exact_match"])
    df = t.to_pandas()              # needs pandas
    pl = frames.to_polars(t)        # needs polars

Roots are exported stores (local or fsspec URLs) or local run folders, as
for :func:`evallog.query.sql`; the columns are the store's contract
(:mod:`evallog.arrow_rows`). Filters are pushed down to DuckDB, so only the
matching rows and the requested columns are read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from evallog._extras import require
from evallog.errors import ConfigError
from evallog.query import sql

__all__ = ["samples", "results", "to_polars"]


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(table: str, roots: Sequence[str | os.PathLike[str]], columns: Sequence[str] | None,
            where: dict[str, str | Sequence[str] | None], storage_options: dict[str, Any] | None) -> Any:
    cols = ", ".join(_quote_ident(c) for c in columns) if columns else "*"
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in where.items():
        if value is None:
            continue
        values = [value] if isinstance(value, str) else list(value)
        if not values:
            raise ConfigError(f"empty list of values for {name}")
        clauses.append(f"{_quote_ident(name)} IN ({', '.join('?' for _ in values)})")
        params += values
    query = f"SELECT {cols} FROM {table}"
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    return sql(query, *roots, params=params or None, storage_options=storage_options)


def samples(*roots: str | os.PathLike[str], model: str | Sequence[str] | None = None,
            task: str | Sequence[str] | None = None, run_id: str | Sequence[str] | None = None,
            filter: str | Sequence[str] | None = None, columns: Sequence[str] | None = None,
            storage_options: dict[str, Any] | None = None) -> Any:
    """The ``samples`` rows of ``roots`` (default: the current folder) as a ``pyarrow.Table``.

    ``model``, ``task``, ``run_id`` and ``filter`` keep the rows whose value
    is the one given (or one of the list); ``columns`` picks columns.
    """
    where = {"model": model, "task": task, "run_id": run_id, "filter": filter}
    return _select("samples", roots, columns, where, storage_options)


def results(*roots: str | os.PathLike[str], model: str | Sequence[str] | None = None,
            task: str | Sequence[str] | None = None, run_id: str | Sequence[str] | None = None,
            metric: str | Sequence[str] | None = None, columns: Sequence[str] | None = None,
            storage_options: dict[str, Any] | None = None) -> Any:
    """The ``results`` rows of ``roots`` as a ``pyarrow.Table`` (filters as for :func:`samples`)."""
    where = {"model": model, "task": task, "run_id": run_id, "metric": metric}
    return _select("results", roots, columns, where, storage_options)


def to_polars(table: Any) -> Any:
    """An Arrow table as a Polars DataFrame (needs ``polars``: ``pip install polars``)."""
    polars = require("polars", "polars", "frames.to_polars")
    return polars.from_arrow(table)

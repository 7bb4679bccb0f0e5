"""Leaderboards: models as rows, tasks (or groups) as columns, one metric per cell.

::

    lb = leaderboard("outputs/", metric="acc", groups=False, latest=True)
    print(lb.render("markdown"))      # also "latex", "csv", "html", "json"

Rows come from runs that have a results file (in-progress runs and runs with
only samples are left out); by default only the latest run of each model
(by run timestamp), else one row per run (labelled ``model@run_id``).
Columns are the tasks in the order the runs list them; with ``groups=True``
a task that belongs to a group is replaced by the group (standalone tasks
stay). The cell is the task's value of the chosen metric: ``metric="acc"``
takes the ``acc`` key of the task (filter ``none`` first, else the first
filter), ``metric="exact_match,strict-match"`` that exact key; without a
metric each column uses the first metric the results list for that task.
Missing cells are shown as ``-`` (``null`` in JSON, empty in CSV). Tables
are rendered by :func:`evallog.render.render_table`, like ``make_table``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evallog.dates import format_time, run_datetime
from evallog.errors import ConfigError
from evallog.readers import Run, SkippedRun, list_runs, load_run

__all__ = ["leaderboard", "Leaderboard", "MISSING"]

_MIN = datetime.min  # noqa: DTZ901 - run timestamps are naive local times, compared among themselves

MISSING = "-"
"""How a missing cell prints in Markdown, LaTeX and HTML."""


@dataclass
class Leaderboard:
    """A models x tasks table of one metric.

    ``columns[j]`` is a task or group name and ``keys[j]`` the
    ``"metric,filter"`` key read for it; ``labels[i]`` names row ``i``
    (the model, or ``model@run_id`` when ``latest`` is false), ``runs[i]`` is
    its run and ``values[i][j]`` the number or ``None`` when missing.
    """

    columns: list[str]
    keys: list[str]
    labels: list[str]
    runs: list[Run] = field(repr=False)
    values: list[list[float | None]]
    metric: str | None = None
    groups: bool = False
    latest: bool = True
    fmt: str = "markdown"
    skipped: list[SkippedRun] = field(default_factory=list, repr=False)

    def headers(self) -> list[str]:
        """Column titles: ``Model`` then one per task, naming the metric when it varies."""
        keys = set(self.keys)
        out = ["Model"]
        for col, key in zip(self.columns, self.keys):
            if len(keys) == 1:
                out.append(col)
            else:
                metric, _, filt = key.partition(",")
                out.append(f"{col} ({metric if filt == 'none' else key})")
        return out

    def table_rows(self, missing: Any = MISSING) -> list[list[Any]]:
        return [[label, *(missing if v is None else v for v in vals)] for label, vals in zip(self.labels, self.values)]

    @property
    def title(self) -> str:
        keys = sorted(set(self.keys))
        if len(keys) == 1:
            metric, _, filt = keys[0].partition(",")
            return f"Leaderboard: {metric}" + ("" if filt == "none" else f" ({filt})")
        return "Leaderboard"

    def render(self, fmt: str | None = None) -> str:
        """The table in ``fmt`` (default: the format given to :func:`leaderboard`, else Markdown)."""
        from evallog.render import render_table

        fmt = fmt or self.fmt
        missing = None if fmt in ("csv", "json") else MISSING
        numeric = [False] + [True] * len(self.columns)
        return render_table(self.headers(), self.table_rows(missing), fmt, numeric=numeric, title=self.title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "columns": [{"task": c, "key": k} for c, k in zip(self.columns, self.keys)],
            "rows": [
                {
                    "label": label,
                    "model": run.name,
                    "run_id": run.run_id,
                    "timestamp": format_time(run_datetime(run)),
                    "path": str(run.path),
                    "values": dict(zip(self.columns, vals)),
                }
                for label, run, vals in zip(self.labels, self.runs, self.values)
            ],
        }

    def __str__(self) -> str:
        return self.render()


def _collect_runs(root_or_runs: Any, errors: str = "skip") -> list[Run]:
    if isinstance(root_or_runs, (str, os.PathLike)):
        from evallog.store import is_store

        if is_store(root_or_runs):  # an exported Parquet store: one query over its results table
            from evallog.store_runs import load_runs

            return list(load_runs(root_or_runs, with_samples=False))
        return list_runs(root_or_runs, skip_unsupported=True, errors=errors)
    if isinstance(root_or_runs, Run):
        return [root_or_runs]
    if isinstance(root_or_runs, Iterable):
        return [r if isinstance(r, Run) else load_run(r) for r in root_or_runs]
    raise ConfigError("leaderboard() takes a folder, a Run, or a list of runs / paths")


def _pick_key(run: Run, task: str, metric: str | None) -> str | None:
    entry = run.task_results.get(task)
    if not isinstance(entry, dict):
        return None
    pairs = run.metrics(task)
    if metric is None:
        return f"{pairs[0][0]},{pairs[0][1]}" if pairs else None
    if "," in metric:
        return metric if metric in entry else None
    filters = [f for m, f in pairs if m == metric]
    if not filters:
        return None
    return f"{metric},{'none' if 'none' in filters else filters[0]}"


def _latest_per_model(runs: list[Run]) -> list[Run]:
    newest: dict[str, Run] = {}
    for r in runs:
        cur = newest.get(r.name)
        if cur is None or (r.timestamp or _MIN, r.run_id) >= (cur.timestamp or _MIN, cur.run_id):
            newest[r.name] = r
    return list(newest.values())


def _columns(runs: list[Run], groups: bool) -> list[str]:
    """Tasks in order of appearance; with ``groups``, grouped tasks become their (top) group."""
    grouped: dict[str, str] = {}
    group_names: set[str] = set()
    for r in runs:
        group_names.update(r.groups)
        for g, children in r.group_subtasks.items():
            for c in children:
                grouped.setdefault(c, g)
    columns: list[str] = []
    for r in runs:
        for t in r.task_results:
            if groups:
                name = t
                while name in grouped:  # nested groups: climb to the top
                    name = grouped[name]
                if name not in columns:
                    columns.append(name)
            elif t not in group_names and t not in columns:
                columns.append(t)
    return columns


def _pick_keys(columns: list[str], runs: list[Run], metric: str | None) -> tuple[list[str], list[str]]:
    """The columns some run reports, and the ``metric,filter`` key read for each."""
    keys: list[str] = []
    kept: list[str] = []
    for col in columns:
        key = None
        for r in runs:
            key = _pick_key(r, col, metric)
            if key is not None:
                break
        if key is not None:
            kept.append(col)
            keys.append(key)
    return kept, keys


def leaderboard(
    root_or_runs: str | os.PathLike[str] | Run | Iterable[Run | str | os.PathLike[str]],
    *,
    metric: str | None = None,
    groups: bool = False,
    latest: bool = True,
    fmt: str | None = None,
    sort_by: str | None = None,
    errors: str = "skip",
) -> Leaderboard:
    """Build a leaderboard from a folder of runs (or given runs); see the module doc.

    ``sort_by`` names a column (task or group) to sort rows by, best first
    (respecting ``higher_is_better``), missing cells last; by default rows
    are sorted by label. Unreadable runs of a folder are left out with a
    warning and listed in ``skipped``; ``errors="raise"`` raises instead.
    """
    found = _collect_runs(root_or_runs, errors)
    skipped = list(getattr(found, "skipped", []))
    runs = [r for r in found if r.results_file is not None and r.task_results]
    if latest:
        runs = _latest_per_model(runs)
    labels = [r.name if latest else r.label for r in runs]
    order = sorted(range(len(runs)), key=lambda i: (labels[i], runs[i].timestamp or _MIN))
    runs = [runs[i] for i in order]
    labels = [labels[i] for i in order]

    kept, keys = _pick_keys(_columns(runs, groups), runs, metric)
    if metric is not None and runs and not kept:
        raise ConfigError(f"no task reports the metric {metric!r}")
    values: list[list[float | None]] = []
    for r in runs:
        vals: list[float | None] = []
        for col, key in zip(kept, keys):
            m, _, f = key.partition(",")
            vals.append(r.value(col, m, f))
        values.append(vals)

    if sort_by is not None:
        if sort_by not in kept:
            raise ConfigError(f"cannot sort by {sort_by!r}: not a column ({', '.join(kept)})")
        j = kept.index(sort_by)
        m = keys[j].partition(",")[0]
        hib = next((h for r in runs if (h := r.higher_is_better(sort_by, m)) is not None), True)
        sign = -1.0 if hib else 1.0
        idx = sorted(range(len(runs)), key=lambda i: (values[i][j] is None, sign * (values[i][j] or 0.0)))
        runs, labels, values = [runs[i] for i in idx], [labels[i] for i in idx], [values[i] for i in idx]

    return Leaderboard(kept, keys, labels, runs, values, metric, groups, latest, fmt or "markdown", skipped)

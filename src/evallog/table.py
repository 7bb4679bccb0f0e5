"""``make_table``: the results table of lm-eval / lmms-eval, in several formats.

Rows, their order and their cells follow lm-eval 0.4.13 (formats.md §8.1):
hierarchy order and ``" - "`` indentation from ``group_subtasks``, aliases,
the name and version shown once per task, ``↑``/``↓`` from
``higher_is_better``, ``N/A`` stderr. On top of that come lmms-eval's optional
columns (§8.2), shown only when some row has a value, and its throughput
table. Differences from the anchors, all deliberate:

* numbers are formatted by :mod:`evallog.render` (floats always with 4
  decimals, integers as integers), not re-typed per column;
* the caller's dict is never modified (lmms-eval pops ``alias``, §12 #10);
* missing ``versions`` / ``n-shot`` / ``higher_is_better`` give blanks (the
  Version column is left out without ``versions``) instead of raising (§12 #33);
* results written by lmms-eval work too: their pre-indented aliases are
  re-indented from ``group_subtasks``, the ``_stderr_clt`` etc. variants become
  columns, never rows, and a non-aggregating group's ``" ": " "`` placeholder
  gives one row with just the group's name; lm-eval-shaped entries never print
  ``name`` / ``sample_len`` / ``sample_count`` as metrics;
* ``Diff`` is the paired mean difference in percentage points (the midpoint of
  the ``CI``), not the raw value minus the ×100 baseline score (§12 #30).

``fmt="csv"`` and ``fmt="json"`` give the data, not the picture: one record per
task, filter and metric, with the task's key (not its indented alias), raw
numbers, ``N/A`` as empty/``null`` and no ``±``/arrow decoration. They describe
the main table only (the throughput numbers stay in the results file).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from evallog.errors import ConfigError
from evallog.render import FORMATS, format_cell, render_table
from evallog.schema import OPTIONAL_COLUMNS, is_placeholder, parse_metric_key

__all__ = ["make_table", "HIGHER_IS_BETTER_SYMBOLS"]

HIGHER_IS_BETTER_SYMBOLS = {True: "↑", False: "↓"}

# lmms-eval's optional columns (the metric-key rules are schema.py's)
_OPTIONAL = OPTIONAL_COLUMNS



def optional_column_headers() -> dict[str, str]:
    """lmms-eval's optional columns: data key (``table --fmt json``) -> header (``Stderr_CLT``)."""
    return {data: header for header, data, _ in _OPTIONAL}


_THROUGHPUT_ORDER = ("total_gen_tokens", "total_elapsed_time", "avg_latency", "avg_speed")
_THROUGHPUT_UNITS = {
    "total_gen_tokens": "tokens",
    "total_elapsed_time": "seconds",
    "avg_latency": "seconds/request",
    "avg_speed": "tokens/s",
}

_NA = "N/A"


# ------------------------------------------------------------------ helpers


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_num(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    # numpy scalars and other Real numbers, without importing numpy
    import numbers

    return isinstance(value, numbers.Real)


def _missing(value: Any) -> bool:
    """lmms-eval's ``fmt_se`` blanks: None, "N/A", empty strings and sequences."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() in ("", _NA)
    try:
        return len(value) == 0
    except TypeError:
        return False


def _stat(value: Any) -> Any:
    """A stderr-like cell: ``"N/A"`` when missing, else the raw value."""
    return _NA if _missing(value) else value


def _hierarchy(group_subtasks: Mapping[str, Any], available: Iterable[str]) -> tuple[dict[str, int], list[str]]:
    """lm-eval's ``_build_hierarchy_info``: depth per name and the display order."""
    available = set(available)
    children_of = {g: list(c) if isinstance(c, (list, tuple)) else [] for g, c in group_subtasks.items()}
    depth_map: dict[str, int] = {}
    ordered: list[str] = []

    def visit(name: str, depth: int, path: frozenset[str]) -> None:
        depth_map[name] = depth
        if name in available:
            ordered.append(name)
        for child in sorted(children_of.get(name, ())):
            if child not in path:  # a cycle would recurse forever in the anchor
                visit(child, depth + 1, path | {child})

    all_children = {c for children in children_of.values() for c in children}
    for name in sorted(children_of):
        if name not in all_children:
            visit(name, 0, frozenset({name}))
    for key in sorted(available):
        if key not in depth_map:
            ordered.append(key)
    return depth_map, ordered


def _split_alias(alias: str) -> tuple[str, int | None]:
    """Undo lmms-eval's pre-indentation ``" " * depth + "- " + alias``."""
    stripped = alias.lstrip(" ")
    depth = len(alias) - len(stripped)
    if depth and stripped.startswith("- "):
        return stripped[2:], depth
    return alias, None


def _version_text(version: Any) -> str | None:
    if version is None:
        return None
    return version if isinstance(version, str) else str(version)


def _looks_numeric(text: str | None) -> bool:
    if text is None or text.strip() in ("", _NA):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _sort_key(key: Any) -> tuple[int, str]:
    return (0, key) if isinstance(key, str) else (1, repr(key))


# ------------------------------------------------------------------ rows


class _Row:
    """One metric row (``metric is None`` for a group's name-only row)."""

    __slots__ = ("key", "name", "depth", "version", "filter", "n_shot", "metric", "hib", "value", "has_se", "se", "opt", "paired")

    def __init__(self, key: Any, name: Any, depth: Any, version: Any, n_shot: Any, paired: Any, filter: Any = None, metric: Any = None, hib: Any = None, value: Any = None, has_se: bool = False, se: Any = None, opt: Any = None) -> None:  # noqa: A002
        self.key = key
        self.name = name
        self.depth = depth
        self.version = version
        self.n_shot = n_shot
        self.paired = paired
        self.filter = filter
        self.metric = metric
        self.hib = hib
        self.value = value
        self.has_se = has_se
        self.se = se
        self.opt = opt if opt is not None else _NO_OPT


_NO_OPT = (_NA,) * len(_OPTIONAL)
_OPT_SUFFIXES = tuple(suffix for _, _, suffix in _OPTIONAL)


def _paired(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    keys = ("paired_baseline", "paired_baseline_score", "paired_ci_lower", "paired_ci_upper", "paired_pvalue")
    if not any(k in entry for k in keys):
        return None
    lo: Any = entry.get("paired_ci_lower")
    hi: Any = entry.get("paired_ci_upper")
    ci_ok = _is_num(lo) and _is_num(hi)
    pval = entry.get("paired_pvalue")
    baseline = entry.get("paired_baseline")
    score = entry.get("paired_baseline_score")
    return {
        "baseline": str(baseline) if baseline else None,
        "baseline_score": score if _is_num(score) else None,
        # the paired mean difference, in the CI's units (percentage points)
        "diff": (float(lo) + float(hi)) / 2 if ci_ok else None,
        "ci_lower": float(lo) if ci_ok else None,
        "ci_upper": float(hi) if ci_ok else None,
        "p_value": pval if _is_num(pval) else None,
    }


def _collect_rows(result_dict: Mapping[str, Any], column: str, sort_results: bool) -> list[_Row]:
    section = result_dict[column]
    if not isinstance(section, Mapping):
        raise ConfigError(f"result_dict[{column!r}] is not a mapping")
    group_subtasks = _as_map(result_dict.get("group_subtasks"))
    versions = result_dict.get("versions")
    versions = versions if isinstance(versions, Mapping) else None
    n_shot = _as_map(result_dict.get("n-shot"))
    hib_all = _as_map(result_dict.get("higher_is_better"))

    depth_map, ordered = _hierarchy(group_subtasks, section.keys())
    keys = sorted(section.keys(), key=_sort_key) if sort_results else ordered

    rows: list[_Row] = []
    for key in keys:
        entry = section[key]
        if not isinstance(entry, Mapping):
            continue
        alias = entry.get("alias", key)
        name, alias_depth = _split_alias(alias if isinstance(alias, str) else str(alias))
        depth = depth_map.get(key, alias_depth or 0)
        version = (_version_text(versions.get(key, _NA)) if versions is not None else None)
        shots = n_shot.get(key)
        hib = _as_map(hib_all.get(key))
        paired = _paired(entry)

        placeholder = False
        has_opt = False
        metrics = []
        for mf in sorted(k for k in entry if isinstance(k, str)):
            parsed = parse_metric_key(mf)
            if parsed is None:
                placeholder = placeholder or is_placeholder(mf)  # lmms-eval's `" ": " "`
            elif parsed.variant is not None:
                has_opt = has_opt or parsed.variant in _OPT_SUFFIXES
            else:
                metrics.append((mf, parsed.metric, parsed.filter))
        for mf, metric, filt in metrics:
            se_key = f"{metric}_stderr,{filt}"
            has_se = se_key in entry
            rows.append(
                _Row(
                    key,
                    name,
                    depth,
                    version,
                    shots,
                    paired,
                    filt,
                    metric,
                    hib.get(metric),
                    entry[mf],
                    has_se,
                    _stat(entry[se_key]) if has_se else None,
                    tuple(_stat(entry.get(f"{metric}{sfx},{filt}")) for sfx in _OPT_SUFFIXES) if has_opt else None,
                )
            )
        if placeholder and not metrics:
            rows.append(_Row(key, name, depth, version, shots, paired))
    return rows


# ------------------------------------------------------------------ matrices


def _display_matrix(rows: list[_Row], column: str, with_version: bool) -> tuple[list[str], list[list[Any]], list[bool]]:
    headers = ["Groups" if column == "groups" else "Tasks"]
    if with_version:
        headers.append("Version")
    headers += ["Filter", "n-shot", "Metric", "", "Value", "", "Stderr"]

    shown = [any(r.opt[i] != _NA for r in rows) for i in range(len(_OPTIONAL))]
    headers += [h for (h, _, _), s in zip(_OPTIONAL, shown) if s]
    has_baseline = any(r.paired and r.paired["baseline"] for r in rows)
    has_diff = any(r.paired and r.paired["diff"] is not None for r in rows)
    has_pval = any(r.paired and r.paired["p_value"] is not None for r in rows)
    paired_cols = [has_baseline, has_diff, has_diff, has_pval]
    headers += [h for h, s in zip(("Baseline", "Diff", "CI", "P_Value"), paired_cols) if s]

    matrix: list[list[Any]] = []
    prev_key: Any = object()
    for r in rows:
        new_key = r.key != prev_key
        prev_key = r.key
        name = (" " * r.depth + "- " + r.name if r.depth > 0 else r.name) if new_key else ""
        cells: list[Any] = [name]
        if with_version:
            cells.append(r.version if new_key else "")
        cells += [
            r.filter,
            r.n_shot,
            r.metric,
            HIGHER_IS_BETTER_SYMBOLS[r.hib] if isinstance(r.hib, bool) else "",
            r.value,
            "±" if r.has_se else "",
            r.se if r.has_se else "",
        ]
        cells += [v for v, s in zip(r.opt, shown) if s]
        p = r.paired or {}
        if has_baseline:
            cells.append(p.get("baseline") or _NA)
        if has_diff:
            d = p.get("diff")
            cells.append(_NA if d is None else _pct(float(d)))
            lo, hi = p.get("ci_lower"), p.get("ci_upper")
            cells.append(_NA if lo is None or hi is None else f"[{_pct(float(lo))}, {_pct(float(hi))}]")
        if has_pval:
            pv = p.get("p_value")
            cells.append(_NA if pv is None else format_cell(float(pv)) + ("*" if pv < 0.05 else ""))
        matrix.append(cells)

    numeric: list[bool] = [False]
    if with_version:
        numeric.append(all(_looks_numeric(r.version) for r in rows) and bool(rows))
    numeric += [False, _numeric_col(r.n_shot for r in rows), False, False, _numeric_col(r.value for r in rows), False, True]
    numeric += [True] * sum(shown)
    numeric += [f for f, s in zip((False, True, False, True), paired_cols) if s]
    return headers, matrix, numeric


def _pct(x: float) -> str:
    """lmms-eval's ``%+.1f%%``; NaN and infinities print as in every other cell."""
    return f"{x:+.1f}%" if math.isfinite(x) else format_cell(x)


def _numeric_col(values: Iterable[Any]) -> bool:
    seen = False
    for v in values:
        if v is None or (isinstance(v, str) and v.strip() in ("", _NA)):
            continue
        if not _is_num(v):
            return False
        seen = True
    return seen


def _data_matrix(rows: list[_Row], column: str, with_version: bool) -> tuple[list[str], list[list[Any]]]:
    headers = ["group" if column == "groups" else "task", "alias"]
    if with_version:
        headers.append("version")
    headers += ["filter", "n_shot", "metric", "higher_is_better", "value", "stderr"]
    metric_rows = [r for r in rows if r.metric is not None]
    shown = [any(r.opt[i] != _NA for r in metric_rows) for i in range(len(_OPTIONAL))]
    headers += [h for (_, h, _), s in zip(_OPTIONAL, shown) if s]
    paired_keys = ("baseline", "baseline_score", "diff", "ci_lower", "ci_upper", "p_value")
    paired_shown = [any(r.paired and r.paired[k] is not None for r in metric_rows) for k in paired_keys]
    headers += [k for k, s in zip(paired_keys, paired_shown) if s]

    def num(v: Any) -> Any:
        return None if isinstance(v, str) and v == _NA else v

    matrix = []
    for r in metric_rows:
        cells: list[Any] = [str(r.key), r.name]
        if with_version:
            cells.append(None if r.version == _NA else r.version)
        cells += [r.filter, r.n_shot, r.metric, r.hib if isinstance(r.hib, bool) else None, r.value, num(r.se)]
        cells += [num(v) for v, s in zip(r.opt, shown) if s]
        p = r.paired or {}
        cells += [p.get(k) for k, s in zip(paired_keys, paired_shown) if s]
        matrix.append(cells)
    return headers, matrix


def _throughput_matrix(throughput: Mapping[str, Any]) -> list[list[Any]]:
    order = [k for k in _THROUGHPUT_ORDER if k in throughput]
    order += sorted((k for k in throughput if k not in _THROUGHPUT_ORDER), key=_sort_key)
    return [[str(k), throughput[k], _THROUGHPUT_UNITS.get(k, "varies")] for k in order]


# ------------------------------------------------------------------ public


def make_table(
    result_dict: Mapping[str, Any],
    column: str = "results",
    sort_results: bool = False,
    fmt: str = "markdown",
) -> str:
    """Render ``result_dict[column]`` (lm-eval or lmms-eval shaped) as a table.

    ``column`` is ``"results"`` or ``"groups"`` (headed ``Groups``);
    ``sort_results`` orders keys alphabetically instead of by group hierarchy
    (indentation is kept, as in lm-eval); ``fmt`` is one of ``"markdown"``,
    ``"latex"``, ``"csv"``, ``"html"``, ``"json"``. Returns the text (ending
    with a newline); ``result_dict`` is not modified. With ``column="results"``
    and a non-empty ``throughput`` dict, the Markdown/LaTeX/HTML output ends
    with a "Throughput Summary" table.

    Raises :class:`~evallog.errors.ConfigError` for an unknown ``fmt`` or when
    ``column`` is not in ``result_dict``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not isinstance(result_dict, Mapping) or column not in result_dict:
        raise ConfigError(f"the results have no {column!r} section")
    rows = _collect_rows(result_dict, column, sort_results)
    with_version = isinstance(result_dict.get("versions"), Mapping)

    if fmt in ("csv", "json"):
        headers, matrix = _data_matrix(rows, column, with_version)
        return render_table(headers, matrix, fmt)

    headers, matrix, numeric = _display_matrix(rows, column, with_version)
    text = render_table(headers, matrix, fmt, numeric=numeric)
    throughput = result_dict.get("throughput")
    if column == "results" and isinstance(throughput, Mapping) and throughput:
        extra = render_table(
            ["Metric", "Value", "Unit"],
            _throughput_matrix(throughput),
            fmt,
            numeric=[False, True, False],
            title="Throughput Summary",
        )
        text = f"{text}\n{extra}"
    return text

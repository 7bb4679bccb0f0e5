"""One self-contained HTML page to explore and share evaluation runs.

::

    render_report(paths, output=None, **options) -> str      # the HTML text
    build_report(paths, **options) -> Report                  # HTML + what went in

``paths`` is one run folder, results file, output folder (every run below it)
or :class:`~evallog.readers.Run`, or a list of them. The page shows the
results table and groups of each run (the content of ``make_table``), a
leaderboard when there are several models, the comparison of chosen pairs of
runs (``evallog.compare``), and a sample browser per task.

Everything is inline: no network access, no server, no external font or
script; a strict Content-Security-Policy only lets the page's own inline script
(pinned by its sha256) and style run. Data goes into
``<script type="application/json">`` blocks, escaped so that no string from
the results can end the block, and the page's script renders every string
with ``textContent``: a sample containing ``<script>`` shows as text.

Big runs stay usable because the page carries compact sample records:

* long texts are cut to ``max_text`` characters with a visible marker, and
  multimodal payloads (``data:`` URIs, base64 blobs, described images) become
  short labels;
* at most ``max_samples`` records per run and task are embedded (whole
  documents, every filter of a kept document), and all embedded samples share
  a budget of ``max_bytes`` bytes of the page (each task gets an equal share
  of what is left); the page says what was left out;
* each (run, task) block is gzip-compressed and base64-encoded by default and
  only decoded, in the browser, when its task is opened; the browser shows
  50 rows per page.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallog.dates import format_time, results_datetime, run_datetime
from evallog.errors import ConfigError
from evallog.report_page import (  # noqa: F401 - re-exported
    _Block,
    _Progress,
    _render_page,
    _sample_block,
    _tick,
    iter_blocks,
    read_block,
    render_app_page,
)
from evallog.report_samples import (  # noqa: F401 - re-exported
    DEFAULT_MAX_TEXT,
    _as_json,
    _correct,
    compact_sample,
    compact_text,
    compact_value,
    sample_metrics,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_MAX_TEXT",
    "Report",
    "ReportStats",
    "build_report",
    "comparisons_data",
    "column_headers",
    "compact_sample",
    "compact_text",
    "compact_value",
    "correct_of",
    "iter_blocks",
    "leaderboard_data",
    "main_score",
    "read_block",
    "render_app_page",
    "render_report",
    "run_summary",
    "run_tables",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_SAMPLES = 5_000
"""Records embedded per run and task (all filters of a document count)."""
DEFAULT_MAX_BYTES = 25_000_000
"""Bytes of the page for the embedded samples, all tasks together (as stored: compressed by default)."""

_MAX_COMPARISONS = 8
_MAX_FLIP_IDS = 2_000

# --------------------------------------------------------------------------- runs -> page data


@dataclass
class ReportStats:
    """What went into a page."""

    runs: int = 0
    tasks: int = 0
    samples_total: int = 0
    samples_embedded: int = 0
    capped: list[dict[str, Any]] = field(default_factory=list)
    sample_bytes: int = 0
    """Bytes of the page taken by the sample blocks (compressed and base64-encoded by default)."""
    sample_json_bytes: int = 0
    """Uncompressed JSON of the embedded sample records (what the browser decodes)."""
    page_bytes: int = 0
    seconds: float = 0.0
    skipped: list[Any] = field(default_factory=list)
    """Unreadable runs left out (:class:`evallog.readers.SkippedRun`)."""


@dataclass
class Report:
    """A rendered page and what went into it."""

    html: str
    stats: ReportStats

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically (temporary file, then rename)."""
        from evallog.atomic import atomic_write_bytes

        target = Path(path)
        atomic_write_bytes(target, self.html.encode("utf-8"), fsync=False)
        return target


def _resolve_runs(paths: Any, errors: str = "skip", skipped: list[Any] | None = None) -> list[Any]:
    """Runs of ``paths``: Run objects as given, files via ``load_run``, folders via ``list_runs``
    (unreadable runs of a folder go to ``skipped`` unless ``errors="raise"``)."""
    from evallog import readers

    if isinstance(paths, (str, os.PathLike, readers.Run)):
        items = [paths]
    else:
        items = list(paths)
    if not items:
        raise ConfigError("no run given: pass run folders, results files or an output folder")
    runs: list[Any] = []
    seen: set[tuple[str, str, str]] = set()
    for item in items:
        if isinstance(item, readers.Run):
            found = [item]
        else:
            found = readers.list_runs(item, errors=errors)
            if skipped is not None:
                skipped.extend(found.skipped)
            if not found:
                raise ConfigError(f"no evaluation run found under {os.fspath(item)!r}")
        for run in found:
            key = (os.fspath(run.path), run.flavor, run.run_id)
            if key not in seen:
                seen.add(key)
                runs.append(run)
    return runs


def _config_summary(results: Mapping[str, Any], run_id: str | None = None,
                    flavor: str | None = None) -> list[list[str]]:
    """Key facts of a run's configuration, as [label, text] pairs."""
    from evallog.redact import redact

    cfg = results.get("config") if isinstance(results.get("config"), Mapping) else {}
    cfg = redact(cfg)
    rows: list[list[str]] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            rows.append([label, compact_text(value if isinstance(value, str) else _as_json(value), 300)])

    add("model", cfg.get("model"))
    model_args = cfg.get("model_args")
    if isinstance(model_args, Mapping):
        model_args = ",".join(f"{k}={v}" for k, v in model_args.items())
    add("model_args", model_args)
    add("model_name", results.get("model_name"))
    add("batch_size", cfg.get("batch_size"))
    add("limit", cfg.get("limit"))
    add("gen_kwargs", cfg.get("gen_kwargs"))
    add("seeds", ", ".join(f"{k.replace('_seed', '')}={cfg[k]}" for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed") if k in cfg))
    add("version", results.get("lm_eval_version") or results.get("lmms_eval_version"))
    add("git_hash", results.get("git_hash"))
    add("run id", run_id)
    add("date", format_time(results_datetime(results, run_id, flavor)))
    duration = results.get("total_evaluation_time_seconds")
    try:
        duration = f"{float(duration):,.1f} s" if duration is not None else None
    except (TypeError, ValueError):
        pass
    add("duration", duration)
    return rows


def _depths(group_subtasks: Mapping[str, Any]) -> dict[str, int]:
    """Nesting depth of every task/group under ``group_subtasks`` (0 for top level)."""
    depth: dict[str, int] = {}

    def walk(name: str, d: int, trail: tuple[str, ...]) -> None:
        if name in trail:  # a cycle in a hand-edited file
            return
        depth[name] = max(depth.get(name, 0), d)
        for child in group_subtasks.get(name) or []:
            if isinstance(child, str):
                walk(child, d + 1, trail + (name,))

    children = {c for v in group_subtasks.values() if isinstance(v, list) for c in v if isinstance(c, str)}
    for name in group_subtasks:
        if name not in children:
            walk(name, 0, ())
    return depth


def _column_headers() -> dict[str, str]:
    """Headers of the results tables' optional columns, the CLI's (``stderr_clt`` -> ``Stderr_CLT``)."""
    from evallog.table import optional_column_headers

    return optional_column_headers()


def _table_records(results: Mapping[str, Any], column: str) -> list[dict[str, Any]] | None:
    """``make_table(results, column, fmt="json")`` records, each with its nesting ``depth``."""
    from evallog.table import make_table

    if not results.get(column):
        return None
    records: list[dict[str, Any]] = json.loads(make_table(results, column=column, fmt="json"))
    if not records:
        return None
    depth = _depths(results.get("group_subtasks") or {})
    key = "group" if column == "groups" else "task"
    for rec in records:
        name = rec.get(key)
        rec["depth"] = depth.get(name, 0) if isinstance(name, str) else 0
    return records


def _main_score(run: Any, task: str) -> dict[str, Any] | None:
    """The first ``metric,filter`` the results report for ``task`` (for the sample browser's header)."""
    pairs = run.metrics(task)
    if not pairs:
        return None
    metric, filt = pairs[0]
    value = run.value(task, metric, filt)
    return {"metric": metric, "filter": filt, "value": value if value is None or math.isfinite(value) else None}


def _leaderboard(runs: Sequence[Any]) -> dict[str, Any] | None:
    """The leaderboard of the runs (latest run per model) when they hold two models or more."""
    if len({run.name for run in runs if run.task_results}) < 2:
        return None
    from evallog.leaderboard import leaderboard

    board = leaderboard(list(runs))
    if not board.columns:
        return None
    higher = []
    for task, key in zip(board.columns, board.keys):
        metric = key.partition(",")[0]
        hib = next((h for h in (r.higher_is_better(task, metric) for r in board.runs) if h is not None), None)
        higher.append(hib)
    return {
        "title": board.title,
        "headers": board.headers(),
        "rows": board.table_rows(missing=None),
        "higher_is_better": [None, *higher],
    }


def _comparison(comp: Any, a: int, b: int, max_flip_ids: int) -> dict[str, Any]:
    """The page's data of one :class:`~evallog.compare.Comparison`: its table and its flips."""
    level = f"{round(100 * (1 - comp.alpha))}% CI"
    flips = []
    for r in comp.rows:
        if r.right_to_wrong_ids or r.wrong_to_right_ids:
            flips.append({
                "task": r.task, "filter": r.filter, "metric": r.metric,
                "right_to_wrong": r.right_to_wrong, "wrong_to_right": r.wrong_to_right,
                "right_to_wrong_ids": r.right_to_wrong_ids[:max_flip_ids],
                "wrong_to_right_ids": r.wrong_to_right_ids[:max_flip_ids],
            })
    notes = []
    for task, check in comp.checks.items():
        if not check.comparable:
            notes.append(f"{task}: not comparable: {'; '.join(check.issues)}")
    if comp.only_in_a:
        notes.append("only in A: " + ", ".join(comp.only_in_a))
    if comp.only_in_b:
        notes.append("only in B: " + ", ".join(comp.only_in_b))
    for r in comp.rows:
        if r.paired and (r.n_only_a or r.n_only_b):
            notes.append(f"{r.task} [{r.filter}] {r.metric}: {r.n_matched} samples matched, "
                         f"{r.n_only_a} only in A, {r.n_only_b} only in B")
        if r.note:
            notes.append(f"{r.task} [{r.filter}] {r.metric}: {r.note}")
    notes.extend(comp.notes)
    return {
        "a": a,
        "b": b,
        "alpha": comp.alpha,
        "headers": [level if h == "CI" else h for h in comp.TABLE_HEADERS],
        "rows": comp.table_rows(),
        "tasks": [r.task for r in comp.rows],
        "flips": flips,
        "notes": notes,
    }


def _comparisons(runs: Sequence[Any], pairs: Sequence[tuple[int, int]], max_flip_ids: int,
                 progress: _Progress | None = None) -> list[dict[str, Any]]:
    if not pairs:
        return []
    from evallog.compare import compare

    out = []
    for a, b in pairs:
        try:
            comp = compare(runs[a], runs[b], skip_corrupt=True, progress=progress)
        except ConfigError as exc:
            log.info("no comparison of runs %d and %d: %s", a, b, exc)
            continue
        if comp.rows:
            out.append(_comparison(comp, a, b, max_flip_ids))
    return out


def _default_pairs(runs: Sequence[Any]) -> list[tuple[int, int]]:
    pairs = []
    tasks0 = set(runs[0].tasks) if runs else set()
    for j in range(1, len(runs)):
        if tasks0 & set(runs[j].tasks):
            pairs.append((0, j))
        if len(pairs) >= _MAX_COMPARISONS:
            break
    return pairs


def _pick_run(runs: Sequence[Any], key: Any) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key < len(runs):
            return key
        raise ConfigError(f"run index {key} out of range (0..{len(runs) - 1})")
    text = os.fspath(key) if isinstance(key, os.PathLike) else str(key)
    if text.isdigit() and int(text) < len(runs):
        return int(text)
    matches = [
        i for i, r in enumerate(runs)
        if text in (r.run_id, r.label, r.name, r.model, os.fspath(r.path),
                    os.fspath(r.results_file) if r.results_file else "")
    ]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise ConfigError(f"{what} match {text!r}; use a run index (0..{len(runs) - 1}), a run id or a model name")
    return matches[0]


def _pairs(runs: list[Any], compare: Sequence[tuple[Any, Any]] | tuple[Any, Any] | None) -> list[tuple[int, int]]:
    """The pairs of runs to compare (indexes), from ``build_report``'s ``compare``."""
    if compare is None:
        return _default_pairs(runs)
    raw_pairs = [compare] if len(compare) == 2 and not isinstance(compare[0], (list, tuple)) else list(compare)
    pairs = []
    for pair in raw_pairs:
        if len(pair) != 2:
            raise ConfigError(f"a comparison takes two runs, got {pair!r}")
        a, b = _pick_run(runs, pair[0]), _pick_run(runs, pair[1])
        if a == b:
            raise ConfigError("cannot compare a run with itself")
        pairs.append((a, b))
    return pairs


def _run_meta(runs: list[Any]) -> list[dict[str, Any]]:
    names = [run.name for run in runs]
    return [run_summary(run, short=run.name if names.count(run.name) == 1 else run.label) | run_tables(run)
            for run in runs]


def _task_blocks(
    runs: list[Any], task_names: list[str], stats: ReportStats, progress: _Progress | None, *, samples: bool,
    max_samples: int, max_bytes: int, max_text: int, compress: bool,
) -> tuple[list[_Block], dict[str, dict[str, Any]]]:
    """The sample blocks of every (run, task) within the byte budget, and each task's page data."""
    jobs = [(i, t) for t in task_names for i, run in enumerate(runs) if t in run.tasks]
    blocks: list[_Block] = []
    task_meta: dict[str, dict[str, Any]] = {t: {"name": t, "runs": []} for t in task_names}
    remaining = max_bytes
    for k, (i, task) in enumerate(jobs):
        run = runs[i]
        entry: dict[str, Any] = {"run": i, "score": _main_score(run, task), "block": None,
                                 "n_total": 0, "n_embedded": 0, "capped": None}
        has_samples = run.has_samples(task)
        if samples and has_samples:
            budget = remaining // (len(jobs) - k)
            tick = None if progress is None else _tick(progress, stats.samples_total)
            writer, payload, n, total, reason, skipped = _sample_block(
                run, task, max_samples=max_samples, budget=budget, max_text=max_text, compress=compress, tick=tick)
            remaining -= len(payload)
            block_id = f"evallog-samples-{len(blocks)}"
            blocks.append(_Block(i, task, block_id, payload, writer.encoding))
            entry.update(block=block_id, n_total=total, n_embedded=n, capped=reason, skipped=skipped)
            stats.samples_total += total
            stats.samples_embedded += n
            stats.sample_bytes += len(payload)
            stats.sample_json_bytes += writer.json_bytes
            if reason:
                stats.capped.append({"run": i, "task": task, "embedded": n, "total": total, "reason": reason})
        elif has_samples:
            entry["capped"] = "disabled"
        task_meta[task]["runs"].append(entry)
    return blocks, task_meta


def build_report(
    paths: Any,
    *,
    title: str | None = None,
    compare: Sequence[tuple[Any, Any]] | tuple[Any, Any] | None = None,
    samples: bool = True,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_text: int = DEFAULT_MAX_TEXT,
    compress: bool = True,
    progress: _Progress | None = None,
    errors: str = "skip",
) -> Report:
    """Gather ``paths`` into one HTML page; see the module docstring.

    ``compare`` picks the pairs of runs to compare: one ``(a, b)`` pair or a
    list of them, each run named by index (in the order given / found), run id
    or model name. By default the first run is compared with each later run
    that shares a task with it (up to 8 pairs). ``samples=False`` leaves the
    sample browser out. ``progress(stage, done, total)`` is called while
    samples are read and compared (see :data:`evallog.compare.ProgressCallback`).
    Unreadable runs of a folder are left out with a warning and listed in
    ``stats.skipped``; ``errors="raise"`` raises instead.
    """
    if max_samples < 1 or max_bytes < 1 or max_text < 16:
        raise ConfigError("max_samples and max_bytes must be positive and max_text at least 16")
    t0 = time.perf_counter()
    skipped_runs: list[Any] = []
    runs = _resolve_runs(paths, errors, skipped_runs)
    stats = ReportStats(runs=len(runs), skipped=skipped_runs)

    pairs = _pairs(runs, compare)
    run_meta = _run_meta(runs)

    task_names = list(dict.fromkeys(task for run in runs for task in run.tasks))  # first-seen order
    stats.tasks = len(task_names)

    blocks, task_meta = _task_blocks(runs, task_names, stats, progress, samples=samples, max_samples=max_samples,
                                     max_bytes=max_bytes, max_text=max_text, compress=compress)

    meta = {
        "title": title or _default_title(run_meta),
        "generated": format_time(time.time()),
        "column_headers": _column_headers(),
        "version": _version(),
        "limits": {"max_samples": max_samples, "max_bytes": max_bytes, "max_text": max_text},
        "runs": run_meta,
        "tasks": [task_meta[t] for t in task_names],
        "leaderboard": _leaderboard(runs),
        "comparisons": _comparisons(runs, pairs, max_flip_ids=_MAX_FLIP_IDS, progress=progress),
    }
    page = _render_page(meta, blocks)
    stats.page_bytes = len(page.encode("utf-8"))
    stats.seconds = time.perf_counter() - t0
    log.info("report: %d runs, %d tasks, %d/%d samples, %d bytes", stats.runs, stats.tasks,
             stats.samples_embedded, stats.samples_total, stats.page_bytes)
    return Report(page, stats)


# the parts of the page data that `evallog view` serves from its endpoints
correct_of = _correct
column_headers = _column_headers
main_score = _main_score
leaderboard_data = _leaderboard
comparisons_data = _comparisons


def run_summary(run: Any, *, short: str) -> dict[str, Any]:
    """What the page shows of a run in listings (the shape is shared with ``evallog view``)."""
    return {
        "label": run.label,
        "short": short,
        "model": run.name,
        "flavor": run.flavor,
        "run_id": run.run_id,
        "timestamp": format_time(run_datetime(run)),
        "path": os.fspath(run.path),
        "tasks": list(run.tasks),
        "in_progress": bool(run.in_progress),
    }


def run_tables(run: Any) -> dict[str, Any]:
    """The configuration summary and the results / groups tables of a run (``make_table`` records)."""
    return {
        "config": _config_summary(run.results, run.run_id, run.flavor),
        "results_table": _table_records(run.results, "results"),
        "groups_table": _table_records(run.results, "groups"),
    }


def render_report(paths: Any, output: str | os.PathLike[str] | None = None, **options: Any) -> str:
    """The HTML page of ``paths`` (see :func:`build_report` for ``options``); also written to ``output`` if given."""
    report = build_report(paths, **options)
    if output is not None:
        report.write(output)
    return report.html


def _default_title(run_meta: Sequence[Mapping[str, Any]]) -> str:
    models = []
    for r in run_meta:
        if r["model"] and r["model"] not in models:
            models.append(r["model"])
    if not models:
        return "Evaluation report"
    if len(models) <= 3:
        return "Evaluation report: " + ", ".join(models)
    return f"Evaluation report: {len(models)} models"


def _version() -> str:
    from evallog._version import __version__

    return __version__



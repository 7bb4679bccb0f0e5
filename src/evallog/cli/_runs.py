"""Reading runs back from the command line: ``ls``, ``show``, ``compare``, ``leaderboard``.

A thin layer over :mod:`evallog.readers`, :mod:`evallog.compare` and
:mod:`evallog.leaderboard`; all work is imported inside the handlers so that
``evallog --help`` stays fast. A RUN argument is anything
:func:`evallog.readers.load_run` accepts (results or samples file, model
folder, output root with one model); ``FOLDER@RUN_ID`` picks a run in a
folder holding several.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from evallog.cli._common import _load
from evallog.cli._progress import progress as _progress
from evallog.render import FORMATS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_ls_show(subparsers)
    _register_compare_leaderboard(subparsers)


def _register_ls_show(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "ls",
        help="list the runs under a folder",
        description="List every run under ROOT (lm-eval, lmms-eval or evallog output): model, run id, "
        "date (ISO 8601, UTC), flavor, tasks (groups in their own column) and samples per filter (a task "
        "with several filters logs each document once per filter).",
    )
    p.add_argument("root", metavar="ROOT", help="output folder to search (recursively)")
    p.add_argument("--fmt", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--no-count", action="store_true", help="do not count sample lines (faster on big folders)")
    p.add_argument("--strict", action="store_true", help="fail on an unreadable run instead of skipping it")
    p.set_defaults(func=ls_handler)

    p = subparsers.add_parser(
        "show",
        help="print the samples of a run",
        description="Print the logged samples of a run: doc id, filter, metric values, target and response.",
    )
    p.add_argument("run", metavar="RUN", help="results/samples file, model folder, or FOLDER@RUN_ID")
    p.add_argument("--task", action="append", help="only this task (repeatable; default: every task with samples)")
    p.add_argument("--wrong", action="store_true",
                   help="only samples scored 0 on the metric (see --metric; default: the task's first metric)")
    p.add_argument("--metric", help="metric used by --wrong")
    p.add_argument("--filter", dest="filter_name", help="only samples of this filter")
    p.add_argument("--limit", type=int, default=20, help="at most N samples per task (default 20, 0 = all)")
    p.add_argument("--json", action="store_true", help="print the raw sample records as JSON lines")
    p.add_argument("--skip-corrupt", action="store_true", help="skip corrupt lines instead of stopping")
    p.set_defaults(func=show_handler)



def _register_compare_leaderboard(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "compare",
        help="compare two runs with paired statistics",
        description="Compare run B against run A for every task, filter and metric in both: values, "
        "difference B-A, confidence interval and p-value (exact McNemar for 0/1 metrics and paired "
        "bootstrap for other numbers when both runs logged samples; an unpaired z-test from the "
        "reported stderrs otherwise), and the samples that flipped.",
    )
    p.add_argument("run_a", metavar="RUN_A", help="baseline run")
    p.add_argument("run_b", metavar="RUN_B", nargs="+",
                   help="run compared against the baseline (several: a regression gate over all of them)")
    p.add_argument("--task", action="append", help="only this task (repeatable)")
    p.add_argument("--metric", action="append", help="only this metric, e.g. acc or acc,none (repeatable)")
    p.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--alpha", type=float, default=0.05, help="1 - confidence level (default 0.05)")
    p.add_argument("--flips", type=int, default=10, metavar="N",
                   help="list up to N flipped doc ids per metric (default 10, 0 = none)")
    p.add_argument("--fmt", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--skip-corrupt", action="store_true", help="skip corrupt sample lines instead of stopping")
    from evallog.cli import _gate

    _gate.add_arguments(p)
    p.set_defaults(func=compare_handler)

    p = subparsers.add_parser(
        "leaderboard",
        help="models x tasks table of one metric",
        description="Build a leaderboard from every run under ROOT: one row per model (its latest run), "
        "one column per task (or group), missing cells shown as '-'.",
    )
    p.add_argument("root", metavar="ROOT", help="output folder to search (recursively)")
    p.add_argument("--metric", help="metric to show, e.g. acc or exact_match,strict-match "
                   "(default: each task's first metric)")
    p.add_argument("--groups", action="store_true", help="show groups instead of their subtasks")
    p.add_argument("--all-runs", action="store_true", help="one row per run instead of the latest per model")
    p.add_argument("--sort-by", metavar="TASK", help="sort rows by this column, best first")
    p.add_argument("--fmt", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--strict", action="store_true", help="fail on an unreadable run instead of skipping it")
    p.set_defaults(func=leaderboard_handler)


# ------------------------------------------------------------------ helpers


def _short(value: Any, width: int = 160) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\r", " ").replace("\n", "⏎")
    return text if len(text) <= width else text[: width - 1] + "…"


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _write_skipped(skipped: list[Any], fmt: str) -> None:
    """Count the unreadable runs left out (each was named in a warning on stderr)."""
    if skipped:
        line = f"{len(skipped)} unreadable run{'s' * (len(skipped) != 1)} skipped (see the warnings; --strict to fail)\n"
        # machine-readable formats keep stdout parseable
        (sys.stdout if fmt in ("markdown", "latex", "html") else sys.stderr).write(("\n" if fmt == "markdown" else "") + line)


# ------------------------------------------------------------------ ls


def ls_handler(args: argparse.Namespace) -> int:
    from evallog.dates import format_time, run_datetime
    from evallog.readers import list_runs
    from evallog.render import render_table
    from evallog.tally import samples_per_filter

    runs = list_runs(args.root, skip_unsupported=True, errors="raise" if args.strict else "skip")
    if not runs:
        print(f"no runs under {args.root}", file=sys.stderr)
        return 0
    rows = []
    whole = args.fmt in ("csv", "json")
    with _progress(args, "counting samples", total=len(runs)) as bar:
        for run in runs:
            groups = set(run.groups)
            tasks = [t for t in run.tasks if t not in groups]
            n = None if args.no_count else sum(samples_per_filter(run, t) for t in tasks)
            status = "in progress" if run.in_progress else (
                "interrupted" if run.status == "interrupted" else ("no results" if run.results_file is None else ""))
            rows.append([
                run.name,
                run.run_id,
                format_time(run_datetime(run)),
                run.flavor,
                len(tasks),
                ", ".join(tasks) if whole else _short(", ".join(tasks), 60),
                ", ".join(g for g in run.tasks if g in groups),
                n,
                status,
                str(run.path),
            ])
            bar.update(1)
    headers = ["Model", "Run id", "Date (UTC)", "Flavor", "#Tasks", "Tasks", "Groups", "Samples", "Status", "Path"]
    _write(render_table(headers, rows, args.fmt))
    _write_skipped(runs.skipped, args.fmt)
    return 0


# ------------------------------------------------------------------ show


def _prompt(rec: dict[str, Any]) -> Any:
    args = rec.get("arguments")
    if isinstance(args, dict):
        first = args.get("gen_args_0")
        if isinstance(first, dict) and "arg_0" in first:
            return first["arg_0"]
    inp = rec.get("input")
    if isinstance(inp, list) and inp:
        return inp[0]
    return inp


def _show_tasks(args: argparse.Namespace, run: Any) -> list[str]:
    """The tasks ``show`` prints: ``--task``, else the task of a samples-file argument, else all."""
    import os

    from evallog.errors import ConfigError
    from evallog.layout import parse_filename

    tasks = list(args.task or [])
    if not tasks and os.path.isfile(args.run):
        parsed = parse_filename(os.path.basename(args.run))
        if parsed is not None and parsed.kind == "samples" and parsed.task in run.sample_files:
            tasks = [parsed.task]  # one samples file: that file's task only
    tasks = tasks or list(run.sample_files)
    if not tasks:
        raise ConfigError(f"run {run.label} has no samples files")
    missing = [t for t in tasks if t not in run.sample_files]
    if missing:
        raise ConfigError(
            f"no samples for task(s) {', '.join(missing)} in run {run.label} "
            f"(tasks with samples: {', '.join(run.sample_files) or 'none'})"
        )
    return tasks


def _show_metrics(args: argparse.Namespace, run: Any, tasks: list[str]) -> dict[str, str | None]:
    """The metric ``--wrong`` and the counts use, per task; an unknown ``--metric`` is refused."""
    from evallog.errors import ConfigError
    from evallog.tally import sample_metric_names

    known = {}
    for task in tasks:
        first = next(iter(run.samples(task, skip_corrupt=True)), None)
        known[task] = sample_metric_names(run, task, first)
    if args.metric is None:
        return {t: (names[0] if names else None) for t, names in known.items()}
    have = [t for t in tasks if args.metric in known[t]]
    lacking = [t for t in tasks if t not in have]
    if not have or (args.task and lacking):
        listed = "; ".join(f"{t}: {', '.join(known[t]) or 'none'}" for t in lacking)
        raise ConfigError(f"unknown metric {args.metric!r} for task(s) {', '.join(lacking)} "
                          f"of run {run.label} (metrics: {listed})")
    return {t: args.metric for t in have}  # tasks without the metric are left out


def _show_record(task: str, rec: dict[str, Any], as_json: bool) -> None:
    import json

    from evallog.schema import NON_METRIC_SAMPLE_KEYS

    if as_json:
        _write(json.dumps({"task": task, **rec}, ensure_ascii=False, default=str) + "\n")
        return
    values = [f"{k}={_short(v, 40)}" for k, v in rec.items() if k not in NON_METRIC_SAMPLE_KEYS and k != "metrics"]
    _write(f"-- doc {rec.get('doc_id')} [{rec.get('filter')}] {' '.join(values)}\n")
    prompt = _prompt(rec)
    if prompt is not None:
        _write(f"   input:    {_short(prompt)}\n")
    _write(f"   target:   {_short(rec.get('target'))}\n")
    _write(f"   response: {_short(rec.get('filtered_resps', rec.get('resps')))}\n")


def show_handler(args: argparse.Namespace) -> int:
    from evallog.tally import FilterTally, correctness, count_sample, describe_tallies

    if args.metric and "," in args.metric and not args.filter_name:
        args.metric, _, args.filter_name = args.metric.partition(",")
    run = _load(args.run)
    tasks = _show_tasks(args, run)
    metrics = _show_metrics(args, run, tasks)
    if not args.json:
        _write(f"{run.label}  ({run.flavor}, {run.path})\n")
    for task, metric in metrics.items():
        tallies: dict[str, FilterTally] = {}
        shown = total = 0
        if not args.json:
            _write(f"\n== {task}\n")
        for rec in run.samples(task, skip_corrupt=args.skip_corrupt):
            if args.filter_name and rec.get("filter") != args.filter_name:
                continue
            count_sample(tallies, rec, metric)
            if args.wrong and (metric is None or correctness(rec.get(metric)) != 0):
                continue
            total += 1
            if not args.limit or shown < args.limit:
                shown += 1
                _show_record(task, rec, args.json)
        if not args.json:
            more = f" (showing {shown})" if shown < total else ""
            counts = describe_tallies(tallies, metric, wrong=args.wrong, count_single=args.wrong)
            what = "wrong samples" if args.wrong else "samples"
            what += f" over {len(tallies)} filters" if len(tallies) > 1 else ""
            _write(f"   {total} {what}{more}" + (f"; {counts}" if counts else "") + "\n")
    return 0


# ------------------------------------------------------------------ compare


def compare_handler(args: argparse.Namespace) -> int:
    from evallog.cli import _gate
    from evallog.compare import compare

    if _gate.wanted(args):
        return _gate.run(args)
    run_a, run_b = _load(args.run_a), _load(args.run_b[0])
    with _progress(args, "comparing", unit="sample") as bar:
        result = compare(
            run_a,
            run_b,
            tasks=args.task,
            metrics=args.metric,
            n_resamples=args.resamples,
            seed=args.seed,
            alpha=args.alpha,
            skip_corrupt=args.skip_corrupt,
            progress=bar,
        )
    _write(result.render(args.fmt, max_flips=max(0, args.flips)))
    return 0


# ------------------------------------------------------------------ leaderboard


def leaderboard_handler(args: argparse.Namespace) -> int:
    from evallog.leaderboard import leaderboard

    board = leaderboard(
        args.root,
        metric=args.metric,
        groups=args.groups,
        latest=not args.all_runs,
        sort_by=args.sort_by,
        errors="raise" if args.strict else "skip",
    )
    if not board.labels:
        print(f"no finished runs under {args.root}", file=sys.stderr)
        return 1
    _write(board.render(args.fmt))
    _write_skipped(board.skipped, args.fmt)
    return 0

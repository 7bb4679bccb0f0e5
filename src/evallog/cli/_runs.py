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
import time
from typing import Any

from evallog.render import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "ls",
        help="list the runs under a folder",
        description="List every run under ROOT (lm-eval, lmms-eval or evallog output): model, run id, "
        "date, flavor, tasks and sample counts.",
    )
    p.add_argument("root", metavar="ROOT", help="output folder to search (recursively)")
    p.add_argument("--fmt", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    p.add_argument("--no-count", action="store_true", help="do not count sample lines (faster on big folders)")
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
    p.set_defaults(func=leaderboard_handler)


# ------------------------------------------------------------------ helpers


class _Progress:
    """A one-line progress indicator on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, stage: str, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        of = f"/{total}" if total else ""
        sys.stderr.write(f"\r\x1b[K{stage}: {done}{of}")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


def _load(spec: str):
    """``load_run`` on a path, or on ``FOLDER@RUN_ID``."""
    import os

    from evallog.readers import load_run

    if not os.path.exists(spec) and "@" in spec:
        path, _, run_id = spec.rpartition("@")
        if os.path.exists(path):
            return load_run(path, run_id=run_id)
    return load_run(spec)


def _short(value: Any, width: int = 160) -> str:
    import json

    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\r", " ").replace("\n", "⏎")
    return text if len(text) <= width else text[: width - 1] + "…"


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


# ------------------------------------------------------------------ ls


def ls_handler(args: argparse.Namespace) -> int:
    from evallog.readers import list_runs
    from evallog.render import render_table

    progress = _Progress()
    runs = list_runs(args.root, skip_unsupported=True)
    rows = []
    for i, run in enumerate(runs, 1):
        progress("counting samples", i, len(runs))
        n = None if args.no_count else sum(run.n_samples(t) for t in run.sample_files)
        status = "in progress" if run.in_progress else ("no results" if run.results_file is None else "")
        rows.append([
            run.name,
            run.run_id,
            run.timestamp.strftime("%Y-%m-%d %H:%M:%S") if run.timestamp else None,
            run.flavor,
            len([t for t in run.tasks if t not in set(run.groups)]),
            ", ".join(run.tasks) if args.fmt in ("csv", "json") else _short(", ".join(run.tasks), 60),
            n,
            status,
            str(run.path),
        ])
    progress.clear()
    if not runs:
        print(f"no runs under {args.root}", file=sys.stderr)
        return 1
    headers = ["Model", "Run", "Date", "Flavor", "#Tasks", "Tasks", "Samples", "Status", "Path"]
    _write(render_table(headers, rows, args.fmt))
    return 0


# ------------------------------------------------------------------ show


def _is_wrong(rec: dict[str, Any], metric: str) -> bool:
    v = rec.get(metric)
    return (type(v) in (int, float, bool)) and float(v) == 0.0


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


def show_handler(args: argparse.Namespace) -> int:
    import json

    from evallog.errors import ConfigError
    from evallog.readers import NON_METRIC_SAMPLE_KEYS

    run = _load(args.run)
    tasks = args.task or list(run.sample_files)
    if not tasks:
        raise ConfigError(f"run {run.label} has no samples files")
    missing = [t for t in tasks if t not in run.sample_files]
    if missing:
        raise ConfigError(
            f"no samples for task(s) {', '.join(missing)} in run {run.label} "
            f"(tasks with samples: {', '.join(run.sample_files) or 'none'})"
        )
    if not args.json:
        _write(f"{run.label}  ({run.flavor}, {run.path})\n")
    for task in tasks:
        metric = args.metric
        if metric is None:
            listed = run.metrics(task)
            metric = listed[0][0] if listed else None
        samples = run.samples(task, skip_corrupt=args.skip_corrupt)
        shown = 0
        total = 0
        if not args.json:
            _write(f"\n== {task}\n")
        for rec in samples:
            if args.filter_name and rec.get("filter") != args.filter_name:
                continue
            if args.wrong:
                m = metric
                if m is None:
                    names = rec.get("metrics")
                    m = names[0] if isinstance(names, list) and names else None
                if m is None or not _is_wrong(rec, m):
                    continue
            total += 1
            if args.limit and shown >= args.limit:
                continue
            shown += 1
            if args.json:
                _write(json.dumps({"task": task, **rec}, ensure_ascii=False, default=str) + "\n")
                continue
            values = [
                f"{k}={_short(v, 40)}"
                for k, v in rec.items()
                if k not in NON_METRIC_SAMPLE_KEYS and k != "metrics"
            ]
            _write(f"-- doc {rec.get('doc_id')} [{rec.get('filter')}] {' '.join(values)}\n")
            prompt = _prompt(rec)
            if prompt is not None:
                _write(f"   input:    {_short(prompt)}\n")
            _write(f"   target:   {_short(rec.get('target'))}\n")
            _write(f"   response: {_short(rec.get('filtered_resps', rec.get('resps')))}\n")
        if not args.json:
            more = f" (showing {shown})" if shown < total else ""
            what = "wrong samples" if args.wrong else "samples"
            _write(f"   {total} {what}{more}\n")
    return 0


# ------------------------------------------------------------------ compare


def compare_handler(args: argparse.Namespace) -> int:
    from evallog.cli import _gate
    from evallog.compare import compare

    if _gate.wanted(args):
        return _gate.run(args)
    run_a, run_b = _load(args.run_a), _load(args.run_b[0])
    progress = _Progress()
    try:
        result = compare(
            run_a,
            run_b,
            tasks=args.task,
            metrics=args.metric,
            n_resamples=args.resamples,
            seed=args.seed,
            alpha=args.alpha,
            skip_corrupt=args.skip_corrupt,
            progress=progress,
        )
    finally:
        progress.clear()
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
    )
    if not board.labels:
        print(f"no finished runs under {args.root}", file=sys.stderr)
        return 1
    _write(board.render(args.fmt))
    return 0

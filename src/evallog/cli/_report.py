"""``evallog report PATH... -o report.html``: one self-contained HTML page of runs.

A thin layer over :func:`evallog.report.build_report`; the work is imported
inside the handler so that ``evallog --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "report",
        help="write one self-contained HTML page to explore and share runs",
        description="Write one HTML file (no network access, no server: it opens from disk and can be "
        "attached to a CI job or a mail) with the results table and groups of each run, a leaderboard "
        "when there are several models, comparisons of pairs of runs, and a sample browser per task "
        "(search, filters, side-by-side responses of two runs). PATH is a run folder, a results file, "
        "a whole output folder (every run below it) or FOLDER@RUN_ID.",
    )
    p.add_argument("paths", metavar="PATH", nargs="+", help="run folder, results file, output folder or FOLDER@RUN_ID")
    p.add_argument("-o", "--output", default="report.html", help="HTML file to write (default: report.html)")
    p.add_argument("--title", help="page title (default: names the models)")
    p.add_argument("--compare", nargs=2, action="append", metavar=("A", "B"),
                   help="compare run B against run A (index in the listing, run id or model name; repeatable; "
                   "default: the first run against each later run sharing a task)")
    p.add_argument("--no-compare", action="store_true", help="leave comparisons out")
    p.add_argument("--no-samples", action="store_true", help="leave the sample browser out")
    p.add_argument("--max-samples", type=int, default=None, metavar="N",
                   help="sample records embedded per run and task (default 5000)")
    p.add_argument("--max-mb", type=float, default=None, metavar="MB",
                   help="bytes of the page for sample data, all tasks together, in MB (default 25)")
    p.add_argument("--max-text", type=int, default=None, metavar="CHARS",
                   help="characters kept of each text (default 2000)")
    p.add_argument("--no-compress", action="store_true",
                   help="embed the samples as plain JSON instead of gzip+base64 (bigger page)")
    p.add_argument("--strict", action="store_true", help="fail on an unreadable run instead of skipping it")
    p.set_defaults(func=handler)


def _resolve(spec: str) -> Any:
    """A path, or the run ``FOLDER@RUN_ID``."""
    if not os.path.exists(spec) and "@" in spec:
        from evallog.readers import load_run

        folder, _, run_id = spec.rpartition("@")
        return load_run(folder, run_id)
    return spec


def handler(args: argparse.Namespace) -> int:
    from evallog import report

    options = {}
    if args.max_samples is not None:
        options["max_samples"] = args.max_samples
    if args.max_mb is not None:
        options["max_bytes"] = int(args.max_mb * 1_000_000)
    if args.max_text is not None:
        options["max_text"] = args.max_text
    if args.no_compare:
        options["compare"] = []
    elif args.compare:
        options["compare"] = [tuple(pair) for pair in args.compare]
    from evallog.cli._progress import progress

    with progress(args, "reading samples", unit="sample") as bar:
        built = report.build_report(
            [_resolve(p) for p in args.paths],
            title=args.title,
            samples=not args.no_samples,
            compress=not args.no_compress,
            progress=bar,
            errors="raise" if args.strict else "skip",
            **options,
        )
    path = built.write(args.output)
    st = built.stats
    what = f"{st.runs} run{'s' * (st.runs != 1)}, {st.tasks} task{'s' * (st.tasks != 1)}"
    if st.samples_total:
        what += f", {st.samples_embedded:,} of {st.samples_total:,} samples embedded"
    if st.skipped:
        what += f", {len(st.skipped)} unreadable run{'s' * (len(st.skipped) != 1)} skipped"
    print(f"wrote {path} ({st.page_bytes / 1e6:.2f} MB: {what}) in {st.seconds:.1f} s")
    for cap in st.capped[:10]:
        print(f"  capped {cap['task']} (run {cap['run']}): {cap['embedded']:,} of {cap['total']:,} samples "
              f"({'--max-samples' if cap['reason'] == 'max_samples' else '--max-mb'})", file=sys.stderr)
    if len(st.capped) > 10:
        print(f"  ... and {len(st.capped) - 10} more capped tasks", file=sys.stderr)
    return 0

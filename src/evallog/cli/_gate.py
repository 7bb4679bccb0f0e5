"""The regression-gate options of ``evallog compare`` (``--fail-on-regression`` and friends)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("regression gate (also used when several candidates are given)")
    g.add_argument("--fail-on-regression", action="store_true",
                   help="exit 1 when a task/metric of a candidate regresses significantly after correction")
    g.add_argument("--correction", choices=("holm", "bh", "none"), default="holm",
                   help="multiple-testing correction over every test of every candidate (default holm)")
    g.add_argument("--min-effect", type=float, default=0.0, metavar="X",
                   help="ignore regressions smaller than X in absolute value (default 0)")
    g.add_argument("--report", metavar="PATH", help="also write the gate's JSON report to PATH")


def wanted(args: argparse.Namespace) -> bool:
    return bool(args.fail_on_regression or len(args.run_b) > 1 or args.report)


def run(args: argparse.Namespace) -> int:
    from evallog.atomic import atomic_write_bytes
    from evallog.cli._common import _load
    from evallog.cli._progress import progress
    from evallog.gate import gate

    if args.fmt not in ("markdown", "json"):
        print("evallog compare: error: the regression gate prints markdown or json", file=sys.stderr)
        return 2
    with progress(args, "comparing", unit="sample") as bar:
        report = gate(_load(args.run_a), [_load(r) for r in args.run_b], alpha=args.alpha,
                      correction=args.correction, min_effect=args.min_effect, tasks=args.task,
                      metrics=args.metric, n_resamples=args.resamples, seed=args.seed,
                      skip_corrupt=args.skip_corrupt, progress=bar)
    if args.report:
        atomic_write_bytes(Path(args.report), report.render("json").encode())
    sys.stdout.write(report.render(args.fmt))
    return 1 if (args.fail_on_regression and report.failed) else 0

"""``evallog verify``: recompute a run's aggregates from its samples."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="recompute every aggregate of a run from its samples, the way the harness does",
        description="Recompute every aggregate of a results file (values, stderrs, groups) from the "
        "samples and report match / mismatch / cannot be recomputed. Exit 1 on a mismatch.",
    )
    p.add_argument("run", metavar="RUN", help="results/samples file, model folder, or FOLDER@RUN_ID")
    p.add_argument("--tolerance", type=float, default=None,
                   help="relative tolerance, absolute below 1 (default 1e-9)")
    p.add_argument("--task", action="append", help="only this task or group (repeatable)")
    p.add_argument("--bootstrap-budget", type=int, default=None, metavar="DRAWS",
                   help="replay a bootstrapped stderr when n * iters is at most this (default 5e6)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--skip-corrupt", action="store_true", help="skip corrupt sample lines instead of stopping")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from evallog.cli._common import _load
    from evallog.verify import DEFAULT_BOOTSTRAP_BUDGET, DEFAULT_TOLERANCE, verify

    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    if tolerance < 0:
        print("evallog verify: error: --tolerance must be >= 0", file=sys.stderr)
        return 2
    result = verify(
        _load(args.run),
        tolerance=tolerance,
        tasks=args.task,
        bootstrap_budget=args.bootstrap_budget or DEFAULT_BOOTSTRAP_BUDGET,
        skip_corrupt=args.skip_corrupt,
    )
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.render() + "\n")
    return 0 if result.ok else 1

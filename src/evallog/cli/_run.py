"""``evallog run``: run lm-eval / lmms-eval with evallog's tracker, table and response journal."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        help="run an lm-eval / lmms-eval command line with evallog inside",
        description="Run the harness command line after `--` with evallog's EvaluationTracker and "
        "make_table in every process; samples stream to disk as they are scored and every model "
        "answer goes to a journal, so `--resume` continues an interrupted run.",
    )
    p.add_argument("--resume", action="store_true", help="continue the latest interrupted run of the same command")
    p.add_argument("--journal-every", type=int, default=64, metavar="N", help="write the journal every N answers (64)")
    p.add_argument(
        "--journal-interval", type=float, default=2.0, metavar="SECONDS", help="... and at least every SECONDS (2)"
    )
    p.add_argument("--no-journal", action="store_true", help="keep no response journal")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the harness command line")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evallog.integrations.launch import run_harness

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("evallog run: give the harness command line after `--`", file=sys.stderr)
        return 2
    outcome = run_harness(
        command,
        resume=args.resume,
        journal=not args.no_journal,
        journal_every=args.journal_every,
        journal_interval=args.journal_interval,
    )
    counts = outcome.counts
    if outcome.processes:
        what = f"resumed run {outcome.run_id}" if outcome.resumed else f"run {outcome.run_id}"
        print(
            f"evallog run: {what}: {counts['from_journal']} requests answered from the journal, "
            f"{counts['computed']} sent to the model ({outcome.processes} process(es))",
            file=sys.stderr,
        )
    return outcome.exit_code

"""``evallog recover``: finalise the in-progress files of interrupted runs."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "recover",
        help="turn the in-progress sample files of interrupted runs into final ones",
        description="Finalise the runs a crash or a kill left unfinished under OUTPUT_DIR: each "
        "in-progress (.partial) samples file becomes the final file, keeping every whole, valid line "
        "and dropping a torn last line; stale temporary files are removed. Runs whose writer is still "
        "alive are skipped unless --force.",
    )
    p.add_argument("output_dir", metavar="OUTPUT_DIR", help="the tracker's output_path (searched recursively)")
    p.add_argument("--force", action="store_true", help="also recover runs whose process still seems alive")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evallog.recovery import recover

    report = recover(args.output_dir, force=args.force)
    if not report.tasks:
        print(f"nothing to recover under {report.root}", file=sys.stderr)
    for t in report.tasks:
        if t.status == "recovered":
            print(f"{t.path}: kept {t.kept} samples, dropped {t.dropped}")
        elif t.status == "skipped-live":
            print(f"{t.path}: skipped, run {t.run_id} is still being written (use --force to recover anyway)")
        else:
            print(f"{t.path}: skipped, the final file exists already")
    for path in report.removed_temp_files:
        print(f"removed stale temporary file {path}")
    return 0

"""``evallog recover``: finalise the in-progress files of interrupted runs."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evallog.shard_recovery import ShardTaskRecovery


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
    if not report.tasks and not report.shard_tasks:
        print(f"nothing to recover under {report.root}", file=sys.stderr)
    for t in report.tasks:
        if t.status == "recovered":
            print(f"{t.path}: kept {t.kept} samples, dropped {t.dropped}")
        elif t.status == "skipped-live":
            print(f"{t.path}: skipped, run {t.run_id} is still being written (use --force to recover anyway)")
        else:
            print(f"{t.path}: skipped, the final file exists already")
    for entry in report.shard_tasks:
        for line in describe_shard_recovery(entry):
            print(line)
    for path in report.removed_temp_files:
        print(f"removed stale temporary file {path}")
    return 0


def _ranges(doc_ids: list[Any]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2, 5`` (integer runs compressed)."""
    parts: list[str] = []
    i = 0
    while i < len(doc_ids):
        j = i
        while (
            j + 1 < len(doc_ids)
            and isinstance(doc_ids[j], int)
            and isinstance(doc_ids[j + 1], int)
            and doc_ids[j + 1] == doc_ids[j] + 1
        ):
            j += 1
        parts.append(str(doc_ids[i]) if i == j else f"{doc_ids[i]}-{doc_ids[j]}")
        i = j + 1
    return ", ".join(parts)


def describe_shard_recovery(entry: ShardTaskRecovery) -> list[str]:
    """The lines ``evallog recover`` prints for one task of a multi-process run."""
    if entry.status == "skipped-live":
        return [f"{entry.path}: skipped, ranks of run {entry.run_id} are still running (use --force to merge anyway)"]
    if entry.status == "conflict":
        return [f"{entry.path}: skipped, the final file exists already (shards left in place)"]
    if entry.status == "already-merged":
        return [f"{entry.path}: merged already; removed leftover shards"]
    ranks = ", ".join(
        f"rank {r}: {n}{'' if r in entry.finished_ranks else ' (unfinished)'}" for r, n in sorted(entry.per_rank.items())
    )
    lines = [f"{entry.path}: merged {entry.samples} samples of task {entry.task} from {entry.world_size} ranks ({ranks})"]
    dropped = sum(entry.dropped.values())
    if dropped:
        lines.append(f"  dropped {dropped} torn or invalid lines")
    basis = "announced by the ranks" if entry.expected_known else "inferred as 0..max seen"
    if entry.missing:
        lines.append(f"  missing doc ids ({len(entry.missing)}, expected ids {basis}): {_ranges(entry.missing)}")
        if len(entry.missing_by_filter) > 1:
            for label, ids in entry.missing_by_filter.items():
                lines.append(f"    filter {label}: {_ranges(ids)}")
    else:
        lines.append(f"  no doc id missing (expected ids {basis})")
    return lines

"""Recovering a multi-process run: merge the shards the ranks left, report what is missing.

For every task whose shards are still in a run folder (a rank died, or the
group hung before the last rank finished), :func:`recover_shards` merges what
exists into the task's final file (a finished rank's shard as its marker
says, an unfinished one up to its last whole, valid line) and reports how
many samples each rank contributed and which doc ids are missing. The doc
ids expected are those the ranks announced (``EvaluationTracker.expect_docs``);
without an announcement from every rank they are inferred as ``0..max`` of
the integer doc ids seen, which cannot see docs missing after the last one.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallog.atomic import fsync_dir
from evallog.layout import parse_filename, scan_folder
from evallog.merge import ShardSource, merge_shards
from evallog.paths import safe_task_component
from evallog.rankgroup import lock_is_stale
from evallog.shards import (
    DEFAULT_FILTER,
    MergedMarker,
    ShardFile,
    find_shards,
    index_path,
    rank_lock_path,
    ranks_dir,
    read_done,
    read_merged,
    read_plans,
    registered_tasks,
    write_merged,
)

__all__ = ["ShardTaskRecovery", "discard_rank_state", "recover_shards", "live_ranks"]

logger = logging.getLogger(__name__)


@dataclass
class ShardTaskRecovery:
    """What recovery found and did for one task of a multi-process run."""

    task: str
    run_id: str
    path: Path  # the final file
    world_size: int
    status: str  # "merged", "skipped-live", "conflict", "already-merged"
    per_rank: dict[int, int] = field(default_factory=dict)  # samples kept, by rank
    dropped: dict[int, int] = field(default_factory=dict)  # torn or invalid lines dropped, by rank
    finished_ranks: list[int] = field(default_factory=list)
    missing: list[Any] = field(default_factory=list)  # doc ids absent under at least one filter
    missing_by_filter: dict[str, list[Any]] = field(default_factory=dict)
    expected_known: bool = False  # every rank announced its doc ids
    task_hash: str | None = None

    @property
    def samples(self) -> int:
        return sum(self.per_rank.values())


def live_ranks(rdir: Path, world_size: int) -> list[int]:
    """Ranks whose process still holds its lock."""
    return [r for r in range(world_size) if rank_lock_path(rdir, r).exists() and not lock_is_stale(rank_lock_path(rdir, r))]


def _task_name(rdir: Path, component: str) -> str:
    for task in registered_tasks(rdir):
        if safe_task_component(task) == component:
            return task
    return component


def _doc_sort_key(doc_id: Any) -> tuple[int, Any]:
    if isinstance(doc_id, (int, float)) and not isinstance(doc_id, bool):
        return 0, doc_id
    return 1, str(doc_id)


class _Seen:
    """Doc ids seen per segment, with the segment's filter label."""

    def __init__(self) -> None:
        self.by_segment: dict[int, set[Any]] = {}
        self.labels: dict[int, str] = {}

    def __call__(self, rank: int, meta: dict[str, Any]) -> None:
        segment = int(meta["s"])
        self.by_segment.setdefault(segment, set()).add(meta.get("doc_id"))
        self.labels.setdefault(segment, str(meta.get("filter", DEFAULT_FILTER)))

    def named(self) -> dict[str, set[Any]]:
        out: dict[str, set[Any]] = {}
        for segment in sorted(self.by_segment):
            label = self.labels[segment]
            name = label if label not in out else f"{label} (segment {segment})"
            out[name] = self.by_segment[segment]
        return out


def _expected(rdir: Path, task: str, world_size: int, seen: _Seen) -> tuple[set[Any], bool]:
    plans = read_plans(rdir, task)
    expected: set[Any] = set()
    for doc_ids in plans.values():
        expected.update(doc_ids)
    if all(r in plans for r in range(world_size)):
        return expected, True
    ints = [d for ids in seen.by_segment.values() for d in ids if isinstance(d, int) and not isinstance(d, bool)]
    if ints:
        expected.update(range(0, max(ints) + 1))
    return expected, False


def _remove(rdir: Path, task: str, shards: list[ShardFile]) -> None:
    """Remove merged shards and their side indexes."""
    for shard in shards:
        shard.path.unlink(missing_ok=True)
        index_path(rdir, task, shard.rank, shard.world_size).unlink(missing_ok=True)


def _recover_task(folder: Path, final: Path, shards: list[ShardFile], *, force: bool) -> ShardTaskRecovery | None:
    parsed = parse_filename(final.name)
    if parsed is None or parsed.kind != "samples":
        return None
    world = max(s.world_size for s in shards)
    rdir = ranks_dir(folder, parsed.run_id)
    task = _task_name(rdir, parsed.task or "")
    entry = ShardTaskRecovery(task, parsed.run_id, final, world, "merged")
    if live_ranks(rdir, world) and not force:
        entry.status = "skipped-live"
        return entry
    merged = read_merged(rdir, task)
    if final.exists():
        if merged is not None:  # the merge finished; only the clean-up was interrupted
            _remove(rdir, task, shards)
            entry.status, entry.per_rank, entry.task_hash = "already-merged", dict(merged.per_rank), merged.task_hash
        else:
            entry.status = "conflict"
            logger.warning("%s exists already; leaving the shards of %s in place", final, task)
        return entry
    done = read_done(rdir, task, world)
    sources = [
        ShardSource(s.path, s.rank, size=done[s.rank].size, count=done[s.rank].count)
        if s.rank in done
        else ShardSource(s.path, s.rank, salvage=True)
        for s in shards
    ]
    seen = _Seen()
    result = merge_shards(sources, final, parsed.flavor, task=task, on_line=seen)
    write_merged(rdir, MergedMarker(task, final.name, result.samples, result.task_hash, result.per_rank))
    _remove(rdir, task, shards)
    fsync_dir(folder)
    expected, entry.expected_known = _expected(rdir, task, world, seen)
    entry.per_rank = {r: result.per_rank.get(r, 0) for r in range(world)}
    entry.dropped = result.dropped
    entry.finished_ranks = sorted(done)
    entry.task_hash = result.task_hash
    named = seen.named() or {DEFAULT_FILTER: set()}
    missing: set[Any] = set()
    for label, ids in named.items():
        gone = sorted(expected - ids, key=_doc_sort_key)
        if gone:
            entry.missing_by_filter[label] = gone
            missing.update(gone)
    entry.missing = sorted(missing, key=_doc_sort_key)
    logger.info("recovered %s from %d shards: %d samples, %d doc ids missing", final, len(shards), result.samples, len(missing))
    return entry


def recover_shards(folder: Path, *, force: bool = False) -> list[ShardTaskRecovery]:
    """Merge the shards left in ``folder`` (one run folder) and report per task."""
    out: list[ShardTaskRecovery] = []
    for final, shards in find_shards(Path(folder)).items():
        entry = _recover_task(Path(folder), final, shards, force=force)
        if entry is not None:
            out.append(entry)
    return out


def discard_rank_state(folder: Path, run_id: str, *, partial_files: bool = False) -> int:
    """Remove what the ranks of an interrupted run ``run_id`` left in ``folder``: every shard (of any
    number of processes) and the run's rank markers; with ``partial_files`` also the one-process
    in-progress files. Returns how many files were removed.

    Resuming a run does this before any process of the new run writes: the new run's
    samples are recomputed (from the response journal), so the stale shards and markers
    of the old process layout must neither be merged nor taken as a rank's completion.
    """
    folder = Path(folder)
    removed = 0
    for final, shards in find_shards(folder).items():
        parsed = parse_filename(final.name, {run_id})
        if parsed is None or parsed.run_id != run_id:
            continue
        for shard in shards:
            shard.path.unlink(missing_ok=True)
            removed += 1
    if partial_files:
        for rf in scan_folder(folder).values():
            if rf.run_id == run_id:
                for partial in rf.partial_files.values():
                    partial.unlink(missing_ok=True)
                    removed += 1
    rdir = ranks_dir(folder, run_id)
    if rdir.is_dir():
        removed += sum(1 for p in rdir.iterdir() if p.is_file())
        shutil.rmtree(rdir)
    if removed:
        fsync_dir(folder)
        logger.info("run %s: discarded %d stale shard, marker or in-progress files in %s", run_id, removed, folder)
    return removed

"""Crash recovery and resume of streamed runs.

A streamed task lives in ``<final name>.partial`` until it is closed. After a
crash (or a kill), :func:`recover` turns those files into final ones: every
whole line that is a valid JSON object is kept, a torn last line (or any
invalid line) is dropped, and a report says per task how many samples were
kept and dropped. Runs still owned by a live process are left alone.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evallog import layout
from evallog.atomic import atomic_writer, fsync_dir, pid_alive
from evallog.claim import RunRecord
from evallog.encoding import decode
from evallog.errors import ConfigError, ReadError, RecoveryError
from evallog.flavors import IN_PROGRESS_SUFFIX, Flavor, TaskHasher
from evallog.layout import RunStatus
from evallog.paths import open_regular

if TYPE_CHECKING:
    from evallog.claim import RunClaim
    from evallog.shard_recovery import ShardTaskRecovery
    from evallog.sink import SampleSink
    from evallog.streams import StreamSet
    from evallog.writer import TaskStream

__all__ = [
    "recover",
    "RecoveryReport",
    "TaskRecovery",
    "iter_valid_records",
    "find_interrupted_runs",
    "resume_run",
    "ResumedRun",
]

logger = logging.getLogger(__name__)

_TMP_RE = re.compile(r"^\..+\.(?P<pid>\d+)\.[0-9a-f]+\.tmp$")


@dataclass
class TaskRecovery:
    """What recovery did with one in-progress samples file."""

    task: str
    run_id: str
    path: Path  # the final file
    kept: int
    dropped: int
    status: str  # "recovered", "skipped-live", "conflict"


@dataclass
class RecoveryReport:
    root: Path
    tasks: list[TaskRecovery] = field(default_factory=list)
    removed_temp_files: list[Path] = field(default_factory=list)
    # tasks of multi-process runs whose rank shards were merged (evallog.shard_recovery)
    shard_tasks: list[ShardTaskRecovery] = field(default_factory=list)

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.tasks)

    @property
    def dropped(self) -> int:
        return sum(t.dropped for t in self.tasks)


@dataclass
class InterruptedRun:
    folder: Path
    run_id: str
    partial_files: dict[str, Path] = field(default_factory=dict)
    final_files: dict[str, Path] = field(default_factory=dict)
    results_file: Path | None = None
    has_manifest: bool = False  # evallog wrote it (resume adopts only such runs)


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        value = decode(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _scan(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any] | None]]:
    """(offset after the line, raw line, parsed record or None); a torn last line yields None."""
    offset = 0
    with open_regular(path) as fh:
        for raw in fh:
            offset += len(raw)
            if not raw.endswith(b"\n"):
                yield offset, raw, None
                return
            if raw.strip():
                yield offset, raw, _parse_line(raw)


def iter_valid_records(path: Path) -> Iterator[dict[str, Any]]:
    """The valid, whole JSON-object lines of a samples file."""
    for _, _, record in _scan(path):
        if record is not None:
            yield record


def find_interrupted_runs(folder: Path, flavor: str | None = None, *, with_shards: bool = False) -> list[InterruptedRun]:
    """Runs in ``folder`` that have in-progress samples files (``with_shards``: or per-rank
    shards of a multi-process run), oldest first."""
    runs = []
    folder = Path(folder)
    try:
        found = layout.scan_folder(folder)  # any run-id form the folder declares
    except ReadError:  # not a folder (any more)
        return []
    for rf in found.values():
        if not (rf.partial_files or (with_shards and rf.shard_files)) or (flavor is not None and rf.flavor != flavor):
            continue
        has_manifest = layout.manifest_path(folder, rf.run_id).is_file()
        runs.append(InterruptedRun(folder, rf.run_id, dict(rf.partial_files), dict(rf.final_files), rf.results_file, has_manifest))
    return sorted(runs, key=lambda r: r.run_id)


def _rewrite_valid(src: Path, dst: Path) -> tuple[int, int]:
    """Copy the valid whole lines of ``src`` to ``dst`` atomically; (kept, dropped)."""
    kept = dropped = 0
    try:
        with atomic_writer(dst) as out:
            for _, raw, record in _scan(src):
                if record is None:
                    dropped += 1
                else:
                    out.write(raw)
                    kept += 1
    except OSError as exc:
        raise RecoveryError(f"could not recover samples: {exc}", path=src) from exc
    return kept, dropped


def reopen_for_resume(path: Path, flavor: str | Flavor, stream: TaskStream | None) -> tuple[int, str]:
    """Prepare a samples file of an interrupted run for appending.

    Cuts a torn last line (rewriting the file if an invalid line sits in the
    middle), feeds the kept records to ``stream`` (its hash and counters) and
    returns ``(count, task hash)``.
    """
    hasher = TaskHasher(flavor)
    good_end = 0
    seen_bad = False
    for offset, _, record in _scan(path):
        if record is None:
            seen_bad = True
            continue
        if seen_bad:  # an invalid line before valid ones: keep only the valid lines
            _rewrite_valid(path, path)
            return reopen_for_resume(path, flavor, stream)
        good_end = offset
        hasher.update(record)
    if good_end != path.stat().st_size:
        os.truncate(path, good_end)
    if stream is not None:
        # the stream opened the file before the cut: realign its size and counters
        stream._size = good_end
        stream._fh.seek(0, os.SEEK_END)
        stream.adopt(iter_valid_records(path))
    return hasher.count, hasher.hexdigest()


def _remove_stale_temp_files(folder: Path, report: RecoveryReport) -> None:
    """Remove temporary files of atomic writes whose writer process is gone, in ``folder``
    and in its ``.evallog/`` bookkeeping folder (only evallog's own temp-file names)."""
    for where in (folder, folder / layout.MANIFEST_DIR):
        try:
            entries = list(os.scandir(where))
        except OSError:
            continue
        for entry in entries:
            m = _TMP_RE.match(entry.name)
            if not m or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(m["pid"])
            if pid == os.getpid() or pid_alive(pid):
                continue
            try:
                os.unlink(entry.path)
                report.removed_temp_files.append(Path(entry.path))
            except OSError:
                pass


def _take_lock(folder: Path, run_id: str) -> bool:
    """The run's lock for this recovery (False: a live process holds it)."""
    try:
        return layout.take_lock(folder, run_id)
    except (OSError, ValueError) as exc:  # a symlinked .evallog, a read-only folder
        raise RecoveryError(f"could not take the run lock: {exc}", path=folder / layout.MANIFEST_DIR) from exc


def _claim_run(folder: Path, run: InterruptedRun) -> tuple[InterruptedRun | None, bool]:
    """Take ``run``'s lock, then re-scan it under the lock: ``(run as it is now, live)``;
    ``(None, False)`` when it was finished or recovered meanwhile."""
    if not _take_lock(folder, run.run_id):
        return run, True
    fresh = [r for r in find_interrupted_runs(folder) if r.run_id == run.run_id]
    if not fresh:
        layout.release_lock(folder, run.run_id)
        return None, False
    return fresh[0], False


def recover(output_dir: str | os.PathLike[str], *, force: bool = False) -> RecoveryReport:
    """Finalise the in-progress samples files of interrupted runs under ``output_dir``.

    Each ``*.partial`` file becomes its final file with every whole, valid
    line kept and a torn or invalid line dropped. Runs whose owning process
    is still alive are skipped unless ``force``. Stale temporary files of
    atomic writes are removed. Returns a :class:`RecoveryReport`.
    """
    root = Path(output_dir)
    if not root.is_dir():
        raise RecoveryError("not a folder", path=root)
    report = RecoveryReport(root)
    for folder, _ in layout.iter_run_folders(root):
        _remove_stale_temp_files(folder, report)
        for found in find_interrupted_runs(folder):
            # the run's lock first: a tracker resuming it (or another recover) excludes us
            run, live = _claim_run(folder, found)
            if run is None:
                continue
            for task, partial in sorted(run.partial_files.items()):
                final = partial.with_name(partial.name[: -len(IN_PROGRESS_SUFFIX)])
                if live and not force:
                    report.tasks.append(TaskRecovery(task, run.run_id, final, 0, 0, "skipped-live"))
                    continue
                if final.exists():
                    logger.warning("%s exists already; leaving %s in place", final, partial)
                    report.tasks.append(TaskRecovery(task, run.run_id, final, 0, 0, "conflict"))
                    continue
                kept, dropped = _rewrite_valid(partial, final)
                partial.unlink()
                fsync_dir(folder)
                report.tasks.append(TaskRecovery(task, run.run_id, final, kept, dropped, "recovered"))
                logger.info("recovered %s: %d samples kept, %d dropped", final, kept, dropped)
            if not live or force:
                layout.mark_manifest(folder, run.run_id, RunStatus.RECOVERED)
                layout.remove_lock(folder, run.run_id)  # ours, or (force) the live owner's
        _recover_shards(folder, report, force=force)
    return report


def _recover_shards(folder: Path, report: RecoveryReport, *, force: bool) -> None:
    """Merge what the ranks of multi-process runs left in ``folder`` (evallog.shard_recovery)."""
    from evallog.shard_recovery import recover_shards

    entries = recover_shards(folder, force=force)
    report.shard_tasks.extend(entries)
    for run_id in sorted({e.run_id for e in entries if e.status == "merged"}):
        if force or not layout.run_lock_held(folder, run_id):
            layout.remove_lock(folder, run_id)
            layout.mark_manifest(folder, run_id, RunStatus.RECOVERED)


@dataclass
class ResumedRun:
    """What :func:`resume_run` reopened: the run id, its files, and how many tasks are streams again."""

    run_id: str
    files: RunRecord
    in_progress: int = 0


def _claim_for_resume(folder: Path, flavor: Flavor, run_id: str | None, claim: RunClaim) -> InterruptedRun | None:
    """Claim the interrupted run to continue (latest first) and re-scan it under its lock.

    Only runs evallog wrote (with a manifest) are resumed; a run whose lock a live
    process holds is left to it (with a caller-given ``run_id``: :class:`ConfigError`).
    """
    candidates = [c for c in find_interrupted_runs(folder, flavor=flavor.name, with_shards=True) if c.has_manifest]
    if run_id is not None:
        candidates = [c for c in candidates if c.run_id == run_id]
    for candidate in reversed(candidates):
        if not claim.try_claim(folder, candidate.run_id):
            if run_id is not None:
                raise ConfigError(f"run {candidate.run_id!r} is being written by another live process", path=folder)
            continue
        # under the lock: the run may have been finished or recovered meanwhile
        fresh = [c for c in find_interrupted_runs(folder, flavor=flavor.name, with_shards=True) if c.run_id == candidate.run_id]
        if fresh:
            return fresh[0]
        claim.release()
    return None


def resume_run(
    folder: Path, flavor: Flavor, run_id: str | None, streams: StreamSet, sink: SampleSink, claim: RunClaim
) -> ResumedRun | None:
    """Claim the latest interrupted run of ``folder`` (the one with ``run_id`` if given), then
    reopen it for appending: its lock is taken *before* any file is reopened.

    Finished task files are counted and hashed; in-progress files are reopened
    as streams of ``streams``. ``None`` when there is no such run (nothing claimed).
    """
    run = _claim_for_resume(folder, flavor, run_id, claim)
    if run is None:
        return None
    from evallog.shard_recovery import discard_rank_state

    discard_rank_state(folder, run.run_id)  # a multi-process run resumed by one process: its samples are redone
    files = RunRecord(results_path=run.results_file)
    for task, path in run.final_files.items():
        count, digest = reopen_for_resume(path, flavor, None)
        files.sample_paths[task], files.task_hashes[task], files.task_counts[task] = path, digest, count
    for task, partial in run.partial_files.items():
        final = partial.with_name(partial.name[: -len(IN_PROGRESS_SUFFIX)])
        stream = streams.open(task, final, sink.new_hasher(), resume_from=partial)
        reopen_for_resume(partial, flavor, stream)
        files.sample_paths[task] = final
    return ResumedRun(run.run_id, files, len(run.partial_files))

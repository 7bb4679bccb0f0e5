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

import orjson

from evallog.atomic import atomic_write_bytes, atomic_writer, fsync_dir, pid_alive
from evallog.encoding import decode
from evallog.errors import RecoveryError
from evallog.formats import TaskHasher
from evallog.naming import IN_PROGRESS_SUFFIX, MANIFEST_DIR, declared_run_ids, parse_filename
from evallog.paths import make_dirs, open_regular, read_regular

if TYPE_CHECKING:
    from evallog.writer import TaskStream

__all__ = ["recover", "RecoveryReport", "TaskRecovery", "iter_valid_records", "find_interrupted_runs"]

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


def find_interrupted_runs(folder: Path, flavor: str | None = None) -> list[InterruptedRun]:
    """Runs in ``folder`` that have in-progress samples files, oldest first."""
    runs: dict[str, InterruptedRun] = {}
    finals: dict[str, dict[str, Path]] = {}
    results: dict[str, Path] = {}
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    run_ids = declared_run_ids(Path(folder), [e.name for e in entries])
    for entry in entries:
        parsed = parse_filename(entry.name, run_ids)
        if parsed is None or (flavor is not None and parsed.flavor != flavor) or not entry.is_file():
            continue
        if parsed.kind == "results":
            results[parsed.run_id] = Path(entry.path)
        elif parsed.in_progress:
            run = runs.setdefault(parsed.run_id, InterruptedRun(Path(folder), parsed.run_id))
            run.partial_files[parsed.task or ""] = Path(entry.path)
        else:
            finals.setdefault(parsed.run_id, {})[parsed.task or ""] = Path(entry.path)
    for run_id, run in runs.items():
        run.final_files = finals.get(run_id, {})
        run.results_file = results.get(run_id)
        run.has_manifest = (Path(folder) / MANIFEST_DIR / f"{run_id}.json").is_file()
    return [runs[k] for k in sorted(runs)]


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


def reopen_for_resume(path: Path, flavor: str, stream: TaskStream | None) -> tuple[int, str]:
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
    for where in (folder, folder / MANIFEST_DIR):
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


def _mark_manifest(folder: Path, run_id: str, status: str) -> None:
    manifest = folder / MANIFEST_DIR / f"{run_id}.json"
    try:
        data = orjson.loads(read_regular(manifest))
    except (OSError, ValueError):  # ReadError and JSONDecodeError are ValueErrors
        return
    if not isinstance(data, dict):
        return
    data["status"] = status
    data["streaming"] = []
    atomic_write_bytes(manifest, orjson.dumps(data, option=orjson.OPT_INDENT_2), fsync=False)


def _lock(folder: Path, run_id: str, take: Any) -> bool:
    try:
        make_dirs(folder, folder / MANIFEST_DIR)
        return bool(take(folder, run_id))
    except (OSError, ValueError) as exc:  # a symlinked .evallog, a read-only folder
        raise RecoveryError(f"could not take the run lock: {exc}", path=folder / MANIFEST_DIR) from exc


def recover(output_dir: str | os.PathLike[str], *, force: bool = False) -> RecoveryReport:
    """Finalise the in-progress samples files of interrupted runs under ``output_dir``.

    Each ``*.partial`` file becomes its final file with every whole, valid
    line kept and a torn or invalid line dropped. Runs whose owning process
    is still alive are skipped unless ``force``. Stale temporary files of
    atomic writes are removed. Returns a :class:`RecoveryReport`.
    """
    from evallog.tracker import release_run_lock, take_run_lock

    root = Path(output_dir)
    if not root.is_dir():
        raise RecoveryError("not a folder", path=root)
    report = RecoveryReport(root)
    for folder in sorted({root, *(Path(d) for d, _, _ in os.walk(root))}):
        if any(part.startswith(".") for part in folder.relative_to(root).parts):
            continue
        _remove_stale_temp_files(folder, report)
        for run in find_interrupted_runs(folder):
            # the run's lock first: a tracker resuming it (or another recover) excludes us
            live = not _lock(folder, run.run_id, take_run_lock)
            if not live:  # under the lock: the files may have changed meanwhile
                fresh = [r for r in find_interrupted_runs(folder) if r.run_id == run.run_id]
                if not fresh:
                    release_run_lock(folder, run.run_id)
                    continue
                run = fresh[0]
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
                _mark_manifest(folder, run.run_id, "recovered")
                if live:  # force: the owner's lock goes too
                    try:
                        (folder / MANIFEST_DIR / f"{run.run_id}.lock").unlink()
                    except FileNotFoundError:
                        pass
                else:
                    release_run_lock(folder, run.run_id)
    return report

"""One rank's part of a multi-process run: its shards, its markers, the merges.

Every rank streams its samples into its own shards (:mod:`evallog.shards`);
finishing a task writes the rank's completion marker; the rank that finds
every marker present (the last to finish, or rank 0 while it waits) takes the
task's merge lock and merges the shards into the final file
(:mod:`evallog.merge`). No sample, and nothing else, goes through a
collective: the ranks only look at files, so a dead or hung process cannot
stop the others' samples from being saved.

The run id is agreed through the file system too: an explicit ``run_id`` (or
the ``EVALLOG_RUN_ID`` environment variable) is used as is; otherwise rank 0
claims an id and publishes it in ``.evallog/launch-<key>.json``, where the key
is derived from the launcher's environment, and the other ranks wait for it.
The file goes once every rank has closed (each rank reads it before it writes
anything of the run, so a rank that closed has read it): the last rank to
close removes it. A rank that dies before closing leaves it (a later launch
has another key; ``--resume`` publishes again).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from evallog.atomic import atomic_write_bytes, fsync_dir, pid_alive, temp_path_for
from evallog.errors import RankTimeoutError, ShardError, TrackerClosedError, WriteError
from evallog.flavors import TaskHasher
from evallog.layout import MANIFEST_DIR
from evallog.merge import ShardSource, merge_shards
from evallog.ranks import RankInfo
from evallog.shard_index import IndexWriter
from evallog.shards import (
    DoneMarker,
    MergedMarker,
    Segmenter,
    closed_ranks,
    frame_line,
    index_path,
    merge_lock_path,
    rank_lock_path,
    ranks_dir,
    read_done,
    read_merged,
    register_task,
    registered_tasks,
    shard_path,
    write_closed,
    write_done,
    write_merged,
    write_plan,
)
from evallog.writer import TaskStream

__all__ = ["RankGroup", "launch_file", "launch_key", "publish_run_id", "await_run_id", "try_lock", "lock_is_stale", "done_sources"]

logger = logging.getLogger(__name__)

RUN_ID_ENV = "EVALLOG_RUN_ID"
_POLL = 0.05
_LAUNCH_TOLERANCE = 600.0  # seconds between rank 0's and this rank's tracker construction

_counter_lock = threading.Lock()
_counter = 0


def next_tracker_index() -> int:
    """How many distributed trackers this process built before (all ranks build them in the same order)."""
    global _counter
    with _counter_lock:
        _counter += 1
        return _counter


def launch_key(info: RankInfo, index: int, env: Mapping[str, str] | None = None) -> str:
    """A key shared by the ranks of one launch (and by nothing else, in practice)."""
    env = os.environ if env is None else env
    parts: list[Any] = [info.world_size, index]
    parts += [env.get(n, "") for n in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "SLURM_JOB_ID")]
    local_world = env.get("LOCAL_WORLD_SIZE")
    if local_world is None or local_world == str(info.world_size):  # one machine: the launcher is our parent
        parts += [socket.gethostname(), os.getppid()]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:16]


def launch_file(run_dir: Path, key: str) -> Path:
    """Where rank 0 publishes the run id of the launch ``key``."""
    return run_dir / MANIFEST_DIR / f"launch-{key}.json"


def publish_run_id(run_dir: Path, key: str, run_id: str, born: float) -> Path:
    path = launch_file(run_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, orjson.dumps({"run_id": run_id, "born": born, "pid": os.getpid()}))
    return path


def await_run_id(run_dir: Path, key: str, born: float, timeout: float) -> str:
    """The run id rank 0 published for this launch (waits up to ``timeout`` seconds)."""
    path = launch_file(run_dir, key)
    deadline = time.monotonic() + timeout
    while True:
        try:
            data = orjson.loads(path.read_bytes())
            if isinstance(data, dict) and abs(float(data["born"]) - born) <= _LAUNCH_TOLERANCE:
                return str(data["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if time.monotonic() >= deadline:
            raise RankTimeoutError(
                f"rank 0 did not publish the run id within {timeout:g} s; pass the same run_id to every "
                f"rank (or set {RUN_ID_ENV})",
                path=path,
            )
        time.sleep(_POLL)


def try_lock(path: Path) -> bool:
    """Create ``path`` holding our pid, atomically; False if a live process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        tmp = temp_path_for(path)
        tmp.write_text(f"{os.getpid()} {socket.gethostname()}\n")
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            if not lock_is_stale(path):
                return False
            try:
                path.unlink()
            except FileNotFoundError:
                pass
        finally:
            tmp.unlink()
    return False


def lock_is_stale(path: Path) -> bool:
    """A lock left by a process of this machine that is gone (locks of other hosts are never stale)."""
    try:
        pid_text, _, host = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return not path.exists()
    if host and host != socket.gethostname():
        return False
    return pid != os.getpid() and not pid_alive(pid)


def done_sources(rdir: Path, final: Path, done: Mapping[int, DoneMarker]) -> list[ShardSource]:
    """The merge's sources for the finished ranks' shards of ``final`` (with their side indexes)."""
    return [
        ShardSource(final.with_name(m.shard), rank, size=m.size, count=m.count,
                    index=rdir / m.index if m.index else None, segments=list(m.segments))
        for rank, m in sorted(done.items())
    ]


class RankGroup:
    """This rank's shards and markers of one run."""

    def __init__(
        self,
        info: RankInfo,
        run_dir: Path,
        run_id: str,
        flavor: str,
        *,
        flush_every: int,
        flush_interval: float,
        fsync: bool,
        timeout: float,
        upload: Callable[[Path, str], None] | None = None,
        launch: Path | None = None,
    ) -> None:
        self.info = info
        self.run_dir = run_dir
        self.run_id = run_id
        self.flavor = flavor
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.fsync = fsync
        self.timeout = timeout
        self.upload = upload
        self.launch = launch  # the run-id publication this rank read (None: the ranks were given the id)
        self.dir = ranks_dir(run_dir, run_id)
        self.streams: dict[str, TaskStream] = {}
        self.indexes: dict[str, IndexWriter] = {}
        self.segmenters: dict[str, Segmenter] = {}
        self.finals: dict[str, Path] = {}
        self.merged: dict[str, MergedMarker] = {}
        self._lock = threading.RLock()
        self.dir.mkdir(parents=True, exist_ok=True)
        if not try_lock(rank_lock_path(self.dir, info.rank)):
            raise ShardError(f"rank {info.rank} of run {run_id} is already running in another process", path=self.dir)
        self._held = True

    # ------------------------------------------------------------------ writing
    def stream_for(self, task: str, final: Path) -> TaskStream:
        stream = self.streams.get(task)
        if stream is not None and not stream.closed:
            return stream
        with self._lock:
            if stream is not None:
                raise TrackerClosedError(f"rank {self.info.rank} finished this task already", task=task)
            path = shard_path(final, self.info.rank, self.info.world_size)
            stream = TaskStream(
                task, path, path, TaskHasher(self.flavor),
                flush_every=self.flush_every, flush_interval=self.flush_interval, fsync=self.fsync,
            )
            self.streams[task] = stream
            old = self.indexes.get(task)
            if old is not None:  # the rank's earlier shard of the task was discarded (a batch save)
                old.abandon("replaced")
            self.indexes[task] = IndexWriter(index_path(self.dir, task, self.info.rank, self.info.world_size), fsync=self.fsync)
            self.segmenters[task] = Segmenter()
            self.finals[task] = final
            register_task(self.dir, task)
            return stream

    def log(self, task: str, final: Path, line: bytes, sample: Mapping[str, Any], fields: tuple[str, ...]) -> None:
        stream = self.stream_for(task, final)
        with self._lock:  # the shard and its index take the lines in the same order
            framed = frame_line(line, sample, self.segmenters[task], fields)
            index = self.indexes[task]
            try:
                stream.append(framed.data, fields)
            except WriteError:
                index.abandon("a write to the shard failed")
                raise
            index.add(len(framed.data), framed.key, framed.blob, framed.final_start)

    def expect_docs(self, task: str, doc_ids: Iterable[Any]) -> None:
        """Record the doc ids this rank will log for ``task`` (recovery reports the missing ones)."""
        write_plan(self.dir, task, self.info.rank, doc_ids)

    def finish_task(self, task: str, final: Path) -> MergedMarker | None:
        """This rank is done with ``task``: close its shard, mark it, merge if every rank is done.

        Finishing a task again only tries the merge again.
        """
        stream = self.streams.get(task)
        if stream is not None and stream.closed:
            return self.try_merge(task, final)
        self.complete_task(task, final)
        return self.try_merge(task, final)

    def complete_task(self, task: str, final: Path) -> DoneMarker:
        """Close this rank's shard of ``task`` and its index, and write the rank's completion marker."""
        stream = self.stream_for(task, final)  # a rank without samples leaves an empty shard
        stream.close()
        size = stream.partial_path.stat().st_size
        index = self.indexes[task]
        marker = DoneMarker(task, self.info.rank, self.info.world_size, stream.partial_path.name, stream.count, size,
                            list(self.segmenters[task].labels))
        if index.close(stream.count, size):
            marker.index = index.path.name
        write_done(self.dir, marker)
        return marker

    def finish_all(self, final_for: Callable[[str], Path]) -> None:
        """Finish every task this rank has open, then mark the rank closed: for the tasks it
        never logged (no docs fell to it), it counts as done with no samples."""
        for task, stream in list(self.streams.items()):
            if not stream.closed:
                self.finish_task(task, self.finals[task])
        write_closed(self.dir, self.info.rank)
        self._drop_launch_file()
        for task in self.known_tasks():
            if task not in self.streams:
                self.try_merge(task, final_for(task))

    def _drop_launch_file(self) -> None:
        """The last rank to close removes the run-id publication: every rank has read it (a rank
        writes its closed marker, in this run's folder, only after reading the id). Each rank
        writes its marker before it looks, so at least one of the last two sees them all."""
        if self.launch is not None and closed_ranks(self.dir) >= set(range(self.info.world_size)):
            self.launch.unlink(missing_ok=True)

    # ------------------------------------------------------------------ merging
    def try_merge(self, task: str, final: Path) -> MergedMarker | None:
        """Merge ``task`` if every rank finished it and nobody else is merging it."""
        merged = read_merged(self.dir, task)
        if merged is not None:
            self.merged[task] = merged
            return merged
        done = read_done(self.dir, task, self.info.world_size)
        closed = closed_ranks(self.dir)
        if any(rank not in done and rank not in closed for rank in range(self.info.world_size)):
            return None
        lock = merge_lock_path(self.dir, task)
        if not try_lock(lock):
            return None
        try:
            merged = read_merged(self.dir, task)  # merged while we took the lock
            if merged is None:
                merged = self._merge(task, final, done)
        finally:
            lock.unlink(missing_ok=True)
        self.merged[task] = merged
        return merged

    def _merge(self, task: str, final: Path, done: dict[int, DoneMarker]) -> MergedMarker:
        sources = done_sources(self.dir, final, done)
        result = merge_shards(sources, final, self.flavor, task=task, fsync=True)
        marker = MergedMarker(task, final.name, result.samples, result.task_hash, result.per_rank)
        write_merged(self.dir, marker)
        for src in sources:
            src.path.unlink(missing_ok=True)
            if src.index is not None:
                src.index.unlink(missing_ok=True)
        fsync_dir(final.parent)
        if self.upload is not None:
            self.upload(final, task)
        return marker

    def known_tasks(self) -> list[str]:
        return sorted(set(registered_tasks(self.dir)) | set(self.streams))

    def wait_merged(
        self, final_for: Callable[[str], Path], timeout: float | None = None, *, evaluation_over: bool = False,
    ) -> dict[str, MergedMarker]:
        """Wait until every task any rank worked on is merged (merging what is ready meanwhile).

        ``evaluation_over``: this rank will log nothing more (rank 0 saving the results), so a
        task other ranks work on and this rank never logged is done here, with no samples.
        Returns the merged tasks; tasks still waiting for a rank at the
        deadline are left out (``evallog recover`` merges them later).
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            pending = []
            for task in self.known_tasks():
                if task in self.merged:
                    continue
                if evaluation_over and task not in self.streams:
                    self.complete_task(task, final_for(task))  # no doc fell to this rank
                if self.try_merge(task, final_for(task)) is None:
                    pending.append(task)
            if not pending:
                return dict(self.merged)
            if time.monotonic() >= deadline:
                logger.warning(
                    "run %s: tasks %s are not merged yet (ranks still running, or dead); "
                    "their shards stay in %s: run `evallog recover` once the ranks are gone",
                    self.run_id, ", ".join(pending), self.run_dir,
                )
                return dict(self.merged)
            time.sleep(_POLL)

    def flush(self) -> None:
        for stream in list(self.streams.values()):
            try:
                stream.flush()
            except WriteError:
                logger.exception("could not flush a shard")

    def release(self) -> None:
        if self._held:
            rank_lock_path(self.dir, self.info.rank).unlink(missing_ok=True)
            self._held = False

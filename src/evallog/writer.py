"""Streaming samples writer: one in-progress file per task, flushed in whole lines.

A :class:`TaskStream` receives already-encoded lines (each ends with ``\\n``)
and keeps at most ``flush_every`` of them in memory. They reach the file
``<final name>.partial`` when the buffer is full, when ``flush_interval``
seconds have passed (checked on every append and by the tracker's flusher
thread), and on close. A flush writes whole lines only; if the write fails the
file is truncated back to its last complete line, so a write error or a kill
never leaves a torn line that was reported as written. Closing renames the
in-progress file to its final name atomically.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from evallog.atomic import fsync_dir, write_all
from evallog.errors import TrackerClosedError, WriteError
from evallog.flavors import TaskHasher
from evallog.paths import open_for_write

__all__ = ["TaskStream"]

logger = logging.getLogger(__name__)


class TaskStream:
    """The in-progress samples file of one task."""

    def __init__(
        self,
        task: str,
        final_path: Path,
        partial_path: Path,
        hasher: TaskHasher,
        *,
        flush_every: int,
        flush_interval: float,
        fsync: bool = False,
        resume: bool = False,
    ) -> None:
        self.task = task
        self.final_path = final_path
        self.partial_path = partial_path
        self.flush_every = max(1, int(flush_every))
        self.flush_interval = float(flush_interval)
        self.fsync = fsync
        self.hasher = hasher
        self.lock = threading.Lock()
        self.closed = False
        self._buffer: list[bytes] = []
        self._last_flush = time.monotonic()
        self._error: BaseException | None = None
        self.flushed_count = 0
        try:
            # unbuffered: a flush hands the buffered lines to the kernel in one writev (no copy)
            self._fh = os.fdopen(open_for_write(partial_path, append=resume, task=task), "ab", buffering=0)
            self._size = self._fh.seek(0, os.SEEK_END)
        except OSError as exc:
            raise WriteError(f"could not open samples file: {exc.strerror or exc}", path=partial_path, task=task) from exc

    @property
    def count(self) -> int:
        """Samples accepted so far (flushed or buffered)."""
        return self.hasher.count

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def adopt(self, samples: Any) -> None:
        """Account for samples already in the file (resume): update hash and counters."""
        for sample in samples:
            self.hasher.update(sample)
            self.flushed_count += 1

    def append(self, line: bytes, hash_fields: tuple[str, ...]) -> None:
        """Buffer one encoded line; ``hash_fields``: the sample's task-hash input."""
        with self.lock:
            if self.closed:
                raise TrackerClosedError("samples logged after the task was closed", task=self.task)
            self.hasher.update_fields(hash_fields)  # first: a sample that cannot be hashed is not written
            self._buffer.append(line)
            if len(self._buffer) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_interval:
                self._flush_locked()

    def flush(self, *, only_if_due: bool = False) -> None:
        with self.lock:
            if self.closed or not self._buffer:
                return
            if only_if_due and time.monotonic() - self._last_flush < self.flush_interval:
                return
            self._flush_locked()

    def _flush_locked(self) -> None:
        if not self._buffer:
            self._last_flush = time.monotonic()
            return
        try:
            written = write_all(self._fh.fileno(), self._buffer)
            if self.fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self._rollback()
            raise WriteError(
                f"could not write {len(self._buffer)} samples: {exc.strerror or exc}; "
                f"the {self.flushed_count} samples flushed before are intact",
                path=self.partial_path,
                task=self.task,
            ) from exc
        self._size += written
        self.flushed_count += len(self._buffer)
        self._buffer.clear()
        self._last_flush = time.monotonic()

    def _rollback(self) -> None:
        """Cut the file back to its last complete line after a failed write."""
        try:
            self._fh.close()
        except OSError:
            pass
        try:
            os.truncate(self.partial_path, self._size)
        except OSError:
            logger.warning("could not truncate %s after a failed write", self.partial_path)
        self._fh = os.fdopen(open_for_write(self.partial_path, append=True, task=self.task), "ab", buffering=0)

    def rename(self, final_path: Path, partial_path: Path) -> bool:
        """Move the in-progress file (the run id changed); False if the task is closed
        already, in which case the caller moves the final file."""
        with self.lock:
            self.final_path = final_path
            if self.closed:
                return False
            os.replace(self.partial_path, partial_path)  # the open handle follows the file
            self.partial_path = partial_path
            return True

    def close(self) -> None:
        """Flush and rename the in-progress file to its final name (with ``fsync``: forced to
        the device first, and the rename too, as the batch save's atomic writer does)."""
        with self.lock:
            if self.closed:
                return
            self._flush_locked()
            try:
                if self.fsync:
                    os.fsync(self._fh.fileno())
                self._fh.close()
                os.replace(self.partial_path, self.final_path)
            except OSError as exc:
                raise WriteError(f"could not finalise samples file: {exc.strerror or exc}", path=self.final_path, task=self.task) from exc
            if self.fsync:
                fsync_dir(self.final_path.parent)
            self.closed = True

    def discard(self) -> None:
        """Drop the stream (its samples were replaced by a batch save)."""
        with self.lock:
            if self.closed:
                return
            self._buffer.clear()
            try:
                self._fh.close()
            finally:
                self.closed = True
                try:
                    self.partial_path.unlink()
                except FileNotFoundError:
                    pass

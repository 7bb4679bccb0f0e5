"""The open sample streams of one tracker, and the background thread that flushes them on time."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

from evallog.errors import WriteError
from evallog.flavors import IN_PROGRESS_SUFFIX, TaskHasher
from evallog.writer import TaskStream

__all__ = ["StreamSet"]


class _Flusher(threading.Thread):
    """Flushes the streams at least every ``interval`` seconds; ends with its stream set."""

    def __init__(self, streams: StreamSet, interval: float) -> None:
        super().__init__(name="evallog-flusher", daemon=True)
        self._streams = weakref.ref(streams)
        self._interval = max(0.02, interval / 2)
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self._interval):
            owner = self._streams()
            if owner is None:
                return
            for stream in list(owner.streams.values()):
                try:
                    stream.flush(only_if_due=True)
                except WriteError as exc:
                    owner.background_error = exc
            del owner


class StreamSet:
    """Task name -> :class:`TaskStream`, with the durability settings they share."""

    def __init__(self, *, flush_every: int, flush_interval: float, fsync: bool) -> None:
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.fsync = fsync
        self.streams: dict[str, TaskStream] = {}
        self.background_error: WriteError | None = None
        self._flusher: _Flusher | None = None

    def get(self, task: str) -> TaskStream | None:
        return self.streams.get(task)

    def open(self, task: str, final: Path, hasher: TaskHasher, *, resume_from: Path | None = None) -> TaskStream:
        """Start streaming ``task`` to ``<final>.partial`` (or append to ``resume_from``)."""
        partial = resume_from or final.with_name(final.name + IN_PROGRESS_SUFFIX)
        stream = TaskStream(
            task,
            final,
            partial,
            hasher,
            flush_every=self.flush_every,
            flush_interval=self.flush_interval,
            fsync=self.fsync,
            resume=resume_from is not None,
        )
        self.streams[task] = stream
        self.start_flusher()
        return stream

    def start_flusher(self) -> None:
        if self._flusher is None and self.streams:
            self._flusher = _Flusher(self, self.flush_interval)
            self._flusher.start()

    def stop_flusher(self) -> None:
        if self._flusher is not None:
            self._flusher.stop_event.set()

    def pop(self, task: str) -> None:
        self.streams.pop(task, None)

    def open_tasks(self) -> list[str]:
        """Tasks still being streamed, sorted."""
        return sorted(t for t, s in self.streams.items() if not s.closed)

    def flush(self) -> None:
        for stream in list(self.streams.values()):
            stream.flush()
        self.raise_background_error()

    def raise_background_error(self) -> None:
        error = self.background_error
        if error is not None:
            self.background_error = None
            raise error

"""The tracker's multi-process mode: what :class:`EvaluationTracker` does when ``world_size > 1``.

* Rank 0 claims the run id (lock, manifest) as a single process does and
  publishes it for the other ranks (:mod:`evallog.rankgroup`); the other ranks
  write no manifest and no results.
* Every rank streams its samples into its own shards; ``close_task`` (or
  ``close``) writes the rank's completion marker, and the last rank to finish
  a task merges the shards into the task's final file.
* Rank 0's results carry the merged files' task hashes; rank 0 waits (up to
  ``rank_timeout`` seconds) for the merges when it saves results and when it
  closes. The run is ``complete`` once the results and every merged file
  exist; otherwise rank 0 leaves the run ``running`` and ``evallog recover``
  merges what the ranks left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evallog.errors import ConfigError
from evallog.rankgroup import (
    RankGroup,
    await_run_id,
    launch_key,
    next_tracker_index,
    publish_run_id,
)
from evallog.ranks import RankInfo
from evallog.shards import MergedMarker
from evallog.writer import TaskStream

if TYPE_CHECKING:
    from evallog.tracker import EvaluationTracker

__all__ = ["DistributedRun"]

logger = logging.getLogger(__name__)


class DistributedRun:
    """One tracker's part of a multi-process run."""

    def __init__(self, tracker: EvaluationTracker, info: RankInfo, timeout: float, agreed_id: bool) -> None:
        self.tracker = tracker
        self.info = info
        self.timeout = timeout
        self.agreed_id = agreed_id  # every rank was given the same run id
        self.born = time.time()
        self.index = 0 if agreed_id else next_tracker_index()
        self.group: RankGroup | None = None

    # ------------------------------------------------------------------ claiming
    def ensure_claimed(self) -> Path:
        t = self.tracker
        folder = t._run_dir()
        if self.group is not None:
            return folder
        from evallog.paths import ensure_inside

        ensure_inside(t._root(), folder)
        key = launch_key(self.info, self.index)
        if self.info.is_main:
            if self.agreed_id:
                if not t._try_claim(folder, t._run_id):
                    raise ConfigError(f"run id {t._run_id!r} is in use by another live tracker", path=folder)
            else:
                t._claim_free_id(folder)
                publish_run_id(folder, key, t._run_id, self.born)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            if not self.agreed_id:
                t._run_id = await_run_id(folder, key, self.born, self.timeout)
        self.group = RankGroup(
            self.info, folder, t._run_id, t.flavor,
            flush_every=t.flush_every, flush_interval=t.flush_interval, fsync=t.fsync,
            timeout=self.timeout, upload=lambda path, task: t._upload(path, task=task),
        )
        if self.info.is_main:
            t._write_manifest("running")
        return folder

    def _group(self) -> RankGroup:
        self.ensure_claimed()
        assert self.group is not None
        return self.group

    def final_for(self, task: str) -> Path:
        """The task's final file, in the folder the ranks agreed on (even if the model name changes later)."""
        path = self.tracker._samples_file_for(task, self.tracker._run_id)
        return self.group.run_dir / path.name if self.group is not None else path

    def streams(self) -> list[TaskStream]:
        return list(self.group.streams.values()) if self.group is not None else []

    # ------------------------------------------------------------------ samples
    def log(self, task: str, sample: Mapping[str, Any]) -> None:
        group = self._group()
        final = self.final_for(task)
        stream = group.stream_for(task, final)
        line = self.tracker._encode_sample(sample, task, stream.count)
        group.log(task, final, line, sample)
        self.tracker._start_flusher()

    def expect_docs(self, task: str, doc_ids: Iterable[Any]) -> None:
        self._group().expect_docs(task, doc_ids)

    def close_task(self, task: str) -> Path:
        group = self._group()
        final = self.final_for(task)
        marker = group.finish_task(task, final)
        if marker is not None and self.info.is_main:
            self._record(marker)
        return final

    def save_samples(self, task: str, samples: Iterable[Mapping[str, Any]]) -> Path:
        """This rank's samples of ``task``, as one batch (replacing what it streamed, unless the same)."""
        group = self._group()
        stream = group.streams.get(task)
        if stream is not None:
            samples = samples if isinstance(samples, (list, tuple)) else list(samples)
            if stream.closed or stream.count == len(samples):
                return self.close_task(task)  # the samples this rank streamed
            stream.discard()
            del group.streams[task]
        for sample in samples:
            self.log(task, sample)
        return self.close_task(task)

    def flush(self) -> None:
        if self.group is not None:
            self.group.flush()

    # ------------------------------------------------------------------ results and closing
    def _record(self, marker: MergedMarker) -> None:
        t = self.tracker
        with t._lock:
            t._sample_paths[marker.task] = t._run_dir() / marker.file
            t._task_hashes[marker.task] = marker.task_hash
            t._task_counts[marker.task] = marker.samples

    def wait_merged(self, timeout: float | None = None) -> bool:
        """Rank 0: wait for every task's merge; True when all are merged."""
        group = self._group()
        merged = group.wait_merged(self.final_for, timeout)
        for marker in merged.values():
            self._record(marker)
        return all(task in merged for task in group.known_tasks())

    def task_hashes(self) -> dict[str, str]:
        """Rank 0 saves results once its evaluation is over: finish its tasks, wait for the merges."""
        group = self._group()
        for task, stream in list(group.streams.items()):
            if not stream.closed:
                self.close_task(task)
        self.wait_merged()
        return {task: self.tracker._task_hashes[task] for task in self.tracker._sample_paths}

    def close(self, timeout: float | None = None) -> bool:
        """Finish this rank's tasks; rank 0 also waits for the merges (``timeout``, default
        ``rank_timeout``). True if the run is complete."""
        if self.group is None:
            if not self.tracker.output_path:
                return True
            self.ensure_claimed()  # a rank that logged nothing still tells the others it is done
        group = self._group()
        try:
            group.finish_all(self.final_for)
            if not self.info.is_main:
                return True
            return self.wait_merged(timeout)
        finally:
            group.release()

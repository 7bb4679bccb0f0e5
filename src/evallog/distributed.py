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

import atexit
import logging
import os
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evallog.errors import ConfigError
from evallog.layout import RunStatus
from evallog.rankgroup import (
    RUN_ID_ENV,
    RankGroup,
    await_run_id,
    launch_file,
    launch_key,
    next_tracker_index,
    publish_run_id,
)
from evallog.ranks import RankInfo, detect_rank
from evallog.shards import MergedMarker
from evallog.streams import StreamSet
from evallog.writer import TaskStream

if TYPE_CHECKING:
    from evallog.tracker import EvaluationTracker

__all__ = ["DistributedRun", "attach_ranks"]

logger = logging.getLogger(__name__)

_RUNS: weakref.WeakSet[DistributedRun] = weakref.WeakSet()
_AT_EXIT_WAIT = 60.0  # rank 0 waits at most this long for the other ranks when the process exits


def attach_ranks(tracker: EvaluationTracker, rank: int | None, world_size: int | None, timeout: float) -> None:
    """Give ``tracker`` its rank (``tracker.rank_info``) and, when ``world_size > 1``, its
    multi-process mode: the tracker's sample, claim and finishing methods are replaced on the
    instance by those of a :class:`DistributedRun` (a one-process tracker is left as it is)."""
    info = detect_rank(rank, world_size)
    tracker.__dict__.update(rank_info=info, _dist=None, expect_docs=_no_plan)
    if not info.distributed:
        return
    if not tracker._explicit_run_id and os.environ.get(RUN_ID_ENV):
        tracker._run_id, tracker._explicit_run_id = os.environ[RUN_ID_ENV].replace(":", "-"), True
    dist = DistributedRun(tracker, info, timeout, agreed_id=tracker._explicit_run_id)
    tracker.__dict__.update(
        _dist=dist, expect_docs=dist.expect_docs, log_sample=dist.log, close_task=dist.close_task,
        save_results_samples=dist.save_samples, flush=dist.flush_all, _ensure_claimed=dist.ensure_claimed,
        _adopt_run_id=dist.keep_run_id, _compute_task_hashes=dist.compute_task_hashes, _finish=dist.finish,
        close=dist.close_tracker,
    )
    if not info.is_main:  # rank 0 alone writes the manifest and the results, and publishes
        tracker.__dict__.update(_write_manifest=_skip, save_results_aggregated=dist.skip_results)
        tracker._publisher.publish_on_close = False
    if not _RUNS:
        atexit.register(_finish_ranks_at_exit)  # registered after the tracker's own handler: runs first
    _RUNS.add(dist)


def _no_plan(task_name: str, doc_ids: Iterable[Any]) -> None:
    """``expect_docs`` of a one-process tracker: nothing to announce."""


def _skip(*args: Any, **kwargs: Any) -> None:
    return None


def _finish_ranks_at_exit() -> None:
    """An unclosed rank finishes its shards at exit, so that the run can be merged."""
    for dist in list(_RUNS):
        tracker = dist.tracker_ref()
        if tracker is None or tracker._closed:
            continue
        tracker._publisher.publish_on_close = False
        dist.exit_wait = min(_AT_EXIT_WAIT, dist.timeout)
        try:
            tracker.close()
        except Exception:  # noqa: BLE001 - at exit there is nobody left to raise to
            logger.exception("could not finish this rank's samples at exit")


class DistributedRun:
    """One tracker's part of a multi-process run."""

    def __init__(self, tracker: EvaluationTracker, info: RankInfo, timeout: float, agreed_id: bool) -> None:
        self.tracker_ref = weakref.ref(tracker)
        self.info = info
        self.timeout = timeout
        self.exit_wait: float | None = None
        self.agreed_id = agreed_id  # every rank was given the same run id
        self.born = time.time()
        self.index = 0 if agreed_id else next_tracker_index()
        self.group: RankGroup | None = None
        self.complete = True
        self.flusher = StreamSet(flush_every=tracker.flush_every, flush_interval=tracker.flush_interval, fsync=tracker.fsync)

    @property
    def tracker(self) -> EvaluationTracker:
        tracker = self.tracker_ref()
        assert tracker is not None
        return tracker

    # ------------------------------------------------------------------ claiming
    def ensure_claimed(self) -> Path:
        t = self.tracker
        with t._lock:
            folder = t._run_dir()
            if self.group is not None:
                return folder
            from evallog.paths import ensure_inside

            ensure_inside(t._root(), folder)
            key = launch_key(self.info, self.index)
            resuming = bool(t.resume) and self.agreed_id
            if self.info.is_main:
                if resuming:
                    self._claim_interrupted(folder)
                else:
                    wanted = t._run_id
                    t._claim_free_id(folder)
                    if self.agreed_id and t._run_id != wanted:
                        raise ConfigError(f"run id {wanted!r} is in use by another run", path=folder)
                if not self.agreed_id or resuming:  # resuming: the others wait until the old state is gone
                    publish_run_id(folder, key, t._run_id, self.born)
            else:
                folder.mkdir(parents=True, exist_ok=True)
                if not self.agreed_id or resuming:
                    t._run_id = await_run_id(folder, key, self.born, self.timeout)
            self.group = RankGroup(
                self.info, folder, t._run_id, t.flavor,
                flush_every=t.flush_every, flush_interval=t.flush_interval, fsync=t.fsync,
                timeout=self.timeout, upload=lambda path, task: t._upload(path, task=task),
                launch=launch_file(folder, key) if not self.agreed_id or resuming else None,
            )
            if self.info.is_main:
                t._write_manifest(RunStatus.RUNNING)
            return folder

    def _claim_interrupted(self, folder: Path) -> None:
        """Rank 0 of a resumed run (``resume=True`` with the interrupted run's id): take the run's
        lock (a dead process's lock is taken over) and discard what the interrupted processes left
        in progress, whatever their number: shards, rank markers, one-process ``.partial`` files.
        Their samples are recomputed (``evallog run`` answers them from the response journal);
        finished files stay until the merges replace them. The other ranks wait for this."""
        from evallog.shard_recovery import discard_rank_state

        t = self.tracker
        if not t._claim.try_claim(folder, t._run_id):
            raise ConfigError(f"run {t._run_id!r} is being written by another live process", path=folder)
        discard_rank_state(folder, t._run_id, partial_files=True)

    def keep_run_id(self, run_id: str) -> None:
        """The ranks agreed on an id already: a later ``datetime_str`` does not rename the run."""
        logger.info("multi-process run: keeping run id %s (not %s)", self.tracker._run_id, run_id)

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
    def log(self, task_name: str, sample: Mapping[str, Any]) -> None:
        """``log_sample``: the line goes to this rank's shard."""
        t = self.tracker
        t._stream_set.raise_background_error()
        group = self._group()
        final = self.final_for(task_name)
        stream = group.stream_for(task_name, final)
        group.log(task_name, final, t._sink.encode(sample, task_name, stream.count), sample, t._sink.hash_fields(sample))
        if self.flusher.streams.get(task_name) is not stream:  # the background flusher covers the shards too
            self.flusher.streams[task_name] = stream
            self.flusher.start_flusher()

    def expect_docs(self, task_name: str, doc_ids: Iterable[Any]) -> None:
        """Announce the doc ids this rank will log (``evallog recover`` then reports exactly the missing ones)."""
        if self.tracker.output_path:
            self._group().expect_docs(task_name, doc_ids)

    def close_task(self, task_name: str) -> Path:
        """This rank is done with the task; the last rank to finish it merges the shards."""
        final = self.final_for(task_name)
        marker = self._group().finish_task(task_name, final)
        if marker is not None:  # the merging rank knows the merged file (only rank 0 uses it: results, publishing)
            self._record(marker)
        return final

    def save_samples(self, task_name: str, samples: Iterable[Mapping[str, Any]]) -> Path | None:
        """This rank's samples of ``task_name``, as one batch (replacing what it streamed, unless the same)."""
        if not self.tracker.output_path:
            return None
        group = self._group()
        stream = group.streams.get(task_name)
        if stream is not None:
            samples = samples if isinstance(samples, (list, tuple)) else list(samples)
            # an empty batch (what a harness gathered from ranks that stream) never discards a stream
            if stream.closed or stream.count == len(samples) or not samples:
                return self.close_task(task_name)  # the samples this rank streamed
            stream.discard()
            del group.streams[task_name]
        for sample in samples:
            self.log(task_name, sample)
        return self.close_task(task_name)

    def flush_all(self) -> None:
        if self.group is not None:
            self.group.flush()
        self.tracker._stream_set.flush()

    def skip_results(self, results: Mapping[str, Any], samples: Any = None, datetime_str: str | None = None) -> None:
        logger.info("rank %d: results are written by rank 0", self.info.rank)

    # ------------------------------------------------------------------ results and closing
    def _record(self, marker: MergedMarker) -> None:
        t = self.tracker
        with t._lock:
            t._files.sample_paths[marker.task] = self.final_for(marker.task).with_name(marker.file)
            t._files.task_hashes[marker.task] = marker.task_hash
            t._files.task_counts[marker.task] = marker.samples

    def wait_merged(self, timeout: float | None = None, *, evaluation_over: bool = False) -> bool:
        """Rank 0: wait for every task's merge; True when all are merged (``evaluation_over``:
        see :meth:`RankGroup.wait_merged`)."""
        group = self._group()
        merged = group.wait_merged(self.final_for, timeout, evaluation_over=evaluation_over)
        for marker in merged.values():
            self._record(marker)
        return all(task in merged for task in group.known_tasks())

    def compute_task_hashes(self, samples: Mapping[str, Iterable[Mapping[str, Any]]] | None) -> dict[str, str]:
        """Rank 0 saves results once its evaluation is over: finish its tasks, wait for the merges;
        the merged files' hashes win over those of the (gathered) samples given."""
        t = self.tracker
        given = {task: t._sink.task_hash(task_samples).hexdigest() for task, task_samples in (samples or {}).items()}
        group = self._group()
        for task, stream in list(group.streams.items()):
            if not stream.closed:
                self.close_task(task)
        self.complete = self.wait_merged(evaluation_over=True)
        return {**given, **{task: t._files.task_hashes[task] for task in t._files.sample_paths}}

    def finish(self, status: RunStatus) -> None:
        """The tracker's ``_finish``: a run whose shards are not all merged stays ``running``."""
        if status is RunStatus.COMPLETE and not self.complete:
            status = RunStatus.RUNNING
        type(self.tracker)._finish(self.tracker, status)  # the class's method (the instance's is this one)

    def close_tracker(self) -> None:
        """The tracker's ``close``: finish this rank's tasks (rank 0 also waits for the merges), then close."""
        t = self.tracker
        if not t._closed:
            self.complete = self.close(self.exit_wait)
            # the results were saved before the last merge: the run is complete now
            if self.complete and self.info.is_main and t._claim.held is None and self.group is not None:
                if t._results_file_for(t._run_id).exists() and t._claim.try_claim(self.group.run_dir, t._run_id):
                    type(t)._finish(t, RunStatus.COMPLETE)
        type(t).close(t)

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
            self.flusher.stop_flusher()
            group.release()

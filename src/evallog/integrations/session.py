"""Per-process state of an evallog-run harness: the tracker, the journal, streamed samples.

Both harness modules (:mod:`.lm_eval`, :mod:`.lmms_eval`) go through here, so
the rules (where the journal lives, when samples stream, what ends a run) have
one home.

Several processes (``torchrun``, ``accelerate launch``): each process's
tracker is one rank of the run (:mod:`evallog.distributed`), so its
:class:`StreamedSamples` stream into that rank's shard. What the harness then
gathers to rank 0 (``gather_object``) are these lists, empty in memory: no
sample crosses a collective. When the harness's ``evaluate`` returns, every
rank finishes its tasks (:meth:`Session.finish_rank_tasks`); the last rank to
finish a task merges the shards into the one-process file. The metrics are
still gathered by the harness, so the results are the harness's.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import orjson

from evallog.errors import ConfigError
from evallog.flavors import get_flavor
from evallog.integrations.journal import (
    COMPLETE_MARKER,
    JournalLM,
    JournalWriter,
    journal_dir,
    load_answers,
)
from evallog.integrations.settings import RunSettings
from evallog.layout import RunPaths
from evallog.mirror import is_remote
from evallog.tracker import EvaluationTracker

__all__ = ["HarnessTrackerMixin", "Session", "StreamedSamples", "session", "streaming_enabled"]

logger = logging.getLogger(__name__)

# command-line flags whose consumers need the in-memory samples (they keep the anchors' path)
_NEEDS_MEMORY_SAMPLES = ("--wandb_args", "--trackio_args", "--swanlab_args", "--baseline", "--wandb_log_samples")


def streaming_enabled() -> bool:
    """Whether this process streams samples to disk as they are scored (see the module doc):
    yes, in one process or several, unless a flag of the command line needs them in memory."""
    return not any(arg.split("=", 1)[0] in _NEEDS_MEMORY_SAMPLES for arg in sys.argv)


def is_rank(tracker: EvaluationTracker) -> bool:
    """Whether ``tracker`` is one rank of a multi-process run (it writes per-rank shards)."""
    info = getattr(tracker, "rank_info", None)
    return bool(info is not None and info.distributed)


def run_folder(tracker: EvaluationTracker) -> Path | None:
    """The local folder of ``tracker``'s run (``None`` without a local ``output_path``: no journal)."""
    output = tracker.output_path
    if not output or is_remote(output):
        return None
    paths = RunPaths(get_flavor(tracker.flavor), Path(output))
    return paths.run_dir(str(tracker.general_config_tracker.dir_name()))


class Session:
    """What this process does for ``evallog run``."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.trackers: list[EvaluationTracker] = []
        self.models: list[JournalLM] = []
        self.writers: list[JournalWriter] = []
        self.streamed: list[StreamedSamples] = []
        self._lock = threading.Lock()
        atexit.register(self.finish)

    # ------------------------------------------------------------------ trackers
    def tracker_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Constructor options for a harness-built tracker."""
        if self.settings.run_id:
            kwargs.setdefault("run_id", self.settings.run_id)
        kwargs.setdefault("resume", self.settings.resume)
        return kwargs

    def add_tracker(self, tracker: EvaluationTracker) -> None:
        with self._lock:
            self.trackers.append(tracker)

    @property
    def tracker(self) -> EvaluationTracker | None:
        return self.trackers[-1] if self.trackers else None

    # ------------------------------------------------------------------ journal
    def journal_folder(self, tracker: EvaluationTracker | None) -> Path | None:
        folder = run_folder(tracker) if tracker is not None and self.settings.journal else None
        if tracker is None or folder is None:
            return None
        return journal_dir(folder, self.settings.run_id or tracker.run_id)

    def wrap_model(self, lm: Any, rank: int, hook_target: Any = None) -> Any:
        """``lm`` behind the journal of the current tracker's run (unchanged without one)."""
        if isinstance(lm, JournalLM):
            return lm
        folder = self.journal_folder(self.tracker)
        if folder is None:
            return lm
        answers = load_answers(folder) if self.settings.resume else {}
        if answers:
            logger.info("evallog: %d journaled requests found in %s", sum(map(len, answers.values())), folder)
        writer = JournalWriter(
            folder, rank, every=self.settings.journal_every, interval=self.settings.journal_interval
        )
        self.writers.append(writer)
        model = JournalLM(lm, writer, answers, hook_target=hook_target)
        self.models.append(model)
        return model

    # ------------------------------------------------------------------ streams
    def add_stream(self, samples: StreamedSamples) -> StreamedSamples:
        with self._lock:
            self.streamed.append(samples)
        return samples

    def finish_rank_tasks(self) -> None:
        """The harness's ``evaluate`` returned: every rank finishes the tasks it streamed (the
        last rank to finish a task merges it), before rank 0 saves results and waits for the merges.
        One process: nothing to do here (the tracker finishes each task when the harness saves it)."""
        with self._lock:
            streams, self.streamed = self.streamed, []
        for samples in streams:
            if is_rank(samples.tracker):
                samples.finish()

    # ------------------------------------------------------------------ end of the process
    def finish(self) -> None:
        """At exit: close the journal, finish runs whose results were saved, report counts."""
        for writer in self.writers:
            try:
                writer.close()
            except OSError:
                logger.exception("could not close the journal %s", writer.path)
        for tracker in self.trackers:
            if not getattr(tracker, "results_saved", False):
                continue
            try:
                tracker.close()
            except Exception:
                logger.exception("could not finish the run in %s", tracker.output_path)
                continue
            dist = getattr(tracker, "_dist", None)
            if dist is not None and not dist.complete:
                continue  # a rank's samples are missing: `--resume` must still find this run
            folder = self.journal_folder(tracker)
            if folder is not None and folder.is_dir():
                (folder / COMPLETE_MARKER).touch()
        self._write_stats()

    def _write_stats(self) -> None:
        if not self.settings.stats_dir or not self.models:
            return
        totals = {"from_journal": 0, "computed": 0, "journaled": 0}
        for model in self.models:
            for name, value in model.journal_stats.as_dict().items():
                totals[name] += value
        totals["journaled"] = sum(w.written for w in self.writers)
        path = Path(self.settings.stats_dir) / f"{os.getpid()}.json"
        try:
            path.write_bytes(orjson.dumps(totals))
        except OSError:
            logger.warning("could not write the request counts to %s", path)


_SESSION: Session | None = None


def session() -> Session:
    """This process's session (created from the environment on first use)."""
    global _SESSION
    if _SESSION is None:
        _SESSION = Session(RunSettings.from_env())
    return _SESSION


def set_session(settings: RunSettings) -> Session:
    global _SESSION
    _SESSION = Session(settings)
    return _SESSION


# --------------------------------------------------------------------------- streaming
class StreamedSamples(list[Any]):
    """A harness's per-task sample list that streams each sample to the tracker instead of keeping it.

    It stays empty in memory (``len()`` is 0); :attr:`streamed` says how many went by.
    On resume, samples already on disk for this run (same ``doc_id`` and filter)
    are not written again.
    """

    def __init__(self, tracker: EvaluationTracker, task: str, initial: Iterable[Any] = ()) -> None:
        super().__init__()
        self.tracker = tracker
        self.task = task
        self.streamed = 0
        self._on_disk: set[tuple[Any, str]] | None = None
        for sample in initial:
            self.append(sample)

    def append(self, sample: Any) -> None:
        if self._on_disk is None:
            # only a task the resumed tracker continues (its in-progress or final file adopted);
            # a file it did not adopt is written again, whole, and replaced at the end; a rank of
            # several processes writes every sample of its docs (the merge takes only the shards)
            self._on_disk = set()
            if self.tracker.resume and not is_rank(self.tracker):
                keys = self.tracker.logged_keys(self.task)  # claims the run first: adopts its files
                self._on_disk = keys if self.task in self.tracker.sample_paths else set()
        self.streamed += 1
        if self._on_disk and (sample.get("doc_id"), sample.get("filter", "none")) in self._on_disk:
            return
        self.tracker.log_sample(self.task, sample)

    def extend(self, samples: Any) -> None:
        for sample in samples:
            self.append(sample)

    def __reduce__(self) -> Any:
        """A harness gathering this list to rank 0 (``gather_object``) sends an empty list:
        the samples are in this rank's shard; the tracker is never pickled."""
        return (list, ((),))

    def finish(self) -> Path | None:
        """The task's samples are all there: give the file its final name."""
        try:
            return self.tracker.close_task(self.task)
        except ConfigError:  # nothing streamed in this process: every sample was on disk already
            return self.tracker.sample_paths.get(self.task)


class HarnessTrackerMixin:
    """What evallog's tracker does differently when a harness drives it."""

    results_saved = False

    def save_results_aggregated(
        self,
        results: Mapping[str, Any],
        samples: Mapping[str, Any] | None = None,
        datetime_str: str | None = None,
    ) -> Path | None:
        if samples and all(isinstance(v, StreamedSamples) for v in samples.values()):
            samples = None  # the streams hold the task hashes
        path: Path | None = super().save_results_aggregated(results, samples, datetime_str)  # type: ignore[misc]
        self.results_saved = True
        return path

    def save_results_samples(self, task_name: str, samples: Any) -> Path | None:
        if isinstance(samples, StreamedSamples) and samples.tracker is cast(object, self):
            return samples.finish()
        path: Path | None = super().save_results_samples(task_name, samples)  # type: ignore[misc]
        return path

"""``EvaluationTracker``: the drop-in results writer of lmms-eval and lm-eval.

Same constructor parameters and methods as the two anchors (formats.md §2, §13.1); the
differences are listed in the README. A facade: the run format is its flavor's
(:mod:`evallog.flavors`), files, manifest and lock :mod:`evallog.layout`'s through its
:class:`~evallog.claim.RunClaim`, sample lines its :class:`~evallog.sink.SampleSink`'s, open
streams its :class:`~evallog.streams.StreamSet`'s, publishing its :class:`~evallog.publisher.Publisher`'s.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from evallog import distributed, layout
from evallog.atomic import atomic_write_bytes
from evallog.claim import RunClaim, RunRecord, move_files
from evallog.errors import ConfigError, EvallogError, TrackerClosedError
from evallog.flavors import GeneralConfigTracker, LMEvalGeneralConfigTracker, get_flavor
from evallog.layout import IN_PROGRESS_SUFFIX, RunPaths, RunStatus
from evallog.mirror import RemoteMirror, default_staging_dir, is_remote
from evallog.paths import check_run_id, ensure_inside, make_dirs
from evallog.publisher import Publisher
from evallog.sink import SampleSink
from evallog.streams import StreamSet
from evallog.writer import TaskStream

__all__ = ["EvaluationTracker", "GeneralConfigTracker", "LMEvalGeneralConfigTracker", "run_lock_held"]

logger = logging.getLogger(__name__)

run_lock_held = layout.run_lock_held  # the one liveness check (kept here for callers of 0.1)

_LIVE: weakref.WeakSet[EvaluationTracker] = weakref.WeakSet()
# the anchors' Hub parameters, handed to the publisher as given
_HUB_PARAMETERS = frozenset({"hub_results_org", "hub_repo_name", "details_repo_name", "results_repo_name", "push_results_to_hub",
                             "push_samples_to_hub", "public_repo", "token", "leaderboard_url", "point_of_contact", "gated",
                             "details_format"})


def _flush_all_at_exit() -> None:
    for tracker in list(_LIVE):
        try:
            tracker.flush()
        except Exception:  # noqa: BLE001 - at exit there is nobody left to raise to
            logger.exception("could not flush streamed samples at exit")
        if tracker._stream_set.open_tasks():
            logger.warning(
                "EvaluationTracker for %s was not closed; its samples are in *%s files: "
                "close the tracker, or run `evallog recover %s`",
                tracker._run_dir(),
                IN_PROGRESS_SUFFIX,
                tracker.output_path,
            )
        else:
            tracker._claim.release()  # the anchors' callers never close: leave no lock behind


atexit.register(_flush_all_at_exit)


class EvaluationTracker:
    """Keeps track of an evaluation run and writes its files.

    The positional parameters are lmms-eval's and lm-eval's, in their order
    and with their defaults. Keyword-only options:

    flavor
        ``"lmms-eval"`` (default: ``{run_id}_results.json``, ``{run_id}_samples_{task}.jsonl``),
        ``"lm-eval"`` (``results_{run_id}.json``, ``samples_{task}_{run_id}.jsonl``; an
        ``output_path`` ending in ``.json`` is a file stem), or any registered flavor.
    run_id
        The run id (``date_id``); by default the construction time in the flavor's
        format. ``datetime_str`` passed to :meth:`save_results_aggregated` takes over.
    timezone
        IANA zone for generated run ids (default: local time).
    strict_json
        ``True`` (default): NaN and infinities are written as ``null``; ``False``:
        the anchors' ``NaN``/``Infinity`` tokens.
    redact_secrets
        Redact credentials before writing (default ``True``).
    resume
        Continue the interrupted run ``run_id`` (or the latest interrupted run of the
        model) instead of starting a new one; see :meth:`logged_keys`.
    flush_every, flush_interval, fsync
        Streamed samples reach the file at least every ``flush_every`` samples or
        ``flush_interval`` seconds; ``fsync=True`` also forces them, and every file written, to the device.
    staging_dir
        With a URL ``output_path`` (``s3://``, ``gs://``, ``hf://``, ...): the local
        folder files are written to before being copied (default
        ``~/.cache/evallog/staging/<hash of the URL>``).
    details_format
        ``"jsonl"`` (default): sample files are pushed to the Hub as written; ``"parquet"``: as
        Parquet files of the store's schema (``evallog[parquet]``), which the Hub's viewer renders.
    rank, world_size, rank_timeout: a multi-process run (one shard per rank, merged): :mod:`evallog.distributed`.
    """

    def __init__(
        self,
        output_path: str | os.PathLike[str] | None = None,
        hub_results_org: str = "",
        hub_repo_name: str = "",
        details_repo_name: str = "",
        results_repo_name: str = "",
        push_results_to_hub: bool = False,
        push_samples_to_hub: bool = False,
        public_repo: bool = False,
        token: str = "",
        leaderboard_url: str = "",
        point_of_contact: str = "",
        gated: bool = False,
        *,
        flavor: str = "lmms-eval",
        run_id: str | None = None,
        timezone: str | None = None,
        strict_json: bool = True,
        redact_secrets: bool = True,
        resume: bool = False,
        flush_every: int = 100,
        flush_interval: float = 2.0,
        fsync: bool = False,
        staging_dir: str | os.PathLike[str] | None = None,
        details_format: str = "jsonl", rank: int | None = None, world_size: int | None = None, rank_timeout: float = 600.0,
    ) -> None:
        fmt = get_flavor(flavor)
        if flush_every < 1 or flush_interval <= 0:
            raise ConfigError("flush_every must be >= 1 and flush_interval > 0")
        self.flavor = fmt.name
        self._format = fmt
        self.general_config_tracker = fmt.config_tracker_class()
        self.output_path = os.fspath(output_path) if output_path is not None else None
        self._paths = self._set_output(self.output_path, staging_dir)
        self.strict_json = strict_json
        self.redact_secrets = redact_secrets
        self.resume = resume
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.fsync = fsync
        self._timezone = timezone
        self._explicit_run_id = run_id is not None
        self._user_run_id = run_id is not None  # given by the caller (not adopted from datetime_str)
        self._run_id = check_run_id(run_id.replace(":", "-")) if run_id is not None else fmt.new_run_id(timezone)
        self._lock = threading.RLock()
        self._files = RunRecord()  # the files this tracker wrote, with their counts and task hashes
        self._closed = False
        self._resumed = False
        self._finished_ids: set[str] = set()  # run ids this tracker finished (it may re-claim them)
        self._expected_tasks: list[str] | None = None  # results["configs"] once results are saved
        self._sink = SampleSink(fmt, redact_secrets=redact_secrets, strict_json=strict_json)
        self._stream_set = StreamSet(flush_every=flush_every, flush_interval=flush_interval, fsync=fsync)
        self._claim = RunClaim()
        finalizer = weakref.finalize(self, self._claim.release)  # a dropped tracker leaves no lock
        finalizer.atexit = False  # at exit, _flush_all_at_exit decides
        self._set_hub({name: value for name, value in locals().items() if name in _HUB_PARAMETERS})
        distributed.attach_ranks(self, rank, world_size, rank_timeout)
        _LIVE.add(self)

    def _set_output(self, output_path: str | None, staging_dir: str | os.PathLike[str] | None) -> RunPaths | None:
        # a URL output_path: write to a local staging folder, copy final files (mirror.py)
        self._mirror: RemoteMirror | None = None
        local = Path(output_path) if output_path else None
        if output_path and is_remote(output_path):
            local = Path(staging_dir) if staging_dir else default_staging_dir(output_path)
            self._mirror = RemoteMirror(output_path, local)
        return RunPaths(self._format, local) if local is not None else None

    def _set_hub(self, hub_args: dict[str, Any]) -> None:
        self._publisher = Publisher(hub_args, default_repo_name=self._format.default_repo_name)
        self.push_results_to_hub = bool(hub_args["push_results_to_hub"])
        self.push_samples_to_hub = bool(hub_args["push_samples_to_hub"])
        self.public_repo = bool(hub_args["public_repo"])
        self.leaderboard_url = str(hub_args["leaderboard_url"])
        self.point_of_contact = str(hub_args["point_of_contact"])
        self.gated_repo = bool(hub_args["gated"])
        hub = self._publisher.settings
        self._hub = hub
        self.api = hub.api if hub.enabled else None
        self.details_repo = hub.details_repo
        self.details_repo_private = hub.details_repo_private
        self.results_repo = hub.results_repo
        self.results_repo_private = hub.results_repo_private

    # ------------------------------------------------------------------ identity
    @property
    def run_id(self) -> str:
        """The id shared by every file of this run."""
        return self._run_id

    @property
    def date_id(self) -> str:
        """The anchors' name for the run id (available from construction)."""
        return self._run_id

    @property
    def results_path(self) -> Path | None:
        """The results file, once written."""
        return self._files.results_path

    @property
    def sample_paths(self) -> dict[str, Path]:
        """Final sample files written so far, by task."""
        return dict(self._files.sample_paths)

    @property
    def _streams(self) -> dict[str, TaskStream]:
        return self._stream_set.streams

    # ------------------------------------------------------------------ where files go
    def _model_dir_name(self) -> str:
        return str(self.general_config_tracker.dir_name())

    def _run_paths(self) -> RunPaths:
        if not self.output_path or self._paths is None:
            raise ConfigError("no output_path was given")
        return self._paths

    def _run_dir(self) -> Path:
        return self._run_paths().run_dir(self._model_dir_name())

    def _results_file_for(self, run_id: str) -> Path:
        return self._run_paths().results_file(self._model_dir_name(), run_id)

    def _samples_file_for(self, task: str, run_id: str) -> Path:
        return self._run_paths().samples_file(self._model_dir_name(), task, run_id)

    def _root(self) -> Path:
        return self._paths.root() if self._paths is not None else Path(".")

    def _upload(self, path: Path, task: str | None = None) -> None:
        """Copy a final file to the remote output folder (URL output paths only)."""
        if self._mirror is not None:
            self._mirror.put(path, task=task)

    # ------------------------------------------------------------------ claiming the run id
    def _ensure_claimed(self) -> Path:
        """Create the run folder and take the run id for this tracker (again after it finished);
        ``resume=True``: the interrupted run's lock is taken before any of its files is reopened."""
        with self._lock:
            folder = self._run_dir()
            if self._claim.held == (folder, self._run_id):
                return folder
            ensure_inside(self._root(), folder)
            make_dirs(self._root(), folder)  # level by level: a symlinked model folder is refused
            if self.resume and not self._resumed:
                self._resumed = True
                if self._resume_interrupted(folder):
                    self._write_manifest(RunStatus.RUNNING)
                    return folder
            self._claim_free_id(folder)
            self._write_manifest(RunStatus.RUNNING)
            return folder

    def _claim_free_id(self, folder: Path) -> None:
        """Claim ``self._run_id`` in ``folder``, or the next free id (files evallog did not write are
        never adopted: a caller-given id whose files exist raises :class:`ConfigError`)."""

        def taken(run_id: str) -> bool:
            if run_id in self._finished_ids:
                return False
            return self._results_file_for(run_id).exists() or layout.run_files_exist(folder, run_id)

        self._run_id = self._claim.claim_free_id(
            folder, self._run_id, flavor=self._format, explicit=self._explicit_run_id,
            timezone=self._timezone, taken=taken, refuse_foreign=self._user_run_id,
        )

    def _write_manifest(self, status: RunStatus) -> None:
        self._claim.write_manifest(self._files.manifest(
            self.flavor, self._run_id, self.general_config_tracker.model_name, status, self._stream_set.open_tasks()
        ))

    def _maybe_finish(self) -> None:
        """Mark the run complete and release it once nothing more is expected (no close() needed).

        Finished = results saved, no open stream, and the samples of every
        task of ``results["configs"]`` saved (or none were given: the
        harnesses' ``log_samples=False``).
        """
        with self._lock:
            if self._claim.held is None or self._files.results_path is None or self._expected_tasks is None:
                return
            if self._stream_set.open_tasks():
                return
            if any(task not in self._files.sample_paths for task in self._expected_tasks):
                return
            self._finish(RunStatus.COMPLETE)

    def _finish(self, status: RunStatus) -> None:
        folder = self._claim.held[0] if self._claim.held else None
        self._write_manifest(status)
        if folder is not None and status is RunStatus.COMPLETE:
            self._upload(layout.manifest_path(folder, self._run_id))
        self._finished_ids.add(self._run_id)
        self._claim.release()

    # ------------------------------------------------------------------ moving a run
    def _adopt_run_id(self, run_id: str) -> None:
        """Make ``run_id`` the id of this run; files already written are renamed."""
        run_id = check_run_id(run_id.replace(":", "-"))
        with self._lock:
            if run_id == self._run_id:
                return
            old_id = self._run_id
            self._explicit_run_id = True
            if self._claim.held is None and not self._finished_ids:
                self._run_id = run_id
                return
            folder = self._ensure_claimed()
            self._run_id = run_id
            self._claim_free_id(folder)  # a suffix is added if another run has this id
            self._move_files(old_id, self._run_id)
            try:
                layout.manifest_path(folder, old_id).unlink()
            except FileNotFoundError:
                pass
            self._finished_ids.discard(old_id)
            self._write_manifest(RunStatus.RUNNING)

    def _move_files(self, old_id: str, new_id: str) -> None:
        moves: list[tuple[Path, Path]] = []
        if self._files.results_path is not None:
            moves.append((self._files.results_path, self._results_file_for(new_id)))
        for task, path in list(self._files.sample_paths.items()):
            target = self._samples_file_for(task, new_id)
            stream = self._streams.get(task)
            if stream is None or not stream.rename(target, target.with_name(target.name + IN_PROGRESS_SUFFIX)):
                moves.append((path, target))  # (a stream still open moved its in-progress file)
            self._files.sample_paths[task] = target
        move_files(moves, self._mirror.move if self._mirror is not None else None)
        if self._files.results_path is not None:
            self._files.results_path = self._results_file_for(new_id)

    # ------------------------------------------------------------------ aggregated results
    def save_results_aggregated(
        self,
        results: Mapping[str, Any],
        samples: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        datetime_str: str | None = None,
    ) -> Path | None:
        """Write ``results`` (plus ``task_hashes`` and the config tracker's fields).

        Accepts lm-eval's ``(results, samples)`` and lmms-eval's
        ``(results, samples, datetime_str)`` calls. ``results`` is not
        modified. Returns the path written (``None`` without ``output_path``).
        """
        self.general_config_tracker.log_end_time()
        if datetime_str:
            self._adopt_run_id(str(datetime_str))
        if not self.output_path:
            logger.info("Output path not provided, skipping saving results aggregated")
            return None
        data = self._sink.encode_results(self._results_file_for(self._run_id), lambda: {
            **results, "task_hashes": self._compute_task_hashes(samples), **dataclasses.asdict(self.general_config_tracker),
        })
        self._ensure_claimed()
        path = self._results_file_for(self._run_id)
        ensure_inside(self._root(), path)
        atomic_write_bytes(path, data, fsync=self.fsync)
        with self._lock:
            self._files.results_path = path
            configs = results.get("configs")
            self._expected_tasks = list(configs) if samples is not None and isinstance(configs, Mapping) else []
            self._write_manifest(RunStatus.RUNNING)
        self._upload(path)
        logger.info("Saved aggregated results to %s", path)
        self._maybe_finish()
        return path

    def _compute_task_hashes(self, samples: Mapping[str, Iterable[Mapping[str, Any]]] | None) -> dict[str, str]:
        if samples:
            return {task: self._sink.task_hash(task_samples, task).hexdigest() for task, task_samples in samples.items()}
        # no samples given: the hashes of the tasks this tracker wrote or streamed
        hashes: dict[str, str] = {}
        with self._lock:
            for task in self._files.sample_paths:
                stream = self._streams.get(task)
                hashes[task] = stream.hasher.hexdigest() if stream is not None else self._files.task_hashes[task]
        return hashes

    # ------------------------------------------------------------------ samples, batch
    def save_results_samples(self, task_name: str, samples: Iterable[Mapping[str, Any]]) -> Path | None:
        """Write the samples file of ``task_name`` (atomically, replacing any earlier one).

        ``samples`` may be any iterable (a generator keeps memory bounded); they
        are not modified. If the task was streamed with
        :meth:`log_sample`, the streamed file is replaced by these samples
        (unless they are the same samples, in which case the stream is simply
        closed): lines are never duplicated.
        """
        if not self.output_path:
            logger.info("Output path not provided, skipping saving samples of %s", task_name)
            return None
        self._ensure_claimed()
        path = self._samples_file_for(task_name, self._run_id)
        ensure_inside(self._root(), path, task=task_name)
        stream = self._streams.get(task_name)
        if stream is not None and not stream.closed:
            samples = samples if isinstance(samples, (list, tuple)) else list(samples)
            if stream.count == len(samples) and self._sink.task_hash(samples, task_name).hexdigest() == stream.hasher.hexdigest():
                self.close_task(task_name)
                return path
            stream.discard()
        hasher = self._sink.write_file(path, task_name, samples, fsync=self.fsync)
        with self._lock:
            self._stream_set.pop(task_name)
            self._files.record(task_name, path, hasher)
            self._write_manifest(RunStatus.RUNNING)
        self._upload(path, task=task_name)
        logger.info("Saved %d samples of %s to %s", hasher.count, task_name, path)
        self._maybe_finish()
        return path

    def save_all_samples(self, samples: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, Path]:
        """Write the samples of every task; one failing task does not stop the others.

        After trying every task, the first error is raised again with the
        others listed in its ``errors`` attribute.
        """
        written: dict[str, Path] = {}
        errors: list[EvallogError] = []
        for task, task_samples in samples.items():
            try:
                if (path := self.save_results_samples(task, task_samples)) is not None:
                    written[task] = path
            except EvallogError as exc:
                logger.error("%s", exc)
                errors.append(exc)
        if errors:
            errors[0].errors = errors  # type: ignore[attr-defined]
            raise errors[0]
        return written

    # ------------------------------------------------------------------ samples, streaming
    def _stream_for(self, task: str) -> TaskStream:
        stream = self._streams.get(task)
        if stream is not None:
            return stream  # (closed: append() says so)
        with self._lock:
            stream = self._streams.get(task)
            if stream is not None:
                return stream
            if self._closed:
                raise TrackerClosedError("the tracker is closed", task=task)
            if not self.output_path:
                raise ConfigError("streaming samples needs an output_path", task=task)
            self._ensure_claimed()
            final = self._samples_file_for(task, self._run_id)
            ensure_inside(self._root(), final, task=task)
            stream = self._stream_set.open(task, final, self._sink.new_hasher())
            self._files.sample_paths[task] = final
            self._write_manifest(RunStatus.RUNNING)
            return stream

    def log_sample(self, task_name: str, sample: Mapping[str, Any]) -> None:
        """Stream one sample of ``task_name`` to disk (thread-safe).

        The sample is transformed and encoded now, exactly as
        :meth:`save_results_samples` would write it, and is not kept in memory
        beyond the flush buffer.
        """
        self._stream_set.raise_background_error()
        stream = self._stream_for(task_name)
        line = self._sink.encode(sample, task_name, stream.count)
        stream.append(line, self._sink.hash_fields(sample, task_name, stream.count))

    def log_samples(self, task_name: str, samples: Iterable[Mapping[str, Any]]) -> int:
        """Stream many samples of ``task_name``; returns how many were logged."""
        n = 0
        for sample in samples:
            self.log_sample(task_name, sample)
            n += 1
        return n

    def flush(self) -> None:
        """Write every buffered streamed sample to its in-progress file now."""
        self._stream_set.flush()

    def close_task(self, task_name: str) -> Path:
        """Finish streaming ``task_name``: its in-progress file gets its final name."""
        stream = self._streams.get(task_name)
        if stream is None:
            raise ConfigError("no samples were streamed for this task", task=task_name)
        stream.close()
        with self._lock:
            self._files.record(task_name, stream.final_path, stream.hasher)
            self._write_manifest(RunStatus.RUNNING)
        self._upload(stream.final_path, task=task_name)
        self._maybe_finish()
        return stream.final_path

    def logged_keys(self, task_name: str) -> set[tuple[Any, str]]:
        """The ``(doc_id, filter)`` keys already on disk for ``task_name`` in this run.

        With ``resume=True`` this tells the harness which samples need not be
        evaluated again. lmms-eval records without a ``filter`` key count as
        filter ``"none"``.
        """
        if not self.output_path:
            return set()
        if not self._finished_ids:
            self._ensure_claimed()
        stream = self._streams.get(task_name)
        if stream is not None and not stream.closed:
            stream.flush()
            path = stream.partial_path
        else:
            path = self._files.sample_paths.get(task_name) or self._samples_file_for(task_name, self._run_id)
        if not path.exists():
            return set()
        from evallog.recovery import iter_valid_records

        return {(record.get("doc_id"), record.get("filter", "none")) for record in iter_valid_records(path)}

    def _resume_interrupted(self, folder: Path) -> bool:
        """Claim the interrupted run to continue, then reopen its in-progress files (False: none)."""
        from evallog.recovery import resume_run

        resumed = resume_run(
            folder, self._format, self._run_id if self._explicit_run_id else None, self._stream_set, self._sink,
            self._claim,
        )
        if resumed is None:
            logger.info("resume=True but no interrupted run was found in %s; starting run %s", folder, self._run_id)
            return False
        self._run_id, self._explicit_run_id = resumed.run_id, True
        self._files = resumed.files
        logger.info("resuming run %s in %s (%d tasks in progress)", self._run_id, folder, resumed.in_progress)
        return True

    # ------------------------------------------------------------------ hub
    def push_to_hub(self) -> Any:
        """Publish this run (results, sample files and card) in one commit per repo."""
        if not self._publisher.enabled:
            raise ConfigError("push_results_to_hub or push_samples_to_hub must be set to push")
        with self._lock:
            for task in self._stream_set.open_tasks():
                self.close_task(task)
            return self._publisher.push(
                model_name=self.general_config_tracker.model_name or self._model_dir_name(),
                model_dir_name=self._model_dir_name(),
                results_file=self._files.results_path,
                sample_files=self._files.sample_paths,
                flavor=self.flavor,
                model_source=self.general_config_tracker.model_source,
            )

    def recreate_metadata_card(self) -> Any:
        """The anchors call this after saving when a push flag is set: it publishes the run
        (one commit per repo) and regenerates the dataset card."""
        if not self._publisher.enabled:
            logger.info("no push flag set: nothing to publish")
            return None
        if not self.output_path:
            logger.warning("no output_path: nothing was saved, so nothing is pushed")
            return None
        return self.push_to_hub()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Finalise every streamed task, mark the run complete and release the run id."""
        with self._lock:
            if self._closed:
                return
            first_error: BaseException | None = None
            for task in self._stream_set.open_tasks():
                try:
                    self.close_task(task)
                except EvallogError as exc:
                    first_error = first_error or exc
            self._stream_set.stop_flusher()
            if self._claim.held is not None:
                self._finish(RunStatus.COMPLETE if first_error is None else RunStatus.FAILED)
            self._closed = True
            self._claim.closed = True
            if first_error is not None:
                raise first_error
            publisher = self._publisher
            try:
                if publisher.publish_on_close and self.output_path and publisher.changed(self._files.results_path, self._files.sample_paths):
                    self.push_to_hub()
            finally:
                _LIVE.discard(self)

    def __enter__(self) -> EvaluationTracker:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        # the evaluation failed: keep what was logged, don't publish a partial run
        self._publisher.publish_on_close = False
        self.close()

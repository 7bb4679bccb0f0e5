"""``EvaluationTracker``: the drop-in results writer of lmms-eval and lm-eval.

Same constructor parameters (names, order, defaults) and methods as the two
anchors (formats.md §2, §13.1), writing the files their readers understand,
with these differences:

* the caller's ``results`` and ``samples`` are never modified;
* the run id is fixed when the tracker is built (or given), so samples can be
  saved before or without the aggregated results; a ``datetime_str`` passed
  later becomes the run id and the files already written move with it;
* every file is written atomically; saving a task again replaces its file;
* numbers stay numbers, binary payloads become short descriptions, output is
  strict JSON by default, secrets are redacted;
* errors are raised as typed exceptions from :mod:`evallog.errors`;
* samples can be streamed to disk while the evaluation runs
  (:meth:`EvaluationTracker.log_sample`), with bounded memory, and an
  interrupted run can be recovered or resumed.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from evallog import __version__
from evallog.atomic import atomic_write_bytes, atomic_writer, fsync_dir, pid_alive, temp_path_for
from evallog.encoding import LINE_OPTIONS, encode_document, encode_line, json_default
from evallog.errors import ConfigError, EvallogError, SerializationError, WriteError
from evallog.formats import DEFAULT_REPO_NAME, TRANSFORMS, TaskHasher, hash_string, model_name_from_args
from evallog.mirror import RemoteMirror, default_staging_dir, is_remote
from evallog.naming import (
    FLAVORS,
    FORMAT_VERSION,
    IN_PROGRESS_SUFFIX,
    MANIFEST_DIR,
    results_filename,
    samples_filename,
)
from evallog.paths import ensure_inside, model_dir_name, safe_task_component
from evallog.redact import record_needs_redaction, redact
from evallog.writer import TaskStream

__all__ = ["EvaluationTracker", "GeneralConfigTracker", "LMEvalGeneralConfigTracker"]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- config tracker
class _ConfigTrackerMixin:
    """Behaviour shared by both flavors' config trackers."""

    _flavor = "lmms-eval"

    def __init__(self) -> None:
        self._perf_start = time.perf_counter()
        self.start_time = time.time()  # wall-clock epoch seconds (lmms-eval key and type)
        self.end_time = None
        self.model_args: Any = None

    def log_experiment_args(
        self,
        model_source: Any,
        model_args: Any,
        system_instruction: str | None,
        chat_template: str | None,
        fewshot_as_multiturn: bool,
    ) -> None:
        """Record the model and prompt settings (``model_args``: ``k=v,...`` string or dict)."""
        if model_source is not None and not isinstance(model_source, str):
            # an LM object: its class, not a repr with a memory address
            model_source = f"{type(model_source).__module__}.{type(model_source).__qualname__}"
        self.model_source = model_source
        self.model_args = model_args
        name = model_name_from_args(model_args, self._flavor)
        if not name and isinstance(model_source, str) and model_source:
            name = model_source.rsplit(".", 1)[-1]
        self.model_name = name or "model"
        self.model_name_sanitized = model_dir_name(self.model_name, self._flavor)
        self.system_instruction = system_instruction
        self.system_instruction_sha = hash_string(system_instruction) if system_instruction else None
        self.chat_template = chat_template
        self.chat_template_sha = hash_string(chat_template) if chat_template else None
        self.fewshot_as_multiturn = fewshot_as_multiturn

    def log_end_time(self) -> None:
        """Record the end time and the total evaluation time (a string, as the anchors write it)."""
        self.end_time = time.time()
        self.total_evaluation_time_seconds = str(time.perf_counter() - self._perf_start)


@dataclass(init=False)
class GeneralConfigTracker(_ConfigTrackerMixin):
    """lmms-eval's config tracker: ``asdict()`` gives its fields in its order (formats.md §1.1).

    ``start_time`` and ``end_time`` are wall-clock epoch seconds (the anchor
    writes ``perf_counter`` readings, meaningless outside the process).
    """

    _flavor = "lmms-eval"
    model_source: str | None = None
    model_name: str | None = None
    model_name_sanitized: str | None = None
    system_instruction: str | None = None
    system_instruction_sha: str | None = None
    fewshot_as_multiturn: bool | None = None
    chat_template: str | None = None
    chat_template_sha: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    total_evaluation_time_seconds: str | None = None

    def __init__(self) -> None:
        _ConfigTrackerMixin.__init__(self)


@dataclass(init=False)
class LMEvalGeneralConfigTracker(_ConfigTrackerMixin):
    """lm-eval's config tracker: no ``start_time``/``end_time`` fields (they are attributes only)."""

    _flavor = "lm-eval"
    model_source: str | None = None
    model_name: str | None = None
    model_name_sanitized: str | None = None
    system_instruction: str | None = None
    system_instruction_sha: str | None = None
    fewshot_as_multiturn: bool | None = None
    chat_template: str | None = None
    chat_template_sha: str | None = None
    total_evaluation_time_seconds: str | None = None

    def __init__(self) -> None:
        _ConfigTrackerMixin.__init__(self)


_CONFIG_TRACKERS = {"lmms-eval": GeneralConfigTracker, "lm-eval": LMEvalGeneralConfigTracker}


# --------------------------------------------------------------------------- run ids and claims
def _new_run_id(flavor: str, timezone: str | None, offset_seconds: int = 0) -> str:
    if timezone:
        from zoneinfo import ZoneInfo  # stdlib; only loaded when a zone is asked for

        now = datetime.now(ZoneInfo(timezone))
    else:
        now = datetime.now()
    now += timedelta(seconds=offset_seconds)
    if flavor == "lm-eval":
        return now.replace(tzinfo=None).isoformat().replace(":", "-")
    return now.strftime("%Y%m%d_%H%M%S")


# (folder, run id) -> tracker that holds it, for trackers of this process
_CLAIMS: weakref.WeakValueDictionary[tuple[str, str], EvaluationTracker] = weakref.WeakValueDictionary()
_CLAIMS_LOCK = threading.RLock()
_LIVE: weakref.WeakSet[EvaluationTracker] = weakref.WeakSet()


def _flush_all_at_exit() -> None:
    for tracker in list(_LIVE):
        try:
            tracker.flush()
        except Exception:  # noqa: BLE001 - at exit there is nobody left to raise to
            logger.exception("could not flush streamed samples at exit")
        if any(not stream.closed for stream in tracker._streams.values()):
            logger.warning(
                "EvaluationTracker for %s was not closed; its samples are in *%s files: "
                "close the tracker, or run `evallog recover %s`",
                tracker._run_dir(),
                IN_PROGRESS_SUFFIX,
                tracker.output_path,
            )
        else:
            tracker._release_claim()  # the anchors' callers never close: leave no lock behind


atexit.register(_flush_all_at_exit)


def run_lock_held(folder: Path, run_id: str) -> bool:
    """Whether a live tracker (this process's, or a running process's) owns ``run_id`` in ``folder``."""
    lock = folder / MANIFEST_DIR / f"{run_id}.lock"
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    if pid == os.getpid():
        with _CLAIMS_LOCK:
            holder = _CLAIMS.get((str(folder.resolve()), run_id))
        return holder is not None and not holder._closed
    return pid_alive(pid)


def _create_lock(lock: Path) -> bool:
    """Create ``lock`` holding our pid, atomically (content included); False if it exists."""
    tmp = temp_path_for(lock)
    tmp.write_text(f"{os.getpid()}\n")
    try:
        os.link(tmp, lock)  # fails if the lock exists; readers never see an empty lock
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


class _Flusher(threading.Thread):
    """Background thread that flushes streamed samples at least every ``interval`` seconds."""

    def __init__(self, tracker: EvaluationTracker, interval: float) -> None:
        super().__init__(name="evallog-flusher", daemon=True)
        self._tracker = weakref.ref(tracker)
        self._interval = max(0.02, interval / 2)
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self._interval):
            tracker = self._tracker()
            if tracker is None:
                return
            for stream in list(tracker._streams.values()):
                try:
                    stream.flush(only_if_due=True)
                except WriteError as exc:
                    tracker._background_error = exc
            del tracker


# --------------------------------------------------------------------------- the tracker
class EvaluationTracker:
    """Keeps track of an evaluation run and writes its files.

    The positional parameters are lmms-eval's and lm-eval's, in their order
    and with their defaults. Keyword-only options:

    flavor
        ``"lmms-eval"`` (default: ``{run_id}_results.json``,
        ``{run_id}_samples_{task}.jsonl``) or ``"lm-eval"``
        (``results_{run_id}.json``, ``samples_{task}_{run_id}.jsonl``; an
        ``output_path`` ending in ``.json`` is a file stem).
    run_id
        The run id (``date_id``); by default the construction time in the
        flavor's format. ``datetime_str`` passed to
        :meth:`save_results_aggregated` takes over.
    timezone
        IANA zone for generated run ids (default: local time).
    strict_json
        ``True`` (default): NaN and infinities are written as ``null``;
        ``False``: the anchors' ``NaN``/``Infinity`` tokens.
    redact_secrets
        Redact credentials before writing (default ``True``).
    resume
        Continue the interrupted run ``run_id`` (or the latest interrupted run
        of the model) instead of starting a new one; see :meth:`logged_keys`.
    flush_every, flush_interval, fsync
        Streaming durability: streamed samples reach the file at least every
        ``flush_every`` samples or ``flush_interval`` seconds; ``fsync=True``
        also forces them to the device on every flush.
    staging_dir
        With a URL ``output_path`` (``s3://``, ``gs://``, ``hf://``, ...): the
        local folder where files are written before being copied to the remote
        folder (default ``~/.cache/evallog/staging/<hash of the URL>``).
    details_format
        ``"jsonl"`` (default): sample files are pushed to the Hub as written;
        ``"parquet"``: as Parquet files of the store's schema (needs
        ``evallog[parquet]``), which the Hub's dataset viewer renders and
        searches in full.
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
        details_format: str = "jsonl",
    ) -> None:
        if flavor not in FLAVORS:
            raise ConfigError(f"flavor must be one of {', '.join(FLAVORS)}, not {flavor!r}")
        if flush_every < 1 or flush_interval <= 0:
            raise ConfigError("flush_every must be >= 1 and flush_interval > 0")
        self.flavor = flavor
        self._transform = TRANSFORMS[flavor]
        self.general_config_tracker = _CONFIG_TRACKERS[flavor]()
        self.output_path = os.fspath(output_path) if output_path is not None else None
        # a URL output_path: write to a local staging folder, copy final files (mirror.py)
        self._mirror: RemoteMirror | None = None
        self._local_output = Path(self.output_path) if self.output_path else None
        if self.output_path and is_remote(self.output_path):
            staging = Path(staging_dir) if staging_dir else default_staging_dir(self.output_path)
            self._mirror = RemoteMirror(self.output_path, staging)
            self._local_output = staging
        self.push_results_to_hub = push_results_to_hub
        self.push_samples_to_hub = push_samples_to_hub
        self.public_repo = public_repo
        self.leaderboard_url = leaderboard_url
        self.point_of_contact = point_of_contact
        self.gated_repo = gated
        self.strict_json = strict_json
        self.redact_secrets = redact_secrets
        self.resume = resume
        self.flush_every = flush_every
        self.flush_interval = flush_interval
        self.fsync = fsync
        self._timezone = timezone
        self._explicit_run_id = run_id is not None
        self._run_id = run_id.replace(":", "-") if run_id else _new_run_id(flavor, timezone)
        self._lock = threading.RLock()
        self._claimed: tuple[Path, str] | None = None  # (folder, run id) of the lock we hold
        self._results_path: Path | None = None
        self._sample_paths: dict[str, Path] = {}  # final sample files written by this tracker
        self._task_hashes: dict[str, str] = {}
        self._task_counts: dict[str, int] = {}
        self._streams: dict[str, TaskStream] = {}
        self._flusher: _Flusher | None = None
        self._background_error: WriteError | None = None
        self._closed = False
        self._pushed_state: object = None
        self._resumed = False

        # --- Hugging Face Hub settings (formats.md §2.2-2.3) -------------------------
        # No push flag: repo names only, no network. A push flag: the token and the
        # write access are checked now, before any evaluation runs.
        from evallog.hub import hub_settings

        self._hub = hub_settings(
            hub_results_org=hub_results_org,
            hub_repo_name=hub_repo_name,
            details_repo_name=details_repo_name,
            results_repo_name=results_repo_name,
            push_results_to_hub=push_results_to_hub,
            push_samples_to_hub=push_samples_to_hub,
            public_repo=public_repo,
            token=token,
            leaderboard_url=leaderboard_url,
            point_of_contact=point_of_contact,
            gated=gated,
            default_repo_name=DEFAULT_REPO_NAME[flavor],
            details_format=details_format,
        )
        self._publish_on_close = self._hub.enabled
        self.api = self._hub.api if self._hub.enabled else None
        self.details_repo = self._hub.details_repo
        self.details_repo_private = self._hub.details_repo_private
        self.results_repo = self._hub.results_repo
        self.results_repo_private = self._hub.results_repo_private
        _LIVE.add(self)

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
        return self._results_path

    @property
    def sample_paths(self) -> dict[str, Path]:
        """Final sample files written so far, by task."""
        return dict(self._sample_paths)

    @property
    def run_folder(self) -> Path:
        """The local folder this run's files go to (``output_path`` is required)."""
        return self._run_dir()

    def _model_dir_name(self) -> str:
        config = self.general_config_tracker
        if not getattr(config, "model_name_sanitized", None):
            # log_experiment_args was not called: a stable, non-empty name
            config.model_name = config.model_name or "model"
            config.model_name_sanitized = model_dir_name(config.model_name, self.flavor)
        return config.model_name_sanitized

    def _json_stem(self) -> Path | None:
        """lm-eval's rule: an ``output_path`` ending in ``.json`` is a file stem."""
        if self.flavor == "lm-eval" and self._local_output and self._local_output.suffix == ".json":
            return self._local_output
        return None

    def _run_dir(self) -> Path:
        if not self.output_path:
            raise ConfigError("no output_path was given")
        stem = self._json_stem()
        if stem is not None:
            return stem.parent
        return self._local_output / self._model_dir_name()

    def _results_file_for(self, run_id: str) -> Path:
        stem = self._json_stem()
        if stem is not None:
            return stem.with_name(f"{stem.stem}_{run_id}.json")
        return self._run_dir() / results_filename(self.flavor, run_id)

    def _samples_file_for(self, task: str, run_id: str) -> Path:
        return self._run_dir() / samples_filename(self.flavor, safe_task_component(task), run_id)

    def _root(self) -> Path:
        stem = self._json_stem()
        return stem.parent if stem is not None else (self._local_output or Path("."))

    # ------------------------------------------------------------------ claiming the run id
    def _manifest_dir(self) -> Path:
        return self._run_dir() / MANIFEST_DIR

    def _ensure_claimed(self) -> Path:
        """Create the run folder and take the run id for this tracker (once)."""
        with self._lock:
            folder = self._run_dir()
            if self._claimed == (folder, self._run_id):
                return folder
            ensure_inside(self._root(), folder)
            if self.resume and not self._resumed:
                self._resumed = True
                self._find_run_to_resume(folder)
            self._claim_free_id(folder)
            self._write_manifest("running")
            return folder

    def _claim_free_id(self, folder: Path) -> None:
        """Claim ``self._run_id`` in ``folder``, or the next free id.

        An id is taken while another live tracker holds its lock, and also
        after that tracker finished if its files are still there (lmms-eval ids
        have second precision: two runs in the same second must not share
        files). Resuming takes over the interrupted run's id on purpose.
        """
        base_id = self._run_id
        offset = 0
        while True:
            if self._try_claim(folder, self._run_id):
                if self.resume or not self._run_files_exist(folder, self._run_id):
                    return
                self._release_claim()
            offset += 1
            if self._explicit_run_id and self.flavor == "lmms-eval":
                new_id = f"{base_id}_{offset + 1}"
            else:
                new_id = _new_run_id(self.flavor, self._timezone, offset_seconds=offset)
            logger.warning("run id %s is already used in %s; using %s", self._run_id, folder, new_id)
            self._run_id = new_id

    def _run_files_exist(self, folder: Path, run_id: str) -> bool:
        return (folder / MANIFEST_DIR / f"{run_id}.json").exists() or self._results_file_for(run_id).exists()

    def _try_claim(self, folder: Path, run_id: str) -> bool:
        lock = folder / MANIFEST_DIR / f"{run_id}.lock"
        key = (str(folder.resolve()), run_id)
        with _CLAIMS_LOCK:
            holder = _CLAIMS.get(key)
            if holder is not None and holder is not self and not holder._closed:
                return False
            try:
                lock.parent.mkdir(parents=True, exist_ok=True)
                created = _create_lock(lock)
                if not created and not run_lock_held(folder, run_id):
                    try:
                        lock.unlink()
                    except FileNotFoundError:
                        pass
                    created = _create_lock(lock)
            except OSError as exc:
                raise WriteError(f"could not create the run folder: {exc.strerror or exc}", path=lock.parent) from exc
            if not created:
                return False
            if self._claimed is not None:
                self._release_claim()
            self._claimed = (folder, run_id)
            _CLAIMS[key] = self
            return True

    def _release_claim(self) -> None:
        if self._claimed is None:
            return
        folder, run_id = self._claimed
        try:
            (folder / MANIFEST_DIR / f"{run_id}.lock").unlink()
        except FileNotFoundError:
            pass
        with _CLAIMS_LOCK:
            key = (str(folder.resolve()), run_id)
            if _CLAIMS.get(key) is self:
                del _CLAIMS[key]
        self._claimed = None

    def _upload(self, path: Path, task: str | None = None) -> None:
        """Copy a final file to the remote output folder (URL output paths only)."""
        if self._mirror is not None:
            self._mirror.put(path, task=task)

    def _write_manifest(self, status: str) -> None:
        if self._claimed is None:
            return
        manifest = {
            "format_version": FORMAT_VERSION,
            "evallog_version": __version__,
            "flavor": self.flavor,
            "run_id": self._run_id,
            "model_name": self.general_config_tracker.model_name,
            "status": status,
            "results_file": self._results_path.name if self._results_path else None,
            "tasks": {
                task: {
                    "file": path.name,
                    "samples": self._task_counts.get(task),
                    "task_hash": self._task_hashes.get(task),
                }
                for task, path in sorted(self._sample_paths.items())
            },
            "streaming": sorted(t for t, s in self._streams.items() if not s.closed),
        }
        path = self._manifest_dir() / f"{self._run_id}.json"
        atomic_write_bytes(path, orjson.dumps(manifest, option=orjson.OPT_INDENT_2), fsync=False)

    # ------------------------------------------------------------------ moving a run
    def _adopt_run_id(self, run_id: str) -> None:
        """Make ``run_id`` the id of this run; files already written are renamed."""
        run_id = run_id.replace(":", "-")
        with self._lock:
            if run_id == self._run_id:
                return
            old_id = self._run_id
            self._explicit_run_id = True
            if self._claimed is None:
                self._run_id = run_id
                return
            folder = self._run_dir()
            self._run_id = run_id
            self._claim_free_id(folder)  # a suffix is added if another run has this id
            self._move_files(old_id, self._run_id)
            try:
                (folder / MANIFEST_DIR / f"{old_id}.json").unlink()
            except FileNotFoundError:
                pass
            self._write_manifest("running")

    def _move_files(self, old_id: str, new_id: str) -> None:
        moves: list[tuple[Path, Path]] = []
        if self._results_path is not None:
            moves.append((self._results_path, self._results_file_for(new_id)))
        for task, path in list(self._sample_paths.items()):
            target = self._samples_file_for(task, new_id)
            stream = self._streams.get(task)
            if stream is not None and stream.rename(target, target.with_name(target.name + IN_PROGRESS_SUFFIX)):
                pass  # still streaming: the open in-progress file was moved
            else:
                moves.append((path, target))
            self._sample_paths[task] = target
        for src, dst in moves:
            try:
                os.replace(src, dst)
            except OSError as exc:
                raise WriteError(f"could not rename {src.name} for the new run id: {exc.strerror or exc}", path=src) from exc
            if self._mirror is not None:
                self._mirror.move(src, dst)
        if self._results_path is not None:
            self._results_path = self._results_file_for(new_id)
        fsync_dir(self._run_dir())

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
        task_hashes = self._compute_task_hashes(samples)
        document = dict(results)
        document["task_hashes"] = task_hashes
        document.update(dataclasses.asdict(self.general_config_tracker))
        if self.redact_secrets:
            document = redact(document)
        self._ensure_claimed()
        path = self._results_file_for(self._run_id)
        ensure_inside(self._root(), path)
        try:
            data = encode_document(document, allow_nan=not self.strict_json)
        except SerializationError as exc:
            raise SerializationError(exc.message, path=path) from exc.__cause__
        atomic_write_bytes(path, data)
        with self._lock:
            self._results_path = path
            self._write_manifest("running")
        self._upload(path)
        logger.info("Saved aggregated results to %s", path)
        return path

    def _compute_task_hashes(self, samples: Mapping[str, Iterable[Mapping[str, Any]]] | None) -> dict[str, str]:
        hashes: dict[str, str] = {}
        if samples:
            for task, task_samples in samples.items():
                hasher = TaskHasher(self.flavor)
                for sample in task_samples:
                    hasher.update(sample)
                hashes[task] = hasher.hexdigest()
        else:
            # no samples given: the hashes of the tasks this tracker wrote or streamed
            with self._lock:
                for task in self._sample_paths:
                    stream = self._streams.get(task)
                    hashes[task] = stream.hasher.hexdigest() if stream is not None else self._task_hashes[task]
        return hashes

    # ------------------------------------------------------------------ samples, batch
    def _encode_sample(self, sample: Mapping[str, Any], task: str, index: int) -> bytes:
        """The line ``sample`` becomes in the flavor's samples file (the hot path)."""
        try:
            record = self._transform(sample)
            # lm-eval records hold what the caller's sample holds, whose arguments (tuples,
            # not dicts) are quicker to walk; lmms-eval records hold less (no doc, no arguments)
            if self.redact_secrets and record_needs_redaction(sample if self.flavor == "lm-eval" else record):
                record = redact(record)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
            raise SerializationError(f"malformed sample: {type(exc).__name__}: {exc}", task=task, sample_index=index) from exc
        if self.strict_json:
            try:
                return orjson.dumps(record, default=json_default, option=LINE_OPTIONS)
            except (orjson.JSONEncodeError, TypeError):
                pass  # a value orjson refuses: the slow path below decides
        try:
            return encode_line(record, allow_nan=not self.strict_json)
        except SerializationError as exc:
            raise SerializationError(exc.message, task=task, sample_index=index) from exc.__cause__

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
            if stream.count == len(samples):
                hasher = TaskHasher(self.flavor)
                for sample in samples:
                    hasher.update(sample)
                if hasher.hexdigest() == stream.hasher.hexdigest():
                    self.close_task(task_name)
                    return path
            stream.discard()
        hasher = TaskHasher(self.flavor)
        # the loop allocates only short-lived, acyclic objects: keep the cyclic collector
        # from walking the caller's (possibly huge) sample graph over and over meanwhile
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with atomic_writer(path, fsync=self.fsync, task=task_name) as fh:
                for index, sample in enumerate(samples):
                    fh.write(self._encode_sample(sample, task_name, index))
                    hasher.update(sample)
        except EvallogError as exc:
            if exc.path is None:
                raise type(exc)(exc.message, path=path, task=task_name, sample_index=exc.sample_index) from exc.__cause__
            raise
        finally:
            if gc_was_enabled:
                gc.enable()
        with self._lock:
            self._streams.pop(task_name, None)
            self._sample_paths[task_name] = path
            self._task_hashes[task_name] = hasher.hexdigest()
            self._task_counts[task_name] = hasher.count
            self._write_manifest("running")
        self._upload(path, task=task_name)
        logger.info("Saved %d samples of %s to %s", hasher.count, task_name, path)
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
                path = self.save_results_samples(task, task_samples)
            except EvallogError as exc:
                logger.error("%s", exc)
                errors.append(exc)
            else:
                if path is not None:
                    written[task] = path
        if errors:
            first = errors[0]
            first.errors = errors  # type: ignore[attr-defined]
            raise first
        return written

    # ------------------------------------------------------------------ samples, streaming
    def _stream_for(self, task: str) -> TaskStream:
        stream = self._streams.get(task)
        if stream is not None:
            return stream
        with self._lock:
            stream = self._streams.get(task)
            if stream is not None:
                return stream
            if self._closed:
                from evallog.errors import TrackerClosedError

                raise TrackerClosedError("the tracker is closed", task=task)
            if not self.output_path:
                raise ConfigError("streaming samples needs an output_path", task=task)
            self._ensure_claimed()
            final = self._samples_file_for(task, self._run_id)
            ensure_inside(self._root(), final, task=task)
            stream = TaskStream(
                task,
                final,
                final.with_name(final.name + IN_PROGRESS_SUFFIX),
                self.flavor,
                flush_every=self.flush_every,
                flush_interval=self.flush_interval,
                fsync=self.fsync,
            )
            self._streams[task] = stream
            self._sample_paths[task] = final
            if self._flusher is None:
                self._flusher = _Flusher(self, self.flush_interval)
                self._flusher.start()
            self._write_manifest("running")
            return stream

    def _raise_background_error(self) -> None:
        error = self._background_error
        if error is not None:
            self._background_error = None
            raise error

    def log_sample(self, task_name: str, sample: Mapping[str, Any]) -> None:
        """Stream one sample of ``task_name`` to disk (thread-safe).

        The sample is transformed and encoded now, exactly as
        :meth:`save_results_samples` would write it, and is not kept in memory
        beyond the flush buffer.
        """
        self._raise_background_error()
        stream = self._stream_for(task_name)
        line = self._encode_sample(sample, task_name, stream.count)
        stream.append(line, sample)

    def log_samples(self, task_name: str, samples: Iterable[Mapping[str, Any]]) -> int:
        """Stream many samples of ``task_name``; returns how many were logged."""
        n = 0
        for sample in samples:
            self.log_sample(task_name, sample)
            n += 1
        return n

    def flush(self) -> None:
        """Write every buffered streamed sample to its in-progress file now."""
        for stream in list(self._streams.values()):
            stream.flush()
        self._raise_background_error()

    def close_task(self, task_name: str) -> Path:
        """Finish streaming ``task_name``: its in-progress file gets its final name."""
        stream = self._streams.get(task_name)
        if stream is None:
            raise ConfigError("no samples were streamed for this task", task=task_name)
        stream.close()
        with self._lock:
            self._sample_paths[task_name] = stream.final_path
            self._task_hashes[task_name] = stream.hasher.hexdigest()
            self._task_counts[task_name] = stream.count
            self._write_manifest("running")
        self._upload(stream.final_path, task=task_name)
        return stream.final_path

    def logged_keys(self, task_name: str) -> set[tuple[Any, str]]:
        """The ``(doc_id, filter)`` keys already on disk for ``task_name`` in this run.

        With ``resume=True`` this tells the harness which samples need not be
        evaluated again. lmms-eval records without a ``filter`` key count as
        filter ``"none"``.
        """
        if not self.output_path:
            return set()
        self._ensure_claimed()
        stream = self._streams.get(task_name)
        if stream is not None and not stream.closed:
            stream.flush()
            path = stream.partial_path
        else:
            path = self._sample_paths.get(task_name) or self._samples_file_for(task_name, self._run_id)
        keys: set[tuple[Any, str]] = set()
        if not path.exists():
            return keys
        from evallog.recovery import iter_valid_records

        for record in iter_valid_records(path):
            keys.add((record.get("doc_id"), record.get("filter", "none")))
        return keys

    def _find_run_to_resume(self, folder: Path) -> None:
        """Pick the interrupted run to continue and reopen its in-progress files."""
        from evallog.recovery import find_interrupted_runs, reopen_for_resume

        candidates = find_interrupted_runs(folder, flavor=self.flavor)
        if self._explicit_run_id:
            candidates = [c for c in candidates if c.run_id == self._run_id]
        if not candidates:
            logger.info("resume=True but no interrupted run was found in %s; starting run %s", folder, self._run_id)
            return
        run = candidates[-1]
        self._run_id = run.run_id
        self._explicit_run_id = True
        for task, path in run.final_files.items():
            count, digest = reopen_for_resume(path, self.flavor, None)
            self._sample_paths[task] = path
            self._task_hashes[task] = digest
            self._task_counts[task] = count
        for task, partial in run.partial_files.items():
            final = partial.with_name(partial.name[: -len(IN_PROGRESS_SUFFIX)])
            stream = TaskStream(
                task,
                final,
                partial,
                self.flavor,
                flush_every=self.flush_every,
                flush_interval=self.flush_interval,
                fsync=self.fsync,
                resume=True,
            )
            reopen_for_resume(partial, self.flavor, stream)
            self._streams[task] = stream
            self._sample_paths[task] = final
        if run.results_file is not None:
            self._results_path = run.results_file
        if self._streams and self._flusher is None:
            self._flusher = _Flusher(self, self.flush_interval)
            self._flusher.start()
        logger.info("resuming run %s in %s (%d tasks in progress)", self._run_id, folder, len(run.partial_files))

    # ------------------------------------------------------------------ hub
    def push_to_hub(self) -> Any:
        """Publish this run (results, sample files and card) in one commit per repo."""
        if not self._hub.enabled:
            raise ConfigError("push_results_to_hub or push_samples_to_hub must be set to push")
        from evallog.hub import push_run

        with self._lock:
            for task in list(self._streams):
                if not self._streams[task].closed:
                    self.close_task(task)
            sample_files = [p for p in self._sample_paths.values() if p.exists()]
            report = push_run(
                self._hub,
                model_name=self.general_config_tracker.model_name or self._model_dir_name(),
                model_dir_name=self._model_dir_name(),
                results_file=self._results_path,
                sample_files=sample_files,
                flavor=self.flavor,
                model_source=self.general_config_tracker.model_source,
            )
            self._pushed_state = self._push_state()
            return report

    def _push_state(self) -> object:
        return (self._results_path, tuple(sorted((t, str(p)) for t, p in self._sample_paths.items())))

    def recreate_metadata_card(self) -> Any:
        """The anchors call this after saving when a push flag is set: it publishes the run
        (one commit per repo) and regenerates the dataset card."""
        if not self._hub.enabled:
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
            for task, stream in list(self._streams.items()):
                if stream.closed:
                    continue
                try:
                    self.close_task(task)
                except EvallogError as exc:
                    first_error = first_error or exc
            if self._flusher is not None:
                self._flusher.stop_event.set()
            if self._claimed is not None:
                self._write_manifest("complete" if first_error is None else "failed")
                if first_error is None:
                    self._upload(self._manifest_dir() / f"{self._run_id}.json")
            self._closed = True
            if first_error is not None:
                self._release_claim()
                raise first_error
            try:
                if self._publish_on_close and self.output_path and self._pushed_state != self._push_state():
                    self.push_to_hub()
            finally:
                self._release_claim()
                _LIVE.discard(self)

    def __enter__(self) -> EvaluationTracker:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        # the evaluation failed: keep what was logged, don't publish a partial run
        self._publish_on_close = False
        self.close()


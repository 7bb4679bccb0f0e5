"""The layout of an output folder: the one scanner of run files, the manifest, the run lock, statuses.

A *run* is one results file and the samples files sharing its run id, in one
folder (the model folder; lmms-eval may also write directly into its output
path). Which names are whose is each flavor's rule (:mod:`evallog.flavors`);
this module only groups files into runs::

    <dir>/<results file>                 results_<id>.json, <id>_results.json, <stem>_<id>.json
    <dir>/<samples file>[.partial]       ``.partial``: a task still being streamed
    <dir>/.evallog/<run_id>.json         the run manifest (evallog's bookkeeping; one writer here)
    <dir>/.evallog/<run_id>.lock         "<pid> <host>": held while a tracker owns the run

Hidden files and ``*.tmp`` (atomic writes in flight) are never part of a run.
A lock is *live* while its pid runs on this host; any other lock is stale and a
stale lock never makes a run "in progress".
"""

from __future__ import annotations

import contextlib
import enum
import os
import socket
import threading
import weakref
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from evallog._version import __version__
from evallog.atomic import atomic_write_bytes, pid_alive, temp_path_for
from evallog.encoding import decode, encode_document
from evallog.errors import ReadError, UnsupportedFormatError
from evallog.flavors import IN_PROGRESS_SUFFIX, Flavor, ParsedName, get_flavor, parse_name
from evallog.paths import make_dirs, open_for_write, read_regular, safe_task_component, task_from_component
from evallog.redact import redact

__all__ = [
    "IN_PROGRESS_SUFFIX",
    "MANIFEST_DIR",
    "FORMAT_VERSION",
    "ParsedName",
    "RunStatus",
    "LockState",
    "RunFiles",
    "RunPaths",
    "Manifest",
    "TaskEntry",
    "parse_filename",
    "declared_run_ids",
    "results_filename",
    "samples_filename",
    "scan_folder",
    "run_files_exist",
    "iter_run_folders",
    "find_runs",
    "latest_results_file",
    "manifest_path",
    "read_manifest",
    "write_manifest",
    "mark_manifest",
    "lock_path",
    "lock_state",
    "run_lock_held",
    "create_lock",
    "remove_lock",
    "take_lock",
    "release_lock",
    "register_holder",
    "run_status",
]

MANIFEST_DIR = ".evallog"
FORMAT_VERSION = 1
_HOST = socket.gethostname()


class RunStatus(str, enum.Enum):
    """The state of a run, as the manifest records it (``interrupted``: derived, see :func:`run_status`)."""

    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    RECOVERED = "recovered"
    FAILED = "failed"  # close() could not finalise a streamed task


class LockState(enum.Enum):
    ABSENT = "absent"
    LIVE = "live"  # its pid runs on this host (or a tracker of this process holds it)
    STALE = "stale"  # its pid is gone, or it names another host
    UNKNOWN = "unknown"  # unreadable content: not ours to judge


# ------------------------------------------------------------------ file names
def parse_filename(name: str, run_ids: Collection[str] = ()) -> ParsedName | None:
    """Parse a results or samples file name of any registered flavor; ``None`` if it is neither.

    ``*.partial`` names are in-progress samples files; hidden and ``*.tmp``
    names are never run files. The task comes back decoded
    (:func:`~evallog.paths.task_from_component`). A name whose run id is not of
    its flavor's shape (lm-eval ``samples_<task>_myrun.jsonl``) is recognised
    when the id is among ``run_ids`` (:func:`declared_run_ids`).
    """
    in_progress = name.endswith(IN_PROGRESS_SUFFIX)
    if in_progress:
        name = name[: -len(IN_PROGRESS_SUFFIX)]
    if name.startswith(".") or name.endswith(".tmp"):
        return None
    parsed = parse_name(name, run_ids)
    if parsed is None:
        return None
    task = task_from_component(parsed.task) if parsed.task is not None else None
    if not in_progress and task == parsed.task:
        return parsed
    return ParsedName(parsed.kind, parsed.flavor, parsed.run_id, task, in_progress)


def declared_run_ids(folder: Path, names: Iterable[str] | None = None) -> set[str]:
    """The run ids a folder declares: those of its results files and of its evallog
    bookkeeping (``.evallog/<run_id>.json`` / ``.lock``)."""
    ids: set[str] = set()
    try:
        listing = list(names) if names is not None else os.listdir(folder)
    except OSError:
        listing = []
    for name in listing:
        parsed = parse_filename(name)
        if parsed is not None and parsed.kind == "results":
            ids.add(parsed.run_id)
    try:
        bookkeeping = os.listdir(folder / MANIFEST_DIR)
    except OSError:
        bookkeeping = []
    for name in bookkeeping:
        for suffix in (".json", ".lock"):
            if name.endswith(suffix) and not name.startswith("."):
                ids.add(name[: -len(suffix)])
    return ids


def results_filename(flavor: str, run_id: str) -> str:
    return get_flavor(flavor).results_filename(run_id)


def samples_filename(flavor: str, task: str, run_id: str) -> str:
    """The samples file name of ``task`` (its name made safe: :func:`~evallog.paths.safe_task_component`)."""
    return get_flavor(flavor).samples_filename(safe_task_component(task), run_id)


# ------------------------------------------------------------------ where a writer puts a run
class RunPaths:
    """Where a run's files go under a (local) output path, by the flavor's rules.

    Runs go to ``<output>/<model folder>/``; an output path that the flavor
    reads as a results file stem (lm-eval's ``out/x.json``) puts the files
    beside it instead.
    """

    def __init__(self, flavor: Flavor, output: Path) -> None:
        self.flavor = flavor
        self.output = output
        self.stem = flavor.json_stem(output)

    def root(self) -> Path:
        """The folder no file of the run may leave."""
        return self.stem.parent if self.stem is not None else self.output

    def run_dir(self, model_dir: str) -> Path:
        return self.stem.parent if self.stem is not None else self.output / model_dir

    def results_file(self, model_dir: str, run_id: str) -> Path:
        return self.flavor.results_path(self.run_dir(model_dir), run_id, self.stem)

    def samples_file(self, model_dir: str, task: str, run_id: str) -> Path:
        return self.run_dir(model_dir) / self.flavor.samples_filename(safe_task_component(task), run_id)


# ------------------------------------------------------------------ scanning
@dataclass
class RunFiles:
    """The files of one run in one folder."""

    folder: Path
    flavor: str
    run_id: str
    results_file: Path | None = None
    sample_files: dict[str, Path] = field(default_factory=dict)  # a final file wins over a stream
    partial_files: dict[str, Path] = field(default_factory=dict)  # every in-progress file
    final_files: dict[str, Path] = field(default_factory=dict)  # every final samples file

    @property
    def partial(self) -> set[str]:
        """Tasks whose only samples file is still in progress."""
        return {t for t in self.partial_files if t not in self.final_files}


def scan_folder(folder: Path, names: Iterable[str] | None = None) -> dict[tuple[str, str], RunFiles]:
    """The runs of ``folder`` keyed by ``(flavor, run_id)`` (``names``: its file names, if known)."""
    if names is None:
        try:
            names = [e.name for e in os.scandir(folder) if e.is_file()]
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ReadError(f"cannot list folder: {exc.strerror or exc}", path=folder) from exc
    names = list(names)
    run_ids = declared_run_ids(folder, names)
    runs: dict[tuple[str, str], RunFiles] = {}
    for name in sorted(names):
        parsed = parse_filename(name, run_ids)
        if parsed is None or (parsed.kind == "results" and parsed.in_progress):
            continue
        key = (parsed.flavor, parsed.run_id)
        rf = runs.get(key)
        if rf is None:
            rf = runs[key] = RunFiles(folder, parsed.flavor, parsed.run_id)
        path = folder / name
        if parsed.kind == "results":
            rf.results_file = path
            continue
        task = parsed.task or ""
        if parsed.in_progress:
            rf.partial_files[task] = path
            rf.sample_files.setdefault(task, path)
        else:
            rf.final_files[task] = path
            rf.sample_files[task] = path
    return runs


def run_files_exist(folder: Path, run_id: str) -> bool:
    """Whether ``folder`` holds a manifest or any results or samples file of ``run_id`` (any flavor)."""
    if manifest_path(folder, run_id).exists():
        return True
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    ids = {run_id}
    return any((parsed := parse_filename(name, ids)) is not None and parsed.run_id == run_id for name in names)


def iter_run_folders(root: Path, *, max_depth: int | None = None) -> Iterator[tuple[Path, list[str]]]:
    """``(folder, file names)`` of ``root`` and its non-hidden sub-folders, sorted, top-down."""
    root = Path(root)
    for dirpath, dirnames, filenames in os.walk(root):
        folder = Path(dirpath)
        depth = len(folder.relative_to(root).parts)
        dirnames[:] = [] if max_depth is not None and depth >= max_depth else sorted(
            d for d in dirnames if not d.startswith(".")
        )
        yield folder, filenames


def find_runs(root: str | os.PathLike[str], *, max_depth: int | None = None) -> list[RunFiles]:
    """Every run under ``root`` (recursively, or ``max_depth`` folders down), folder by folder."""
    out: list[RunFiles] = []
    for folder, names in iter_run_folders(Path(root), max_depth=max_depth):
        out.extend(scan_folder(folder, names).values())
    return out


def _results_sort_key(rf: RunFiles) -> tuple[str, str, float]:
    # every flavor's run ids start with the date and time; compare their digits
    digits = "".join(ch for ch in rf.run_id if ch.isdigit())
    mtime = rf.results_file.stat().st_mtime if rf.results_file else 0.0
    return (digits[:14], digits[14:], mtime) if len(digits) >= 14 else ("", rf.run_id, mtime)


def latest_results_file(folder: str | os.PathLike[str]) -> Path | None:
    """The newest results file directly in ``folder``, else in its sub-folders (one level down)."""
    root = Path(folder)
    runs = [rf for rf in scan_folder(root).values() if rf.results_file is not None]
    if not runs:
        runs = [rf for rf in find_runs(root, max_depth=1) if rf.results_file is not None and rf.folder != root]
    if not runs:
        return None
    return max(runs, key=lambda rf: (_results_sort_key(rf), str(rf.results_file))).results_file


# ------------------------------------------------------------------ the manifest
@dataclass
class TaskEntry:
    file: str
    samples: int | None = None
    task_hash: str | None = None


@dataclass
class Manifest:
    """evallog's record of a run, beside the harness's files (``.evallog/<run_id>.json``)."""

    flavor: str
    run_id: str
    model_name: str | None
    status: RunStatus
    results_file: str | None = None
    tasks: dict[str, TaskEntry] = field(default_factory=dict)
    streaming: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "evallog_version": __version__,
            "flavor": self.flavor,
            "run_id": self.run_id,
            "model_name": self.model_name,
            "status": self.status.value,
            "results_file": self.results_file,
            "tasks": {
                task: {"file": e.file, "samples": e.samples, "task_hash": e.task_hash}
                for task, e in sorted(self.tasks.items())
            },
            "streaming": sorted(self.streaming),
        }


def manifest_path(folder: Path, run_id: str) -> Path:
    return folder / MANIFEST_DIR / f"{run_id}.json"


def write_manifest(folder: Path, manifest: Manifest | Mapping[str, Any]) -> Path:
    """Write a run's manifest atomically (the only writer of manifests)."""
    data = manifest.to_dict() if isinstance(manifest, Manifest) else dict(manifest)
    path = manifest_path(folder, str(data["run_id"]))
    make_dirs(folder, path.parent)
    # a manifest holds task and model names: redacted like every file evallog writes
    atomic_write_bytes(path, encode_document(redact(data)), fsync=False)
    return path


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_manifest(folder: Path, run_id: str) -> dict[str, Any] | None:
    """The manifest of ``run_id`` (``None`` if there is none), checked for the format version."""
    path = manifest_path(folder, run_id)
    if not path.is_file():
        return None
    try:
        manifest = decode(read_regular(path))
    except ReadError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReadError(f"not valid JSON: {exc}", path=path) from exc
    if not isinstance(manifest, dict):
        raise ReadError("manifest is not a JSON object", path=path)
    version = manifest.get("format_version")
    if isinstance(version, (int, float)) and not isinstance(version, bool) and version > FORMAT_VERSION:
        writer = manifest.get("evallog_version", "a newer version")
        raise UnsupportedFormatError(
            f"run written by evallog {writer} in format version {version}; this evallog reads "
            f"format version {FORMAT_VERSION} at most: upgrade evallog (pip install -U evallog)",
            path=path,
        )
    return manifest


def mark_manifest(folder: Path, run_id: str, status: RunStatus) -> None:
    """Set the status of an existing manifest (no open streams any more); no manifest: nothing."""
    try:
        data = orjson.loads(read_regular(manifest_path(folder, run_id)))
    except (OSError, ValueError):  # ReadError and JSONDecodeError are ValueErrors
        return
    if not isinstance(data, dict):
        return
    data["status"] = status.value
    data["streaming"] = []
    write_manifest(folder, data)


# ------------------------------------------------------------------ the run lock
class Holder(Protocol):
    """An in-process owner of a run lock (the tracker's run claim)."""

    @property
    def active(self) -> bool: ...


# (folder, run id) -> in-process holder of its lock
_HOLDERS: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()
HOLDERS_LOCK = threading.RLock()


def _key(folder: Path, run_id: str) -> tuple[str, str]:
    return (str(folder.resolve()), run_id)


def register_holder(folder: Path, run_id: str, holder: Holder | None, *, only_if: Holder | None = None) -> None:
    """Record (``holder``) or forget (``None``, if it is ``only_if``) this process's owner of a lock."""
    key = _key(folder, run_id)
    with HOLDERS_LOCK:
        if holder is not None:
            _HOLDERS[key] = holder
        elif only_if is None or _HOLDERS.get(key) is only_if:
            _HOLDERS.pop(key, None)


def holder_of(folder: Path, run_id: str) -> Holder | None:
    with HOLDERS_LOCK:
        holder: Holder | None = _HOLDERS.get(_key(folder, run_id))
        return holder


def lock_path(folder: Path, run_id: str) -> Path:
    return folder / MANIFEST_DIR / f"{run_id}.lock"


def lock_state(folder: Path, run_id: str) -> LockState:
    """Whether ``run_id``'s lock in ``folder`` is held by a live tracker (see :class:`LockState`)."""
    try:
        words = lock_path(folder, run_id).read_text().split()
    except FileNotFoundError:
        return LockState.ABSENT
    except OSError:
        return LockState.UNKNOWN
    try:
        pid = int(words[0])
    except (ValueError, IndexError):
        return LockState.UNKNOWN
    if len(words) > 1 and words[1] != _HOST:
        return LockState.STALE  # another host's pid cannot be checked from here
    if pid == os.getpid():
        holder = holder_of(folder, run_id)
        return LockState.LIVE if holder is not None and holder.active else LockState.STALE
    return LockState.LIVE if pid_alive(pid) else LockState.STALE


def run_lock_held(folder: Path, run_id: str) -> bool:
    """Whether a live tracker (this process's, or a running process's) owns ``run_id`` in ``folder``."""
    return lock_state(folder, run_id) is LockState.LIVE


def create_lock(folder: Path, run_id: str) -> bool:
    """Create the lock holding our pid and host, atomically (content included); False if it exists."""
    lock = lock_path(folder, run_id)
    make_dirs(folder, lock.parent)  # a symlinked .evallog is refused
    tmp = temp_path_for(lock)
    fd = open_for_write(tmp, exclusive=True)  # never through a file or symlink planted there
    try:
        os.write(fd, f"{os.getpid()} {_HOST}\n".encode())
    finally:
        os.close(fd)
    try:
        os.link(tmp, lock)  # fails if the lock exists; readers never see an empty lock
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def remove_lock(folder: Path, run_id: str) -> None:
    try:
        lock_path(folder, run_id).unlink()
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def _takeover_mutex(folder: Path) -> Iterator[None]:
    """Serialise lock takeovers in ``folder`` across processes (``flock``; released by the
    kernel when a process dies). Without ``fcntl`` (Windows) the takeover is unguarded."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield
        return
    fd = open_for_write(folder / MANIFEST_DIR / ".claims.mutex", append=True)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock


def take_lock(folder: Path, run_id: str) -> bool:
    """Take ``run_id``'s lock for this process; False while a live owner holds it.

    A stale lock (dead pid) is taken over; the check and the takeover happen under
    a folder-wide mutex, so two processes never both take over the same stale lock.
    """
    if create_lock(folder, run_id):
        return True
    with _takeover_mutex(folder):
        if run_lock_held(folder, run_id):
            return False
        remove_lock(folder, run_id)
        return create_lock(folder, run_id)


def release_lock(folder: Path, run_id: str) -> None:
    """Remove ``run_id``'s lock if this process holds it."""
    try:
        if int(lock_path(folder, run_id).read_text().split()[0]) == os.getpid():
            remove_lock(folder, run_id)
    except (OSError, ValueError, IndexError):
        pass


# ------------------------------------------------------------------ status
def run_status(files: RunFiles, manifest: Mapping[str, Any] | None) -> tuple[RunStatus, bool]:
    """``(status, in_progress)`` of a run.

    A run is in progress while a live tracker holds its lock (and the manifest
    says ``running`` or a task is still streamed); a run of the harnesses
    themselves (no manifest) while it has ``.partial`` files and no stale lock.
    A manifest that says ``running`` with a dead (or no) lock is ``interrupted``.
    """
    state = lock_state(files.folder, files.run_id)
    if manifest is None:
        in_progress = bool(files.partial) and state is not LockState.STALE
        return (RunStatus.RUNNING if in_progress else RunStatus.COMPLETE), in_progress
    try:
        status = RunStatus(manifest.get("status"))
    except ValueError:
        status = RunStatus.COMPLETE
    live = state in (LockState.LIVE, LockState.UNKNOWN)
    if status is RunStatus.RUNNING and not live:
        return RunStatus.INTERRUPTED, False
    return status, live and (status is RunStatus.RUNNING or bool(files.partial))

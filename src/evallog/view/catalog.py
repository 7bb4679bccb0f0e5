"""The runs under the roots of ``evallog view``, kept up to date while they are written.

Runs are found by :func:`evallog.readers.list_runs` (the one scanner); the
catalog only decides *when* to scan again: a cheap walk of the folders'
modification times (a new file, a rename of a ``.partial`` stream into its
final name, a results file or a lock appearing or going all change a
folder's mtime). Appends to a streamed file do not, and need no rescan: the
line index of that file follows it.

Every file the app reads is checked by :func:`resolve_under` first: it must
be inside a root once symlinks are resolved.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from evallog.errors import ConfigError, ReadError, UnsafePathError

__all__ = ["Catalog", "Entry", "resolve_under", "root_path"]

log = logging.getLogger(__name__)

_MIN_RESCAN_S = 0.5


def root_path(root: str | os.PathLike[str]) -> Path:
    """A local root as a folder: a path or a ``file://`` URL."""
    text = os.fspath(root)
    if text.startswith("file://"):
        text = text[len("file://"):]
    path = Path(text).expanduser()
    if not path.is_dir():
        raise ConfigError(f"not a folder: {text!r}")
    return path.resolve()


def resolve_under(root: Path, relative: str) -> Path:
    """``root / relative`` if it names a file inside ``root`` (after symlinks), else :class:`UnsafePathError`.

    Refused: absolute paths, ``..`` components, backslashes, NUL bytes, and
    any path whose real location is outside the root.
    """
    if not relative or "\x00" in relative or "\\" in relative:
        raise UnsafePathError("path refused", path=relative)
    pure = PurePosixPath(relative)
    if pure.is_absolute() or any(part in ("..", "") for part in relative.split("/")) or relative.startswith("~"):
        raise UnsafePathError("path refused: it must stay inside the root", path=relative)
    return check_inside(root, root / pure)


def check_inside(root: Path, path: Path) -> Path:
    """The real path of ``path`` when it lies in ``root`` (already resolved), else :class:`UnsafePathError`."""
    real = Path(os.path.realpath(path))
    if real != root and root not in real.parents:
        raise UnsafePathError("path refused: it leads outside the root", path=path)
    return real


def _run_key(root_index: int, rel: str, flavor: str, run_id: str) -> str:
    digest = hashlib.sha1(f"{root_index}\0{rel}\0{flavor}\0{run_id}".encode(), usedforsecurity=False)
    return digest.hexdigest()[:12]


@dataclass
class Entry:
    """One run of the catalog: the :class:`~evallog.readers.Run` and where it was found."""

    key: str
    root_index: int
    rel: str  # folder of the run relative to its root ("." for the root itself)
    run: Any  # evallog.readers.Run

    @property
    def status(self) -> str:
        """``running`` (still written), ``complete`` (results saved) or ``no results``."""
        if self.run.in_progress:
            return "running"
        return "complete" if self.run.results_file is not None else "no results"


class Catalog:
    """The runs under ``roots``; :meth:`refresh` rescans when a folder changed."""

    def __init__(self, roots: list[str | os.PathLike[str]]) -> None:
        if not roots:
            raise ConfigError("give at least one folder of runs")
        from evallog.mirror import is_remote

        self.labels: list[str] = []
        self.roots: list[Path] = []
        self.remotes: dict[int, Any] = {}
        try:
            for i, r in enumerate(roots):
                text = os.fspath(r)
                if is_remote(text):
                    from evallog.view.remote import RemoteRoot

                    remote = RemoteRoot(text, Path(tempfile.mkdtemp(prefix="evallog-view-")))
                    self.remotes[i] = remote
                    remote.sync(force=True)
                    self.roots.append(remote.cache.resolve())
                    self.labels.append(text.rstrip("/"))
                else:
                    self.roots.append(root_path(text))
                    self.labels.append(os.fspath(self.roots[-1]))
        except BaseException:
            self.close()
            raise
        self.entries: list[Entry] = []
        self.by_key: dict[str, Entry] = {}
        self.version = 0
        self.errors: list[str] = []
        self._signature: tuple[Any, ...] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _walk_signature(self) -> tuple[Any, ...]:
        """Modification times of the folders (files come and go) and of the JSON files (rewritten in place)."""
        sig: list[Any] = []
        for root in self.roots:
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") or d == ".evallog")
                try:
                    sig.append((dirpath, os.stat(dirpath).st_mtime_ns))
                    for name in filenames:
                        if name.endswith(".json"):
                            st = os.stat(os.path.join(dirpath, name))
                            sig.append((name, st.st_mtime_ns, st.st_size))
                except OSError:
                    continue
        return tuple(sig)

    def refresh(self, *, force: bool = False) -> bool:
        """Rescan if a folder changed (at most every half second). True when the runs changed."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < _MIN_RESCAN_S:
                return False
            self._checked = now
            for remote in self.remotes.values():
                try:
                    force = remote.sync() or force
                except ReadError as exc:
                    log.warning("%s", exc)
            sig = self._walk_signature()
            if sig == self._signature and not force:
                return False
            self._signature = sig
            self._scan()
            self.version += 1
            return True

    def _scan(self) -> None:
        entries: list[Entry] = []
        errors: list[str] = []
        for i, root in enumerate(self.roots):
            for run in self._list_root(i, root, errors):
                if isinstance(run, Entry):  # kept from the previous scan
                    entries.append(run)
                    continue
                try:
                    check_inside(root, Path(run.path))
                except UnsafePathError:
                    continue
                rel = Path(run.path).relative_to(root).as_posix()
                entries.append(Entry(_run_key(i, rel, run.flavor, run.run_id), i, rel, run))
        self.entries = entries
        self.by_key = {e.key: e for e in entries}
        self.errors = errors

    def _list_root(self, i: int, root: Path, errors: list[str]) -> list[Any]:
        """The runs of a root; a file that cannot be read hides only its own folder.

        ``list_runs`` stops at the first unreadable results file (a corrupt
        file, or one another program is still writing). Then each sub-folder is
        listed on its own, and a folder that still fails keeps the runs the
        previous scan found in it (an Entry each), with the error reported.
        """
        from evallog.readers import list_runs

        try:
            return list(list_runs(root, skip_unsupported=True, errors="raise"))
        except (ReadError, OSError) as exc:
            errors.append(str(exc))
            log.warning("cannot list %s: %s", root, exc)
        previous = [e for e in self.entries if e.root_index == i]
        out: list[Any] = [e for e in previous if e.rel == "."]
        try:
            children = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                              and not p.name.startswith("."))
        except OSError:
            return previous
        for child in children:
            try:
                out.extend(list_runs(child, skip_unsupported=True, errors="raise"))
            except (ReadError, OSError) as exc:
                if str(exc) not in errors:
                    errors.append(str(exc))
                out.extend(e for e in previous if e.rel == child.name or e.rel.startswith(child.name + "/"))
        return out

    def location(self, entry: Entry) -> str:
        """Where the run is, as the user named its root (a folder or a URL)."""
        label = self.labels[entry.root_index]
        return label if entry.rel == "." else f"{label}/{entry.rel}"

    def close(self) -> None:
        """Delete the local copies of remote roots."""
        for remote in self.remotes.values():
            remote.close()

    def get(self, key: str) -> Entry:
        entry = self.by_key.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def samples_path(self, entry: Entry, task: str) -> Path:
        """The samples file of ``task`` in the run, checked to be inside the run's root."""
        path = entry.run.sample_files.get(task)
        if path is None:
            raise KeyError(task)
        return check_inside(self.roots[entry.root_index], Path(path))

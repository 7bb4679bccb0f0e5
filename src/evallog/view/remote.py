"""Roots given as fsspec URLs (``s3://``, ``gs://``, ``hf://``, ``memory://``, ...): a local copy kept in step.

The readers work on local files, so a remote root is copied into a local
cache folder and the app serves that copy: :meth:`RemoteRoot.sync` lists the
remote folder and fetches only the files that are new or whose size or
modification time changed (and drops local files that vanished). The
catalog calls it every few seconds, so runs pushed to the bucket appear in
the page like local ones (evallog's tracker uploads each file once it is
final, so a remote run shows up task by task).
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from evallog.errors import ConfigError, ReadError

__all__ = ["RemoteRoot"]

log = logging.getLogger(__name__)


class RemoteRoot:
    """A remote folder and its local copy under ``cache``."""

    def __init__(self, url: str, cache: Path, *, interval: float = 5.0) -> None:
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a core dependency
            raise ConfigError("remote roots need fsspec") from exc
        try:
            self.fs, self.base = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"cannot open {url!r}: {exc}") from exc
        self.url = url
        self.cache = cache
        self.interval = interval
        self._seen: dict[str, tuple[Any, Any]] = {}
        self._last = 0.0
        self._lock = threading.Lock()
        cache.mkdir(parents=True, exist_ok=True)

    def _local(self, remote: str) -> Path | None:
        rel = posixpath.relpath(remote, self.base.rstrip("/") or "/")
        parts = rel.split("/")
        if rel.startswith("/") or ".." in parts or "" in parts or "\\" in rel or "\x00" in rel:
            log.warning("skipping remote file outside the root: %s", remote)
            return None
        return self.cache.joinpath(*parts)

    def sync(self, *, force: bool = False) -> bool:
        """Fetch what changed (at most every ``interval`` seconds). True when files changed."""
        with self._lock:
            if not force and time.monotonic() - self._last < self.interval:
                return False
            self._last = time.monotonic()
            try:
                listing = self.fs.find(self.base, detail=True)
            except (OSError, ValueError) as exc:
                raise ReadError(f"cannot list the remote folder: {exc}", path=self.url) from exc
            changed = False
            wanted: set[Path] = set()
            for remote, info in sorted(listing.items()):
                if info.get("type") == "directory":
                    continue
                local = self._local(remote)
                if local is None:
                    continue
                wanted.add(local)
                stamp = (info.get("size"), info.get("mtime") or info.get("LastModified") or info.get("last_modified"))
                if self._seen.get(remote) == stamp and local.exists():
                    continue
                local.parent.mkdir(parents=True, exist_ok=True)
                tmp = local.with_name(f".{local.name}.{os.getpid()}.tmp")
                try:
                    self.fs.get_file(remote, os.fspath(tmp))
                    os.replace(tmp, local)
                except (OSError, ValueError) as exc:
                    tmp.unlink(missing_ok=True)
                    log.warning("cannot fetch %s: %s", remote, exc)
                    continue
                self._seen[remote] = stamp
                changed = True
            for dirpath, _, files in os.walk(self.cache):
                for name in files:
                    path = Path(dirpath) / name
                    if path not in wanted and not name.endswith(".tmp"):
                        path.unlink(missing_ok=True)
                        changed = True
            self._seen = {k: v for k, v in self._seen.items() if k in listing}
            return changed

    def close(self) -> None:
        shutil.rmtree(self.cache, ignore_errors=True)

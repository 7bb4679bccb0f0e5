"""Remote output folders (``s3://``, ``gs://``, ``hf://``, ``memory://``, ...) through fsspec.

Object stores cannot append or rename atomically, so a tracker whose
``output_path`` is a URL writes everything to a local staging folder first,
exactly as it would write a local run (atomic files, streamed ``.partial``
files, crash recovery), and copies each file to the remote folder once it is
final: the results file after each save, a samples file when its task is
saved or closed, the run manifest when the tracker closes. If an upload
fails, the typed error names the remote file and the staged copy stays in
place, so nothing is lost.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from evallog.errors import ConfigError, WriteError

__all__ = ["is_remote", "default_staging_dir", "RemoteMirror"]


def is_remote(path: str) -> bool:
    """True for a URL with a scheme other than ``file``."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme not in ("", "file") and "/" not in scheme


def default_staging_dir(url: str) -> Path:
    """A stable local folder for ``url`` (so that a crashed run can be recovered)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "evallog" / "staging" / hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


class RemoteMirror:
    """Copies final files from a local staging folder to a remote folder."""

    def __init__(self, url: str, staging: Path) -> None:
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is a dependency
            raise ConfigError("remote output paths need fsspec: pip install fsspec") from exc
        try:
            self.fs: Any
            self.fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"cannot open the remote folder {url!r}: {exc}") from exc
        self.url = url.rstrip("/")
        self.root = root.rstrip("/")
        self.staging = staging

    def remote_path(self, local: Path) -> str:
        return f"{self.root}/{local.relative_to(self.staging).as_posix()}"

    def url_of(self, local: Path) -> str:
        return f"{self.url}/{local.relative_to(self.staging).as_posix()}"

    def put(self, local: Path, *, task: str | None = None) -> str:
        """Upload one staged file (replacing the remote copy); returns its remote path."""
        remote = self.remote_path(local)
        try:
            self.fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(os.fspath(local), remote)
        except Exception as exc:  # noqa: BLE001 - fsspec backends raise many types
            raise WriteError(
                f"could not upload (the staged copy {local} is kept): {exc}", path=self.url_of(local), task=task
            ) from exc
        return remote

    def move(self, old_local: Path, new_local: Path) -> None:
        """Rename an uploaded file (the run id changed)."""
        old, new = self.remote_path(old_local), self.remote_path(new_local)
        try:
            if self.fs.exists(old):
                self.fs.mv(old, new)
        except Exception as exc:  # noqa: BLE001
            raise WriteError(f"could not rename the remote copy: {exc}", path=self.url_of(old_local)) from exc

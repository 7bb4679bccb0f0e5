"""Atomic file writes: a reader sees the old file or the new one, never half of one.

The data goes to a temporary file in the same folder (``.<name>.<pid>.<random>.tmp``),
is flushed and fsync'ed, and is renamed over the target with :func:`os.replace`,
which is atomic on POSIX and Windows within one file system. The folder is
fsync'ed afterwards (POSIX) so the rename itself survives a power loss.
If anything fails, the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from evallog.errors import UnsafePathError, WriteError
from evallog.paths import open_for_write

__all__ = ["atomic_write_bytes", "atomic_writer", "fsync_dir", "gc_paused", "pid_alive", "temp_path_for", "write_all"]


def temp_path_for(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: Path, *, fsync: bool = True, task: str | None = None) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces ``path`` atomically when the block ends.

    If the block raises, the temporary file is removed, ``path`` is left as it
    was, and the exception propagates (an :class:`OSError` as :class:`WriteError`
    naming ``path``).
    """
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL | O_NOFOLLOW: a file or symlink planted at the temporary name is never written through
        with os.fdopen(open_for_write(tmp, exclusive=True, task=task), "wb", buffering=1 << 20) as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, (WriteError, UnsafePathError)):
            raise WriteError(f"could not write: {exc.strerror or exc}", path=path, task=task) from exc
        raise
    if fsync:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True, task: str | None = None) -> None:
    """Write ``data`` to ``path`` atomically; raise :class:`WriteError` naming the file."""
    with atomic_writer(path, fsync=fsync, task=task) as fh:
        fh.write(data)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (owner of a lock or temporary file)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_IOV_MAX = 1024  # buffers per writev call (POSIX guarantees at least 16; Linux: 1024)


def write_all(fd: int, buffers: Sequence[bytes | memoryview]) -> int:
    """Write ``buffers`` to ``fd`` in order, all of them (short writes continued), without joining
    them first where ``os.writev`` exists (it does not on Windows); returns the bytes written."""
    if not hasattr(os, "writev"):
        data = b"".join(buffers)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return len(data)
    total = 0
    pending: list[bytes | memoryview] = list(buffers)
    while pending:
        batch = pending[:_IOV_MAX]
        n = os.writev(fd, batch)
        if n <= 0:
            raise OSError("write made no progress")
        total += n
        i = 0
        while i < len(batch) and n >= len(batch[i]):
            n -= len(batch[i])
            i += 1
        rest = pending[i:]
        if n:  # a short write stopped inside rest[0]
            rest[0] = memoryview(rest[0])[n:]
        pending = rest
    return total


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector in a bulk write loop: it allocates many short-lived,
    acyclic objects, and each collection would walk the caller's (possibly huge) object graph."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

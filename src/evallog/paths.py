"""Safe, injective folder and file names under ``output_path``, and safe opening.

Names (README, "File names"):

* a **task name** appears verbatim in file names when it is safe (no ``/``,
  ``\\``, ``%``, control characters, lone surrogates, no leading ``.``, not
  empty, at most :data:`MAX_TASK_BYTES` UTF-8 bytes). Otherwise the unsafe
  characters are percent-escaped (``a/b`` -> ``a%2Fb``, ``%`` -> ``%25``), which
  is injective and which :func:`task_from_component` reverses; an escaped name
  still too long is cut and ends with ``%~`` and 16 hex digits of its SHA-256.
* a **model folder** is the anchors' name (``org/model`` -> ``org__model``)
  whenever that name can be mapped back to the model name; otherwise
  (``org__model`` itself, special characters, lmms-eval's dropped components,
  hidden or over-long names) the sanitized name ends with ``~`` and 16 hex
  digits of the SHA-256 of the full name. Credentials are redacted from the
  model name first (a folder name never holds one).

Two different names never share a file or folder (up to a 64-bit hash
collision for the hashed forms); a property test checks it.

Every folder the writer creates below ``output_path`` is created level by
level and refused if it is a symlink or not a folder (:func:`make_dirs`);
files are opened with ``O_NOFOLLOW`` (:func:`open_for_write`). ``output_path``
itself may be a symlink to a folder: that is the user's choice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from evallog.errors import ConfigError, ReadError, UnsafePathError
from evallog.naming import sanitize_model_name
from evallog.redact import redact_text

__all__ = [
    "MAX_TASK_BYTES",
    "check_run_id",
    "ensure_inside",
    "make_dirs",
    "model_dir_name",
    "open_for_write",
    "open_regular",
    "read_regular",
    "safe_task_component",
    "task_from_component",
]

logger = logging.getLogger(__name__)

_MAX_DIR_BYTES = 200
_MAX_RUN_ID = 64
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_MODEL_UNSAFE = re.compile(r'["<>:|\\?*\[\]~\x00-\x1f\x7f\ud800-\udfff]')
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _hash16(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _cut(text: str, limit: int) -> str:
    return text.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


# task names in file names (README "File names"): verbatim when safe, else percent-escaped
MAX_TASK_BYTES = 150  # leaves room for the prefix, run id, .partial and temp suffixes (255 bytes)
_UNSAFE_TASK_CHAR = re.compile(r"[\x00-\x1f\x7f/\\%\ud800-\udfff]")
_ESCAPE = re.compile(r"%(?:u([0-9A-F]{4})|([0-9A-F]{2}))")


def _escape_char(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"%{code:02X}" if code < 256 else f"%u{code:04X}"


def safe_task_component(task: str) -> str:
    """The task name as it appears inside a file name (verbatim when it is safe)."""
    if not isinstance(task, str):
        raise ConfigError(f"a task name must be a string, not {type(task).__name__}")
    clean = redact_text(task)
    verbatim = task and not task.startswith(".") and _UNSAFE_TASK_CHAR.search(task) is None
    if clean == task and verbatim and _nbytes(task) <= MAX_TASK_BYTES:
        return task
    safe = _UNSAFE_TASK_CHAR.sub(_escape_char, clean)
    if safe.startswith("."):
        safe = "%2E" + safe[1:]
    if not safe:
        safe = "%"
    if clean != task or _nbytes(safe) > MAX_TASK_BYTES:  # a credential never reaches a file name
        safe = f"{_cut(safe, MAX_TASK_BYTES - 18).rstrip('%')}%~{_hash16(task)}"
        safe = re.sub(r"%[0-9A-Fu]{0,4}%~", "%~", safe)  # no escape cut in half before the hash
    logging.getLogger(__name__).info("a task name is not safe in a file name as it is; using %r", safe)
    return safe


def task_from_component(component: str) -> str:
    """The task name a file-name component stands for (the inverse of :func:`safe_task_component`;
    a cut name is returned as it is)."""
    if "%" not in component or "%~" in component:
        return component
    if component == "%":
        return ""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), component)


def model_dir_name(model_name: str, flavor: str) -> str:
    """The model folder name: the anchors' sanitizing where it is reversible, else with a hash."""
    name = redact_text(model_name) if model_name else model_name
    base = sanitize_model_name(name, flavor) if name else ""
    reversible = (
        bool(name)
        and base.replace("__", "/") == name
        and not name.startswith(".")
        and _MODEL_UNSAFE.search(name) is None
        and _nbytes(base) <= _MAX_DIR_BYTES
    )
    if reversible:
        return base
    base = _CONTROL_RE.sub("_", base).replace("~", "_").replace("/", "__").replace("\\", "__")
    if base.startswith("."):
        base = "_" + base[1:]
    return f"{_cut(base, _MAX_DIR_BYTES - 17)}~{_hash16(name)}"


def check_run_id(run_id: str) -> str:
    """Refuse a run id that cannot be part of a file name (:class:`ConfigError`)."""
    if not isinstance(run_id, str) or not run_id:
        raise ConfigError("a run id must be a non-empty string")
    if run_id.startswith(".") or _UNSAFE_TASK_CHAR.search(run_id) is not None or len(run_id) > _MAX_RUN_ID:
        raise ConfigError(
            f"run id {run_id!r} cannot be part of a file name: no '/', '\\\\', '%', control characters, "
            f"leading '.', at most {_MAX_RUN_ID} characters"
        )
    return run_id


def ensure_inside(root: Path, path: Path, *, task: str | None = None) -> Path:
    """Raise :class:`UnsafePathError` unless ``path`` lies inside ``root``."""
    root_resolved = root.resolve()
    resolved = path.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise UnsafePathError("refusing to write outside the output folder", path=path, task=task)
    return path


def make_dirs(root: Path, folder: Path, *, task: str | None = None) -> Path:
    """Create ``folder`` below ``root`` one level at a time, refusing symlinks and non-folders.

    ``root`` itself is created if needed and may be a symlink to a folder.
    """
    root = Path(root)
    folder = Path(folder)
    try:
        relative = folder.relative_to(root)
    except ValueError:
        raise UnsafePathError("refusing to write outside the output folder", path=folder, task=task) from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        current = root
        for part in relative.parts:
            if part in ("", ".", ".."):
                raise UnsafePathError(f"refusing the folder name {part!r}", path=folder, task=task)
            current = current / part
            try:
                os.mkdir(current)
            except FileExistsError:
                pass
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                raise UnsafePathError("refusing to write through a symlink or a non-folder", path=current, task=task)
    except UnsafePathError:
        raise
    except OSError as exc:
        from evallog.errors import WriteError

        raise WriteError(f"could not create the folder: {exc.strerror or exc}", path=folder, task=task) from exc
    return folder


def open_for_write(path: Path, *, append: bool = False, exclusive: bool = False, task: str | None = None) -> int:
    """Open ``path`` for writing without following a symlink there (``O_NOFOLLOW``); a file descriptor.

    A symlink at ``path`` raises :class:`UnsafePathError`; other failures raise ``OSError``.
    """
    flags = os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _CLOEXEC
    flags |= os.O_APPEND if append else (os.O_EXCL if exclusive else os.O_TRUNC)
    try:
        return os.open(path, flags, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafePathError("refusing to write through a symlink", path=path, task=task) from exc
        raise


def open_regular(path: Path, *, task: str | None = None) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (a FIFO, device or folder named
    like a run file raises :class:`ReadError` instead of blocking or failing oddly)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC)
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}", path=path, task=task) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReadError("not a regular file", path=path, task=task)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, *, task: str | None = None) -> bytes:
    """The bytes of the regular file ``path`` (:class:`ReadError` otherwise)."""
    with open_regular(path, task=task) as fh:
        try:
            return fh.read()
        except OSError as exc:
            raise ReadError(f"cannot read: {exc.strerror or exc}", path=path, task=task) from exc

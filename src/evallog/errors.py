"""Every exception evallog raises.

Each error names what it concerns (the file, the task, the sample index, the
repository) and keeps the underlying cause as ``__cause__``. Errors that have
a natural builtin counterpart also subclass it, so ``except OSError`` or
``except ValueError`` in existing harness code keeps working.

Hierarchy::

    EvallogError
    ├── ConfigError (ValueError)              bad arguments or setup
    ├── UnsafePathError (ValueError)          a task/model name would escape output_path
    ├── SerializationError (ValueError)       a value cannot become JSON
    ├── WriteError (OSError)                  a file could not be written
    ├── TrackerClosedError (RuntimeError)     logging into a closed tracker/task
    ├── ReadError (ValueError)                a file could not be read back
    │   ├── CorruptLineError                  a JSONL line is not valid JSON
    │   └── UnsupportedFormatError            written by a newer evallog
    ├── RecoveryError (OSError)               crash recovery could not finish
    ├── ShardError (ValueError)               rank shards of a task cannot be merged
    ├── RankTimeoutError (TimeoutError)       the other ranks did not answer in time
    ├── MissingExtraError (ImportError)       an optional dependency is not installed
    └── HubError                              publishing to the Hugging Face Hub
        ├── HubAuthError (PermissionError)    missing/invalid token, no write access
        └── HubPushError                      a push failed after retries
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "EvallogError",
    "ConfigError",
    "UnsafePathError",
    "SerializationError",
    "WriteError",
    "TrackerClosedError",
    "ReadError",
    "CorruptLineError",
    "UnsupportedFormatError",
    "RecoveryError",
    "ShardError",
    "RankTimeoutError",
    "HubError",
    "HubAuthError",
    "HubPushError",
    "MissingExtraError",
]


def _describe(
    message: str,
    *,
    path: str | os.PathLike[str] | None = None,
    task: str | None = None,
    sample_index: int | None = None,
    line: int | None = None,
    repo_id: str | None = None,
) -> str:
    where = []
    if repo_id is not None:
        where.append(f"repo {repo_id!r}")
    if path is not None:
        where.append(f"file {os.fspath(path)!r}")
    if line is not None:
        where.append(f"line {line}")
    if task is not None:
        where.append(f"task {task!r}")
    if sample_index is not None:
        where.append(f"sample #{sample_index}")
    return f"{message} ({', '.join(where)})" if where else message


class EvallogError(Exception):
    """Base class of every evallog error.

    Attributes ``path``, ``task``, ``sample_index``, ``line`` and ``repo_id``
    are ``None`` when they do not apply.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        task: str | None = None,
        sample_index: int | None = None,
        line: int | None = None,
        repo_id: str | None = None,
    ) -> None:
        self.message = message
        self.path = os.fspath(path) if path is not None else None
        self.task = task
        self.sample_index = sample_index
        self.line = line
        self.repo_id = repo_id
        super().__init__(
            _describe(
                message, path=path, task=task, sample_index=sample_index, line=line, repo_id=repo_id
            )
        )

    def __reduce__(self) -> tuple[Any, ...]:  # keep errors picklable across processes
        return (
            _rebuild,
            (
                type(self),
                self.message,
                {
                    "path": self.path,
                    "task": self.task,
                    "sample_index": self.sample_index,
                    "line": self.line,
                    "repo_id": self.repo_id,
                },
            ),
        )


def _rebuild(cls: type[EvallogError], message: str, kwargs: dict[str, Any]) -> EvallogError:
    return cls(message, **kwargs)


class ConfigError(EvallogError, ValueError):
    """Invalid arguments or configuration, detected before anything is written."""


class UnsafePathError(EvallogError, ValueError):
    """A task or model name would place a file outside ``output_path``."""


class SerializationError(EvallogError, ValueError):
    """A value in the results or a sample cannot be encoded as JSON."""


class WriteError(EvallogError, OSError):
    """Writing a file failed (disk full, permissions, ...). Files already
    finalised, and lines already flushed, are left intact."""


class TrackerClosedError(EvallogError, RuntimeError):
    """A sample was logged into a task or tracker that is already closed."""


class ReadError(EvallogError, ValueError):
    """A results or samples file could not be read."""


class CorruptLineError(ReadError):
    """A line of a JSONL samples file is not a valid JSON object."""


class UnsupportedFormatError(ReadError):
    """The file was written by a newer evallog format version than this one reads."""


class RecoveryError(EvallogError, OSError):
    """An interrupted run could not be recovered."""


class ShardError(EvallogError, ValueError):
    """The per-rank shards of a task disagree or are out of order, so they cannot be merged."""


class RankTimeoutError(EvallogError, TimeoutError):
    """Waiting for the other ranks of a process group (through the file system) timed out."""


class HubError(EvallogError):
    """Publishing to the Hugging Face Hub failed."""


class HubAuthError(HubError, PermissionError):
    """No token, an invalid token, or a token without write access."""


class HubPushError(HubError):
    """A push failed after all retries; local files are left in place."""


class MissingExtraError(EvallogError, ImportError):
    """A feature needs an optional dependency that is not installed; the message
    names the ``pip install "evallog[extra]"`` that provides it."""

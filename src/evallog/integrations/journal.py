"""The response journal: every model answer on disk as it is produced, and resume from it.

Layout: ``<run folder>/.evallog/journal/<run id>/<rank>-<pid>-<start>.jsonl``,
one file per process and session (never appended to by another process), one
JSON line per answer::

    {"k": key, "q": request type, "t": task, "d": doc id, "i": request index, "r": answer}

``key`` is the sha256 of the request's content (type, task, doc id, request
index, arguments), so any number of processes can answer from the journals
of any other number: a run started on 4 ranks resumes on 1. A torn last line
(``kill -9`` during a write) is skipped when reading.

:class:`JournalLM` wraps a harness model: requests whose key is journaled are
answered from the journal, the others go to the model, and each answer is
journaled when the model reports it through its cache hook (lm-eval's and
lmms-eval's models call ``cache_hook.add_partial`` per answer, so a batch that
dies halfway keeps what it finished) or, for models that do not report, when
the call returns.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import pickle
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from evallog.layout import MANIFEST_DIR

__all__ = [
    "COMPLETE_MARKER",
    "REQUEST_TYPES",
    "JournalLM",
    "JournalStats",
    "JournalWriter",
    "journal_dir",
    "load_answers",
    "request_key",
]

logger = logging.getLogger(__name__)

REQUEST_TYPES = ("loglikelihood", "loglikelihood_rolling", "generate_until", "generate_until_multi_round")
COMPLETE_MARKER = "complete"


def journal_dir(run_folder: Path, run_id: str) -> Path:
    """The journal folder of run ``run_id`` in ``run_folder``."""
    return run_folder / MANIFEST_DIR / "journal" / run_id


# --------------------------------------------------------------------------- keys and values
def _stable(obj: Any) -> Any:
    """JSON stand-in for values without a stable JSON form (functions, objects)."""
    if callable(obj):
        return f"<{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}>"
    return f"<{type(obj).__module__}.{type(obj).__qualname__}>"


def _args_bytes(reqtype: str, args: Iterable[Any]) -> bytes:
    return orjson.dumps([reqtype, *args], default=_stable, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def request_key(reqtype: str, request: Any) -> str:
    """The journal key of a harness ``Instance``: type, task, doc id, index, arguments."""
    head = orjson.dumps([request.task_name, request.doc_id, request.idx], default=_stable)
    return hashlib.sha256(head + _args_bytes(reqtype, request.args)).hexdigest()


def _args_key(reqtype: str, args: Iterable[Any]) -> str:
    return hashlib.sha256(_args_bytes(reqtype, args)).hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}  # -inf log-likelihoods: JSON has no token for them
    if type(value) is int and not -(2**63) <= value < 2**64:
        return {"int": str(value)}  # beyond what JSON readers keep exactly
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if type(value) is tuple:
        return {"tuple": [_encode(v) for v in value]}
    if type(value) is list:
        return [_encode(v) for v in value]
    return {"pickle": base64.b64encode(pickle.dumps(value)).decode("ascii")}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_decode(v) for v in value["tuple"])
        if "float" in value:
            return float(value["float"])
        if "int" in value:
            return int(value["int"])
        return pickle.loads(base64.b64decode(value["pickle"]))
    return value


# --------------------------------------------------------------------------- writing
class JournalWriter:
    """Appends answers to this process's journal file; flushes every N answers or T seconds."""

    def __init__(self, folder: Path, rank: int, *, every: int, interval: float) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"rank{rank}-{os.getpid()}-{time.time_ns()}.jsonl"
        self._fh = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        self.every = max(1, every)
        self.interval = interval
        self._buffer: list[bytes] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self.written = 0
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, name="evallog-journal", daemon=True)
        self._timer.start()

    def add(self, key: str, reqtype: str, request: Any, response: Any) -> None:
        line = orjson.dumps(
            {
                "k": key,
                "q": reqtype,
                "t": getattr(request, "task_name", None),
                "d": getattr(request, "doc_id", None),
                "i": getattr(request, "idx", None),
                "r": _encode(response),
            },
            default=_stable,
        )
        with self._lock:
            self._buffer.append(line + b"\n")
            if len(self._buffer) >= self.every or time.monotonic() - self._last_flush >= self.interval:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self._buffer and not self._fh.closed:
            self._fh.write(b"".join(self._buffer))
            self._fh.flush()
            self.written += len(self._buffer)
            self._buffer.clear()
        self._last_flush = time.monotonic()

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._flush_locked()
            self._fh.close()


def load_answers(folder: Path) -> dict[str, deque[Any]]:
    """Every journaled answer under ``folder``, by key, in journal order (torn lines skipped)."""
    answers: dict[str, deque[Any]] = defaultdict(deque)
    if not folder.is_dir():
        return answers
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # torn by a kill during the write
                try:
                    record = orjson.loads(line)
                    answers[record["k"]].append(_decode(record["r"]))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, pickle.UnpicklingError):
                    logger.warning("skipping an unreadable journal line in %s", path)
    return answers


# --------------------------------------------------------------------------- the model wrapper
class JournalStats:
    """Request counts of one process: answered from the journal, sent to the model."""

    def __init__(self) -> None:
        self.from_journal = 0
        self.computed = 0

    def as_dict(self) -> dict[str, int]:
        return {"from_journal": self.from_journal, "computed": self.computed}


class _Hook:
    """Cache hook that journals each answer the model reports, then calls the previous hook."""

    def __init__(self, previous: Any, journal: JournalLM) -> None:
        self.previous = previous
        self.journal = journal
        # the harness's own hook attributes (lm-eval's CachingLM reads dbdict)
        self.dbdict = getattr(previous, "dbdict", None)

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        self.journal._reported(attr, req, res)
        if self.previous is not None:
            self.previous.add_partial(attr, req, res)


class JournalLM:
    """A harness model behind a journal (delegates everything else to the model)."""

    def __init__(
        self,
        lm: Any,
        writer: JournalWriter | None,
        answers: dict[str, deque[Any]],
        *,
        hook_target: Any = None,
    ) -> None:
        self._lm = lm
        self._writer = writer
        self._answers = answers
        self.journal_stats = JournalStats()
        self._pending: dict[str, deque[tuple[str, Any]]] = {}
        self._reported_keys: dict[str, int] = defaultdict(int)
        self._pending_lock = threading.Lock()
        target = hook_target if hook_target is not None else lm
        if writer is not None and hasattr(target, "set_cache_hook"):
            target.set_cache_hook(_Hook(getattr(target, "cache_hook", None), self))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._lm, name)
        if name in REQUEST_TYPES and callable(value):

            def call(requests: Sequence[Any], *args: Any, **kwargs: Any) -> list[Any]:
                return self._run(name, value, requests, *args, **kwargs)

            return call
        return value

    def _reported(self, attr: str, req: Any, res: Any) -> None:
        """An answer reported by the model through its cache hook."""
        if self._writer is None or req is None:
            return
        try:
            akey = _args_key(attr, req)
        except TypeError:
            return
        with self._pending_lock:
            queue = self._pending.get(akey)
            if not queue:
                return
            key, request = queue.popleft()
            self._reported_keys[key] += 1
        self._writer.add(key, attr, request, res)

    def _run(self, reqtype: str, method: Callable[..., Any], requests: Sequence[Any], *args: Any, **kwargs: Any) -> list[Any]:
        keys = [request_key(reqtype, r) for r in requests]
        results: list[Any] = [None] * len(requests)
        todo: list[int] = []
        for i, key in enumerate(keys):
            queue = self._answers.get(key)
            if queue:
                results[i] = queue.popleft()
                self.journal_stats.from_journal += 1
            else:
                todo.append(i)
        if not todo:
            return results
        with self._pending_lock:
            self._pending = defaultdict(deque)
            self._reported_keys = defaultdict(int)
            for i in todo:
                self._pending[_args_key(reqtype, requests[i].args)].append((keys[i], requests[i]))
        answers = method([requests[i] for i in todo], *args, **kwargs)
        with self._pending_lock:
            self._pending = {}
            reported = self._reported_keys
        for i, answer in zip(todo, answers, strict=True):
            results[i] = answer
            if reported.get(keys[i], 0) > 0:
                reported[keys[i]] -= 1
            elif self._writer is not None:
                self._writer.add(keys[i], reqtype, requests[i], answer)
        self.journal_stats.computed += len(todo)
        return results

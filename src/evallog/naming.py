"""File and folder names of a run, for both flavors (formats.md §4.1, §6, §13.2-3).

lmms-eval flavor:  ``<run_id>_results.json`` and ``<run_id>_samples_<task>.jsonl``
lm-eval flavor:    ``results_<run_id>.json`` and ``samples_<task>_<run_id>.jsonl``

A samples file being streamed carries :data:`IN_PROGRESS_SUFFIX` after its
final name until its task is closed. Temporary files of atomic writes start
with ``.`` and end with ``.tmp``; readers ignore both.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from evallog.errors import ConfigError
from evallog.redact import redact_text

__all__ = [
    "FLAVORS",
    "IN_PROGRESS_SUFFIX",
    "MAX_TASK_BYTES",
    "Flavor",
    "ParsedName",
    "declared_run_ids",
    "parse_filename",
    "results_filename",
    "safe_task_component",
    "samples_filename",
    "sanitize_model_name",
    "sanitize_task_name",
    "split_safe",
    "task_from_component",
]

Flavor = Literal["lmms-eval", "lm-eval"]
FLAVORS: tuple[str, ...] = ("lmms-eval", "lm-eval")

IN_PROGRESS_SUFFIX = ".partial"

# lm-eval's date_id: datetime.now().isoformat() with ':' -> '-', microseconds optional
_LMEVAL_ID = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_LMEVAL_RESULTS = re.compile(rf"^results_(?P<run_id>{_LMEVAL_ID})\.json$")
_LMEVAL_SAMPLES = re.compile(rf"^samples_(?P<task>.+)_(?P<run_id>{_LMEVAL_ID})\.jsonl$")
# lmms-eval: the run prefix is everything before `_results.json` / the first `_samples_`
_LMMS_RESULTS = re.compile(r"^(?P<run_id>.+?)_results\.json$")
_LMMS_SAMPLES = re.compile(r"^(?P<run_id>.+?)_samples_(?P<task>.+)\.jsonl$")


@dataclass(frozen=True)
class ParsedName:
    """What a file name says about the file."""

    kind: Literal["results", "samples"]
    flavor: Flavor
    run_id: str
    task: str | None = None
    in_progress: bool = False


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


def results_filename(flavor: str, run_id: str) -> str:
    if flavor == "lm-eval":
        return f"results_{run_id}.json"
    return f"{run_id}_results.json"


def samples_filename(flavor: str, task: str, run_id: str) -> str:
    if flavor == "lm-eval":
        return f"samples_{task}_{run_id}.jsonl"
    return f"{run_id}_samples_{task}.jsonl"


_LMEVAL_ANY_RESULTS = re.compile(r"^results_(?P<run_id>.+)\.json$")


def parse_filename(name: str, run_ids: Iterable[str] = ()) -> ParsedName | None:
    """Parse a results or samples file name of either flavor; ``None`` if it is neither.

    lm-eval names are tried first: their run id has a fixed shape, while an
    lmms-eval run id can be any caller-given string. An lm-eval samples name
    with a run id of another shape (``samples_<task>_myrun.jsonl``,
    ``results_myrun.json``) cannot be told apart on its own: it is recognised
    when its run id is among ``run_ids`` (the ids the folder's evallog
    bookkeeping declares: see :func:`declared_run_ids`).
    """
    in_progress = name.endswith(IN_PROGRESS_SUFFIX)
    if in_progress:
        name = name[: -len(IN_PROGRESS_SUFFIX)]
    if name.startswith(".") or name.endswith(".tmp"):
        return None
    m = _LMEVAL_RESULTS.match(name)
    if m:
        return ParsedName("results", "lm-eval", m["run_id"], None, in_progress)
    m = _LMEVAL_SAMPLES.match(name)
    if m:
        return ParsedName("samples", "lm-eval", m["run_id"], task_from_component(m["task"]), in_progress)
    if name.startswith("samples_") and name.endswith(".jsonl"):
        stem = name[len("samples_") : -len(".jsonl")]
        for run_id in sorted(run_ids, key=len, reverse=True):
            if stem.endswith("_" + run_id) and len(stem) > len(run_id) + 1:
                task = task_from_component(stem[: -len(run_id) - 1])
                return ParsedName("samples", "lm-eval", run_id, task, in_progress)
    m = _LMMS_RESULTS.match(name)
    if m:
        return ParsedName("results", "lmms-eval", m["run_id"], None, in_progress)
    m = _LMMS_SAMPLES.match(name)
    if m:
        return ParsedName("samples", "lmms-eval", m["run_id"], task_from_component(m["task"]), in_progress)
    m = _LMEVAL_ANY_RESULTS.match(name)
    if m and m["run_id"] in run_ids:  # evallog's bookkeeping declares the id (lm-eval's are dates)
        return ParsedName("results", "lm-eval", m["run_id"], None, in_progress)
    return None


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


_MODEL_NAME_RE = re.compile(r'["<>:/|\\?*\[\]]+')


def sanitize_model_name(model_name: str, flavor: str = "lm-eval") -> str:
    """The anchors' ``sanitize_model_name`` (formats.md §6).

    lm-eval replaces runs of ``"<>:/|\\?*[]`` by ``__`` over the whole name;
    lmms-eval does the same on the last two ``/``-separated components only.
    """
    if flavor == "lmms-eval":
        parts = model_name.split("/")
        model_name = "/".join(parts[-2:])
    return _MODEL_NAME_RE.sub("__", model_name)


def sanitize_task_name(task_name: str) -> str:
    """The anchors' ``sanitize_task_name``: every non-word character becomes ``_``."""
    return re.sub(r"\W", "_", task_name)


_SPLIT_RE = re.compile(r"[^\w.]")


def split_safe(run_id: str) -> str:
    """A Hub/datasets split name derived from a run id (the anchors' rule, ``[^\\w.]`` -> ``_``)."""
    return _SPLIT_RE.sub("_", run_id)


# evallog keeps its own bookkeeping of a run beside the anchors' files, in a
# hidden folder that the anchors' readers never look into:
#   <model_dir>/.evallog/<run_id>.json   the run manifest (format version, flavor, tasks, state)
#   <model_dir>/.evallog/<run_id>.lock   held by the tracker that owns the run id
MANIFEST_DIR = ".evallog"
FORMAT_VERSION = 1

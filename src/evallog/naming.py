"""File and folder names of a run, for both flavors (formats.md §4.1, §6, §13.2-3).

lmms-eval flavor:  ``<run_id>_results.json`` and ``<run_id>_samples_<task>.jsonl``
lm-eval flavor:    ``results_<run_id>.json`` and ``samples_<task>_<run_id>.jsonl``

A samples file being streamed carries :data:`IN_PROGRESS_SUFFIX` after its
final name until its task is closed. Temporary files of atomic writes start
with ``.`` and end with ``.tmp``; readers ignore both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Flavor",
    "FLAVORS",
    "IN_PROGRESS_SUFFIX",
    "ParsedName",
    "results_filename",
    "samples_filename",
    "parse_filename",
    "sanitize_model_name",
    "sanitize_task_name",
    "split_safe",
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


def results_filename(flavor: str, run_id: str) -> str:
    if flavor == "lm-eval":
        return f"results_{run_id}.json"
    return f"{run_id}_results.json"


def samples_filename(flavor: str, task: str, run_id: str) -> str:
    if flavor == "lm-eval":
        return f"samples_{task}_{run_id}.jsonl"
    return f"{run_id}_samples_{task}.jsonl"


def parse_filename(name: str) -> ParsedName | None:
    """Parse a results or samples file name of either flavor; ``None`` if it is neither.

    lm-eval names are tried first: their run id has a fixed shape, while an
    lmms-eval run id can be any caller-given string.
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
        return ParsedName("samples", "lm-eval", m["run_id"], m["task"], in_progress)
    m = _LMMS_RESULTS.match(name)
    if m:
        return ParsedName("results", "lmms-eval", m["run_id"], None, in_progress)
    m = _LMMS_SAMPLES.match(name)
    if m:
        return ParsedName("samples", "lmms-eval", m["run_id"], m["task"], in_progress)
    return None


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

"""Model, task and split name sanitizing of the anchors (formats.md §6).

File names of runs and their parsing are each flavor's rule
(:mod:`evallog.flavors`); scanning folders into runs, the manifest and the lock
are :mod:`evallog.layout`'s.
"""

from __future__ import annotations

import re

__all__ = [
    "sanitize_model_name",
    "sanitize_task_name",
    "split_safe",
]


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

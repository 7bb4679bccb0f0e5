"""Harness flavors: the run format of each harness, and the registry that picks one.

``get_flavor("lm-eval")`` / ``get_flavor("lmms-eval")`` by name,
``sniff_flavor(path)`` by the names of the files in a folder (or of one file).
A new harness is one module with a :class:`Flavor` subclass, registered with
:func:`register_flavor`; lm-eval names are tried before lmms-eval ones because
their run ids have a fixed shape while an lmms-eval run id can be any string.
"""

from __future__ import annotations

from evallog.flavors._base import (
    IN_PROGRESS_SUFFIX,
    Flavor,
    ParsedName,
    TaskHasher,
    get_flavor,
    hash_string,
    parse_name,
    register_flavor,
    registered_flavors,
    run_timestamp,
    sniff_flavor,
    unregister_flavor,
)
from evallog.flavors._config import ConfigTrackerBase, model_name_from_args, parse_model_args
from evallog.flavors._transform import sanitize_list
from evallog.flavors.lm_eval import LM_EVAL, LMEvalGeneralConfigTracker
from evallog.flavors.lmms_eval import LMMS_EVAL, GeneralConfigTracker

__all__ = [
    "IN_PROGRESS_SUFFIX",
    "Flavor",
    "ParsedName",
    "TaskHasher",
    "ConfigTrackerBase",
    "GeneralConfigTracker",
    "LMEvalGeneralConfigTracker",
    "get_flavor",
    "register_flavor",
    "unregister_flavor",
    "registered_flavors",
    "parse_name",
    "sniff_flavor",
    "run_timestamp",
    "hash_string",
    "model_name_from_args",
    "parse_model_args",
    "sanitize_list",
    "transform_sample",
    "task_hash",
    "FLAVORS",
]

register_flavor(LM_EVAL)
register_flavor(LMMS_EVAL)

FLAVORS: tuple[str, ...] = ("lmms-eval", "lm-eval")  # the built-in flavors (lmms-eval is the default)


def transform_sample(flavor: str | Flavor, sample: dict[str, object]) -> dict[str, object]:
    """The record ``flavor`` writes for one sample; ``sample`` is not modified."""
    return get_flavor(flavor).transform_sample(sample)


def task_hash(flavor: str | Flavor, samples: object) -> str:
    """The ``task_hashes`` entry of a task's samples (the anchors' batch computation)."""
    hasher = TaskHasher(flavor)
    for sample in samples:  # type: ignore[attr-defined]
        hasher.update(sample)
    return hasher.hexdigest()

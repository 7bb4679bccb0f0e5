"""lmms-eval 0.7.3 under evallog: its tracker and table swapped, its model journaled, samples streamed.

Patch points (each applied when the harness module is imported, see :mod:`.hook`):

``lmms_eval.loggers`` / ``lmms_eval.loggers.evaluation_tracker``
    ``EvaluationTracker`` -> :class:`Tracker` (evallog's, lmms-eval flavor).
``lmms_eval.utils``
    ``make_table`` -> :func:`evallog.table.make_table`.
``lmms_eval.evaluator``
    ``evaluate`` -> a wrapper that puts the model behind the journal;
    ``get_task_list`` -> a wrapper that gives each ``TaskOutput`` a streaming
    ``logged_samples`` (with several processes, lmms-eval copies it into the
    list it gathers to rank 0: an empty list) and makes its task announce this
    rank's doc ids once ``build_all_requests`` has built them (before the model
    runs), so that ``evallog recover`` names exactly the docs of a dead rank.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType
from typing import Any

from evallog.integrations.evaluate_hook import announce_docs, wrap_evaluate
from evallog.integrations.session import (
    HarnessTrackerMixin,
    StreamedSamples,
    session,
    streaming_enabled,
)
from evallog.tracker import EvaluationTracker

__all__ = ["FLAVOR", "MODULES", "Tracker", "patch_module"]

FLAVOR = "lmms-eval"
MODULES = (
    "lmms_eval.loggers.evaluation_tracker",
    "lmms_eval.loggers",
    "lmms_eval.utils",
    "lmms_eval.evaluator",
    "lmms_eval.__main__",
)


class Tracker(HarnessTrackerMixin, EvaluationTracker):
    """evallog's tracker as lmms-eval builds it (same constructor as lmms-eval's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("flavor", FLAVOR)
        super().__init__(*args, **session().tracker_options(kwargs))
        session().add_tracker(self)


def _announce_docs(task_name: str, task: Any) -> None:
    """Make ``task`` announce, once its requests are built, the doc ids this rank will log
    (before the model runs: a rank that dies during inference is then reported exactly)."""
    build = getattr(task, "build_all_requests", None)
    if build is None or getattr(build, "__evallog__", False):
        return

    @functools.wraps(build)
    def build_all_requests(*args: Any, **kwargs: Any) -> Any:
        built = build(*args, **kwargs)
        tracker = session().tracker
        if tracker is not None and tracker.output_path:  # lmms-eval logs each doc under its instances' doc_id
            announce_docs(tracker, task_name, sorted({i.doc_id for i in getattr(task, "instances", None) or ()}))
        return built

    build_all_requests.__evallog__ = True  # type: ignore[attr-defined]
    task.build_all_requests = build_all_requests


def _wrap_get_task_list(get_task_list: Any) -> Any:
    if getattr(get_task_list, "__evallog__", False):
        return get_task_list

    @functools.wraps(get_task_list)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        outputs = get_task_list(*args, **kwargs)
        tracker = session().tracker
        if tracker is not None and tracker.output_path and streaming_enabled():
            for output in outputs:
                name = getattr(output, "task_name", None)
                if name and type(getattr(output, "logged_samples", None)) is list and not output.logged_samples:
                    output.logged_samples = session().add_stream(StreamedSamples(tracker, name))
                    _announce_docs(name, output.task)
        return outputs

    wrapped.__evallog__ = True  # type: ignore[attr-defined]
    return wrapped


def _wrap_evaluate(evaluate: Any) -> Any:
    # lmms-eval's evaluate takes the rank from the launcher's environment (and injects it into the model)
    return wrap_evaluate(evaluate, rank_of=lambda lm: int(os.environ.get("RANK", "0") or 0))


def patch_module(module: ModuleType) -> None:
    """Apply evallog's patch to one lmms-eval module (idempotent)."""
    name = module.__name__
    trackers = ("lmms_eval.loggers", "lmms_eval.loggers.evaluation_tracker", "lmms_eval.__main__")
    if name in trackers and hasattr(module, "EvaluationTracker"):
        module.EvaluationTracker = Tracker  # type: ignore[attr-defined]
    if name in ("lmms_eval.utils", "lmms_eval.__main__") and hasattr(module, "make_table"):
        from evallog.table import make_table

        module.make_table = make_table  # type: ignore[attr-defined]
    if name == "lmms_eval.evaluator":
        if hasattr(module, "evaluate"):
            module.evaluate = _wrap_evaluate(module.evaluate)  # type: ignore[attr-defined]
        if hasattr(module, "get_task_list"):
            module.get_task_list = _wrap_get_task_list(module.get_task_list)  # type: ignore[attr-defined]

"""lm-eval 0.4.13 under evallog: its tracker and table swapped, its model journaled, samples streamed.

Patch points (each applied when the harness module is imported, see :mod:`.hook`):

``lm_eval.loggers`` / ``lm_eval.loggers.evaluation_tracker``
    ``EvaluationTracker`` -> :class:`Tracker` (evallog's, lm-eval flavor).
``lm_eval.utils``
    ``make_table`` -> :func:`evallog.table.make_table`.
``lm_eval.evaluator``
    ``evaluate`` -> a wrapper that puts the model behind the journal
    (:meth:`Session.wrap_model`) and makes each task's ``logged_samples`` a
    :class:`~evallog.integrations.session.StreamedSamples` (the harness builds
    that list inside ``evaluate``; the wrapper swaps it when the task's
    ``doc_iterator`` is first called from there). With several processes,
    lm-eval's ``gather_object`` of the logged samples then sends empty lists
    to rank 0 and each rank finishes its tasks when ``evaluate`` returns.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from types import ModuleType
from typing import Any

from evallog.integrations.evaluate_hook import announce_docs, wrap_evaluate
from evallog.integrations.session import (
    HarnessTrackerMixin,
    StreamedSamples,
    is_rank,
    session,
    streaming_enabled,
)
from evallog.tracker import EvaluationTracker

__all__ = ["FLAVOR", "MODULES", "Tracker", "patch_module"]

logger = logging.getLogger(__name__)

FLAVOR = "lm-eval"
MODULES = ("lm_eval.loggers.evaluation_tracker", "lm_eval.loggers", "lm_eval.utils", "lm_eval.evaluator")


def _consume_name_rng(model_args: Any) -> None:
    """lm-eval's tracker draws ``random_name_id()`` when ``model_args`` names no model.

    That advances Python's global ``random`` state, which models such as
    ``dummy`` read: draw the same, so that scores do not change.
    """
    try:
        anchor = importlib.import_module("lm_eval.loggers.evaluation_tracker")
        utils = importlib.import_module("lm_eval.utils")
        get_name, random_name_id = anchor.GeneralConfigTracker._get_model_name, utils.random_name_id
    except (ImportError, AttributeError):  # pragma: no cover - another lm-eval
        return
    if not get_name(model_args):
        random_name_id()


class Tracker(HarnessTrackerMixin, EvaluationTracker):
    """evallog's tracker as lm-eval builds it (same constructor as lm-eval's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("flavor", FLAVOR)
        super().__init__(*args, **session().tracker_options(kwargs))
        config = self.general_config_tracker
        log_args = config.log_experiment_args

        @functools.wraps(log_args)
        def log_experiment_args(model_source: Any, model_args: Any, *rest: Any, **kw: Any) -> None:
            _consume_name_rng(model_args)
            log_args(model_source, model_args, *rest, **kw)

        config.log_experiment_args = log_experiment_args
        session().add_tracker(self)


def _stream_task(task_name: str, task: Any) -> None:
    """Make ``task``'s ``logged_samples`` in lm-eval's ``evaluate`` stream to the tracker."""
    original = task.doc_iterator

    def doc_iterator(*args: Any, **kwargs: Any) -> Any:
        tracker = session().tracker
        frame = sys._getframe(1)
        acc = frame.f_locals.get("acc") if frame.f_code.co_name == "evaluate" else None
        if (
            tracker is not None
            and tracker.output_path
            and isinstance(acc, dict)
            and type(acc.get("logged_samples")) is list
            and frame.f_locals.get("log_samples")
            and frame.f_locals.get("task_name") == task_name
        ):
            acc["logged_samples"] = session().add_stream(StreamedSamples(tracker, task_name, acc["logged_samples"]))
            if is_rank(tracker):  # this rank's docs, as lm-eval numbers them in its samples
                indices = frame.f_locals.get("indices")
                announce_docs(tracker, task_name, (indices[d] if indices else d for d, _ in original(*args, **kwargs)))
        return original(*args, **kwargs)

    task.doc_iterator = doc_iterator


def _stream_tasks(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    task_dict = kwargs.get("task_dict", args[1] if len(args) > 1 else None)
    if streaming_enabled() and isinstance(task_dict, dict) and isinstance(task_dict.get("tasks"), dict):
        for name, task in task_dict["tasks"].items():
            _stream_task(name, task)


def _wrap_evaluate(evaluate: Any) -> Any:
    return wrap_evaluate(
        evaluate,
        rank_of=lambda lm: int(getattr(lm, "rank", 0) or 0),
        hook_target=lambda lm: getattr(lm, "lm", lm),  # lm-eval's CachingLM keeps the model in .lm
        prepare=_stream_tasks,
    )


def patch_module(module: ModuleType) -> None:
    """Apply evallog's patch to one lm-eval module (idempotent)."""
    name = module.__name__
    if name in ("lm_eval.loggers", "lm_eval.loggers.evaluation_tracker") and hasattr(module, "EvaluationTracker"):
        module.EvaluationTracker = Tracker  # type: ignore[attr-defined]
    elif name == "lm_eval.utils" and hasattr(module, "make_table"):
        from evallog.table import make_table

        module.make_table = make_table  # type: ignore[attr-defined]
    elif name == "lm_eval.evaluator" and hasattr(module, "evaluate"):
        module.evaluate = _wrap_evaluate(module.evaluate)  # type: ignore[attr-defined]

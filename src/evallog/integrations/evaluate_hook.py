"""The wrapper both harnesses' ``evaluate`` get under ``evallog run`` (one home for it).

It puts the model behind the journal (:meth:`Session.wrap_model`), lets the
harness module prepare the call (lm-eval: streaming each task's samples), runs
the harness's ``evaluate`` and, when it returns, finishes every rank's tasks
(:meth:`Session.finish_rank_tasks`; on an exception the shards stay for
``evallog recover`` / ``--resume``). What differs per harness is passed in:
how the rank is found and which object the journal hooks (lm-eval's
``CachingLM`` keeps the model in ``.lm``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, cast

from evallog.integrations.session import is_rank, session
from evallog.tracker import EvaluationTracker

__all__ = ["announce_docs", "wrap_evaluate"]

Prepare = Callable[[tuple[Any, ...], dict[str, Any]], None]


def wrap_evaluate(
    evaluate: Any,
    rank_of: Callable[[Any], int],
    hook_target: Callable[[Any], Any] | None = None,
    prepare: Prepare | None = None,
) -> Any:
    """``evaluate`` (the harness's, taking the model first as ``lm``) under evallog (idempotent)."""
    if getattr(evaluate, "__evallog__", False):
        return evaluate

    @functools.wraps(evaluate)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        lm = kwargs.get("lm", args[0] if args else None)
        if lm is not None:
            target = hook_target(lm) if hook_target is not None else None
            wrapped_lm = session().wrap_model(lm, rank_of(lm), hook_target=target)
            if "lm" in kwargs:
                kwargs["lm"] = wrapped_lm
            else:
                args = (wrapped_lm, *args[1:])
        if prepare is not None:
            prepare(args, kwargs)
        results = evaluate(*args, **kwargs)
        session().finish_rank_tasks()  # several processes: each rank's samples are in its shard
        return results

    wrapped.__evallog__ = True  # type: ignore[attr-defined]
    return wrapped


def announce_docs(tracker: EvaluationTracker, task_name: str, doc_ids: Iterable[Any]) -> None:
    """A rank of several processes announces the doc ids it will log for ``task_name``, so that
    ``evallog recover`` names exactly the ones a dead rank missed (nothing in one process)."""
    if is_rank(tracker):
        cast(Any, tracker).expect_docs(task_name, list(doc_ids))  # set on each instance by evallog.distributed

"""evallog inside lm-eval and lmms-eval runs.

Command line: ``evallog run [--resume] -- <harness command line>``
(:mod:`evallog.integrations.launch`). In Python, for people who call
``simple_evaluate`` / ``evaluate`` themselves::

    import evallog.integrations as ei
    ei.install()                       # before or after importing the harness
    from lm_eval.loggers import EvaluationTracker   # now evallog's
    tracker = EvaluationTracker(output_path="out")
    results = lm_eval.simple_evaluate(..., evaluation_tracker=tracker, log_samples=True)
    tracker.save_results_aggregated(results, results.pop("samples"))  # as the CLI does
    ...
    tracker.close()

Modules: :mod:`.hook` (import hook), :mod:`.lm_eval` and :mod:`.lmms_eval`
(one per harness), :mod:`.session` (per-process state, streaming),
:mod:`.journal` (response journal), :mod:`.launch` (the launcher).
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]


def install(
    *,
    resume: bool = False,
    journal: bool = True,
    journal_every: int = 64,
    journal_interval: float = 2.0,
    run_id: str | None = None,
) -> Any:
    """Swap evallog in for the harnesses' tracker and table in this process; returns the session.

    Trackers built afterwards by the harness (or by you, through
    ``lm_eval.loggers.EvaluationTracker`` / ``lmms_eval.loggers.EvaluationTracker``)
    stream samples as they are scored and keep a response journal in their run
    folder; with ``resume=True`` journaled requests are answered from the
    journal of run ``run_id`` (give the same ``run_id`` as the interrupted run).
    """
    from evallog.integrations.hook import install as install_hook
    from evallog.integrations.session import set_session
    from evallog.integrations.settings import RunSettings

    settings = RunSettings(
        run_id=run_id,
        resume=resume,
        journal=journal,
        journal_every=journal_every,
        journal_interval=journal_interval,
    )
    current = set_session(settings)
    install_hook()
    return current

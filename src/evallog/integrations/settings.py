"""What ``evallog run`` tells every harness process: one home for the environment variables.

The launcher (:mod:`evallog.integrations.launch`) writes these variables; the
import hook and the harness patches read them in each process the harness or
its launcher (``accelerate launch``, ``torchrun``) starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENV_ACTIVE", "ENV_SITE", "RunSettings"]

ENV_ACTIVE = "EVALLOG_RUN"  # "1": install the hook in this process
ENV_SITE = "EVALLOG_RUN_SITE"  # the folder holding evallog's sitecustomize (to chain others)
_ENV_RUN_ID = "EVALLOG_RUN_ID"
_ENV_RESUME = "EVALLOG_RUN_RESUME"
_ENV_EVERY = "EVALLOG_JOURNAL_EVERY"
_ENV_INTERVAL = "EVALLOG_JOURNAL_INTERVAL"
_ENV_JOURNAL = "EVALLOG_JOURNAL"
_ENV_STATS = "EVALLOG_RUN_STATS_DIR"


@dataclass(frozen=True)
class RunSettings:
    """Settings shared by every process of one ``evallog run``.

    run_id
        The evallog run id all processes use (keys the journal folder); ``None``:
        each tracker picks its own (Python entry point without a launcher).
    resume
        Answer journaled requests from the journal, append to the interrupted run.
    journal
        Keep a response journal at all.
    journal_every, journal_interval
        The journal reaches the disk at least every N responses / T seconds.
    stats_dir
        Where each process leaves its request counts for the launcher's report.
    """

    run_id: str | None = None
    resume: bool = False
    journal: bool = True
    journal_every: int = 64
    journal_interval: float = 2.0
    stats_dir: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RunSettings:
        env = os.environ if env is None else env
        return cls(
            run_id=env.get(_ENV_RUN_ID) or None,
            resume=env.get(_ENV_RESUME) == "1",
            journal=env.get(_ENV_JOURNAL, "1") == "1",
            journal_every=int(env.get(_ENV_EVERY) or cls.journal_every),
            journal_interval=float(env.get(_ENV_INTERVAL) or cls.journal_interval),
            stats_dir=env.get(_ENV_STATS) or None,
        )

    def to_env(self) -> dict[str, str]:
        env = {
            ENV_ACTIVE: "1",
            _ENV_RESUME: "1" if self.resume else "0",
            _ENV_JOURNAL: "1" if self.journal else "0",
            _ENV_EVERY: str(self.journal_every),
            _ENV_INTERVAL: repr(self.journal_interval),
        }
        if self.run_id:
            env[_ENV_RUN_ID] = self.run_id
        if self.stats_dir:
            env[_ENV_STATS] = self.stats_dir
        return env

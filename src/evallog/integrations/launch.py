"""``evallog run``: start a harness command line with evallog swapped in, in every process.

The command runs unchanged (``lm_eval ...``, ``lm-eval run ...``, ``lmms-eval
...``, ``python -m ...``, ``accelerate launch ...``, ``torchrun ...``); its
environment gets evallog's ``sitecustomize`` on ``PYTHONPATH`` and the run's
settings (:class:`~evallog.integrations.settings.RunSettings`). The exit code
is the harness's.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from evallog.errors import ConfigError
from evallog.integrations.journal import COMPLETE_MARKER
from evallog.integrations.settings import ENV_SITE, RunSettings
from evallog.layout import MANIFEST_DIR

__all__ = ["RunOutcome", "find_resumable_run", "harness_flavor", "output_path_of", "run_harness", "site_dir"]

logger = logging.getLogger(__name__)


def site_dir() -> Path:
    """The folder holding evallog's ``sitecustomize.py``."""
    return Path(__file__).resolve().parent / "_site"


def harness_flavor(argv: Sequence[str]) -> str:
    """``"lmms-eval"`` when the command line runs lmms-eval, else ``"lm-eval"``."""
    return "lmms-eval" if any("lmms_eval" in a or "lmms-eval" in a for a in argv) else "lm-eval"


def output_path_of(argv: Sequence[str]) -> str | None:
    """The harness's ``--output_path`` (``-o``) value, if the command line has one."""
    for i, arg in enumerate(argv):
        for flag in ("--output_path", "--output-path", "-o"):
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
    return None


def _journal_roots(output_path: Path) -> list[Path]:
    roots = [output_path / MANIFEST_DIR / "journal", output_path.parent / MANIFEST_DIR / "journal"]
    if output_path.is_dir():
        roots += [child / MANIFEST_DIR / "journal" for child in output_path.iterdir() if child.is_dir()]
    return [r for r in roots if r.is_dir()]


def find_resumable_run(output_path: str | os.PathLike[str]) -> str | None:
    """The run id of the latest unfinished run with a journal under ``output_path``."""
    ids = [
        j.name
        for root in _journal_roots(Path(output_path))
        for j in root.iterdir()
        if j.is_dir() and not (j / COMPLETE_MARKER).exists()
    ]
    return max(ids) if ids else None


def _new_run_id(flavor: str) -> str:
    from evallog.tracker import EvaluationTracker

    return EvaluationTracker(flavor=flavor).run_id  # no output_path: nothing is written


@dataclass
class RunOutcome:
    """What ``evallog run`` did: the harness's exit code and the run's request counts."""

    exit_code: int
    run_id: str
    resumed: bool
    processes: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"from_journal": 0, "computed": 0, "journaled": 0})


def _environment(settings: RunSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(settings.to_env())
    site = str(site_dir())
    env[ENV_SITE] = site
    env["PYTHONPATH"] = os.pathsep.join([site, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _collect(stats_dir: Path, outcome: RunOutcome) -> None:
    for path in stats_dir.glob("*.json"):
        try:
            counts: dict[str, Any] = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        outcome.processes += 1
        for key in outcome.counts:
            outcome.counts[key] += int(counts.get(key, 0))


def run_harness(
    argv: Sequence[str],
    *,
    resume: bool = False,
    journal: bool = True,
    journal_every: int = 64,
    journal_interval: float = 2.0,
) -> RunOutcome:
    """Run the harness command line ``argv`` under evallog; returns when it exits."""
    if not argv:
        raise ConfigError("no harness command line given (evallog run [options] -- lm_eval ...)")
    if journal_every < 1 or journal_interval <= 0:
        raise ConfigError("--journal-every must be >= 1 and --journal-interval > 0")
    run_id: str | None = None
    if resume:
        output = output_path_of(argv)
        if output is None:
            raise ConfigError("--resume needs the harness's --output_path")
        run_id = find_resumable_run(output)
        if run_id is None:
            logger.warning("no interrupted run with a journal under %s: starting a new run", output)
    resumed = run_id is not None
    run_id = run_id or _new_run_id(harness_flavor(argv))
    with tempfile.TemporaryDirectory(prefix="evallog-run-") as stats:
        settings = RunSettings(
            run_id=run_id,
            resume=resumed,
            journal=journal,
            journal_every=journal_every,
            journal_interval=journal_interval,
            stats_dir=stats,
        )
        try:
            proc = subprocess.Popen(list(argv), env=_environment(settings))
        except FileNotFoundError as exc:
            raise ConfigError(f"command not found: {argv[0]} (is the harness installed in this environment?)") from exc
        forwarded = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, lambda signum, _: proc.send_signal(signum)) for sig in forwarded}
        try:
            code = proc.wait()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        outcome = RunOutcome(exit_code=code, run_id=run_id, resumed=resumed)
        _collect(Path(stats), outcome)
    return outcome

"""What both exporters read from a run: harness, model id, dates, the numbers of each task."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from evallog.aggregations import computed_by
from evallog.readers import Run
from evallog.schema import OPTIONAL_COLUMNS

# metrics whose aggregate lies in [0, 1] in both harnesses
BOUNDED_01: frozenset[str] = frozenset(
    {"acc", "acc_norm", "acc_mutual_info", "acc_bytes", "exact_match", "acc_all", "mcc", "f1", "anls",
     "brier_score", "pass@1", "em", "accuracy"}
)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def harness(run: Run) -> tuple[str, str]:
    """(library name as the harness calls itself, its version or ``"unknown"``)."""
    if computed_by(run.results, run.flavor) == "lmms-eval":
        return "lmms_eval", str(run.results.get("lmms_eval_version") or "unknown")
    return "lm_eval", str(run.results.get("lm_eval_version") or "unknown")


def model_id(run: Run) -> str:
    """The model in Hub form: ``pretrained=`` of the model args, else ``model_name``, else the folder."""
    args = (run.results.get("config") or {}).get("model_args")
    if isinstance(args, dict):
        pretrained = args.get("pretrained")
    elif isinstance(args, str):
        m = re.search(r"(?:^|,)\s*pretrained=([^,]+)", args)
        pretrained = m.group(1) if m else None
    else:
        pretrained = None
    return str(pretrained or run.model_name or run.model)


def split_model_id(mid: str) -> tuple[str | None, str]:
    """(developer, model name) of a Hub id; developer ``None`` without an org."""
    if "/" in mid:
        dev, _, name = mid.partition("/")
        return dev, name.replace("/", "__")
    return None, mid


def is_hub_dataset_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_HUB_ID.match(value)) and not value.startswith(("/", "."))


def run_datetime(run: Run) -> datetime | None:
    """When the run happened: the results' ``date`` (Unix time), else the run id's time (taken as UTC)."""
    date = run.results.get("date")
    if isinstance(date, (int, float)) and math.isfinite(date):
        return datetime.fromtimestamp(float(date), tz=timezone.utc)
    if run.timestamp is not None:
        return run.timestamp.replace(tzinfo=timezone.utc)
    return None


@dataclass(frozen=True)
class Score:
    """One reported ``metric,filter`` of a task with its standard errors (``None`` when ``"N/A"``)."""

    task: str
    metric: str
    filter: str
    value: float
    stderr: float | None
    extra: dict[str, float]  # lmms-eval's optional columns (stderr_clt, expected_accuracy, ...) when numbers


def scores(run: Run, task: str) -> list[Score]:
    entry = run.task_results.get(task) or {}
    out = []
    for metric, filt in run.metrics(task):
        value = run.value(task, metric, filt)
        if value is None or not math.isfinite(value):
            continue
        extra = {}
        for _, stat, suffix in OPTIONAL_COLUMNS:  # lmms-eval's columns of a metric (schema.py)
            v = entry.get(f"{metric}{suffix},{filt}")
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                extra[stat] = float(v)
        out.append(Score(task, metric, filt, value, run.stderr(task, metric, filt), extra))
    return out


def exported_tasks(run: Run) -> list[str]:
    """Tasks and groups with at least one numeric score, in results order."""
    return [t for t in run.task_results if scores(run, t)]

"""One rendering of dates and times: ISO 8601 in UTC with its zone (``2026-11-26T14:49:59Z``).

Every place that shows when a run happened (``evallog ls``, the HTML report,
comparisons, leaderboards) calls :func:`run_datetime` and :func:`format_time`,
so lm-eval and lmms-eval runs read the same way side by side. The run id is
shown separately, as the id it is.

When a run happened, best source first:

1. lm-eval's ``date`` (``time.time()`` when the evaluation started);
2. ``start_time`` when it is a wall-clock epoch (evallog writes one; lmms-eval's
   own ``start_time`` is a ``perf_counter`` reading and is not used);
3. the time in the run id: lm-eval writes the local time of the machine
   (``datetime.now()``), read here in this machine's zone; lmms-eval writes it
   in its ``--timezone``, ``Asia/Singapore`` (UTC+08:00) unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from evallog.flavors.lmms_eval import LMMS_EVAL_DEFAULT_ZONE  # re-exported: the zone is the flavor's rule

__all__ = ["format_time", "run_datetime", "results_datetime", "LMMS_EVAL_DEFAULT_ZONE"]

_EPOCH_MIN, _EPOCH_MAX = 1e9, 1e11  # 2001 .. 5138: a wall-clock epoch, not a perf_counter reading


def _epoch(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and _EPOCH_MIN < value < _EPOCH_MAX:
        return float(value)
    return None


def format_time(value: datetime | float | None) -> str | None:
    """``2026-11-26T14:49:59Z``: UTC, second precision. Naive datetimes are taken as local time."""
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo is not None else value.astimezone()
    else:
        dt = datetime.fromtimestamp(float(value), tz=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def results_datetime(results: Mapping[str, Any], run_id: str | None, flavor: str | None) -> datetime | None:
    """When a run happened (aware), from its results and run id; ``None`` when nothing tells."""
    from evallog.readers import parse_run_timestamp

    epoch = _epoch(results.get("date")) or _epoch(results.get("start_time"))
    if epoch is not None:
        return datetime.fromtimestamp(epoch, tz=timezone.utc)
    naive = parse_run_timestamp(run_id) if run_id else None
    if naive is None:
        return None
    zone = _run_id_zone(flavor)
    if zone is not None:
        return naive.replace(tzinfo=zone)
    return naive.astimezone()  # e.g. lm-eval: local time of the machine


def _run_id_zone(flavor: str | None) -> Any:
    from evallog.flavors import registered_flavors

    return next((f.run_id_zone() for f in registered_flavors() if f.name == flavor), None)


def run_datetime(run: Any) -> datetime | None:
    """:func:`results_datetime` of a :class:`~evallog.readers.Run`."""
    return results_datetime(run.results, run.run_id, run.flavor)

"""Per-filter counts of a task's samples: how many, how many scored 0/1, how many right.

A task evaluated with several filters (lm-eval's ``strict-match`` and
``flexible-extract``) logs one line per document *and filter*; counting its
lines together mixes the filters up ("24 samples, 50% correct" where the
filters score 41.7% and 58.3%). :func:`tally_samples` keeps one
:class:`FilterTally` per filter; ``evallog show``, ``evallog ls`` and the HTML
report all count this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FilterTally", "correctness", "count_sample", "tally_samples", "describe_tallies", "sample_metric_names"]


def correctness(value: Any) -> int | None:
    """1 / 0 when a per-sample metric value says right / wrong, ``None`` when it is not 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    return None


@dataclass
class FilterTally:
    """The counts of one filter of a task."""

    filter: str
    samples: int = 0
    scored: int = 0  # samples whose metric value is 0/1
    correct: int = 0

    @property
    def wrong(self) -> int:
        return self.scored - self.correct

    @property
    def rate(self) -> float | None:
        """Share of the scored samples that are right, ``None`` when none is scored."""
        return self.correct / self.scored if self.scored else None


def tally_samples(records: Iterable[Mapping[str, Any]], metric: str | None) -> dict[str, FilterTally]:
    """One :class:`FilterTally` per filter of ``records``, in the order the filters first appear."""
    out: dict[str, FilterTally] = {}
    for rec in records:
        count_sample(out, rec, metric)
    return out


def count_sample(tallies: dict[str, FilterTally], record: Mapping[str, Any], metric: str | None) -> None:
    """Add one sample record to ``tallies`` (the running form of :func:`tally_samples`)."""
    filt = str(record.get("filter", "none"))
    tally = tallies.get(filt)
    if tally is None:
        tally = tallies[filt] = FilterTally(filt)
    tally.samples += 1
    c = correctness(record.get(metric)) if metric else None
    if c is not None:
        tally.scored += 1
        tally.correct += c


def describe_tallies(
    tallies: Mapping[str, FilterTally], metric: str | None, *, wrong: bool = False, count_single: bool = True
) -> str:
    """``"12 samples, 5 correct (41.7% by exact_match)"``, per filter (``"strict-match: ..."``) when several.

    With ``wrong=True`` the wrong samples are counted instead of the right ones;
    ``count_single=False`` leaves the number of samples out when there is one
    filter (the caller printed it already).
    """
    parts = []
    for t in tallies.values():
        bits = [f"{t.samples} sample{'s' * (t.samples != 1)}"] if count_single or len(tallies) > 1 else []
        if t.scored and metric:
            n = t.wrong if wrong else t.correct
            bits.append(f"{n} {'wrong' if wrong else 'correct'} ({100 * n / t.scored:.1f}% by {metric})")
        text = ", ".join(bits)
        parts.append(f"{t.filter}: {text}" if len(tallies) > 1 else text)
    return "; ".join(p for p in parts if p)


def sample_metric_names(run: Any, task: str, first_record: Mapping[str, Any] | None = None) -> list[str]:
    """The per-sample metric names of ``task``: those the results report, else the first record's."""
    names = list(dict.fromkeys(m for m, _ in run.metrics(task)))
    if names or first_record is None:
        return names
    from evallog.schema import NON_METRIC_SAMPLE_KEYS

    listed = first_record.get("metrics")
    if isinstance(listed, list) and all(isinstance(m, str) for m in listed):
        return list(dict.fromkeys(listed))
    return [k for k, v in first_record.items()
            if k not in NON_METRIC_SAMPLE_KEYS and isinstance(v, (int, float, bool))]


def samples_per_filter(run: Any, task: str) -> int:
    """Sample lines of ``task`` per filter (a task logs one line per document and filter).

    Counted from the number of lines (no JSON parsing) divided by the number of
    filters the results report for the task; every line when they report none.
    """
    lines = int(run.n_samples(task))
    return lines // max(1, len(run.filters(task)))

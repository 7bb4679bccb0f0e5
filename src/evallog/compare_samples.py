"""Per-sample collection for :func:`evallog.compare.compare`: the metric values of both runs, paired by document.

Split from :mod:`evallog.compare`; keeps one float per metric and run, a doc-id index and flip candidates.
"""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from evallog.readers import Run
from evallog.schema import NON_METRIC_SAMPLE_KEYS

# ------------------------------------------------------------------ per-sample collection

_NAN = float("nan")
_PROGRESS_EVERY = 20_000  # samples between progress callbacks


def _doc_key(doc_id: Any) -> Any:
    if doc_id is None or isinstance(doc_id, (int, str, float)):
        return doc_id
    return json.dumps(doc_id, sort_keys=True, default=str)


def _number(v: Any) -> float | None:
    """A per-sample metric value as a float; ``None`` when it is not a number."""
    t = type(v)
    if t is float or t is int or t is bool:
        return float(v)
    return None


class _Side:
    """Compact per-sample numbers of one run for one task."""

    def __init__(self) -> None:
        self.count = 0
        self.per_filter: dict[str, dict[Any, int]] = {}   # filter -> doc key -> position
        self.doc_ids: dict[str, list[Any]] = {}
        self.values: dict[tuple[str, str], array[float]] = {}     # (filter, metric) -> array('d')
        self.doc_hashes: dict[str, array[int]] = {}             # filter -> array('q') of hash(doc_hash)
        self.nonnumeric: dict[tuple[str, str], int] = {}
        self.duplicates = 0
        self.no_doc_id = 0


def _collect_a(samples: Iterable[dict[str, Any]], metrics: Sequence[str], progress: Callable[[int], None]) -> _Side:
    side = _Side()
    nan = _NAN
    for rec in samples:
        side.count += 1
        if side.count % _PROGRESS_EVERY == 0:
            progress(side.count)
        f = rec["filter"]
        index = side.per_filter.get(f)
        if index is None:
            index = side.per_filter[f] = {}
            side.doc_ids[f] = []
            side.doc_hashes[f] = array("q")
        doc = rec.get("doc_id")
        if doc is None:
            side.no_doc_id += 1
            continue
        key = _doc_key(doc)
        if key in index:
            side.duplicates += 1
            continue
        pos = len(side.doc_ids[f])
        index[key] = pos
        side.doc_ids[f].append(doc)
        dh = rec.get("doc_hash")
        side.doc_hashes[f].append(hash(dh) if isinstance(dh, str) else 0)
        for m in metrics:
            if m not in rec:
                continue
            vk = (f, m)
            arr = side.values.get(vk)
            if arr is None:
                arr = side.values[vk] = array("d", [nan]) * pos
            elif len(arr) < pos:
                arr.extend([nan] * (pos - len(arr)))
            x = _number(rec[m])
            if x is None:
                side.nonnumeric[vk] = side.nonnumeric.get(vk, 0) + 1
                arr.append(nan)
            else:
                arr.append(x)
    for (f, _m), arr in side.values.items():  # pad to the filter's length
        want = len(side.doc_ids[f])
        if len(arr) < want:
            arr.extend([nan] * (want - len(arr)))
    progress(side.count)
    return side


class _Matched:
    """Run B's per-sample numbers laid out at run A's positions."""

    def __init__(self, a: _Side) -> None:
        self.count = 0
        self.values: dict[tuple[str, str], array[float]] = {}
        self.matched: dict[str, bytearray] = {f: bytearray(len(ids)) for f, ids in a.doc_ids.items()}
        self.only_b: dict[str, int] = {}
        self.nonnumeric: dict[tuple[str, str], int] = {}
        self.hash_mismatch = 0
        self.duplicates = 0
        self.no_doc_id = 0


def _collect_b(
    samples: Iterable[dict[str, Any]], a: _Side, metrics: Sequence[str], progress: Callable[[int], None]
) -> _Matched:
    mb = _Matched(a)
    nan = _NAN
    per_filter = a.per_filter
    for rec in samples:
        mb.count += 1
        if mb.count % _PROGRESS_EVERY == 0:
            progress(mb.count)
        f = rec["filter"]
        doc = rec.get("doc_id")
        if doc is None:
            mb.no_doc_id += 1
            continue
        index = per_filter.get(f)
        pos = index.get(_doc_key(doc)) if index is not None else None
        if pos is None:
            mb.only_b[f] = mb.only_b.get(f, 0) + 1
            continue
        flags = mb.matched[f]
        if flags[pos]:
            mb.duplicates += 1
            continue
        flags[pos] = 1
        dh = rec.get("doc_hash")
        ha = a.doc_hashes[f][pos]
        if isinstance(dh, str) and ha != 0 and hash(dh) != ha:
            mb.hash_mismatch += 1
        for m in metrics:
            if m not in rec:
                continue
            vk = (f, m)
            arr = mb.values.get(vk)
            if arr is None:
                arr = mb.values[vk] = array("d", [nan]) * len(flags)
            x = _number(rec[m])
            if x is None:
                mb.nonnumeric[vk] = mb.nonnumeric.get(vk, 0) + 1
            else:
                arr[pos] = x
    progress(mb.count)
    return mb


def _sample_metric_names(run: Run, task: str) -> list[str]:
    names = [m for m, _ in run.metrics(task)]
    if names:
        return list(dict.fromkeys(names))
    for rec in run.samples(task, skip_corrupt=True):  # peek at the first record
        listed = rec.get("metrics")
        if isinstance(listed, list) and all(isinstance(x, str) for x in listed):
            return list(dict.fromkeys(listed))
        return [k for k, v in rec.items() if k not in NON_METRIC_SAMPLE_KEYS
                and (_number(v) is not None or isinstance(v, dict))]
    return []


def _expected_lines(run: Run, task: str) -> int | None:
    n = run.reported_samples(task)
    return None if n is None else n * max(1, len(run.filters(task)))


def _mean(arr: Iterable[float]) -> float | None:
    vals = [x for x in arr if x == x]
    return math.fsum(vals) / len(vals) if vals else None

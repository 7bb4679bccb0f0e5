"""Pages of samples served from disk: read by byte offset, searched and filtered by a streaming scan.

A :class:`TaskSource` is one samples file of one run. Records go to the
browser in the shape of the static report (:func:`evallog.report.compact_sample`),
each with ``n``, its record number in the file, so that the browser can ask
for the whole sample. A line that is not a JSON object becomes a record
with ``bad`` (what is wrong) and ``raw`` (the start of the line).

A query without search or filters is a slice of the line index. Otherwise
a :class:`_Scan` walks the file once, in file order, keeps the record
numbers that match and stops as soon as the asked page is full (plus a short
time budget to count further); the next page continues where it stopped.
Sorting by something other than file order needs the whole file once.
"""

from __future__ import annotations

import math
import re
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evallog.encoding import decode
from evallog.report import compact_sample, correct_of
from evallog.report_samples import sample_metrics
from evallog.view.lineindex import LineIndex

__all__ = ["Query", "TaskSource", "PAGE_SIZE"]

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_COUNT_BUDGET_S = 0.25
_SYNC_COUNT_S = 0.05
_DETAIL_TEXT = 200_000
_PLAIN_QUERY = re.compile(r"^[a-z0-9 _.,:;!?()'=+*#%@-]+$")
SORTS = ("doc", "doc-desc", "metric-desc", "metric-asc", "input-len", "resp-len")


@dataclass(frozen=True)
class Query:
    """What the browser asks for: search text, filters, sort order, page."""

    q: str = ""
    correct: str = "all"  # all | correct | incorrect
    filter: str = ""
    agree: str = "all"  # all | differs | a-only | b-only (needs the other run)
    sort: str = "doc"  # "doc" is file order
    page: int = 0
    size: int = PAGE_SIZE

    @property
    def plain(self) -> bool:
        return not self.q.strip() and self.correct == "all" and not self.filter and self.agree == "all"

    def signature(self) -> tuple[str, str, str, str, str]:
        return (self.q.strip().lower(), self.correct, self.filter, self.agree, self.sort)


def _corrupt_record(n: int, raw: bytes, why: str) -> dict[str, Any]:
    text = raw[:2000].decode("utf-8", "replace")
    return {"d": None, "f": -1, "v": [], "c": None, "i": "", "t": "", "r": "", "n": n, "bad": why,
            "raw": text + ("\u2026" if len(raw) > 2000 else "")}


def _haystack(rec: dict[str, Any]) -> str:
    parts = [rec.get("i", ""), rec.get("t", ""), rec.get("r", ""), rec.get("rr", "")]
    parts.extend(rec.get("ch") or [])
    if rec.get("bad"):
        parts.append(rec.get("raw", ""))
    return "\n".join(str(p) for p in parts).lower()


def _num(v: Any) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return -math.inf


def _doc_sort_key(d: Any) -> tuple[int, float, str]:
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return (0, float(d), "")
    return (1, 0.0, str(d))


class _Scan:
    """The matches of one query over one file, found so far, in file order (or sorted when complete)."""

    def __init__(self) -> None:
        self.pos = 0
        self.matches = array("Q")
        self.keys: list[Any] | None = None
        self.sorted: list[int] | None = None
        self.tallies: dict[int, dict[str, int]] = {}  # filter index -> n, scored, correct (first-seen order)
        self.lock = threading.Lock()


class TaskSource:
    """The samples of one task of one run, served page by page."""

    def __init__(self, index: LineIndex, *, task: str, filters: list[str], result_metrics: list[str],
                 infer_filters: bool = False) -> None:
        self.index = index
        self.task = task
        self.filters: list[str] = list(filters) or ["none"]
        self._given_filters = list(filters)
        self.result_metrics = result_metrics
        self.metrics: list[str] | None = None
        # lmms-eval logs a multi-filter task as one line per filter without a "filter" key
        # (readers.TaskSamples): the k-th line of a doc belongs to the k-th filter
        self.infer_filters = infer_filters and len(filters) > 1
        self._ordinals = array("H")
        self._ord_seen: dict[Any, int] = {}
        self._scans: OrderedDict[tuple[Any, ...], _Scan] = OrderedDict()
        self._lock = threading.Lock()
        self._stats_pos = 0
        self._sums: dict[str, list[float]] = {}
        self._pair: tuple[int, dict[str, int], dict[str, int | None]] | None = None

    # ------------------------------------------------------------------ records

    def _filter_of(self, n: int, sample: dict[str, Any]) -> str:
        name = sample.get("filter")
        if isinstance(name, str):
            return name
        if not self.infer_filters:
            return self.filters[0]
        with self._lock:
            if len(self._ordinals) <= n:
                for k, raw in self.index.iter_from(len(self._ordinals)):
                    try:
                        doc = decode(raw).get("doc_id")
                        hash(doc)
                    except (ValueError, AttributeError, TypeError):
                        doc = None
                    seen = self._ord_seen.get(doc, 0)
                    self._ord_seen[doc] = seen + 1
                    self._ordinals.append(min(seen, 65535))
                    if k >= n:
                        break
            k = self._ordinals[n]
        return self.filters[k] if k < len(self.filters) else f"{self.filters[0]}#{k}"

    def _filter_index(self, name: str) -> int:
        with self._lock:
            if name not in self.filters:
                if self.filters == ["none"] and not self._given_filters:
                    self.filters = [name]
                else:
                    self.filters.append(name)
            return self.filters.index(name)

    def parse(self, n: int, raw: bytes) -> dict[str, Any] | None:
        """The sample of record ``n``, ``None`` if it is not a JSON object."""
        try:
            sample = decode(raw)
        except ValueError:
            return None
        return sample if type(sample) is dict else None

    def record(self, n: int, raw: bytes, *, max_text: int = 2000) -> dict[str, Any]:
        """The page record of line ``raw`` (record number ``n``)."""
        sample = self.parse(n, raw)
        if sample is None:
            try:
                decode(raw)
                why = "not a JSON object"
            except ValueError:
                why = "corrupt line: not valid JSON"
            return _corrupt_record(n, raw, why)
        if self.metrics is None:
            self.metrics = sample_metrics(sample, self.result_metrics)
        else:
            extra = [m for m in sample_metrics(sample, self.result_metrics) if m not in self.metrics]
            self.metrics.extend(extra)
        f = self._filter_index(self._filter_of(n, sample))
        rec = compact_sample(sample, metrics=self.metrics, filter_index=f, max_text=max_text)
        rec["n"] = n
        return rec

    def detail(self, n: int) -> dict[str, Any]:
        """Record ``n`` with texts kept up to 200,000 characters."""
        return self.record(n, self.index.read(n), max_text=_DETAIL_TEXT)

    def key_of(self, rec: dict[str, Any]) -> str:
        f = rec.get("f", -1)
        return f"{rec.get('d')}\u0001{self.filters[f] if 0 <= f < len(self.filters) else ''}"

    # ------------------------------------------------------------------ live figures

    def live_stats(self, *, deadline: float | None = None) -> dict[str, Any]:
        """Records so far and running means of the 0/1 per-sample metrics (read incrementally)."""
        self.index.extend(deadline=deadline)
        with self._lock:
            for n, raw in self.index.iter_from(self._stats_pos):
                if n >= self.index.count:
                    break
                self._stats_pos = n + 1
                sample = self.parse(n, raw)
                if sample is None:
                    continue
                for m in sample_metrics(sample, self.result_metrics):
                    v = sample.get(m)
                    if isinstance(v, bool) or (isinstance(v, (int, float)) and v in (0, 1)):
                        s = self._sums.setdefault(m, [0.0, 0.0])
                        s[0] += float(v)
                        s[1] += 1
                if deadline is not None and time.monotonic() > deadline:
                    break
            means = {m: s[0] / s[1] for m, s in self._sums.items() if s[1]}
        return {"n": self.index.count, "complete": self.index.complete, "means": means}

    # ------------------------------------------------------------------ pages

    def page(self, query: Query, other: TaskSource | None = None) -> dict[str, Any]:
        """One page of records matching ``query``; ``other`` pairs each with the other run's record."""
        size = max(1, min(query.size, MAX_PAGE_SIZE))
        start = max(0, query.page) * size
        if query.plain and query.sort == "doc":
            raws = self.index.read_range(start, start + size)
            recs = [self.record(start + k, raw) for k, raw in enumerate(raws)]
            if len(raws) < size:
                self.index.extend()  # the end is near: know the total
            elif not self.index.complete:
                self.index.extend(deadline=time.monotonic() + _SYNC_COUNT_S, wait=False)
                if not self.index.complete:
                    self.index.finish_in_background()  # a big file: the total comes with a later page
            matched, complete = self.index.count, self.index.complete
            tallies: list[dict[str, int]] | None = None
        else:
            recs, matched, complete, tallies = self._scan_page(query, other, start, size)
        out: dict[str, Any] = {
            "samples": recs,
            "start": start,
            "size": size,
            "matched": matched,
            "complete": complete,
            "total": self.index.count,
            "total_complete": self.index.complete,
            "metrics": self.metrics or [],
            "filters": self.filters,
        }
        if tallies is not None:  # per filter, as the static report counts them
            out["tallies"] = tallies
        if other is not None:
            out["others"] = [other.find(self.key_of(r)) if not r.get("bad") else None for r in recs]
        return out

    def _matcher(self, query: Query, other: TaskSource | None) -> Callable[[dict[str, Any]], bool]:
        q = query.q.strip().lower()
        fname = query.filter
        agree = query.agree if other is not None else "all"
        other_c = other.correctness() if agree != "all" and other is not None else {}

        def match(rec: dict[str, Any]) -> bool:
            if rec.get("bad"):
                return query.correct == "all" and not fname and agree == "all" and (not q or q in _haystack(rec))
            c = rec.get("c")
            if query.correct == "correct" and c != 1:
                return False
            if query.correct == "incorrect" and c != 0:
                return False
            if fname and self.filters[rec["f"]] != fname:
                return False
            if agree != "all":
                o = other_c.get(self.key_of(rec))
                if o is None or c is None:
                    return False
                if agree == "differs" and o == c:
                    return False
                if agree == "a-only" and not (c == 1 and o == 0):
                    return False
                if agree == "b-only" and not (c == 0 and o == 1):
                    return False
            return not q or str(rec.get("d")) == q or q in _haystack(rec)

        return match

    def _sort_key(self, sort: str, rec: dict[str, Any]) -> Any:
        if sort in ("doc", "doc-desc"):
            return (_doc_sort_key(rec.get("d")), rec.get("f", 0))
        if sort in ("metric-desc", "metric-asc"):
            v = rec.get("v") or [None]
            return _num(v[0])
        if sort == "input-len":
            return len(rec.get("i", ""))
        return len(rec.get("r", ""))

    def _scan_page(self, query: Query, other: TaskSource | None, start: int, size: int
                   ) -> tuple[list[dict[str, Any]], int, bool, list[dict[str, int]] | None]:
        sig = query.signature() + ((id(other),) if other is not None and query.agree != "all" else ())
        with self._lock:
            scan = self._scans.get(sig)
            if scan is None:
                scan = self._scans[sig] = _Scan()
                while len(self._scans) > 16:
                    self._scans.popitem(last=False)
            else:
                self._scans.move_to_end(sig)
        q = query.q.strip().lower()
        prefilter = q.encode() if q and _PLAIN_QUERY.match(q) and not q.isdigit() else None
        match = self._matcher(query, other)
        ordered = query.sort != "doc"
        need = start + size
        with scan.lock:
            if ordered:
                self.index.extend()
                if scan.sorted is not None and scan.pos < self.index.count:
                    scan.sorted = None  # the file grew
            deadline: float | None = None
            exhausted = True
            candidates = (
                ((n, self.index.read(n)) for n in self.index.grep(prefilter, scan.pos))
                if prefilter is not None else self.index.iter_from(scan.pos)
            )
            for n, raw in candidates:
                rec = self.record(n, raw)
                scan.pos = n + 1
                if not match(rec):
                    continue
                scan.matches.append(n)
                f = rec.get("f", -1)
                tally = scan.tallies.setdefault(f, {"f": f, "n": 0, "scored": 0, "correct": 0})
                tally["n"] += 1
                c = rec.get("c")
                if c in (0, 1):
                    tally["scored"] += 1
                    tally["correct"] += c
                if ordered:
                    if scan.keys is None:
                        scan.keys = []
                    scan.keys.append(self._sort_key(query.sort, rec))
                elif deadline is None and len(scan.matches) >= need:
                    deadline = time.monotonic() + _COUNT_BUDGET_S
                if deadline is not None and time.monotonic() > deadline:
                    exhausted = False
                    break
            if exhausted and prefilter is not None:
                scan.pos = max(scan.pos, self.index.count)  # every record in between failed the prefilter
            complete = scan.pos >= self.index.count and self.index.complete
            if ordered:
                chosen = self._sorted(scan, query.sort)[start:need]
            else:
                chosen = list(scan.matches[start:need])
            tallies = [dict(t) for t in scan.tallies.values()] if complete else None
            matched = len(scan.matches)
        recs = [self.record(n, self.index.read(n)) for n in chosen]
        return recs, matched, complete, tallies

    @staticmethod
    def _sorted(scan: _Scan, sort: str) -> list[int]:
        if scan.sorted is None:
            keys = scan.keys or []
            desc = sort in ("doc-desc", "metric-desc", "input-len", "resp-len")
            order = sorted(range(len(keys)), key=lambda k: keys[k], reverse=desc)
            scan.sorted = [scan.matches[k] for k in order]
        return scan.sorted

    # ------------------------------------------------------------------ pairing with another run

    def _pairing(self) -> tuple[dict[str, int], dict[str, int | None]]:
        """``doc\\x01filter`` -> record number and -> 1/0/None, for every record.

        One pass that parses each line but compacts none (cached while the file does not grow).
        """
        with self._lock:
            cached = self._pair
            if cached is not None and cached[0] == self.index.size and self.index.complete:
                return cached[1], cached[2]
        where: dict[str, int] = {}
        corr: dict[str, int | None] = {}
        self.index.extend()
        for n, raw in self.index.iter_from(0):
            sample = self.parse(n, raw)
            if sample is None:
                continue
            if self.metrics is None:
                self.metrics = sample_metrics(sample, self.result_metrics)
            name = self._filter_of(n, sample)
            self._filter_index(name)
            key = f"{sample.get('doc_id')}\u0001{name}"
            if key not in where:
                where[key] = n
                corr[key] = correct_of(sample.get(self.metrics[0])) if self.metrics else None
        with self._lock:
            self._pair = (self.index.size, where, corr)
        return where, corr

    def correctness(self) -> dict[str, int | None]:
        """``doc\\x01filter`` -> 1/0/None (the main metric) of every record."""
        return self._pairing()[1]

    def find(self, key: str) -> dict[str, Any] | None:
        """The record of ``doc\\x01filter``, ``None`` if the file has none."""
        found = self._pairing()[0].get(key)
        return None if found is None else self.record(found, self.index.read(found))

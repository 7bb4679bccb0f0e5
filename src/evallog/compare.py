"""Compare two runs: per task, filter and metric, with paired statistics.

::

    cmp = compare(run_a, run_b, tasks=None, metrics=None, n_resamples=10_000, seed=0, alpha=0.05)
    cmp.rows            # list[ComparisonRow], one per (task, filter, metric) present in both runs
    cmp.flips()         # list[Flip]: samples right in A and wrong in B, or the reverse
    cmp.to_dict()       # JSON-ready
    cmp.render("markdown")

For every task in both runs, every ``metric,filter`` in both runs' results (or,
for runs without a results file, in both runs' samples) gives one row with the
two values and their difference ``B - A``. The test behind the row's interval
and p-value:

* both runs have samples for the task and the metric is a number per sample:
  the samples are matched by ``(doc_id, filter)`` and tested *paired*:
  exact McNemar for 0/1 values, paired bootstrap for other numbers
  (:mod:`evallog.stats`); the row counts matched and unmatched samples and,
  for 0/1 metrics, the samples that flipped;
* otherwise (no samples, groups, per-sample values that are dicts or lists):
  an *unpaired* z-test from the two reported standard errors, labelled so.

Rows are never silently compared across different setups: a task whose
n-shot, version, task hash, sample count or document hashes differ between the
runs gets ``comparable=False`` and the reasons in ``issues``.

Memory stays bounded: each run's samples are streamed once; only compact
per-sample numbers are kept (``array('d')`` per metric, a ``doc_id`` ->
position map per filter, a 64-bit hash of each ``doc_hash``), about 100 bytes
per sample.
"""

from __future__ import annotations

import json
import logging
import os
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evallog.compare_samples import (  # noqa: F401 - re-exported
    _collect_a,
    _collect_b,
    _expected_lines,
    _Matched,
    _mean,
    _sample_metric_names,
    _Side,
)
from evallog.dates import format_time, run_datetime
from evallog.errors import ConfigError
from evallog.readers import Run, load_run
from evallog.stats import TestResult, mcnemar_test, paired_bootstrap, unpaired_z_test

__all__ = ["compare", "Comparison", "ComparisonRow", "Flip", "TaskCheck", "ProgressCallback"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, "int | None"], None]
"""``progress(stage, done, total)``: called while samples are streamed
(``stage`` like ``"gt_mc_arith: run A"``, ``done`` samples read so far,
``total`` the expected count or ``None``)."""



@dataclass
class Flip:
    """A sample whose 0/1 metric changed between the runs."""

    task: str
    filter: str
    metric: str
    doc_id: Any
    direction: str  # "right_to_wrong" (A right, B wrong) or "wrong_to_right"


@dataclass
class TaskCheck:
    """Whether a task can be compared between the runs, and why not."""

    task: str
    comparable: bool
    issues: list[str] = field(default_factory=list)
    n_samples_a: int | None = None  # sample lines read (None: no samples file)
    n_samples_b: int | None = None


@dataclass
class ComparisonRow:
    """One ``(task, filter, metric)`` present in both runs.

    ``value_a``/``value_b`` are the results' aggregated values (the sample
    mean when the run has no results entry); ``diff = value_b - value_a``.
    ``test`` holds the estimate, interval and p-value (see the module doc;
    ``test.estimate`` is the paired mean difference over the matched samples
    when ``paired``). ``n_matched``/``n_only_a``/``n_only_b`` count samples
    matched by ``(doc_id, filter)`` and left without a partner.
    ``right_to_wrong``/``wrong_to_right`` count flips of 0/1 metrics (A right
    and B wrong, and the reverse); their doc ids are in
    ``right_to_wrong_ids``/``wrong_to_right_ids``.
    """

    task: str
    filter: str
    metric: str
    value_a: float | None
    value_b: float | None
    diff: float | None
    stderr_a: float | None
    stderr_b: float | None
    test: TestResult | None
    paired: bool
    n_matched: int = 0
    n_only_a: int = 0
    n_only_b: int = 0
    binary: bool = False
    right_to_wrong: int = 0
    wrong_to_right: int = 0
    right_to_wrong_ids: list[Any] = field(default_factory=list, repr=False)
    wrong_to_right_ids: list[Any] = field(default_factory=list, repr=False)
    higher_is_better: bool | None = None
    comparable: bool = True
    issues: list[str] = field(default_factory=list)
    note: str | None = None

    @property
    def key(self) -> str:
        return f"{self.metric},{self.filter}"

    @property
    def estimate(self) -> float | None:
        return self.test.estimate if self.test else self.diff

    @property
    def ci_low(self) -> float | None:
        return self.test.ci_low if self.test else None

    @property
    def ci_high(self) -> float | None:
        return self.test.ci_high if self.test else None

    @property
    def p_value(self) -> float | None:
        return self.test.p_value if self.test else None

    @property
    def method(self) -> str | None:
        return self.test.method if self.test else None

    def significant(self, alpha: float = 0.05) -> bool:
        p = self.p_value
        return p is not None and p < alpha

    def to_dict(self, *, flip_ids: bool = True) -> dict[str, Any]:
        d = asdict(self)
        d["test"] = self.test.to_dict() if self.test else None
        if not flip_ids:
            d.pop("right_to_wrong_ids")
            d.pop("wrong_to_right_ids")
        return d


def _p_text(p: float | None) -> str | None:
    if p is None:
        return None
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def _run_info(run: Run) -> dict[str, Any]:
    return {
        "model": run.model,
        "model_name": run.model_name,
        "run_id": run.run_id,
        "timestamp": format_time(run_datetime(run)),
        "flavor": run.flavor,
        "path": str(run.path),
    }


@dataclass
class Comparison:
    """The result of :func:`compare`."""

    run_a: Run
    run_b: Run
    rows: list[ComparisonRow]
    checks: dict[str, TaskCheck]
    only_in_a: list[str]
    only_in_b: list[str]
    alpha: float
    n_resamples: int
    seed: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def tasks(self) -> list[str]:
        """The tasks compared, in order."""
        return list(self.checks)

    @property
    def comparable(self) -> bool:
        return all(c.comparable for c in self.checks.values())

    def row(self, task: str, metric: str, filter: str = "none") -> ComparisonRow:
        for r in self.rows:
            if r.task == task and r.metric == metric and r.filter == filter:
                return r
        raise KeyError((task, metric, filter))

    def flips(
        self, task: str | None = None, metric: str | None = None, direction: str | None = None
    ) -> list[Flip]:
        """Samples that flipped, optionally only for one task / metric / direction."""
        out: list[Flip] = []
        for r in self.rows:
            if (task is not None and r.task != task) or (metric is not None and r.metric != metric):
                continue
            if direction in (None, "right_to_wrong"):
                out.extend(Flip(r.task, r.filter, r.metric, d, "right_to_wrong") for d in r.right_to_wrong_ids)
            if direction in (None, "wrong_to_right"):
                out.extend(Flip(r.task, r.filter, r.metric, d, "wrong_to_right") for d in r.wrong_to_right_ids)
        return out

    def to_dict(self, *, flip_ids: bool = True) -> dict[str, Any]:
        return {
            "run_a": _run_info(self.run_a),
            "run_b": _run_info(self.run_b),
            "alpha": self.alpha,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "comparable": self.comparable,
            "tasks": {t: asdict(c) for t, c in self.checks.items()},
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
            "rows": [r.to_dict(flip_ids=flip_ids) for r in self.rows],
            "notes": self.notes,
        }

    # ---- rendering

    TABLE_HEADERS = ["Task", "Filter", "Metric", "A", "B", "Δ (B−A)", "CI", "p", "Test", "Pairs", "A✓B✗",
                     "A✗B✓", "Flag"]

    TABLE_NUMERIC = [False, False, False, True, True, True, False, True, False, True, True, True, False]

    def table_rows(self, *, raw: bool = True) -> list[list[Any]]:
        """Rows of cells under :attr:`TABLE_HEADERS`; with ``raw=False`` p-values are
        pre-formatted so that tiny ones stay readable (``6.2e-25`` rather than ``0.0000``)."""
        out = []
        for r in self.rows:
            arrow = {True: " ↑", False: " ↓"}.get(r.higher_is_better, "")  # type: ignore[arg-type]
            ci = None
            if r.ci_low is not None and r.ci_high is not None:
                ci = f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]"
            method = {
                "mcnemar-exact": "McNemar",
                "paired-bootstrap": "bootstrap",
                "paired-bootstrap-binned": "bootstrap (binned)",
                "unpaired-z": "unpaired z",
            }.get(r.method or "", r.method or "")
            flag = "" if r.comparable else "not comparable"
            if r.comparable and r.significant(self.alpha):
                flag = f"p<{self.alpha:g}"
            out.append([
                r.task, r.filter, r.metric + arrow, r.value_a, r.value_b, r.diff,
                ci, r.p_value if raw else _p_text(r.p_value), method,
                r.n_matched if r.paired else None,
                r.right_to_wrong if r.binary else None,
                r.wrong_to_right if r.binary else None,
                flag,
            ])
        return out

    def render(self, fmt: str = "markdown", *, max_flips: int = 0) -> str:
        """The comparison as text.

        ``"markdown"`` gives a header naming the runs, the table, and notes
        (incomparable tasks, unmatched samples, unpaired rows, and up to
        ``max_flips`` flipped doc ids per row); ``"json"`` the full
        :meth:`to_dict`; ``"latex"``, ``"csv"``, ``"html"`` only the table.
        """
        from evallog.render import render_table

        if fmt == "json":
            return json.dumps(self.to_dict(flip_ids=True), ensure_ascii=False, indent=2, default=str) + "\n"
        level = f"{round(100 * (1 - self.alpha))}% CI"
        headers = [level if h == "CI" else h for h in self.TABLE_HEADERS]
        raw = fmt in ("csv", "json")
        table = render_table(headers, self.table_rows(raw=raw), fmt, numeric=None if raw else self.TABLE_NUMERIC)
        if fmt != "markdown":
            return table
        lines = [
            f"A: {self.run_a.label}  ({self.run_a.flavor}, {self.run_a.path})",
            f"B: {self.run_b.label}  ({self.run_b.flavor}, {self.run_b.path})",
            "",
        ]
        out = "\n".join(lines) + "\n" + table
        notes = list(self._notes(max_flips))
        if notes:
            out += "\n" + "\n".join(notes) + "\n"
        return out

    def _notes(self, max_flips: int) -> Iterable[str]:
        for t, c in self.checks.items():
            if not c.comparable:
                yield f"! {t}: not comparable: {'; '.join(c.issues)}"
        if self.only_in_a:
            yield f"- only in A: {', '.join(self.only_in_a)}"
        if self.only_in_b:
            yield f"- only in B: {', '.join(self.only_in_b)}"
        unpaired = sorted({r.task for r in self.rows if not r.paired})
        if unpaired:
            yield (f"- unpaired z-test from the reported stderrs (no samples to match) for: "
                   f"{', '.join(unpaired)}")
        for r in self.rows:
            if r.paired and (r.n_only_a or r.n_only_b):
                yield (f"- {r.task} [{r.filter}] {r.metric}: {r.n_matched} samples matched, "
                       f"{r.n_only_a} only in A, {r.n_only_b} only in B")
            if r.note:
                yield f"- {r.task} [{r.filter}] {r.metric}: {r.note}"
        for n in self.notes:
            yield f"- {n}"
        if max_flips > 0:
            for r in self.rows:
                for label, ids in (("right→wrong", r.right_to_wrong_ids), ("wrong→right", r.wrong_to_right_ids)):
                    if ids:
                        shown = ", ".join(str(d) for d in ids[:max_flips])
                        more = f", … (+{len(ids) - max_flips})" if len(ids) > max_flips else ""
                        yield f"- {r.task} [{r.filter}] {r.metric} {label}: doc_id {shown}{more}"


# ------------------------------------------------------------------ checks


def _fmt(v: Any) -> str:
    return json.dumps(v) if not isinstance(v, str) else repr(v)


def _check_task(a: Run, b: Run, task: str) -> TaskCheck:
    issues = []
    if a.n_shot(task) != b.n_shot(task) and a.n_shot(task) is not None and b.n_shot(task) is not None:
        issues.append(f"n-shot {_fmt(a.n_shot(task))} vs {_fmt(b.n_shot(task))}")
    va, vb = a.version(task), b.version(task)
    if va is not None and vb is not None and str(va) != str(vb):
        try:
            differ = float(va) != float(vb)
        except (TypeError, ValueError):
            differ = True
        if differ:
            issues.append(f"task version {_fmt(va)} vs {_fmt(vb)}")
    ha, hb = a.task_hash(task), b.task_hash(task)
    if a.flavor == b.flavor and ha and hb and ha != hb:
        issues.append("task hash differs (different documents, prompts or targets)")
    ra, rb = a.reported_samples(task), b.reported_samples(task)
    if ra is not None and rb is not None and ra != rb:
        issues.append(f"sample count {ra} vs {rb}")
    return TaskCheck(task, not issues, issues)


# ------------------------------------------------------------------ compare


def _as_run(run: Run | str | os.PathLike[str]) -> Run:
    return run if isinstance(run, Run) else load_run(run)


def _wanted_metric(metric: str, filt: str, metrics: Sequence[str] | None) -> bool:
    if not metrics:
        return True
    return metric in metrics or f"{metric},{filt}" in metrics


def compare(
    run_a: Run | str | os.PathLike[str],
    run_b: Run | str | os.PathLike[str],
    *,
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    seed: int | None = 0,
    alpha: float = 0.05,
    skip_corrupt: bool = False,
    progress: ProgressCallback | None = None,
) -> Comparison:
    """Compare run B against run A (differences are ``B - A``).

    ``run_a``/``run_b`` are :class:`~evallog.readers.Run` objects or paths
    accepted by :func:`~evallog.readers.load_run`. ``tasks`` limits the tasks
    (default: every task in both runs), ``metrics`` the metrics (names like
    ``"acc"`` or keys like ``"acc,none"``). ``n_resamples`` and ``seed`` drive
    the paired bootstrap, ``alpha`` the confidence level ``1 - alpha`` of the
    intervals. Corrupt sample lines raise unless ``skip_corrupt``.
    ``progress`` is called while samples are read (see
    :data:`ProgressCallback`); library code never prints.
    """
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha!r}")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be at least 1, got {n_resamples!r}")
    a, b = _as_run(run_a), _as_run(run_b)
    tasks_a, tasks_b = list(a.tasks), list(b.tasks)
    set_b = set(tasks_b)
    if tasks:
        unknown = [t for t in tasks if t not in tasks_a and t not in set_b]
        if unknown:
            raise ConfigError(f"task(s) in neither run: {', '.join(unknown)}")
        wanted = list(dict.fromkeys(tasks))
        common = [t for t in wanted if t in tasks_a and t in set_b]
        only_a = [t for t in wanted if t in tasks_a and t not in set_b]
        only_b = [t for t in wanted if t in set_b and t not in tasks_a]
    else:
        common = [t for t in tasks_a if t in set_b]
        only_a = [t for t in tasks_a if t not in set_b]
        only_b = [t for t in tasks_b if t not in set(tasks_a)]

    rows: list[ComparisonRow] = []
    checks: dict[str, TaskCheck] = {}
    notes: list[str] = []
    for task in common:
        check = _check_task(a, b, task)
        checks[task] = check
        rows.extend(
            _compare_task(a, b, task, check, metrics, n_resamples, seed, alpha, skip_corrupt, progress, notes)
        )
    if metrics and not rows:
        raise ConfigError(f"metric(s) {', '.join(metrics)} found in no task of both runs")
    return Comparison(a, b, rows, checks, only_a, only_b, alpha, n_resamples, seed, notes)


def _check_pairing(task: str, check: TaskCheck, side_a: _Side, side_b: _Matched, notes: list[str]) -> None:
    """Record in ``check`` (and ``notes``) what makes the paired samples of a task doubtful."""
    check.n_samples_a, check.n_samples_b = side_a.count, side_b.count
    if side_a.count != side_b.count:
        issue = f"sample lines {side_a.count} vs {side_b.count}"
        if issue not in check.issues and not any(i.startswith("sample count") for i in check.issues):
            check.issues.append(issue)
    if side_a.duplicates or side_b.duplicates:
        check.issues.append(
            f"repeated (doc_id, filter) lines: {side_a.duplicates} in A, {side_b.duplicates} in B "
            "(the first of each is used)"
        )
    if side_a.no_doc_id or side_b.no_doc_id:
        notes.append(f"{task}: samples without doc_id cannot be paired: {side_a.no_doc_id} in A, "
                     f"{side_b.no_doc_id} in B")
    if side_b.hash_mismatch:
        check.issues.append(f"{side_b.hash_mismatch} matched samples have a different doc_hash")
    check.comparable = not check.issues


def _compare_task(
    a: Run,
    b: Run,
    task: str,
    check: TaskCheck,
    metrics: Sequence[str] | None,
    n_resamples: int,
    seed: int | None,
    alpha: float,
    skip_corrupt: bool,
    progress: ProgressCallback | None,
    notes: list[str],
) -> list[ComparisonRow]:
    pairs_a, pairs_b = a.metrics(task), b.metrics(task)
    set_pb = set(pairs_b)
    result_pairs = [p for p in pairs_a if p in set_pb]

    side_a: _Side | None = None
    side_b: _Matched | None = None
    if a.has_samples(task) and b.has_samples(task):
        names = list(dict.fromkeys(_sample_metric_names(a, task) + _sample_metric_names(b, task)))
        if metrics:
            names = [m for m in names if m in metrics or any(k.startswith(m + ",") for k in metrics)]
        total_a = _expected_lines(a, task)
        total_b = _expected_lines(b, task)

        def tick(stage: str, total: int | None) -> Callable[[int], None]:
            if progress is None:
                return lambda done: None
            return lambda done: progress(stage, done, total)

        side_a = _collect_a(a.samples(task, skip_corrupt=skip_corrupt), names, tick(f"{task}: run A", total_a))
        side_b = _collect_b(b.samples(task, skip_corrupt=skip_corrupt), side_a, names,
                            tick(f"{task}: run B", total_b))
        _check_pairing(task, check, side_a, side_b, notes)
        sample_pairs = [vk for vk in side_a.values if vk in side_b.values]
    else:
        sample_pairs = []

    # rows: results pairs first (A's order), then pairs only the samples show
    order: list[tuple[str, str]] = [(m, f) for m, f in result_pairs]
    for f, m in sample_pairs:
        if (m, f) not in order and not result_pairs:
            order.append((m, f))
    rows = []
    for m, f in order:
        if not _wanted_metric(m, f, metrics):
            continue
        rows.append(_make_row(a, b, task, m, f, check, side_a, side_b, n_resamples, seed, alpha))
    return rows


def _make_row(
    a: Run,
    b: Run,
    task: str,
    metric: str,
    filt: str,
    check: TaskCheck,
    side_a: _Side | None,
    side_b: _Matched | None,
    n_resamples: int,
    seed: int | None,
    alpha: float,
) -> ComparisonRow:
    va, vb = a.value(task, metric, filt), b.value(task, metric, filt)
    sa, sb = a.stderr(task, metric, filt), b.stderr(task, metric, filt)
    hib = a.higher_is_better(task, metric)
    if hib is None:
        hib = b.higher_is_better(task, metric)
    row = ComparisonRow(task, filt, metric, va, vb, None, sa, sb, None, False, higher_is_better=hib,
                        comparable=check.comparable, issues=list(check.issues))
    vk = (filt, metric)
    arr_a = side_a.values.get(vk) if side_a else None
    arr_b = side_b.values.get(vk) if side_b else None
    nonnum = (side_a.nonnumeric.get(vk, 0) if side_a else 0) + (side_b.nonnumeric.get(vk, 0) if side_b else 0)
    if side_a is not None and side_b is not None and arr_a is not None and arr_b is not None and not nonnum:
        flags = side_b.matched.get(filt, bytearray())
        n_a_filter = len(side_a.doc_ids.get(filt, ()))
        if row.value_a is None:
            row.value_a = _mean(arr_a)
        if row.value_b is None:
            row.value_b = _mean(x for x, ok in zip(arr_b, flags) if ok)
        _paired(row, arr_a, arr_b, flags, side_a.doc_ids.get(filt, []), n_resamples, seed, alpha)
        row.n_only_a = n_a_filter - sum(flags)
        row.n_only_b = side_b.only_b.get(filt, 0)
    else:
        if nonnum:
            row.note = "per-sample values are not numbers (e.g. dicts): not paired"
        if va is not None and vb is not None:
            row.test = unpaired_z_test(va, sa, vb, sb, alpha=alpha)
    if row.value_a is not None and row.value_b is not None:
        row.diff = row.value_b - row.value_a
    if row.paired and row.test is not None and row.test.estimate is not None and row.diff is not None:
        if abs(row.test.estimate - row.diff) > 1e-9 * max(1.0, abs(row.diff)):
            extra = f"paired estimate {row.test.estimate:+.4f} over the {row.n_matched} matched samples"
            row.note = f"{row.note}; {extra}" if row.note else extra
    return row


def _paired(
    row: ComparisonRow,
    arr_a: array[float],
    arr_b: array[float],
    flags: bytearray,
    doc_ids: list[Any],
    n_resamples: int,
    seed: int | None,
    alpha: float,
) -> None:
    diffs = array("d")
    binary = True
    r2w: list[Any] = []
    w2r: list[Any] = []
    missing = 0
    for i, ok in enumerate(flags):
        if not ok:
            continue
        x, y = arr_a[i], arr_b[i]
        if x != x or y != y:  # NaN: the metric is missing on one side
            missing += 1
            continue
        diffs.append(y - x)
        if binary:
            if (x == 0.0 or x == 1.0) and (y == 0.0 or y == 1.0):
                if x != y:
                    (r2w if x == 1.0 else w2r).append(doc_ids[i])
            else:
                binary = False
    n = len(diffs)
    row.paired = True
    row.n_matched = n
    if missing:
        row.note = f"{missing} matched samples lack the metric on one side"
    if n == 0:
        row.test = TestResult(None, None, None, None, "paired", 0)
        return
    if binary:
        row.binary = True
        row.right_to_wrong, row.wrong_to_right = len(r2w), len(w2r)
        row.right_to_wrong_ids, row.wrong_to_right_ids = r2w, w2r
        row.test = mcnemar_test(len(r2w), len(w2r), n, n_resamples=n_resamples, seed=seed, alpha=alpha)
    else:
        row.test = paired_bootstrap(diffs, n_resamples=n_resamples, seed=seed, alpha=alpha)

"""A regression gate for CI: a baseline run against one or more candidates, corrected for many tests.

::

    report = gate("runs/main", ["runs/pr-123"], alpha=0.05, correction="holm", min_effect=0.0)
    report.failed          # some task/metric regressed significantly after correction
    report.regressions     # the rows that did
    report.to_dict()       # JSON for CI; report.render("markdown") for people

Each candidate is compared with the baseline by :func:`evallog.compare.compare`
(exact McNemar for 0/1 metrics, paired bootstrap for other per-sample numbers,
an unpaired z-test from the reported stderrs where samples cannot be paired).
Every row with a p-value, over all candidates, forms one family; the p-values
are adjusted with Holm (family-wise error rate, valid under any dependence),
Benjamini-Hochberg (false discovery rate) or not at all
(:func:`evallog.stats.adjust_p_values`). A row *regresses* when its adjusted
p-value is at most ``alpha``, the candidate is worse in the metric's
direction (``higher_is_better`` from the results, higher assumed when
unknown) and the difference is at least ``min_effect`` in absolute value.
Rows of tasks that are not comparable (different n-shot, version, documents)
are reported but never tested.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from evallog.compare import ComparisonRow, ProgressCallback, compare
from evallog.errors import ConfigError
from evallog.readers import Run, load_run
from evallog.stats import CORRECTIONS, adjust_p_values

__all__ = ["GateReport", "GateRow", "decide", "gate"]


@dataclass
class GateRow:
    """One task/filter/metric of one candidate against the baseline (``estimate`` = candidate - baseline)."""

    candidate: str
    task: str
    filter: str
    metric: str
    baseline_value: float | None
    candidate_value: float | None
    estimate: float | None
    p_value: float | None
    p_adjusted: float | None
    method: str | None
    higher_is_better: bool | None
    worse: bool
    regression: bool
    tested: bool
    reason: str | None = None

    @property
    def key(self) -> str:
        return f"{self.metric},{self.filter}"


@dataclass
class GateReport:
    """The outcome of :func:`gate`."""

    baseline: str
    candidates: list[str]
    alpha: float
    correction: str
    min_effect: float
    rows: list[GateRow] = field(default_factory=list)

    @property
    def regressions(self) -> list[GateRow]:
        return [r for r in self.rows if r.regression]

    @property
    def failed(self) -> bool:
        return bool(self.regressions)

    @property
    def n_tests(self) -> int:
        return sum(1 for r in self.rows if r.tested)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "candidates": self.candidates,
            "alpha": self.alpha,
            "correction": self.correction,
            "min_effect": self.min_effect,
            "n_tests": self.n_tests,
            "failed": self.failed,
            "regressions": [asdict(r) for r in self.regressions],
            "rows": [asdict(r) for r in self.rows],
        }

    HEADERS: ClassVar[list[str]] = ["Candidate", "Task", "Metric", "Baseline", "Candidate value", "Δ", "p", "p adj.", "Test", "Verdict"]

    def render(self, fmt: str = "markdown") -> str:
        from evallog.render import render_table

        if fmt == "json":
            return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n"
        rows = [[r.candidate, r.task, r.key, r.baseline_value, r.candidate_value, r.estimate, r.p_value,
                 r.p_adjusted, r.method or "", _verdict(r)] for r in self.rows]
        table = render_table(self.HEADERS, rows, fmt)
        if fmt != "markdown":
            return table
        n_reg = len(self.regressions)
        verdict = (f"FAIL: {n_reg} significant regression(s)" if n_reg else "PASS: no significant regression")
        head = (f"baseline: {self.baseline}\n{self.n_tests} tests, {self.correction} correction, "
                f"alpha {self.alpha:g}, min effect {self.min_effect:g}\n\n")
        return head + table + f"\n{verdict}\n"


def _verdict(row: GateRow) -> str:
    if not row.tested:
        return f"not tested ({row.reason})"
    if row.regression:
        return "REGRESSION"
    if row.worse:
        return "worse, not significant" if row.p_adjusted is not None else "worse"
    return "ok"


def _as_run(run: Run | str | os.PathLike[str]) -> Run:
    return run if isinstance(run, Run) else load_run(run)


def _row(label: str, r: ComparisonRow) -> GateRow:
    est = r.estimate
    hib = r.higher_is_better
    worse = est is not None and (est < 0 if hib is not False else est > 0)
    reason = None
    if not r.comparable:
        reason = "not comparable: " + "; ".join(r.issues)
    elif r.p_value is None:
        reason = "no test: " + (r.note or "no samples or stderrs")
    return GateRow(label, r.task, r.filter, r.metric, r.value_a, r.value_b, est, r.p_value, None,
                   r.method, hib, worse, False, reason is None, reason)


def gate(
    baseline: Run | str | os.PathLike[str],
    candidates: Sequence[Run | str | os.PathLike[str]],
    *,
    alpha: float = 0.05,
    correction: str = "holm",
    min_effect: float = 0.0,
    tasks: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    seed: int | None = 0,
    skip_corrupt: bool = False,
    progress: ProgressCallback | None = None,
) -> GateReport:
    """Compare ``baseline`` with each candidate and decide which rows regress (see the module doc)."""
    if correction not in CORRECTIONS:
        raise ConfigError(f"unknown correction {correction!r}; choose one of {', '.join(CORRECTIONS)}")
    if min_effect < 0:
        raise ConfigError(f"min_effect must be >= 0, got {min_effect!r}")
    if not candidates:
        raise ConfigError("give at least one candidate run")
    base = _as_run(baseline)
    runs = [_as_run(c) for c in candidates]
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):  # the same model/run id in two folders
        labels = [str(r.path) for r in runs]
    report = GateReport(base.label, labels, alpha, correction, min_effect)
    for label, run in zip(labels, runs, strict=True):
        cmp = compare(base, run, tasks=tasks, metrics=metrics, n_resamples=n_resamples, seed=seed,
                      alpha=alpha, skip_corrupt=skip_corrupt, progress=progress)
        report.rows.extend(_row(label, r) for r in cmp.rows)
    decide(report.rows, alpha=alpha, correction=correction, min_effect=min_effect)
    return report


def decide(rows: Sequence[GateRow], *, alpha: float = 0.05, correction: str = "holm",
           min_effect: float = 0.0) -> None:
    """Adjust the p-values of the tested rows as one family and mark the regressions (in place)."""
    tested = [r for r in rows if r.tested and r.p_value is not None]
    adjusted = adjust_p_values([r.p_value for r in tested if r.p_value is not None], correction)
    for row, p_adj in zip(tested, adjusted, strict=True):
        row.p_adjusted = p_adj
        big_enough = row.estimate is not None and abs(row.estimate) >= min_effect
        row.regression = row.worse and p_adj <= alpha and big_enough

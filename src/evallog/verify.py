"""Recompute a run's aggregates from its samples and say whether the results file agrees.

::

    v = verify("out/org__model")       # a Run, or anything load_run accepts
    v.ok                                # no mismatch (values that cannot be recomputed do not count)
    v.counts()                          # {"match": 12, "mismatch": 0, "cannot": 3}
    v.checks                            # list[Check], one per reported number
    v.render()  /  v.to_dict()

Every number of a per-task results entry is checked: the aggregate of each
``metric,filter``, its ``_stderr`` and, for lmms-eval, ``_stderr_clt`` and
``_stderr_clustered``, and lm-eval's ``sample_len``. The arithmetic is the
harness's own (:mod:`evallog.aggregations`); which harness computed the file
is read from its ``lm_eval_version`` / ``lmms_eval_version`` key.

Groups are recomputed from their leaf tasks' values as recomputed from the
samples (the reported value where a leaf cannot be recomputed, so a wrong leaf
shows as one mismatch, not also as its groups'), with and without ``weight_by_size``
(the group's configuration is not saved, so both are tried; the check says
which one matched), in both the ``results`` and the ``groups`` sections.

A value that cannot be recomputed is reported with the reason (no samples
file, a custom aggregation function, per-sample values that are not numbers,
a bootstrap above the budget, ...); it never fails the verification.
"""

from __future__ import annotations

import math
import os
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from evallog import aggregations as agg
from evallog.readers import Run, load_run
from evallog.schema import extra_column_keys, metric_keys

__all__ = ["DEFAULT_BOOTSTRAP_BUDGET", "DEFAULT_TOLERANCE", "Check", "Verification", "verify"]

DEFAULT_TOLERANCE = 1e-9
# largest n * bootstrap_iters replayed for a bootstrapped stderr
DEFAULT_BOOTSTRAP_BUDGET = 5_000_000

MATCH, MISMATCH, CANNOT = "match", "mismatch", "cannot"
_NA = "N/A"


@dataclass(frozen=True)
class Check:
    """One reported number and what the samples say it should be.

    ``statistic`` is ``value``, ``stderr``, ``stderr_clt``, ``stderr_clustered``,
    ``sample_len`` or ``sample_count``; ``status`` is ``match``, ``mismatch`` or
    ``cannot``; ``how`` names the method (or, for ``cannot``, the reason).
    """

    task: str
    metric: str
    filter: str
    statistic: str
    reported: Any
    recomputed: Any
    status: str
    how: str
    section: str = "results"
    group: bool = False

    @property
    def key(self) -> str:
        """The results key checked, e.g. ``acc_stderr,none``."""
        if self.statistic in ("sample_len",):
            return "sample_len"
        if self.statistic == "sample_count":
            return f"sample_count[{self.metric},{self.filter}]"
        suffix = "" if self.statistic == "value" else f"_{self.statistic}"
        return f"{self.metric}{suffix},{self.filter}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["key"] = self.key
        for k in ("reported", "recomputed"):
            if isinstance(d[k], float) and not math.isfinite(d[k]):
                d[k] = str(d[k])
        return d


@dataclass
class Verification:
    """The checks of one run (see the module docstring)."""

    run: str
    harness: str
    tolerance: float
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.status == MISMATCH for c in self.checks)

    def counts(self) -> dict[str, int]:
        out = {MATCH: 0, MISMATCH: 0, CANNOT: 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    @property
    def mismatches(self) -> list[Check]:
        return [c for c in self.checks if c.status == MISMATCH]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "harness": self.harness,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "counts": self.counts(),
            "checks": [c.to_dict() for c in self.checks],
        }

    def render(self) -> str:
        rows = [("task", "key", "reported", "recomputed", "status", "how")]
        for c in self.checks:
            task = c.task if c.section == "results" else f"{c.task} [groups]"
            rows.append((task, c.key, _fmt(c.reported), _fmt(c.recomputed), c.status, c.how))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(r[i].ljust(widths[i]) for i in range(5)) + "  " + r[5] for r in rows]
        n = self.counts()
        verdict = "OK" if self.ok else "MISMATCH"
        lines.append(
            f"{verdict}: {self.run} ({self.harness}): {n[MATCH]} match, {n[MISMATCH]} mismatch, "
            f"{n[CANNOT]} cannot be recomputed (tolerance {self.tolerance:g})"
        )
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


# ------------------------------------------------------------------ compare


def _same(reported: Any, recomputed: Any, tol: float) -> bool:
    if isinstance(reported, str) or isinstance(recomputed, str):
        return bool(reported == recomputed)
    a, b = float(reported), float(recomputed)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return bool(abs(a - b) <= tol * max(1.0, abs(a), abs(b)))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float))


class _Ctx:
    """What the checks of one run share."""

    def __init__(self, run: Run, tol: float, budget: int, skip_corrupt: bool) -> None:
        self.run = run
        self.tol = tol
        self.budget = budget
        self.skip_corrupt = skip_corrupt
        self.harness = _harness(run)
        iters = (run.results.get("config") or {}).get("bootstrap_iters", 100000)
        self.bootstrap_iters = int(iters) if _is_number(iters) else 100000
        self.counts: dict[tuple[str, str, str], int] = {}
        # (task, results key) -> value recomputed from the samples (groups aggregate these)
        self.recomputed: dict[tuple[str, str], float] = {}

    def check(self, task: str, metric: str, filt: str, statistic: str, reported: Any,
              recomputed: Any, how: str, **kw: Any) -> Check:
        if reported is None:
            return Check(task, metric, filt, statistic, reported, recomputed, CANNOT, "reported value is null", **kw)
        status = MATCH if _same(reported, recomputed, self.tol) else MISMATCH
        if _is_number(recomputed) and not kw.get("group") and statistic in ("value", "stderr"):
            self.recomputed[(task, _stat_key(metric, statistic, filt))] = float(recomputed)
        return Check(task, metric, filt, statistic, reported, recomputed, status, how, **kw)


def _harness(run: Run) -> str:
    return agg.computed_by(run.results, run.flavor)


def _stat_key(metric: str, statistic: str, filt: str) -> str:
    return f"{metric}{'' if statistic == 'value' else '_' + statistic},{filt}"


# --------------------------------------------------------------- leaf tasks


def _aggregation(ctx: _Ctx, task: str, metric: str) -> tuple[str | None, str]:
    """(aggregation name, "") or (None, why it is unknown)."""
    config = (ctx.run.results.get("configs") or {}).get(task) or {}
    for m in config.get("metric_list") or []:
        if isinstance(m, dict) and m.get("metric") == metric and "aggregation" in m:
            name = m["aggregation"]
            if isinstance(name, str) and name in agg.REGISTERED[ctx.harness]:
                return name, ""
            return None, "custom aggregation function of the task"
    name = agg.METRIC_AGGREGATION[ctx.harness].get(metric)
    if name is not None:
        return name, ""
    if ctx.harness == "lm-eval":
        return "mean", ""  # lm-eval falls back to mean for metrics without an aggregation
    return None, f"no aggregation registered for {metric!r}"


def _shape_ok(items: Sequence[Any], shape: str) -> bool:
    if shape == "number":
        return all(_is_number(x) for x in items)
    if shape == "pair":
        return all(isinstance(x, list) and len(x) == 2 for x in items)
    return True


def _collect(ctx: _Ctx, task: str, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    by_filter: dict[str, list[str]] = {}
    for metric, filt in pairs:
        by_filter.setdefault(filt, []).append(metric)
    values: dict[tuple[str, str], list[Any]] = {p: [] for p in pairs}
    for rec in ctx.run.samples(task, skip_corrupt=ctx.skip_corrupt):
        filt = rec.get("filter", "none")
        for metric in by_filter.get(filt, ()):
            if metric in rec:
                values[(metric, filt)].append(rec[metric])
    return values


def _verify_leaf(ctx: _Ctx, task: str, entry: dict[str, Any]) -> list[Check]:
    plain = metric_keys(entry)  # metrics of their own (schema.py)
    out: list[Check] = []
    for m, f in extra_column_keys(entry):
        out.append(Check(task, m, f, "value", entry.get(f"{m},{f}"), None, CANNOT,
                         "stability statistic over repeats: not recomputed by evallog"))
    if not ctx.run.has_samples(task):
        for m, f in plain:
            out.extend(_cannot_all(ctx, task, m, f, entry, "no samples file for this task"))
        return out
    values = _collect(ctx, task, plain)
    for m, f in plain:
        out.extend(_verify_metric(ctx, task, m, f, entry, values[(m, f)]))
    if isinstance(entry.get("sample_len"), int) and plain:
        counted = max(len(values[p]) for p in plain)
        out.append(ctx.check(task, "", "", "sample_len", entry["sample_len"], counted,
                             "most per-sample values of any metric"))
    return out


def _reported_stats(entry: dict[str, Any], metric: str, filt: str) -> list[str]:
    return [s for s in ("value", "stderr", "stderr_clt", "stderr_clustered")
            if _stat_key(metric, s, filt) in entry]


def _cannot_all(ctx: _Ctx, task: str, metric: str, filt: str, entry: dict[str, Any], why: str) -> list[Check]:
    return [Check(task, metric, filt, s, entry.get(_stat_key(metric, s, filt)), None, CANNOT, why)
            for s in _reported_stats(entry, metric, filt)]


def _verify_metric(ctx: _Ctx, task: str, metric: str, filt: str, entry: dict[str, Any],
                   items: list[Any]) -> list[Check]:
    ctx.counts[(task, metric, filt)] = len(items)
    if not items:
        return _cannot_all(ctx, task, metric, filt, entry, "no per-sample values of this metric in the samples")
    name, why = _aggregation(ctx, task, metric)
    out: list[Check] = []
    if name is None or name not in agg.AGGREGATIONS:
        reason = why or f"{name} aggregation is not re-implemented by evallog (needs the harness's scorer)"
        recomputable = False
    elif name in agg.NEEDS_SACREBLEU and not agg.sacrebleu_available():
        reason = f"{name} needs sacrebleu (pip install 'evallog[verify]')"
        recomputable = False
    else:
        fn, shape = agg.AGGREGATIONS[name]
        recomputable = _shape_ok(items, shape)
        reason = "per-sample values are not in the form the aggregation takes (computed by task code)"
    for stat in _reported_stats(entry, metric, filt):
        reported = entry[_stat_key(metric, stat, filt)]
        if stat in ("stderr_clt", "stderr_clustered"):
            out.append(_lmms_stat(ctx, task, metric, filt, stat, reported, items))
        elif not recomputable or name is None:
            out.append(Check(task, metric, filt, stat, reported, None, CANNOT, reason))
        elif stat == "value":
            out.append(ctx.check(task, metric, filt, stat, reported, fn(items), f"{name} of {len(items)} samples"))
        else:
            out.append(_stderr_check(ctx, task, metric, filt, reported, name, items))
    return out


def _stderr_check(ctx: _Ctx, task: str, metric: str, filt: str, reported: Any, name: str,
                  items: list[Any]) -> Check:
    n = len(items)
    if ctx.bootstrap_iters <= 0:
        return ctx.check(task, metric, filt, "stderr", reported, _NA, "bootstrap_iters <= 0: no stderr")
    if name == "mean":
        if n <= 1:
            return ctx.check(task, metric, filt, "stderr", reported, _NA, "one sample: no stderr")
        return ctx.check(task, metric, filt, "stderr", reported, agg.mean_stderr(items), "sample_stddev / sqrt(n)")
    if name not in agg.BOOTSTRAPPABLE[ctx.harness] or n <= 1:
        return ctx.check(task, metric, filt, "stderr", reported, _NA, f"{ctx.harness} has no stderr for {name}")
    iters = agg.bootstrap_iters_for(metric, ctx.bootstrap_iters)
    if n * iters > ctx.budget:
        return Check(task, metric, filt, "stderr", reported, None, CANNOT,
                     f"bootstrap of {iters} x {n} draws exceeds the budget ({ctx.budget}; raise it to replay it)")
    fn = agg.AGGREGATIONS[name][0]
    return ctx.check(task, metric, filt, "stderr", reported, agg.bootstrap_stderr(fn, items, iters),
                     f"seeded bootstrap, {iters} resamples (replayed)")


def _lmms_stat(ctx: _Ctx, task: str, metric: str, filt: str, stat: str, reported: Any,
               items: list[Any]) -> Check:
    config = (ctx.run.results.get("configs") or {}).get(task) or {}
    score_key = config.get("score_key", "score")
    cluster_key = config.get("cluster_key")
    scores: list[float] = []
    clusters: list[Any] = []
    for x in items:
        if _is_number(x):
            scores.append(x)
            clusters.append(None)
        elif isinstance(x, dict) and score_key in x and _is_number(x[score_key]):
            scores.append(x[score_key])
            clusters.append(x.get(cluster_key) if cluster_key else None)
    n = len(scores)
    if stat == "stderr_clt":
        value: Any = agg.clt_stderr(scores) if n > 1 else _NA
        return ctx.check(task, metric, filt, stat, reported, value, f"std(ddof=1) / sqrt(n), n={n}")
    valid = [c for c in clusters if c is not None]
    if valid and len(set(map(repr, valid))) > 1 and n > 1:
        return ctx.check(task, metric, filt, stat, reported, agg.clustered_stderr(scores, clusters),
                         f"clustered by {cluster_key!r}, {len(set(map(repr, valid)))} clusters")
    return ctx.check(task, metric, filt, stat, reported, _NA, "no cluster ids in the samples: N/A")


# ------------------------------------------------------------------- groups


def _leaves(run: Run, group: str, seen: frozenset[str] = frozenset()) -> list[str]:
    out: list[str] = []
    children = run.group_subtasks
    for child in children.get(group, []):
        if child in children and child not in seen:
            out.extend(_leaves(run, child, seen | {group}))
        elif child not in out:
            out.append(child)
    return out


def _size(ctx: _Ctx, leaf: str, metric: str, filt: str) -> int:
    entry = ctx.run.task_results.get(leaf) or {}
    if ctx.harness == "lm-eval":
        size = entry.get("sample_len", 0)
        return int(size) if _is_number(size) else 0
    counted = ctx.counts.get((leaf, metric, filt))
    if counted:
        return counted
    return ctx.run.reported_samples(leaf) or 0


def _verify_group(ctx: _Ctx, group: str, entry: dict[str, Any], section: str) -> list[Check]:
    leaves = _leaves(ctx.run, group)
    kw: dict[str, Any] = {"section": section, "group": True}
    out: list[Check] = []
    for metric, filt in metric_keys(entry):
        key, se_key = f"{metric},{filt}", f"{metric}_stderr,{filt}"
        vals, sizes, ses = [], [], []
        for leaf in leaves:
            le = ctx.run.task_results.get(leaf) or {}
            if key in le and _is_number(le[key]):
                vals.append(ctx.recomputed.get((leaf, key), float(le[key])))
                sizes.append(_size(ctx, leaf, metric, filt))
                if le.get(se_key) is not None:
                    ses.append(ctx.recomputed.get((leaf, se_key), le[se_key]))
        if not vals or sum(sizes) == 0:
            out.extend(Check(group, metric, filt, s, entry.get(_stat_key(metric, s, filt)), None, CANNOT,
                             "no subtask reports this metric with a size", **kw)
                       for s in _reported_stats(entry, metric, filt))
            continue
        weighted = _group_value(ctx, group, metric, filt, entry.get(key), vals, sizes, kw)
        out.append(weighted[0])
        if se_key in entry:
            out.append(_group_stderr(ctx, group, metric, filt, entry[se_key], ses, vals, sizes, weighted[1], kw))
        counts = entry.get("sample_count")
        if isinstance(counts, dict) and key in counts:
            out.append(ctx.check(group, metric, filt, "sample_count", counts[key], sum(sizes),
                                 "sum of the subtasks' sizes", **kw))
    if ctx.harness == "lm-eval" and isinstance(entry.get("sample_len"), int):
        total = sum(int((ctx.run.task_results.get(t) or {}).get("sample_len", 0)) for t in leaves)
        out.append(ctx.check(group, "", "", "sample_len", entry["sample_len"], total,
                             "sum of the subtasks' sample_len", **kw))
    return out


def _group_value(ctx: _Ctx, group: str, metric: str, filt: str, reported: Any, vals: list[float],
                 sizes: list[int], kw: dict[str, Any]) -> tuple[Check, list[bool]]:
    """The value check and the weightings (weight_by_size true/false) that reproduce it."""
    w = agg.aggregate_subtask_metrics(vals, sizes, True)
    u = agg.aggregate_subtask_metrics(vals, sizes, False)
    fits = [flag for flag, v in ((True, w), (False, u)) if reported is not None and _same(reported, v, ctx.tol)]
    n = len(vals)
    if fits == [False]:
        return ctx.check(group, metric, filt, "value", reported, u, f"unweighted mean of {n} subtasks", **kw), fits
    how = f"size-weighted mean of {n} subtasks" + ("" if fits else f" (unweighted: {u:.10g})")
    return ctx.check(group, metric, filt, "value", reported, w, how, **kw), fits or [True]


def _group_stderr(ctx: _Ctx, group: str, metric: str, filt: str, reported: Any, ses: list[Any],
                  vals: list[float], sizes: list[int], fits: list[bool], kw: dict[str, Any]) -> Check:
    if len(ses) != len(vals) or any(not _is_number(s) for s in ses):
        return ctx.check(group, metric, filt, "stderr", reported, _NA, "a subtask has no stderr: N/A", **kw)
    first: Check | None = None
    for weight in fits:
        value = agg.group_stderr(ctx.harness, [float(s) for s in ses], sizes, weight)
        how = ("pooled stderr" if ctx.harness == "lmms-eval" or weight else "unweighted-mean stderr") + \
            f" of {len(ses)} subtasks"
        c = ctx.check(group, metric, filt, "stderr", reported, value, how, **kw)
        if c.status == MATCH:
            return c
        first = first or c
    assert first is not None
    return first


# --------------------------------------------------------------------- API


def verify(
    run: Run | str | os.PathLike[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    tasks: Iterable[str] | None = None,
    bootstrap_budget: int = DEFAULT_BOOTSTRAP_BUDGET,
    skip_corrupt: bool = False,
) -> Verification:
    """Recompute every aggregate of ``run``'s results file from its samples.

    ``tolerance`` is relative (absolute below 1): ``|a - b| <= tol * max(1, |a|, |b|)``.
    ``tasks`` limits the checks to those tasks and groups. A bootstrapped
    stderr is replayed with the harness's seeds when ``n * iters`` is at most
    ``bootstrap_budget``.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    ctx = _Ctx(run, tolerance, bootstrap_budget, skip_corrupt)
    result = Verification(run=run.label, harness=ctx.harness, tolerance=tolerance)
    wanted = set(tasks) if tasks is not None else None
    groups = set(run.group_subtasks)
    for task, entry in run.task_results.items():
        if isinstance(entry, dict) and task not in groups and (wanted is None or task in wanted):
            result.checks.extend(_verify_leaf(ctx, task, entry))
    sections = [("results", run.task_results), ("groups", run.results.get("groups") or {})]
    for section, entries in sections:
        for group, entry in entries.items():
            if group in groups and isinstance(entry, dict) and (wanted is None or group in wanted):
                result.checks.extend(_verify_group(ctx, group, entry, section))
    return result


class _CallableModule(types.ModuleType):
    """``evallog.verify(...)`` keeps working after ``import evallog.verify`` has bound the module there."""

    def __call__(
        self,
        run: Run | str | os.PathLike[str],
        *,
        tolerance: float = DEFAULT_TOLERANCE,
        tasks: Iterable[str] | None = None,
        bootstrap_budget: int = DEFAULT_BOOTSTRAP_BUDGET,
        skip_corrupt: bool = False,
    ) -> Verification:
        return verify(run, tolerance=tolerance, tasks=tasks, bootstrap_budget=bootstrap_budget,
                      skip_corrupt=skip_corrupt)


sys.modules[__name__].__class__ = _CallableModule

"""The aggregations and standard errors of lm-eval 0.4.13 and lmms-eval 0.7.3, in pure Python.

Re-implemented from ``lm_eval/api/metrics.py``, ``lm_eval/api/group.py``,
``lmms_eval/api/metrics.py`` and ``lmms_eval/evaluator_utils.py`` so that
:mod:`evallog.verify` can recompute a results file from its samples without
importing either harness (or numpy). Each function follows the harness's
arithmetic, in the same order where the order changes the rounding.

Per task and ``metric,filter`` the harnesses report:

* the aggregate: the registered aggregation of the per-sample values
  (``mean`` for most metrics);
* ``<metric>_stderr``: ``sample_stddev / sqrt(n)`` for ``mean``; a seeded
  bootstrap (chunks of ``min(1000, iters)`` draws, chunk ``i`` drawing with
  ``random.Random(i)``) for the bootstrappable aggregations; ``"N/A"``
  otherwise or when ``n <= 1`` or ``bootstrap_iters <= 0``;
* lmms-eval only: ``<metric>_stderr_clt`` (``std(ddof=1) / sqrt(n)``) and
  ``<metric>_stderr_clustered`` (Miller 2024, eq. 4) when the per-sample
  values are dicts that carry a cluster id.

Groups: the size-weighted (or plain, ``weight_by_size: false``) mean of the
leaf tasks' values; stderr pooled (:func:`pooled_sample_stderr`) or, in
lm-eval with ``weight_by_size: false``, :func:`unweighted_mean_stderr`.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

__all__ = [
    "AGGREGATIONS",
    "BOOTSTRAPPABLE",
    "METRIC_AGGREGATION",
    "Harness",
    "aggregate_subtask_metrics",
    "bootstrap_iters_for",
    "bootstrap_stderr",
    "clustered_stderr",
    "computed_by",
    "mean",
    "mean_stderr",
    "pooled_sample_stderr",
    "sample_stddev",
    "unweighted_mean_stderr",
]

Harness = str  # "lm-eval" or "lmms-eval"
AggFn = Callable[[Sequence[Any]], float]


def computed_by(results: dict[str, Any], flavor: str) -> Harness:
    """Which harness computed a results dict: its ``lmms_eval_version`` / ``lm_eval_version`` key,
    else the file-name ``flavor`` (lm-eval results saved through an lmms-eval tracker stay lm-eval)."""
    if "lmms_eval_version" in results:
        return "lmms-eval"
    if "lm_eval_version" in results:
        return "lm-eval"
    return flavor


# ------------------------------------------------------------ aggregations


def mean(arr: Sequence[Any]) -> float:
    return float(sum(arr) / len(arr))


def nanmean(arr: Sequence[Any]) -> float:
    vals = [float(x) for x in arr]
    kept = [x for x in vals if not math.isnan(x)]
    if not kept:
        return math.nan
    return math.fsum(kept) / len(kept)


def median(arr: Sequence[Any]) -> float:
    return float(sorted(arr)[len(arr) // 2])


def perplexity(items: Sequence[Any]) -> float:
    return math.exp(-mean(items))


def _weighted_mean(items: Sequence[Any]) -> float:
    a = [x[0] for x in items]
    b = [x[1] for x in items]
    return float(sum(a) / sum(b))


def weighted_perplexity(items: Sequence[Any]) -> float:
    return math.exp(-_weighted_mean(items))


def bits_per_byte(items: Sequence[Any]) -> float:
    return -_weighted_mean(items) / math.log(2)


def bypass(items: Sequence[Any]) -> float:
    return 999.0


def f1_score(items: Sequence[Any]) -> float:
    """``sklearn.metrics.f1_score(golds, preds)`` for binary labels (positive label 1)."""
    tp = sum(1 for g, p in items if g == 1 and p == 1)
    fp = sum(1 for g, p in items if g != 1 and p == 1)
    fn = sum(1 for g, p in items if g == 1 and p != 1)
    denom = 2 * tp + fp + fn
    return 0.0 if denom == 0 else 2 * tp / denom


def matthews_corrcoef(items: Sequence[Any]) -> float:
    """``sklearn.metrics.matthews_corrcoef(golds, preds)`` (multiclass form)."""
    golds = [g for g, _ in items]
    preds = [p for _, p in items]
    labels = sorted(set(golds) | set(preds), key=repr)
    t_k = [sum(1 for g in golds if g == lab) for lab in labels]
    p_k = [sum(1 for p in preds if p == lab) for lab in labels]
    c = sum(1 for g, p in zip(golds, preds, strict=True) if g == p)
    s = len(golds)
    cov_ytyp = c * s - sum(t * p for t, p in zip(t_k, p_k, strict=True))
    cov_ypyp = s * s - sum(p * p for p in p_k)
    cov_ytyt = s * s - sum(t * t for t in t_k)
    if cov_ypyp * cov_ytyt == 0:
        return 0.0
    return cov_ytyp / math.sqrt(cov_ytyt * cov_ypyp)


def brier_score(items: Sequence[Any]) -> float:
    total = 0.0
    for gold, probs in items:
        total += sum((float(p) - (1.0 if k == gold else 0.0)) ** 2 for k, p in enumerate(probs))
    return total / len(items)


# ------------------------------------------------- corpus MT metrics (sacrebleu)


def _non_str_iterable(obj: Any) -> bool:
    return isinstance(obj, (list, tuple))


def _sacreformat(refs: list[Any], preds: list[Any]) -> tuple[list[Any], list[str]]:
    """The harnesses' reshaping: refs to ``[refs of stream 1, refs of stream 2, ...]``, preds to strings."""
    if not _non_str_iterable(refs[0]):
        refs = [[ref] for ref in refs]
    streams = [list(s) for s in zip(*refs)]  # noqa: B905 -- the harness's zip truncates to the shortest
    if _non_str_iterable(preds[0]):
        preds = [pred[0] for pred in preds]
    return streams, preds


def sacrebleu_available() -> bool:
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        return False
    return True


def _corpus(kind: str, items: Sequence[Any]) -> float:
    import sacrebleu

    refs, preds = _sacreformat([x[0] for x in items], [x[1] for x in items])
    if kind == "bleu":
        return float(sacrebleu.corpus_bleu(preds, refs).score)
    if kind == "ter":
        return float(sacrebleu.corpus_ter(preds, refs).score)
    return float(sacrebleu.corpus_chrf(preds, refs, word_order=2 if kind == "chrf++" else 0).score)


def bleu(items: Sequence[Any]) -> float:
    return _corpus("bleu", items)


def chrf(items: Sequence[Any]) -> float:
    return _corpus("chrf", items)


def chrfpp(items: Sequence[Any]) -> float:
    return _corpus("chrf++", items)


def ter(items: Sequence[Any]) -> float:
    return _corpus("ter", items)


# aggregations that need the optional sacrebleu package (pip install "evallog[verify]")
NEEDS_SACREBLEU: frozenset[str] = frozenset({"bleu", "chrf", "chrf++", "ter"})

# name -> (function, shape of one per-sample item: "number" or "pair")
AGGREGATIONS: dict[str, tuple[AggFn, str]] = {
    "mean": (mean, "number"),
    "nanmean": (nanmean, "number"),
    "median": (median, "number"),
    "perplexity": (perplexity, "number"),
    "weighted_perplexity": (weighted_perplexity, "pair"),
    "bits_per_byte": (bits_per_byte, "pair"),
    "bypass": (bypass, "any"),
    "f1": (f1_score, "pair"),
    "matthews_corrcoef": (matthews_corrcoef, "pair"),
    "brier_score": (brier_score, "pair"),
    "bleu": (bleu, "pair"),
    "chrf": (chrf, "pair"),
    "chrf++": (chrfpp, "pair"),
    "ter": (ter, "pair"),
}

# aggregations each harness registers (those not in AGGREGATIONS cannot be recomputed here)
REGISTERED: dict[Harness, frozenset[str]] = {
    "lm-eval": frozenset({"bypass", "nanmean", "mean", "median", "perplexity", "weighted_perplexity",
                          "bits_per_byte", "f1", "matthews_corrcoef", "bleu", "chrf", "chrf++", "ter",
                          "brier_score"}),
    "lmms-eval": frozenset({"bypass", "mean", "median", "perplexity", "weighted_perplexity",
                            "bits_per_byte", "f1", "matthews_corrcoef", "bleu", "chrf", "ter",
                            "brier_score"}),
}

# aggregation of each metric each harness registers (used when a task config names none)
_COMMON_METRICS = {
    "brier_score": "brier_score", "acc": "mean", "acc_norm": "mean", "acc_mutual_info": "mean",
    "exact_match": "mean", "perplexity": "perplexity", "word_perplexity": "weighted_perplexity",
    "byte_perplexity": "weighted_perplexity", "bits_per_byte": "bits_per_byte", "bypass": "bypass",
    "mcc": "matthews_corrcoef", "f1": "f1", "bleu": "bleu", "chrf": "chrf", "ter": "ter", "acc_all": "mean",
}
METRIC_AGGREGATION: dict[Harness, dict[str, str]] = {
    "lm-eval": {**_COMMON_METRICS, "acc_bytes": "mean", "likelihood": "mean", "chrf++": "chrf++"},
    "lmms-eval": {**_COMMON_METRICS, "anls": "mean"},
}

# aggregations whose stderr is a bootstrap, per harness
BOOTSTRAPPABLE: dict[Harness, frozenset[str]] = {
    "lm-eval": frozenset({"median", "matthews_corrcoef", "f1", "perplexity", "bleu", "chrf", "chrf++",
                          "ter", "nanmean"}),
    "lmms-eval": frozenset({"median", "matthews_corrcoef", "f1", "perplexity", "bleu", "chrf", "ter"}),
}


def bootstrap_iters_for(metric: str, bootstrap_iters: int) -> int:
    """The bootstrap size the harnesses use for ``metric`` (capped at 100 for corpus MT metrics)."""
    return min(bootstrap_iters, 100) if metric in ("bleu", "chrf", "chrf++", "ter") else bootstrap_iters


# ------------------------------------------------------------------ stderrs


def sample_stddev(arr: Sequence[float]) -> float:
    mu = mean(arr)
    return math.sqrt(sum([(x - mu) ** 2 for x in arr]) / (len(arr) - 1))


def mean_stderr(arr: Sequence[float]) -> float:
    return sample_stddev(arr) / math.sqrt(len(arr))


def clt_stderr(arr: Sequence[float]) -> float:
    """lmms-eval's ``np.std(items, ddof=1) / np.sqrt(n)`` (equal to :func:`mean_stderr` up to rounding)."""
    return mean_stderr(arr)


def bootstrap_stderr(f: AggFn, xs: Sequence[Any], iters: int) -> float:
    """The harnesses' seeded bootstrap: ``iters // chunk`` chunks of ``chunk = min(1000, iters)``
    resamples, chunk ``i`` drawn with ``random.Random(i).choices``; the sample stddev of the replicates."""
    chunk = min(1000, iters)
    res: list[float] = []
    n = len(xs)
    for i in range(iters // chunk):
        rnd = random.Random(i)
        for _ in range(chunk):
            res.append(f(rnd.choices(xs, k=n)))
    return sample_stddev(res)


def clustered_stderr(scores: Sequence[float], cluster_ids: Sequence[Any]) -> float:
    """lmms-eval's ``clustered_stderr`` (Miller 2024, "Adding Error Bars to Evals", eq. 4)."""
    n = len(scores)
    if n < 2:
        return math.nan
    s_bar = sum(scores) / n
    var_scores = sum((s - s_bar) ** 2 for s in scores) / (n - 1)
    se_clt_squared = var_scores / n
    by_cluster: dict[Any, list[float]] = defaultdict(list)
    for score, cid in zip(scores, cluster_ids, strict=True):
        by_cluster[cid].append(score)
    cross = 0.0
    for cluster_scores in by_cluster.values():
        dev = [s - s_bar for s in cluster_scores]
        total = sum(dev)
        cross += total * total - sum(d * d for d in dev)
    cross /= n * n
    return math.sqrt(se_clt_squared + cross)


# ------------------------------------------------------------------- groups


def aggregate_subtask_metrics(metrics: Sequence[float], sizes: Sequence[int], weight_by_size: bool = True) -> float:
    if not weight_by_size:
        sizes = [1] * len(sizes)
    return sum([m * s for m, s in zip(metrics, sizes, strict=True)]) / sum(sizes)


def pooled_sample_stderr(stderrs: Sequence[float], sizes: Sequence[int]) -> float:
    pooled_var = sum([(size - 1) * se**2 * size for size, se in zip(sizes, stderrs, strict=True)]) / (
        sum(sizes) - len(sizes)
    )
    return math.sqrt(pooled_var / sum(sizes))


def unweighted_mean_stderr(stderrs: Sequence[float]) -> float:
    return math.sqrt(sum(se**2 for se in stderrs)) / len(stderrs)


def group_stderr(harness: Harness, stderrs: Sequence[float], sizes: Sequence[int], weight_by_size: bool) -> float:
    """The group stderr the harness reports: lm-eval matches it to the weighting, lmms-eval always pools."""
    if harness == "lm-eval" and not weight_by_size:
        return unweighted_mean_stderr(stderrs)
    return pooled_sample_stderr(stderrs, sizes)

"""Statistics for comparing two runs, in pure Python (no numpy/scipy at run time).

Three tests, all about the difference ``B - A``:

* :func:`mcnemar_exact` – exact two-sided McNemar test for paired 0/1 outcomes:
  ``p = min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``,
  where ``b`` counts pairs right in A and wrong in B, ``c`` the reverse.
* :func:`paired_bootstrap` – percentile bootstrap interval and p-value for the
  mean of paired differences, seeded and with a configurable number of
  resamples. It resamples *pairs*, so the correlation between the two runs is
  kept. Three ways of drawing the same bootstrap distribution, chosen by size:

  ``multinomial``  the differences take few distinct values (at most 64, and
                   fewer than n/10; always the case for 0/1 metrics: -1, 0,
                   +1): each resample is a multinomial
                   draw of counts over those values, so a resample costs
                   O(#values) instead of O(n). Exact.
  ``index``        plain resampling of the n differences, used when
                   ``n * n_resamples`` is small enough. Exact.
  ``binned``       many distinct values and a large n: the sorted differences
                   are cut into equal-count bins, each resample draws
                   multinomial counts over the bins and adds a normal term
                   for the spread inside the bins. The resampled mean then has
                   the exact bootstrap mean and variance, and the skew of the
                   between-bin part; at the sizes where it is used (n * resamples
                   above ~2e7, so n in the thousands at least) the difference
                   from ``index`` is far below the Monte-Carlo noise.

  The p-value is the share of resampled means at least as far from the
  observed mean as the observed mean is from 0 (``(1 + count) / (1 + R)``).
* :func:`unpaired_z_test` – when no samples can be paired: a z-test from two
  reported standard errors, ``z = (b - a) / sqrt(se_a^2 + se_b^2)``.

Binomial variates come from :func:`binomial_variate` (Hörmann's BTRS
transformed rejection for large means, Devroye's geometric method for small
ones), because ``random.binomialvariate`` only exists from Python 3.12.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

__all__ = [
    "TestResult",
    "binom_cdf",
    "mcnemar_exact",
    "mcnemar_test",
    "paired_bootstrap",
    "unpaired_z_test",
    "binomial_variate",
    "multinomial_variate",
    "normal_two_sided_p",
    "adjust_p_values",
    "CORRECTIONS",
]

_STD_NORMAL = NormalDist()

# plain index resampling up to this many draws (n * n_resamples); beyond it, binned
INDEX_BUDGET = 20_000_000
# at most this many distinct difference values for the exact multinomial method
MAX_CATEGORIES = 64
# number of equal-count bins of the binned method
N_BINS = 48


@dataclass(frozen=True)
class TestResult:
    """The outcome of one test of ``B - A``.

    ``estimate`` is the difference the interval and p-value refer to;
    ``ci_low``/``ci_high`` bound its ``1 - alpha`` confidence interval;
    ``p_value`` is two-sided. Fields are ``None`` when the test could not be
    computed (no data, no standard errors). ``method`` names the test,
    ``n`` the number of pairs (paired tests), ``n_resamples`` the bootstrap
    size.
    """

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    method: str
    n: int | None = None
    n_resamples: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ normal


def normal_two_sided_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def _z_quantile(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return _STD_NORMAL.inv_cdf(1.0 - alpha / 2.0)


def unpaired_z_test(
    value_a: float,
    stderr_a: float | None,
    value_b: float,
    stderr_b: float | None,
    *,
    alpha: float = 0.05,
) -> TestResult:
    """z-test of ``value_b - value_a`` from the two reported standard errors.

    This treats the two estimates as independent, which underestimates the
    evidence when both runs scored the same documents: use it only when the
    samples cannot be paired. Without both standard errors (or with both 0),
    only the estimate is returned.
    """
    diff = value_b - value_a
    if stderr_a is None or stderr_b is None or not (math.isfinite(stderr_a) and math.isfinite(stderr_b)):
        return TestResult(diff, None, None, None, "unpaired-z")
    se = math.sqrt(stderr_a * stderr_a + stderr_b * stderr_b)
    if se == 0.0 or not math.isfinite(diff):
        return TestResult(diff, None, None, None, "unpaired-z")
    half = _z_quantile(alpha) * se
    return TestResult(diff, diff - half, diff + half, normal_two_sided_p(diff / se), "unpaired-z")


# ------------------------------------------------------------------ McNemar


def binom_cdf(k: int, n: int, p: float = 0.5) -> float:
    """``P(X <= k)`` for ``X ~ Binomial(n, p)``, accurate in the far tails.

    Sums the terms from ``k`` downwards in log space, so it neither overflows
    nor loses the small tail probabilities the exact McNemar test needs.
    """
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError("need n >= 0 and 0 <= p <= 1")
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return 0.0
    if k > n * p:  # upper part is the small one: 1 - P(X >= k+1) = 1 - P(Y <= n-k-1), Y ~ Bin(n, 1-p)
        return max(0.0, 1.0 - binom_cdf(n - k - 1, n, 1.0 - p))
    log_p, log_q = math.log(p), math.log1p(-p)
    log_term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
    # term(i-1) / term(i) = i / (n - i + 1) * q / p
    ratio_qp = math.exp(log_q - log_p)
    total = 1.0
    term = 1.0
    i = k
    while i > 0:
        term *= i / (n - i + 1) * ratio_qp
        total += term
        if term < total * 1e-17:
            break
        i -= 1
    return min(1.0, math.exp(log_term) * total)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for ``b`` and ``c`` discordant pairs."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binom_cdf(min(b, c), n, 0.5))


def mcnemar_test(
    b: int,
    c: int,
    n: int,
    *,
    n_resamples: int = 10_000,
    seed: int | None = 0,
    alpha: float = 0.05,
) -> TestResult:
    """Paired test for 0/1 outcomes on ``n`` pairs.

    ``b`` = pairs right in A and wrong in B, ``c`` = wrong in A and right in B.
    The estimate is ``(c - b) / n`` (accuracy of B minus accuracy of A), the
    p-value the exact McNemar test, the interval the paired bootstrap's
    (multinomial over the -1/0/+1 differences).
    """
    if n <= 0:
        return TestResult(None, None, None, None, "mcnemar-exact", 0)
    if b + c > n:
        raise ValueError("b + c cannot exceed n")
    boot = _bootstrap_counts([-1.0, 0.0, 1.0], [b, n - b - c, c], n_resamples, seed, alpha)
    return TestResult((c - b) / n, boot.ci_low, boot.ci_high, mcnemar_exact(b, c), "mcnemar-exact", n,
                      n_resamples)


# ------------------------------------------------------------------ random variates


def binomial_variate(rng: random.Random, n: int, p: float) -> int:
    """One draw of ``Binomial(n, p)`` (BTRS for ``n*p >= 10``, geometric method below)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial_variate(rng, n, 1.0 - p)
    rand = rng.random
    if n * p < 10.0:
        # Devroye's geometric method: count the successes among the first n trials
        c = math.log1p(-p)
        x = y = 0
        while True:
            u = rand()
            if u == 0.0:
                continue
            y += math.floor(math.log(u) / c) + 1
            if y > n:
                return x
            x += 1
    # W. Hörmann (1993), "The generation of binomial random variates", BTRS
    spq = math.sqrt(n * p * (1.0 - p))
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha: float | None = None  # the BTRS constants below are computed on first use
    lpq = h = 0.0
    m = 0
    while True:
        u = rand() - 0.5
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        v = rand()
        if us >= 0.07 and v <= v_r:
            return k
        if alpha is None:
            alpha = (2.83 + 5.1 / b) * spq
            lpq = math.log(p / (1.0 - p))
            m = math.floor((n + 1) * p)
            h = math.lgamma(m + 1) + math.lgamma(n - m + 1)
        v *= alpha / (a / (us * us) + b)
        if v > 0.0 and math.log(v) <= h - math.lgamma(k + 1) - math.lgamma(n - k + 1) + (k - m) * lpq:
            return k


def multinomial_variate(rng: random.Random, n: int, probs: Sequence[float]) -> list[int]:
    """One draw of ``Multinomial(n, probs)`` by conditional binomials (``probs`` sum to 1)."""
    k = len(probs)
    out = [0] * k
    left = n
    rest = 1.0
    for j in range(k - 1):
        if left == 0 or rest <= 0.0:
            break
        pj = probs[j]
        x = binomial_variate(rng, left, pj / rest if pj < rest else 1.0)
        out[j] = x
        left -= x
        rest -= pj
    out[k - 1] += left
    return out


# ------------------------------------------------------------------ bootstrap


def _percentile(sorted_vals: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of sorted values."""
    pos = q * (len(sorted_vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    frac = pos - lo
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * frac


def _summarize(means: list[float], estimate: float, n: int, alpha: float, method: str, n_resamples: int) -> TestResult:
    means.sort()
    lo = _percentile(means, alpha / 2.0)
    hi = _percentile(means, 1.0 - alpha / 2.0)
    dist = abs(estimate)
    if dist == 0.0:
        p = 1.0
    else:
        tol = 1e-12 * max(1.0, dist)
        far = sum(1 for x in means if abs(x - estimate) >= dist - tol)
        p = (1 + far) / (1 + len(means))
    return TestResult(estimate, lo, hi, min(1.0, p), method, n, n_resamples)


def _rng(seed: int | None) -> random.Random:
    return random.Random(seed)


def _bootstrap_counts(
    values: Sequence[float], counts: Sequence[int], n_resamples: int, seed: int | None, alpha: float
) -> TestResult:
    n = sum(counts)
    estimate = math.fsum(v * c for v, c in zip(values, counts)) / n
    pairs = [(v, c) for v, c in zip(values, counts) if c > 0]
    vals = [v for v, _ in pairs]
    probs = [c / n for _, c in pairs]
    rng = _rng(seed)
    means = []
    for _ in range(n_resamples):
        draw = multinomial_variate(rng, n, probs)
        means.append(math.fsum(v * c for v, c in zip(vals, draw)) / n)
    return _summarize(means, estimate, n, alpha, "paired-bootstrap", n_resamples)


def _distinct_counts(diffs: Iterable[float], limit: int) -> dict[float, int] | None:
    counts: dict[float, int] = {}
    for d in diffs:
        if d in counts:
            counts[d] += 1
        else:
            if len(counts) >= limit:
                return None
            counts[d] = 1
    return counts


def paired_bootstrap(
    diffs: Sequence[float],
    *,
    n_resamples: int = 10_000,
    seed: int | None = 0,
    alpha: float = 0.05,
    method: str = "auto",
) -> TestResult:
    """Percentile bootstrap of the mean of paired differences ``b_i - a_i``.

    ``diffs`` is any sequence of finite floats (a list or an ``array('d')``).
    ``method`` is ``"auto"`` (see the module doc), or one of
    ``"multinomial"``, ``"index"``, ``"binned"`` to force it. The result's
    ``method`` is ``"paired-bootstrap"`` (exact) or
    ``"paired-bootstrap-binned"``.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    _z_quantile(alpha)  # validates alpha
    n = len(diffs)
    if n == 0:
        return TestResult(None, None, None, None, "paired-bootstrap", 0, n_resamples)
    if method not in ("auto", "multinomial", "index", "binned"):
        raise ValueError(f"unknown bootstrap method {method!r}")
    if method in ("auto", "multinomial"):
        # a multinomial draw costs ~10 index draws per category: worth it for few distinct values
        limit = min(MAX_CATEGORIES, n // 10) if method == "auto" else n + 1
        counts = _distinct_counts(diffs, limit)
        if counts is not None:
            return _bootstrap_counts(list(counts), list(counts.values()), n_resamples, seed, alpha)
    if method == "index" or (method == "auto" and n * n_resamples <= INDEX_BUDGET):
        return _bootstrap_index(diffs, n_resamples, seed, alpha)
    return _bootstrap_binned(diffs, n_resamples, seed, alpha)


def _bootstrap_index(diffs: Sequence[float], n_resamples: int, seed: int | None, alpha: float) -> TestResult:
    n = len(diffs)
    values = list(diffs)
    estimate = math.fsum(values) / n
    rng = _rng(seed)
    choices = rng.choices
    means = [sum(choices(values, k=n)) / n for _ in range(n_resamples)]
    return _summarize(means, estimate, n, alpha, "paired-bootstrap", n_resamples)


def _bootstrap_binned(diffs: Sequence[float], n_resamples: int, seed: int | None, alpha: float) -> TestResult:
    n = len(diffs)
    values = sorted(diffs)
    estimate = math.fsum(values) / n
    n_bins = min(N_BINS, n)
    bounds = [round(j * n / n_bins) for j in range(n_bins + 1)]
    means, variances, probs = [], [], []
    for j in range(n_bins):
        chunk = values[bounds[j] : bounds[j + 1]]
        if not chunk:
            continue
        m = math.fsum(chunk) / len(chunk)
        means.append(m)
        variances.append(math.fsum((x - m) * (x - m) for x in chunk) / len(chunk))
        probs.append(len(chunk) / n)
    del values
    rng = _rng(seed)
    gauss = rng.gauss
    out = []
    for _ in range(n_resamples):
        draw = multinomial_variate(rng, n, probs)
        total = math.fsum(m * c for m, c in zip(means, draw))
        var_within = math.fsum(v * c for v, c in zip(variances, draw))
        out.append(total / n + (gauss(0.0, math.sqrt(var_within)) / n if var_within > 0 else 0.0))
    return _summarize(out, estimate, n, alpha, "paired-bootstrap-binned", n_resamples)


# ------------------------------------------------------------------ multiple testing

CORRECTIONS: tuple[str, ...] = ("holm", "bh", "none")


def adjust_p_values(p_values: Sequence[float], method: str = "holm") -> list[float]:
    """Adjusted p-values for a family of tests, in the input order.

    ``holm``: Holm's step-down (controls the family-wise error rate under any
    dependence): ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
    ``bh``: Benjamini-Hochberg step-up (controls the false discovery rate
    under independence or positive dependence):
    ``adj_(i) = min_{j >= i} min(1, m p_(j) / j)``. ``none``: unchanged.
    Reject where the adjusted p-value is at most alpha.
    """
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r} (choose from {', '.join(CORRECTIONS)})")
    m = len(p_values)
    if method == "none" or m == 0:
        return [float(p) for p in p_values]
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    if method == "holm":
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p_values[i]))
            adjusted[i] = running
    else:
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i = order[rank]
            running = min(running, min(1.0, m * p_values[i] / (rank + 1)))
            adjusted[i] = running
    return adjusted

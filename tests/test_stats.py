"""Statistics against known values, exact rational arithmetic and (in tests only) numpy."""

from __future__ import annotations

import math
import random
from array import array
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evallog import stats
from evallog.stats import (
    binom_cdf,
    binomial_variate,
    mcnemar_exact,
    mcnemar_test,
    multinomial_variate,
    paired_bootstrap,
    unpaired_z_test,
)


def exact_binom_cdf(k: int, n: int, p: Fraction) -> Fraction:
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1)), Fraction(0))


def exact_mcnemar(b: int, c: int) -> float:
    n = b + c
    if n == 0:
        return 1.0
    tail = Fraction(sum(math.comb(n, i) for i in range(min(b, c) + 1)), 2**n)
    return float(min(Fraction(1), 2 * tail))


# ------------------------------------------------------------------ McNemar


@pytest.mark.parametrize(
    "b, c, expected",
    [
        (10, 2, 158 / 4096),  # 2 * (1 + 12 + 66) / 2**12 = 0.0386
        (2, 10, 158 / 4096),
        (0, 5, 2 / 32),
        (0, 6, 2 / 64),
        (0, 0, 1.0),
        (7, 7, 1.0),
        (3, 4, 1.0),
        (1, 0, 1.0),
    ],
)
def test_mcnemar_known_values(b, c, expected):
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_b10_c2_is_0_0386():
    assert round(mcnemar_exact(10, 2), 4) == 0.0386


@pytest.mark.parametrize("b, c", [(7, 22), (40, 65), (180, 230), (950, 1050), (1, 300)])
def test_mcnemar_matches_exact_rational(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(exact_mcnemar(b, c), rel=1e-9, abs=1e-300)


def test_mcnemar_large_counts_do_not_overflow():
    p = mcnemar_exact(50_000, 51_000)
    # normal approximation of the same test (continuity corrected) as a sanity check
    z = (abs(50_000 - 51_000) - 1) / math.sqrt(101_000)
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)), rel=0.02)
    assert 0 < mcnemar_exact(0, 5000) < 1e-300 or mcnemar_exact(0, 5000) == 0.0


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 150),
    k=st.integers(-2, 160),
    p=st.sampled_from([Fraction(1, 2), Fraction(1, 10), Fraction(3, 4), Fraction(1, 1000)]),
)
def test_binom_cdf_matches_exact(n, k, p):
    expected = float(exact_binom_cdf(min(k, n), n, p)) if k >= 0 else 0.0
    assert binom_cdf(k, n, float(p)) == pytest.approx(expected, rel=1e-9, abs=1e-15)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 400), st.integers(0, 400))
def test_mcnemar_symmetric_and_bounded(b, c):
    p = mcnemar_exact(b, c)
    assert p == mcnemar_exact(c, b)
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(exact_mcnemar(b, c), rel=1e-9, abs=1e-300)


def test_mcnemar_test_estimate_and_interval():
    r = mcnemar_test(7, 22, 168, n_resamples=4000, seed=1)
    assert r.method == "mcnemar-exact" and r.n == 168 and r.n_resamples == 4000
    assert r.estimate == pytest.approx(15 / 168)
    assert r.p_value == pytest.approx(exact_mcnemar(7, 22))
    # the bootstrap interval of a paired difference of proportions is close to the Wald one
    se = math.sqrt((7 + 22) / 168 - (15 / 168) ** 2) / math.sqrt(168)
    assert r.ci_low == pytest.approx(15 / 168 - 1.96 * se, abs=0.012)
    assert r.ci_high == pytest.approx(15 / 168 + 1.96 * se, abs=0.012)
    with pytest.raises(ValueError):
        mcnemar_test(5, 6, 10)


def test_paired_beats_unpaired_on_the_same_data():
    """The lm-eval comparator's case: the same accuracies, an unpaired z-test says p = 0.080,
    the paired McNemar test p = 0.008."""
    n, b, c = 168, 7, 22
    acc_a, acc_b = 106 / n, 121 / n
    se_a = math.sqrt(acc_a * (1 - acc_a) / (n - 1))  # lm-eval's stderr: sample std / sqrt(n)
    se_b = math.sqrt(acc_b * (1 - acc_b) / (n - 1))
    unpaired = unpaired_z_test(acc_a, se_a, acc_b, se_b)
    paired = mcnemar_test(b, c, n)
    assert round(unpaired.p_value, 3) == 0.080
    assert round(paired.p_value, 3) == 0.008


# ------------------------------------------------------------------ unpaired z


def test_unpaired_z_known_values():
    r = unpaired_z_test(0.5, 0.05, 0.6, 0.05)
    se = math.sqrt(0.005)
    assert r.estimate == pytest.approx(0.1)
    assert r.p_value == pytest.approx(0.15729920705028513, rel=1e-9)  # 2 * (1 - Phi(sqrt(2)))
    assert r.ci_low == pytest.approx(0.1 - 1.959963984540054 * se)
    assert r.ci_high == pytest.approx(0.1 + 1.959963984540054 * se)
    r90 = unpaired_z_test(0.5, 0.05, 0.6, 0.05, alpha=0.1)
    assert r90.ci_high - r90.ci_low < r.ci_high - r.ci_low
    for missing in (unpaired_z_test(0.5, None, 0.6, 0.05), unpaired_z_test(0.5, 0.0, 0.6, 0.0)):
        assert missing.estimate == pytest.approx(0.1) and missing.p_value is None and missing.ci_low is None


# ------------------------------------------------------------------ variates


@pytest.mark.parametrize("n, p", [(1, 0.3), (8, 0.5), (300, 0.01), (1000, 0.3), (200_000, 0.5), (60, 0.9)])
def test_binomial_variate_moments(n, p):
    rng = random.Random(42)
    draws = [binomial_variate(rng, n, p) for _ in range(20_000)]
    assert all(0 <= x <= n for x in draws)
    mean = sum(draws) / len(draws)
    var = sum((x - mean) ** 2 for x in draws) / (len(draws) - 1)
    sd = math.sqrt(n * p * (1 - p))
    assert abs(mean - n * p) < 5 * sd / math.sqrt(len(draws)) + 1e-9
    assert var == pytest.approx(n * p * (1 - p), rel=0.06)


def test_binomial_variate_distribution_small_n():
    rng = random.Random(7)
    n, p, reps = 12, 0.35, 40_000
    counts = [0] * (n + 1)
    for _ in range(reps):
        counts[binomial_variate(rng, n, p)] += 1
    chi2 = sum(
        (counts[k] - reps * math.comb(n, k) * p**k * (1 - p) ** (n - k)) ** 2
        / (reps * math.comb(n, k) * p**k * (1 - p) ** (n - k))
        for k in range(n + 1)
        if reps * math.comb(n, k) * p**k * (1 - p) ** (n - k) > 5
    )
    assert chi2 < 35  # 12 degrees of freedom: p ~ 5e-4


def test_multinomial_variate_sums_and_means():
    rng = random.Random(3)
    probs = [0.1, 0.25, 0.05, 0.6]
    tot = [0] * 4
    for _ in range(5000):
        draw = multinomial_variate(rng, 1000, probs)
        assert sum(draw) == 1000 and min(draw) >= 0
        tot = [t + d for t, d in zip(tot, draw)]
    for t, p in zip(tot, probs):
        assert t / 5000 == pytest.approx(1000 * p, rel=0.01)


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_is_seeded_and_reports_settings():
    rng = random.Random(0)
    diffs = [rng.gauss(0.2, 1.0) for _ in range(300)]
    r1 = paired_bootstrap(diffs, n_resamples=2000, seed=5)
    r2 = paired_bootstrap(diffs, n_resamples=2000, seed=5)
    r3 = paired_bootstrap(diffs, n_resamples=2000, seed=6)
    assert r1 == r2 and r1 != r3
    assert r1.n == 300 and r1.n_resamples == 2000 and r1.method == "paired-bootstrap"
    assert r1.estimate == pytest.approx(sum(diffs) / 300)
    assert r1.ci_low < r1.estimate < r1.ci_high


def test_bootstrap_p_values():
    rng = random.Random(1)
    shifted = [rng.gauss(1.0, 1.0) for _ in range(200)]
    r = paired_bootstrap(shifted, n_resamples=999, seed=0)
    assert r.p_value == pytest.approx(1 / 1000)  # nothing as extreme: the smallest possible p
    null = [rng.gauss(0.0, 1.0) for _ in range(200)]
    assert paired_bootstrap(null, n_resamples=999, seed=0).p_value > 0.01
    zeros = paired_bootstrap([0.0] * 50, n_resamples=100)
    assert (zeros.estimate, zeros.ci_low, zeros.ci_high, zeros.p_value) == (0.0, 0.0, 0.0, 1.0)
    empty = paired_bootstrap([], n_resamples=100)
    assert empty.estimate is None and empty.n == 0
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], n_resamples=0)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0], alpha=1.5)


def test_bootstrap_methods_agree():
    """multinomial (few values), index and binned draw the same bootstrap distribution."""
    rng = random.Random(11)
    discrete = array("d", (rng.choice([-1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.0]) for _ in range(3000)))
    a = paired_bootstrap(discrete, n_resamples=4000, seed=1, method="multinomial")
    b = paired_bootstrap(discrete, n_resamples=4000, seed=1, method="index")
    c = paired_bootstrap(discrete, n_resamples=4000, seed=1, method="binned")
    width = a.ci_high - a.ci_low
    for other in (b, c):
        assert other.ci_low == pytest.approx(a.ci_low, abs=0.06 * width)
        assert other.ci_high == pytest.approx(a.ci_high, abs=0.06 * width)
    assert c.method == "paired-bootstrap-binned"
    continuous = [rng.expovariate(1.0) - 0.9 for _ in range(5000)]  # skewed
    i = paired_bootstrap(continuous, n_resamples=4000, seed=2, method="index")
    j = paired_bootstrap(continuous, n_resamples=4000, seed=2, method="binned")
    width = i.ci_high - i.ci_low
    assert j.ci_low == pytest.approx(i.ci_low, abs=0.06 * width)
    assert j.ci_high == pytest.approx(i.ci_high, abs=0.06 * width)


def test_bootstrap_auto_method_choice(monkeypatch):
    rng = random.Random(2)
    continuous = [rng.random() for _ in range(1000)]
    assert paired_bootstrap(continuous, n_resamples=100).method == "paired-bootstrap"
    monkeypatch.setattr(stats, "INDEX_BUDGET", 1000)
    assert paired_bootstrap(continuous, n_resamples=100).method == "paired-bootstrap-binned"
    # few distinct values always use the exact multinomial draw, whatever the size
    assert paired_bootstrap([0.0, 1.0, -1.0] * 1000, n_resamples=100).method == "paired-bootstrap"


def test_bootstrap_interval_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, 400)
    b = 0.6 * a + rng.normal(0.15, 0.8, 400)
    diffs = b - a
    ours = paired_bootstrap(diffs.tolist(), n_resamples=5000, seed=0)
    idx = rng.integers(0, 400, size=(5000, 400))
    means = diffs[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.025, 0.975])
    width = hi - lo
    assert ours.ci_low == pytest.approx(lo, abs=0.05 * width)
    assert ours.ci_high == pytest.approx(hi, abs=0.05 * width)
    assert ours.estimate == pytest.approx(diffs.mean())


def test_bootstrap_coverage_continuous():
    """The 95% interval covers the true mean difference at about the nominal rate."""
    rng = random.Random(2024)
    true_diff = 0.3
    reps, n, covered = 400, 60, 0
    for rep in range(reps):
        a = [rng.gauss(0.0, 1.0) for _ in range(n)]
        b = [0.7 * x + rng.gauss(true_diff, 0.7) for x in a]
        r = paired_bootstrap([y - x for x, y in zip(a, b)], n_resamples=600, seed=rep)
        covered += r.ci_low <= true_diff <= r.ci_high
    rate = covered / reps
    assert 0.91 <= rate <= 0.985, rate  # nominal 0.95; 400 replications: sd 0.011


def test_bootstrap_coverage_binary():
    """Same for 0/1 outcomes (McNemar rows): interval from the multinomial bootstrap."""
    rng = random.Random(7)
    # P(A right, B wrong) = 0.10, P(A wrong, B right) = 0.18: true difference 0.08
    reps, n, covered = 400, 250, 0
    for rep in range(reps):
        b = c = 0
        for _ in range(n):
            u = rng.random()
            if u < 0.10:
                b += 1
            elif u < 0.28:
                c += 1
        r = mcnemar_test(b, c, n, n_resamples=600, seed=rep)
        covered += r.ci_low <= 0.08 <= r.ci_high
    assert 0.91 <= covered / reps <= 0.985, covered / reps

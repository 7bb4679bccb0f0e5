"""How large a difference two models must have to be told apart on the same N items.

For two models scored 0/1 on the same ``N`` items, with accuracy ``P`` each
and correlation ``RHO`` between their per-item outcomes, the paired difference
of accuracies has variance ``2 P (1 - P) (1 - RHO) / N``. A two-sided test at
level ``alpha`` with power ``power`` detects a difference of at least

    MDE = (z_{1 - alpha/2} + z_{power}) * sqrt(2 P (1 - P) (1 - RHO) / N)

and, for a given difference ``D``, needs

    N = ceil((z_{1 - alpha/2} + z_{power})^2 * 2 P (1 - P) (1 - RHO) / D^2)

items (normal approximation; RHO = 0 means independent errors, which is the
conservative choice for models that share most of their mistakes).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from evallog.errors import ConfigError

__all__ = ["PowerResult", "achieved_power", "min_detectable_difference", "power_analysis", "required_n"]

_NORMAL = NormalDist()


@dataclass(frozen=True)
class PowerResult:
    """``effect`` is the minimum detectable difference at ``n`` (or the difference ``n`` was sized for)."""

    n: int
    effect: float
    baseline: float
    alpha: float
    power: float
    correlation: float
    sd_diff: float  # standard deviation of one item's paired difference: sqrt(2 P (1 - P) (1 - RHO))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(baseline: float, alpha: float, power: float, correlation: float) -> None:
    if not 0.0 < baseline < 1.0:
        raise ConfigError(f"baseline accuracy must be between 0 and 1, got {baseline!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha!r}")
    if not 0.0 < power < 1.0:
        raise ConfigError(f"power must be between 0 and 1, got {power!r}")
    if not -1.0 <= correlation < 1.0:
        raise ConfigError(f"correlation must be in [-1, 1), got {correlation!r}")


def _sd_diff(baseline: float, correlation: float) -> float:
    return math.sqrt(2.0 * baseline * (1.0 - baseline) * (1.0 - correlation))


def _z_sum(alpha: float, power: float) -> float:
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0) + _NORMAL.inv_cdf(power)


def min_detectable_difference(
    n: int, baseline: float, *, alpha: float = 0.05, power: float = 0.8, correlation: float = 0.0
) -> float:
    """The smallest accuracy difference a two-sided paired test detects with ``power`` on ``n`` items."""
    _check(baseline, alpha, power, correlation)
    if n < 1:
        raise ConfigError(f"n must be at least 1, got {n!r}")
    return _z_sum(alpha, power) * _sd_diff(baseline, correlation) / math.sqrt(n)


def required_n(
    effect: float, baseline: float, *, alpha: float = 0.05, power: float = 0.8, correlation: float = 0.0
) -> int:
    """The number of items needed to detect an accuracy difference ``effect``."""
    _check(baseline, alpha, power, correlation)
    if not effect > 0.0:
        raise ConfigError(f"effect must be > 0, got {effect!r}")
    return max(1, math.ceil((_z_sum(alpha, power) * _sd_diff(baseline, correlation) / effect) ** 2))


def achieved_power(
    n: int, effect: float, baseline: float, *, alpha: float = 0.05, correlation: float = 0.0
) -> float:
    """The power of the two-sided test to detect ``effect`` on ``n`` items (normal approximation)."""
    _check(baseline, alpha, 0.5, correlation)
    se = _sd_diff(baseline, correlation) / math.sqrt(n)
    z = _NORMAL.inv_cdf(1.0 - alpha / 2.0)
    shift = abs(effect) / se
    return _NORMAL.cdf(shift - z) + _NORMAL.cdf(-shift - z)


def power_analysis(
    baseline: float,
    *,
    n: int | None = None,
    effect: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    correlation: float = 0.0,
) -> PowerResult:
    """Give exactly one of ``n`` (-> the minimum detectable difference) or ``effect`` (-> the N needed)."""
    if (n is None) == (effect is None):
        raise ConfigError("give exactly one of n and effect")
    if n is not None:
        mde = min_detectable_difference(n, baseline, alpha=alpha, power=power, correlation=correlation)
        return PowerResult(n, mde, baseline, alpha, power, correlation, _sd_diff(baseline, correlation))
    assert effect is not None
    needed = required_n(effect, baseline, alpha=alpha, power=power, correlation=correlation)
    return PowerResult(needed, effect, baseline, alpha, power, correlation, _sd_diff(baseline, correlation))

"""Metric keys of results entries and the key sets of sample records: the one home of these rules.

A per-task results entry maps ``"metric,filter"`` keys to values. Some metric
names are not metrics of their own but a statistic of a base metric, shown as
a column of that metric's row (:data:`VARIANT_SUFFIXES`): the standard errors
(``acc_stderr``, ``acc_stderr_clt``, ``acc_stderr_clustered``) and lmms-eval's
extra columns (``acc_expected_accuracy``, ``acc_consensus_accuracy``,
``acc_internal_variance``, ``acc_consistency_rate``). Readers, the table, the
report, compare and redaction all use the functions and sets below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "STDERR_SUFFIXES",
    "EXTRA_COLUMN_SUFFIXES",
    "VARIANT_SUFFIXES",
    "OPTIONAL_COLUMNS",
    "NON_METRIC_RESULT_KEYS",
    "NON_METRIC_SAMPLE_KEYS",
    "SAMPLE_FIELD_KEYS",
    "HARNESS_SAMPLE_KEYS",
    "PLACEHOLDER_KEY",
    "MetricKey",
    "parse_metric_key",
    "is_placeholder",
    "is_variant",
    "metric_keys",
    "extra_column_keys",
    "stderr_key",
]

STDERR_SUFFIXES: tuple[str, ...] = ("_stderr", "_stderr_clt", "_stderr_clustered")
# lmms-eval 0.7.3's optional statistics of a metric (its make_table columns EA, CA, IV, CR)
EXTRA_COLUMN_SUFFIXES: tuple[str, ...] = (
    "_expected_accuracy",
    "_consensus_accuracy",
    "_internal_variance",
    "_consistency_rate",
)
# metric-name suffixes that make a column of the base metric, never a metric of their own
VARIANT_SUFFIXES: tuple[str, ...] = STDERR_SUFFIXES + EXTRA_COLUMN_SUFFIXES

# lmms-eval's optional table columns: (display header, data header, metric-key suffix)
OPTIONAL_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Stderr_CLT", "stderr_clt", "_stderr_clt"),
    ("Stderr_Clustered", "stderr_clustered", "_stderr_clustered"),
    ("EA", "expected_accuracy", "_expected_accuracy"),
    ("CA", "consensus_accuracy", "_consensus_accuracy"),
    ("IV", "internal_variance", "_internal_variance"),
    ("CR", "consistency_rate", "_consistency_rate"),
)

# keys of a per-task results entry that are never metrics
NON_METRIC_RESULT_KEYS: frozenset[str] = frozenset({"alias", "name", "sample_len", "sample_count", "samples"})
# lmms-eval's `" ": " "` entry of a group without metrics of its own
PLACEHOLDER_KEY = " "
# paired-comparison entries (written by evallog's compare) are not metrics either
_PAIRED_PREFIX = "paired_"

# keys of a sample record that the harnesses write (the rest are per-sample metric values)
SAMPLE_FIELD_KEYS: frozenset[str] = frozenset(
    {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
        "input",
    }
)
# ... plus lmms-eval's bookkeeping: never per-sample metric values
NON_METRIC_SAMPLE_KEYS: frozenset[str] = SAMPLE_FIELD_KEYS | {"token_counts", "input_media"}
# keys whose values the harness computes (ids, hashes, responses, metric names): never credentials
HARNESS_SAMPLE_KEYS: frozenset[str] = frozenset(
    {"doc_id", "resps", "filtered_resps", "filter", "metrics", "doc_hash", "prompt_hash", "target_hash", "token_counts"}
)


@dataclass(frozen=True)
class MetricKey:
    """One ``"metric,filter"`` key of a results entry.

    ``variant`` is the suffix (``"_stderr"``, ``"_expected_accuracy"``, ...)
    when the key is a statistic of the base metric ``base``; ``None`` for a
    metric of its own (then ``base == metric``).
    """

    metric: str
    filter: str
    variant: str | None
    has_filter: bool

    @property
    def base(self) -> str:
        return self.metric[: -len(self.variant)] if self.variant else self.metric


def is_variant(metric: str) -> str | None:
    """The variant suffix ``metric`` ends with (longest first), ``None`` for a metric of its own."""
    if not metric.endswith(VARIANT_SUFFIXES):
        return None
    return max((s for s in VARIANT_SUFFIXES if metric.endswith(s)), key=len)


def parse_metric_key(key: Any) -> MetricKey | None:
    """``"acc_stderr,none"`` -> ``MetricKey("acc_stderr", "none", "_stderr")``.

    ``None`` for keys that are not metric keys: non-strings, ``alias``,
    ``name``, ``sample_len``, ``sample_count``, ``samples``, ``paired_*``
    entries and lmms-eval's blank placeholder. A key without a comma is a
    metric with an empty filter (``has_filter=False``).
    """
    if not isinstance(key, str) or key in NON_METRIC_RESULT_KEYS or key.startswith(_PAIRED_PREFIX):
        return None
    metric, comma, filt = key.partition(",")
    if not metric.strip():
        return None
    return MetricKey(metric, filt, is_variant(metric), bool(comma))


def is_placeholder(key: Any) -> bool:
    """lmms-eval's blank ``" "`` key (any key whose metric part is blank) of a group without metrics."""
    if not isinstance(key, str) or key in NON_METRIC_RESULT_KEYS or key.startswith(_PAIRED_PREFIX):
        return False
    return not key.partition(",")[0].strip()


def _is_value(value: Any) -> bool:
    return value is None or isinstance(value, (int, float))  # bool is an int


def metric_keys(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(metric, filter)`` pairs of a per-task results entry, in file order.

    Only ``"metric,filter"`` keys of metrics of their own with a number (or
    null) value count: standard errors, lmms-eval's extra columns, ``alias``,
    ``sample_len`` and the like are left out.
    """
    out: list[tuple[str, str]] = []
    for key, value in entry.items():
        parsed = parse_metric_key(key)
        if parsed is None or not parsed.has_filter or parsed.variant is not None:
            continue
        if _is_value(value):
            out.append((parsed.metric, parsed.filter))
    return out


def extra_column_keys(entry: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(metric, filter)`` pairs of lmms-eval's extra columns (``acc_expected_accuracy``, ...) of an entry,
    in file order, with a number (or null) value: statistics over repeats, not metrics of their own."""
    out: list[tuple[str, str]] = []
    for key, value in entry.items():
        parsed = parse_metric_key(key)
        if parsed is not None and parsed.has_filter and parsed.variant in EXTRA_COLUMN_SUFFIXES and _is_value(value):
            out.append((parsed.metric, parsed.filter))
    return out


def stderr_key(metric: str, filt: str) -> str:
    """The results key of the standard error of ``metric,filter``."""
    return f"{metric}_stderr,{filt}"

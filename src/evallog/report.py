"""One self-contained HTML page to explore and share evaluation runs.

::

    render_report(paths, output=None, **options) -> str      # the HTML text
    build_report(paths, **options) -> Report                  # HTML + what went in

``paths`` is one run folder, results file, output folder (every run below it)
or :class:`~evallog.readers.Run`, or a list of them. The page shows the
results table and groups of each run (the content of ``make_table``), a
leaderboard when there are several models, the comparison of chosen pairs of
runs (``evallog.compare``), and a sample browser per task.

Everything is inline: no network access, no server, no external font or
script; a strict Content-Security-Policy only lets the page's own inline script
(pinned by its sha256) and style run. Data goes into
``<script type="application/json">`` blocks, escaped so that no string from
the results can end the block, and the page's script renders every string
with ``textContent``: a sample containing ``<script>`` shows as text.

Big runs stay usable because the page carries compact sample records:

* long texts are cut to ``max_text`` characters with a visible marker, and
  multimodal payloads (``data:`` URIs, base64 blobs, described images) become
  short labels;
* at most ``max_samples`` records per run and task are embedded (whole
  documents, every filter of a kept document), and all embedded samples share
  a budget of ``max_bytes`` bytes of the page (each task gets an equal share
  of what is left); the page says what was left out;
* each (run, task) block is gzip-compressed and base64-encoded by default and
  only decoded, in the browser, when its task is opened; the browser shows
  50 rows per page.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import logging
import math
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from evallog.dates import format_time, results_datetime, run_datetime
from evallog.errors import ConfigError
from evallog.tally import correctness

_Progress = Callable[[str, int, "int | None"], None]  # evallog.compare.ProgressCallback

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_SAMPLES",
    "DEFAULT_MAX_TEXT",
    "Report",
    "ReportStats",
    "build_report",
    "comparisons_data",
    "column_headers",
    "compact_sample",
    "correct_of",
    "leaderboard_data",
    "main_score",
    "render_app_page",
    "render_report",
    "run_summary",
    "run_tables",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_SAMPLES = 5_000
"""Records embedded per run and task (all filters of a document count)."""
DEFAULT_MAX_BYTES = 25_000_000
"""Bytes of the page for the embedded samples, all tasks together (as stored: compressed by default)."""
DEFAULT_MAX_TEXT = 2_000
"""Characters kept of one text field (prompt, target, response, document)."""

_MAX_LIST_ITEMS = 64
_MAX_DICT_KEYS = 64
_MAX_DEPTH = 6
_MAX_COMPARISONS = 8
_MAX_FLIP_IDS = 2_000

# --------------------------------------------------------------------------- text compaction

_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,", re.I)
_DATA_URI_BODY = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=]{32,}", re.I)
_BASE64ISH = re.compile(r"[A-Za-z0-9+/=\r\n]+")
_MEDIA_TYPES = {"image", "video", "audio", "bytes", "array", "tensor"}


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _data_uri_label(match: re.Match[str], total_len: int) -> str:
    mime = match.group(1) or "data"
    payload = total_len - match.end()
    size = payload * 3 // 4 if match.group(3) else payload
    return f"[{mime.lower()}, {_human_bytes(size)} inline]"


def _sub_data_uri(match: re.Match[str]) -> str:
    mime = match.group(1) or "data"
    payload = len(match.group(0)) - match.group(0).index(",") - 1
    return f"[{mime.lower()}, {_human_bytes(payload * 3 // 4)} inline]"


def _looks_base64(text: str) -> bool:
    head = text[:4096]
    return (
        _BASE64ISH.fullmatch(head) is not None
        and any(c.isdigit() for c in head) and any(c.islower() for c in head) and any(c.isupper() for c in head)
    )


def compact_text(text: str, max_text: int = DEFAULT_MAX_TEXT) -> str:
    """``text`` as the page shows it: media payloads labelled, at most ``max_text`` characters kept.

    A longer text keeps its first third and its last two thirds around a
    marker saying how much was cut: the end of a few-shot prompt is the
    question, the end of a response its final answer.
    """
    if text.startswith("data:"):
        m = _DATA_URI.match(text)
        if m:
            return _data_uri_label(m, len(text))
    if len(text) > 512 and ";base64," in text:
        text = _DATA_URI_BODY.sub(_sub_data_uri, text)
    if len(text) > 1024 and _looks_base64(text):
        return f"[binary data, {len(text):,} characters]"
    if len(text) > max_text:
        head = max_text // 3
        tail = max_text - head
        return f"{text[:head]} \u2026 [{len(text) - max_text:,} characters cut] \u2026 {text[-tail:]}"
    return text


def _media_label(value: Mapping[str, Any]) -> str | None:
    """A short label for a described or HF-style media value, else ``None``."""
    kind = value.get("type")
    if isinstance(kind, str) and kind in _MEDIA_TYPES and ("sha256" in value or "shape" in value or "size" in value):
        parts = [kind]
        size = value.get("size")
        if kind == "image" and isinstance(size, list) and len(size) == 2:
            parts.append(f"{size[0]}\u00d7{size[1]}")
            if value.get("mode"):
                parts.append(str(value["mode"]))
        elif isinstance(size, int):
            parts.append(_human_bytes(size))
        if isinstance(value.get("shape"), list):
            parts.append("shape " + "\u00d7".join(str(s) for s in value["shape"]))
        digest = value.get("sha256")
        if isinstance(digest, str):
            parts.append(f"sha256 {digest[:12]}")
        return "[" + ", ".join(parts) + "]"
    if "bytes" in value and "path" in value and len(value) <= 3:  # datasets.Image storage
        data = value.get("bytes")
        size = len(data) if isinstance(data, (str, bytes)) else None
        path = value.get("path")
        label = "[image" + (f" {path}" if isinstance(path, str) and path else "")
        return label + (f", {_human_bytes(size)}]" if size else "]")
    return None


def compact_value(value: Any, max_text: int = DEFAULT_MAX_TEXT, _depth: int = 0) -> Any:
    """A JSON value cut down for the page: texts compacted, media labelled, big containers capped."""
    if isinstance(value, str):
        return compact_text(value, max_text)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return compact_text(_as_json(value), max_text)
    if isinstance(value, Mapping):
        label = _media_label(value)
        if label is not None:
            return label
        out: dict[str, Any] = {}
        for n, (k, v) in enumerate(value.items()):
            if n == _MAX_DICT_KEYS:
                out["\u2026"] = f"{len(value) - n} more keys"
                break
            out[str(k)] = compact_value(v, max_text, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        items = [compact_value(v, max_text, _depth + 1) for v in value[:_MAX_LIST_ITEMS]]
        if len(value) > _MAX_LIST_ITEMS:
            items.append(f"\u2026 {len(value) - _MAX_LIST_ITEMS} more items")
        return items
    return compact_text(str(value), max_text)


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _as_text(value: Any) -> str:
    """Display text of a response / target / prompt value (single-element lists unwrapped)."""
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return _as_json(value)


# --------------------------------------------------------------------------- sample records

# keys that compact_sample reads itself; everything else that is not a metric goes to "x"
_SAMPLE_KEYS = frozenset(
    {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics",
     "doc_hash", "prompt_hash", "target_hash", "input"}
)
_BOOL_TEXT = {"True": True, "False": False}


def _loglikelihoods(value: Any) -> list[tuple[float, bool | None]] | None:
    """``[[ll, is_greedy], ...]`` (strings after sanitize_list, or numbers) -> pairs; else ``None``."""
    if not isinstance(value, list) or not value:
        return None
    out = []
    for item in value:
        while isinstance(item, list) and len(item) == 1 and isinstance(item[0], list):
            item = item[0]
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        ll, greedy = item
        try:
            ll_f = float(ll)
        except (TypeError, ValueError):
            return None
        if isinstance(greedy, str):
            if greedy not in _BOOL_TEXT:
                return None
            greedy = _BOOL_TEXT[greedy]
        elif not isinstance(greedy, bool):
            return None
        out.append((ll_f, greedy))
    return out


def _requests(sample: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """(first argument, second argument) of each request of the sample, whatever its shape."""
    args = sample.get("arguments")
    reqs: list[tuple[Any, Any]] = []
    if isinstance(args, Mapping):  # lm-eval file: {"gen_args_0": {"arg_0": ..., "arg_1": ...}}
        for req in args.values():
            if isinstance(req, Mapping):
                reqs.append((req.get("arg_0"), req.get("arg_1")))
    elif isinstance(args, list):  # pre-tracker shape: list of argument tuples
        for req in args:
            if isinstance(req, (list, tuple)):
                reqs.append((req[0] if req else None, req[1] if len(req) > 1 else None))
    if not reqs and "input" in sample:  # lmms-eval file: input = first argument of the first request
        inp = sample["input"]
        if isinstance(inp, list) and inp:
            reqs.append((inp[0], inp[1] if len(inp) > 1 else None))
        else:
            reqs.append((inp, None))
    return reqs


def _metric_value(value: Any, max_text: int) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return compact_text(value, max_text) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return compact_text(_as_json(value), max_text)


_correct = correctness  # 1 / 0 when the main metric of a sample says right / wrong, else None


def sample_metrics(sample: Mapping[str, Any], result_metrics: Sequence[str] = ()) -> list[str]:
    """Names of the per-sample metrics of ``sample``, main metric first.

    The sample's own ``metrics`` list (lm-eval) when it has one, else the
    metrics the results report for the task that the sample carries, else
    every key that holds a number or a dict and is not a known sample field.
    """
    from evallog.readers import NON_METRIC_SAMPLE_KEYS

    listed = sample.get("metrics")
    if isinstance(listed, list) and listed and all(isinstance(m, str) for m in listed):
        return list(dict.fromkeys(listed))
    present = [m for m in dict.fromkeys(result_metrics) if m in sample]
    if present:
        return present
    return [
        k for k, v in sample.items()
        if k not in NON_METRIC_SAMPLE_KEYS and isinstance(v, (int, float, bool, dict))
    ]


def compact_sample(
    sample: Mapping[str, Any],
    *,
    metrics: Sequence[str],
    filter_index: int,
    max_text: int = DEFAULT_MAX_TEXT,
) -> dict[str, Any]:
    """The page's record of one sample line (lm-eval or lmms-eval shape, formats.md §4.2-4.3).

    Keys: ``d`` doc id, ``f`` filter index, ``v`` metric values (in ``metrics``
    order), ``c`` correct (1/0/None from the main metric), ``i`` prompt, ``t``
    target, ``r`` response, and when they apply ``rr`` raw response, ``ch``
    choices, ``ti`` index of the target choice, ``p`` predicted choice,
    ``ll`` log-likelihoods, ``x`` the other fields (document, token counts,
    media labels).
    """
    rec: dict[str, Any] = {"d": sample.get("doc_id"), "f": filter_index}
    values = [_metric_value(sample.get(m), max_text) for m in metrics]
    rec["v"] = values
    rec["c"] = _correct(sample.get(metrics[0])) if metrics else None

    reqs = _requests(sample)
    prompt = reqs[0][0] if reqs else None
    rec["i"] = compact_text(_as_text(prompt), max_text)
    choices = [c for _, c in reqs]
    has_choices = len(choices) > 1 and all(isinstance(c, str) for c in choices)
    if has_choices:
        rec["ch"] = [compact_text(c, max_text) for c in choices]

    target = sample.get("target")
    target_text = target if isinstance(target, str) else _as_text(target)
    rec["t"] = compact_text(target_text, max_text)
    if has_choices and target_text.strip().isdigit() and int(target_text) < len(choices):
        rec["ti"] = int(target_text)

    filtered = sample.get("filtered_resps")
    lls = _loglikelihoods(filtered)
    if lls is not None and (has_choices or len(lls) > 1):
        best = max(range(len(lls)), key=lambda k: lls[k][0])
        rec["p"] = best
        rec["ll"] = [round(ll, 4) for ll, _ in lls]
        rec["r"] = compact_text(choices[best], max_text) if has_choices and best < len(choices) else f"choice {best}"
    elif lls is not None:
        ll, greedy = lls[0]
        rec["r"] = f"loglikelihood {ll:.4f}" + ("" if greedy is None else f", greedy {greedy}")
    else:
        rec["r"] = compact_text(_as_text(filtered), max_text)
        if "resps" in sample:
            raw = _as_text(sample["resps"])
            if raw != _as_text(filtered):
                rec["rr"] = compact_text(raw, max_text)

    extra: dict[str, Any] = {}
    for key, value in sample.items():
        if key in _SAMPLE_KEYS or key in metrics:
            continue
        extra[key] = value
    if "doc" in sample:
        extra = {"doc": sample["doc"], **extra}
    if extra:
        rec["x"] = compact_value(extra, max_text)
    return rec


# --------------------------------------------------------------------------- runs -> page data


@dataclass
class ReportStats:
    """What went into a page."""

    runs: int = 0
    tasks: int = 0
    samples_total: int = 0
    samples_embedded: int = 0
    capped: list[dict[str, Any]] = field(default_factory=list)
    sample_bytes: int = 0
    """Bytes of the page taken by the sample blocks (compressed and base64-encoded by default)."""
    sample_json_bytes: int = 0
    """Uncompressed JSON of the embedded sample records (what the browser decodes)."""
    page_bytes: int = 0
    seconds: float = 0.0


@dataclass
class Report:
    """A rendered page and what went into it."""

    html: str
    stats: ReportStats

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically (temporary file, then rename)."""
        from evallog.atomic import atomic_write_bytes

        target = Path(path)
        atomic_write_bytes(target, self.html.encode("utf-8"), fsync=False)
        return target


def _resolve_runs(paths: Any) -> list[Any]:
    """Runs of ``paths``: Run objects as given, files via ``load_run``, folders via ``list_runs``."""
    from evallog import readers

    if isinstance(paths, (str, os.PathLike, readers.Run)):
        items = [paths]
    else:
        items = list(paths)
    if not items:
        raise ConfigError("no run given: pass run folders, results files or an output folder")
    runs: list[Any] = []
    seen: set[tuple[str, str, str]] = set()
    for item in items:
        if isinstance(item, readers.Run):
            found = [item]
        else:
            found = readers.list_runs(item)
            if not found:
                raise ConfigError(f"no evaluation run found under {os.fspath(item)!r}")
        for run in found:
            key = (os.fspath(run.path), run.flavor, run.run_id)
            if key not in seen:
                seen.add(key)
                runs.append(run)
    return runs


def _config_summary(results: Mapping[str, Any], run_id: str | None = None,
                    flavor: str | None = None) -> list[list[str]]:
    """Key facts of a run's configuration, as [label, text] pairs."""
    from evallog.redact import redact

    cfg = results.get("config") if isinstance(results.get("config"), Mapping) else {}
    cfg = redact(cfg)
    rows: list[list[str]] = []

    def add(label: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            rows.append([label, compact_text(value if isinstance(value, str) else _as_json(value), 300)])

    add("model", cfg.get("model"))
    model_args = cfg.get("model_args")
    if isinstance(model_args, Mapping):
        model_args = ",".join(f"{k}={v}" for k, v in model_args.items())
    add("model_args", model_args)
    add("model_name", results.get("model_name"))
    add("batch_size", cfg.get("batch_size"))
    add("limit", cfg.get("limit"))
    add("gen_kwargs", cfg.get("gen_kwargs"))
    add("seeds", ", ".join(f"{k.replace('_seed', '')}={cfg[k]}" for k in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed") if k in cfg))
    add("version", results.get("lm_eval_version") or results.get("lmms_eval_version"))
    add("git_hash", results.get("git_hash"))
    add("run id", run_id)
    add("date", format_time(results_datetime(results, run_id, flavor)))
    duration = results.get("total_evaluation_time_seconds")
    try:
        duration = f"{float(duration):,.1f} s" if duration is not None else None
    except (TypeError, ValueError):
        pass
    add("duration", duration)
    return rows


def _depths(group_subtasks: Mapping[str, Any]) -> dict[str, int]:
    """Nesting depth of every task/group under ``group_subtasks`` (0 for top level)."""
    depth: dict[str, int] = {}

    def walk(name: str, d: int, trail: tuple[str, ...]) -> None:
        if name in trail:  # a cycle in a hand-edited file
            return
        depth[name] = max(depth.get(name, 0), d)
        for child in group_subtasks.get(name) or []:
            if isinstance(child, str):
                walk(child, d + 1, trail + (name,))

    children = {c for v in group_subtasks.values() if isinstance(v, list) for c in v if isinstance(c, str)}
    for name in group_subtasks:
        if name not in children:
            walk(name, 0, ())
    return depth


def _column_headers() -> dict[str, str]:
    """Headers of the results tables' optional columns, the CLI's (``stderr_clt`` -> ``Stderr_CLT``)."""
    from evallog.table import optional_column_headers

    return optional_column_headers()


def _table_records(results: Mapping[str, Any], column: str) -> list[dict[str, Any]] | None:
    """``make_table(results, column, fmt="json")`` records, each with its nesting ``depth``."""
    from evallog.table import make_table

    if not results.get(column):
        return None
    records = json.loads(make_table(results, column=column, fmt="json"))
    if not records:
        return None
    depth = _depths(results.get("group_subtasks") or {})
    key = "group" if column == "groups" else "task"
    for rec in records:
        rec["depth"] = depth.get(rec.get(key), 0)
    return records


def _escape_json_for_html(data: bytes) -> str:
    """JSON text that can sit inside ``<script type="application/json">`` and still parse as the same JSON."""
    return (
        data.decode("utf-8")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:  # e.g. a lone surrogate that the stdlib parser let through
        return json.dumps(value, default=str, ensure_ascii=True).encode("ascii")


@dataclass
class _Block:
    run: int
    task: str
    id: str
    payload: str
    encoding: str


class _BlockWriter:
    """Builds one data block's payload record by record, knowing its size in the page as it grows.

    Compressed blocks are gzip streams (base64 in the page), fed record by
    record so that the budget is checked against the real compressed size.
    """

    def __init__(self, compress: bool) -> None:
        self.encoding = "gzip-base64" if compress else "json"
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None  # 31: gzip container
        self._parts: list[bytes] = []
        self._out = 0
        self.json_bytes = 0

    @property
    def page_bytes(self) -> int:
        """Bytes of the block in the page so far (data still buffered by zlib not counted)."""
        return (self._out + 2) // 3 * 4 if self._z is not None else self._out

    def write(self, data: bytes) -> None:
        self.json_bytes += len(data)
        if self._z is not None:
            data = self._z.compress(data)
            self._out += len(data)
        else:
            self._out += len(data) + 5 * (data.count(b"<") + data.count(b">") + data.count(b"&"))
        if data:
            self._parts.append(data)

    def finish(self) -> str:
        if self._z is None:
            return _escape_json_for_html(b"".join(self._parts))
        self._parts.append(self._z.flush())
        return base64.b64encode(b"".join(self._parts)).decode("ascii")


def _sample_block(
    run: Any,
    task: str,
    *,
    max_samples: int,
    budget: int,
    max_text: int,
    compress: bool,
    tick: Callable[[int], None] | None = None,
) -> tuple[_BlockWriter, str, int, int, str | None, int]:
    """The data block of one run and task.

    Returns (writer, payload, records embedded, records seen, cap reason or
    ``None``, corrupt lines skipped). Whole documents are kept: a document's records under every
    filter go in together, documents in file order until ``max_samples``
    records or ``budget`` bytes of page are reached. The block is
    ``{"samples": [...], "metrics": [...], "filters": [...]}``.
    """
    result_metrics = [m for m, _ in run.metrics(task)]
    n_filters = max(1, len(run.filters(task)))
    max_docs = max(1, max_samples // n_filters)
    doc_budget = budget // n_filters

    writer = _BlockWriter(compress)
    writer.write(b'{"samples":[')
    metrics: list[str] | None = None
    filters: list[str] = []
    filter_index: dict[str, int] = {}
    kept_docs: set[Any] = set()
    n = 0
    total = 0
    reason: str | None = None
    samples = run.samples(task, skip_corrupt=True)
    for sample in samples:
        total += 1
        if tick is not None and not total % 1000:
            tick(total)
        doc = sample.get("doc_id")
        try:
            hash(doc)
        except TypeError:
            doc = _as_json(doc)
        if doc not in kept_docs:
            if len(kept_docs) >= max_docs:
                reason = reason or "max_samples"
                continue
            if writer.page_bytes >= doc_budget:
                reason = reason or "max_bytes"
                continue
            kept_docs.add(doc)
        if n >= max_samples:
            reason = reason or "max_samples"
            continue
        name = str(sample.get("filter", "none"))
        if name not in filter_index:
            filter_index[name] = len(filters)
            filters.append(name)
        names = sample_metrics(sample, result_metrics)
        if metrics is None:
            metrics = names
        elif names != metrics:
            metrics.extend(m for m in names if m not in metrics)
        rec = compact_sample(sample, metrics=metrics, filter_index=filter_index[name], max_text=max_text)
        writer.write((b"," if n else b"") + _dumps(rec))
        n += 1
    writer.write(b'],"metrics":' + _dumps(metrics or []) + b',"filters":' + _dumps(filters) + b"}")
    return writer, writer.finish(), n, total, reason, samples.skipped


def _tick(progress: _Progress, seen: int) -> Callable[[int], None]:
    """Report samples read so far (``seen`` before this block) as the ``reading samples`` stage."""
    return lambda done: progress("reading samples", seen + done, None)


def _main_score(run: Any, task: str) -> dict[str, Any] | None:
    """The first ``metric,filter`` the results report for ``task`` (for the sample browser's header)."""
    pairs = run.metrics(task)
    if not pairs:
        return None
    metric, filt = pairs[0]
    value = run.value(task, metric, filt)
    return {"metric": metric, "filter": filt, "value": value if value is None or math.isfinite(value) else None}


def _leaderboard(runs: Sequence[Any]) -> dict[str, Any] | None:
    """The leaderboard of the runs (latest run per model) when they hold two models or more."""
    if len({run.name for run in runs if run.task_results}) < 2:
        return None
    from evallog.leaderboard import leaderboard

    board = leaderboard(list(runs))
    if not board.columns:
        return None
    higher = []
    for task, key in zip(board.columns, board.keys):
        metric = key.partition(",")[0]
        hib = next((h for h in (r.higher_is_better(task, metric) for r in board.runs) if h is not None), None)
        higher.append(hib)
    return {
        "title": board.title,
        "headers": board.headers(),
        "rows": board.table_rows(missing=None),
        "higher_is_better": [None, *higher],
    }


def _comparison(comp: Any, a: int, b: int, max_flip_ids: int) -> dict[str, Any]:
    """The page's data of one :class:`~evallog.compare.Comparison`: its table and its flips."""
    level = f"{round(100 * (1 - comp.alpha))}% CI"
    flips = []
    for r in comp.rows:
        if r.right_to_wrong_ids or r.wrong_to_right_ids:
            flips.append({
                "task": r.task, "filter": r.filter, "metric": r.metric,
                "right_to_wrong": r.right_to_wrong, "wrong_to_right": r.wrong_to_right,
                "right_to_wrong_ids": r.right_to_wrong_ids[:max_flip_ids],
                "wrong_to_right_ids": r.wrong_to_right_ids[:max_flip_ids],
            })
    notes = []
    for task, check in comp.checks.items():
        if not check.comparable:
            notes.append(f"{task}: not comparable: {'; '.join(check.issues)}")
    if comp.only_in_a:
        notes.append("only in A: " + ", ".join(comp.only_in_a))
    if comp.only_in_b:
        notes.append("only in B: " + ", ".join(comp.only_in_b))
    for r in comp.rows:
        if r.paired and (r.n_only_a or r.n_only_b):
            notes.append(f"{r.task} [{r.filter}] {r.metric}: {r.n_matched} samples matched, "
                         f"{r.n_only_a} only in A, {r.n_only_b} only in B")
        if r.note:
            notes.append(f"{r.task} [{r.filter}] {r.metric}: {r.note}")
    notes.extend(comp.notes)
    return {
        "a": a,
        "b": b,
        "alpha": comp.alpha,
        "headers": [level if h == "CI" else h for h in comp.TABLE_HEADERS],
        "rows": comp.table_rows(),
        "tasks": [r.task for r in comp.rows],
        "flips": flips,
        "notes": notes,
    }


def _comparisons(runs: Sequence[Any], pairs: Sequence[tuple[int, int]], max_flip_ids: int,
                 progress: _Progress | None = None) -> list[dict[str, Any]]:
    if not pairs:
        return []
    from evallog.compare import compare

    out = []
    for a, b in pairs:
        try:
            comp = compare(runs[a], runs[b], skip_corrupt=True, progress=progress)
        except ConfigError as exc:
            log.info("no comparison of runs %d and %d: %s", a, b, exc)
            continue
        if comp.rows:
            out.append(_comparison(comp, a, b, max_flip_ids))
    return out


def _default_pairs(runs: Sequence[Any]) -> list[tuple[int, int]]:
    pairs = []
    tasks0 = set(runs[0].tasks) if runs else set()
    for j in range(1, len(runs)):
        if tasks0 & set(runs[j].tasks):
            pairs.append((0, j))
        if len(pairs) >= _MAX_COMPARISONS:
            break
    return pairs


def _pick_run(runs: Sequence[Any], key: Any) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        if 0 <= key < len(runs):
            return key
        raise ConfigError(f"run index {key} out of range (0..{len(runs) - 1})")
    text = os.fspath(key) if isinstance(key, os.PathLike) else str(key)
    if text.isdigit() and int(text) < len(runs):
        return int(text)
    matches = [
        i for i, r in enumerate(runs)
        if text in (r.run_id, r.label, r.name, r.model, os.fspath(r.path),
                    os.fspath(r.results_file) if r.results_file else "")
    ]
    if len(matches) != 1:
        what = "no run" if not matches else f"{len(matches)} runs"
        raise ConfigError(f"{what} match {text!r}; use a run index (0..{len(runs) - 1}), a run id or a model name")
    return matches[0]


def build_report(
    paths: Any,
    *,
    title: str | None = None,
    compare: Sequence[tuple[Any, Any]] | tuple[Any, Any] | None = None,
    samples: bool = True,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_text: int = DEFAULT_MAX_TEXT,
    compress: bool = True,
    progress: _Progress | None = None,
) -> Report:
    """Gather ``paths`` into one HTML page; see the module docstring.

    ``compare`` picks the pairs of runs to compare: one ``(a, b)`` pair or a
    list of them, each run named by index (in the order given / found), run id
    or model name. By default the first run is compared with each later run
    that shares a task with it (up to 8 pairs). ``samples=False`` leaves the
    sample browser out. ``progress(stage, done, total)`` is called while
    samples are read and compared (see :data:`evallog.compare.ProgressCallback`).
    """
    if max_samples < 1 or max_bytes < 1 or max_text < 16:
        raise ConfigError("max_samples and max_bytes must be positive and max_text at least 16")
    t0 = time.perf_counter()
    runs = _resolve_runs(paths)
    stats = ReportStats(runs=len(runs))

    if compare is None:
        pairs = _default_pairs(runs)
    else:
        raw_pairs = [compare] if len(compare) == 2 and not isinstance(compare[0], (list, tuple)) else list(compare)
        pairs = []
        for pair in raw_pairs:
            if len(pair) != 2:
                raise ConfigError(f"a comparison takes two runs, got {pair!r}")
            a, b = _pick_run(runs, pair[0]), _pick_run(runs, pair[1])
            if a == b:
                raise ConfigError("cannot compare a run with itself")
            pairs.append((a, b))

    names = [run.name for run in runs]
    run_meta = [run_summary(run, short=run.name if names.count(run.name) == 1 else run.label) | run_tables(run)
                for run in runs]

    # tasks in first-seen order over the runs
    task_names: list[str] = []
    for run in runs:
        for task in run.tasks:
            if task not in task_names:
                task_names.append(task)
    stats.tasks = len(task_names)

    jobs = [(i, t) for t in task_names for i, run in enumerate(runs) if t in run.tasks]
    blocks: list[_Block] = []
    task_meta: dict[str, dict[str, Any]] = {t: {"name": t, "runs": []} for t in task_names}
    remaining = max_bytes
    for k, (i, task) in enumerate(jobs):
        run = runs[i]
        entry: dict[str, Any] = {"run": i, "score": _main_score(run, task), "block": None,
                                 "n_total": 0, "n_embedded": 0, "capped": None}
        has_samples = run.has_samples(task)
        if samples and has_samples:
            budget = remaining // (len(jobs) - k)
            tick = None if progress is None else _tick(progress, stats.samples_total)
            writer, payload, n, total, reason, skipped = _sample_block(
                run, task, max_samples=max_samples, budget=budget, max_text=max_text, compress=compress, tick=tick)
            remaining -= len(payload)
            block_id = f"evallog-samples-{len(blocks)}"
            blocks.append(_Block(i, task, block_id, payload, writer.encoding))
            entry.update(block=block_id, n_total=total, n_embedded=n, capped=reason, skipped=skipped)
            stats.samples_total += total
            stats.samples_embedded += n
            stats.sample_bytes += len(payload)
            stats.sample_json_bytes += writer.json_bytes
            if reason:
                stats.capped.append({"run": i, "task": task, "embedded": n, "total": total, "reason": reason})
        elif has_samples:
            entry["capped"] = "disabled"
        task_meta[task]["runs"].append(entry)

    meta = {
        "title": title or _default_title(run_meta),
        "generated": format_time(time.time()),
        "column_headers": _column_headers(),
        "version": _version(),
        "limits": {"max_samples": max_samples, "max_bytes": max_bytes, "max_text": max_text},
        "runs": run_meta,
        "tasks": [task_meta[t] for t in task_names],
        "leaderboard": _leaderboard(runs),
        "comparisons": _comparisons(runs, pairs, max_flip_ids=_MAX_FLIP_IDS, progress=progress),
    }
    page = _render_page(meta, blocks)
    stats.page_bytes = len(page.encode("utf-8"))
    stats.seconds = time.perf_counter() - t0
    log.info("report: %d runs, %d tasks, %d/%d samples, %d bytes", stats.runs, stats.tasks,
             stats.samples_embedded, stats.samples_total, stats.page_bytes)
    return Report(page, stats)


# the parts of the page data that `evallog view` serves from its endpoints
correct_of = _correct
column_headers = _column_headers
main_score = _main_score
leaderboard_data = _leaderboard
comparisons_data = _comparisons


def run_summary(run: Any, *, short: str) -> dict[str, Any]:
    """What the page shows of a run in listings (the shape is shared with ``evallog view``)."""
    return {
        "label": run.label,
        "short": short,
        "model": run.name,
        "flavor": run.flavor,
        "run_id": run.run_id,
        "timestamp": format_time(run_datetime(run)),
        "path": os.fspath(run.path),
        "tasks": list(run.tasks),
        "in_progress": bool(run.in_progress),
    }


def run_tables(run: Any) -> dict[str, Any]:
    """The configuration summary and the results / groups tables of a run (``make_table`` records)."""
    return {
        "config": _config_summary(run.results, run.run_id, run.flavor),
        "results_table": _table_records(run.results, "results"),
        "groups_table": _table_records(run.results, "groups"),
    }


def render_report(paths: Any, output: str | os.PathLike[str] | None = None, **options: Any) -> str:
    """The HTML page of ``paths`` (see :func:`build_report` for ``options``); also written to ``output`` if given."""
    report = build_report(paths, **options)
    if output is not None:
        report.write(output)
    return report.html


def _default_title(run_meta: Sequence[Mapping[str, Any]]) -> str:
    models = []
    for r in run_meta:
        if r["model"] and r["model"] not in models:
            models.append(r["model"])
    if not models:
        return "Evaluation report"
    if len(models) <= 3:
        return "Evaluation report: " + ", ".join(models)
    return f"Evaluation report: {len(models)} models"


def _version() -> str:
    from evallog import __version__

    return __version__


# --------------------------------------------------------------------------- page assembly

_PLACEHOLDER = re.compile(r"\{\{([A-Z]+)\}\}")


def _asset(name: str) -> str:
    return resources.files("evallog").joinpath("report_assets", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_app_page(meta: Mapping[str, Any]) -> tuple[str, str]:
    """The page of ``evallog view``: the report's page whose data comes from the server.

    Returns ``(html, csp)``: the report's policy plus ``connect-src 'self'``
    for the page's requests to the JSON endpoints.
    """
    return _render_page(meta, (), connect=True), _page_csp(connect=True)


def _page_csp(*, connect: bool = False) -> str:
    parts = [
        "default-src 'none'",
        f"script-src {_csp_hash(_asset('report.js'))}",
        f"style-src {_csp_hash(_asset('report.css'))}",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    if connect:
        parts.insert(4, "connect-src 'self'")
    return "; ".join(parts)


def _render_page(meta: Mapping[str, Any], blocks: Sequence[_Block], *, connect: bool = False) -> str:
    css = _asset("report.css")
    js = _asset("report.js")
    for name, text in (("report.css", css), ("report.js", js)):
        if "</" in text:  # would end the inline element early
            raise ConfigError(f"report asset {name} must not contain '</'")
    csp = _page_csp(connect=connect)
    parts = []
    for b in blocks:
        parts.append(
            f'<script type="application/json" id="{b.id}" data-encoding="{b.encoding}">{b.payload}</script>\n'
        )
    values = {
        "CSP": csp,
        "TITLE": html.escape(str(meta["title"])),
        "VERSION": html.escape(str(meta["version"])),
        "CSS": css,
        "JS": js,
        "META": _escape_json_for_html(_dumps(meta)),
        "BLOCKS": "".join(parts),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("template.html"))


def iter_blocks(page: str) -> Iterator[tuple[str, str, str]]:
    """``(id, encoding, payload)`` of every data block of a page (for tests and tools)."""
    for m in re.finditer(r'<script type="application/json" id="([^"]+)"(?: data-encoding="([^"]+)")?>(.*?)</script>', page, re.S):
        yield m.group(1), m.group(2) or "json", m.group(3)


def read_block(page: str, block_id: str) -> Any:
    """The decoded JSON of one data block of a page."""
    for bid, encoding, payload in iter_blocks(page):
        if bid == block_id:
            if encoding == "gzip-base64":
                return json.loads(gzip.decompress(base64.b64decode(payload)))
            return json.loads(payload)
    raise KeyError(block_id)

"""The columns of the Parquet store, and runs turned into Arrow batches.

This module is the contract of the store and of the SQL views over it:

``samples`` (one row per sample line)
    ``run_id``, ``model``, ``task`` (strings), ``doc_id`` (int64; null when the
    line's ``doc_id`` is not an integer), ``filter``, ``target``, ``response``
    (the scored response, ``filtered_resps``, as text: a lone string as
    itself, anything else as JSON text), ``doc_hash``, ``prompt_hash``,
    ``target_hash`` (strings), then one float64 column per numeric metric of
    the line, named by the metric (``acc``, ``exact_match``; 0/1 and boolean
    metrics too; list- or dict-valued metrics only live in ``record``), and
    ``record``: the whole original line as JSON text, so nothing is lost.

``results`` (one row per run, task or group, filter and metric)
    ``run_id``, ``model``, ``task``, ``filter``, ``metric`` (strings),
    ``value``, ``stderr`` (float64), ``n`` (int64, the effective sample
    count), ``n_shot`` (int64), ``version`` (string), ``higher_is_better``
    (bool).

Runs are read through :mod:`evallog.readers` (never re-parsed here); the
filter of an lmms-eval line is the one the reader infers, while ``record``
keeps the line exactly as written.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

import orjson

from evallog._extras import require
from evallog.errors import ConfigError, ReadError
from evallog.readers import Run
from evallog.schema import NON_METRIC_SAMPLE_KEYS, stderr_key

__all__ = [
    "EXTRA",
    "GROUPS_KEY",
    "SAMPLE_KEY_COLUMNS",
    "RESULT_COLUMNS",
    "pyarrow",
    "samples_schema",
    "results_schema",
    "SampleBatcher",
    "results_table",
    "results_doc",
    "model_of",
]

EXTRA = "parquet"
# a batch's ``record`` column has 32-bit offsets
MAX_BATCH_BYTES = 1 << 30

# (name, arrow type name) of the fixed sample columns, in order; metrics follow, then ``record``
SAMPLE_KEY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "string"),
    ("model", "string"),
    ("task", "string"),
    ("doc_id", "int64"),
    ("filter", "string"),
    ("target", "string"),
    ("response", "string"),
    ("doc_hash", "string"),
    ("prompt_hash", "string"),
    ("target_hash", "string"),
)
RECORD_COLUMN = "record"
# key of the results files' key-value metadata holding the run's group -> subtasks (JSON)
GROUPS_KEY = "evallog.group_subtasks"
RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "string"),
    ("model", "string"),
    ("task", "string"),
    ("filter", "string"),
    ("metric", "string"),
    ("value", "float64"),
    ("stderr", "float64"),
    ("n", "int64"),
    ("n_shot", "int64"),
    ("version", "string"),
    ("higher_is_better", "bool_"),
)
_RESERVED = frozenset(name for name, _ in SAMPLE_KEY_COLUMNS) | {RECORD_COLUMN}


def pyarrow(feature: str = "the Parquet store") -> Any:
    """The ``pyarrow`` module, or :class:`~evallog.errors.MissingExtraError`."""
    return require("pyarrow", EXTRA, feature)


def _type(pa: Any, name: str) -> Any:
    return getattr(pa, name)()


def samples_schema(metrics: list[str]) -> Any:
    """The samples schema with float64 columns ``metrics`` (in that order)."""
    pa = pyarrow()
    fields = [pa.field(n, _type(pa, t)) for n, t in SAMPLE_KEY_COLUMNS]
    fields += [pa.field(m, pa.float64()) for m in metrics]
    fields.append(pa.field(RECORD_COLUMN, pa.string()))
    return pa.schema(fields)


def results_schema() -> Any:
    pa = pyarrow()
    return pa.schema([pa.field(n, _type(pa, t)) for n, t in RESULT_COLUMNS])


def model_of(run: Run) -> str:
    """The ``model`` value of a run: ``model_name`` from its results, else its folder's name."""
    return run.name


# ------------------------------------------------------------------ samples


def _is_metric_value(value: Any) -> bool:
    return value is None or isinstance(value, (int, float))  # bool is an int


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _response(value: Any) -> str | None:
    """``filtered_resps`` as text: a string, or a one-element list of a string, as itself."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    return _text(value)


class _Chunk:
    """The columns of the lines of one batch, built as they are read."""

    def __init__(self, known: set[str], metric_names: list[str]) -> None:
        self.n = 0
        self.size = 0
        self.cols: dict[str, list[Any]] = {name: [] for name, _ in SAMPLE_KEY_COLUMNS[3:]}
        self.lines: list[bytes] = []  # the lines as read, trailing whitespace removed
        self.metrics: dict[str, list[float | None]] = {m: [] for m in metric_names}
        self.known = known  # keys already classified (shared across the task's batches)
        self.maybe: set[str] = set()  # unknown keys seen only with non-numeric values so far

    def _classify(self, rec: dict[str, Any]) -> None:
        for key in rec.keys() - self.known:
            if key in NON_METRIC_SAMPLE_KEYS or key in _RESERVED:
                self.known.add(key)
            elif _is_metric_value(rec[key]):
                self.known.add(key)
                self.maybe.discard(key)
                self.metrics[key] = [None] * self.n
            else:
                self.maybe.add(key)

    def add(self, line: bytes, rec: dict[str, Any]) -> None:
        if not rec.keys() <= self.known:
            self._classify(rec)
        get = rec.get
        cols = self.cols
        doc_id = get("doc_id")
        cols["doc_id"].append(doc_id if type(doc_id) is int else None)
        value = get("filter")
        cols["filter"].append(value if type(value) is str else _text(value))
        value = get("target")
        cols["target"].append(value if type(value) is str else _text(value))
        value = get("doc_hash")
        cols["doc_hash"].append(value if type(value) is str else _text(value))
        value = get("prompt_hash")
        cols["prompt_hash"].append(value if type(value) is str else _text(value))
        value = get("target_hash")
        cols["target_hash"].append(value if type(value) is str else _text(value))
        cols["response"].append(_response(get("filtered_resps")))
        for key, col in self.metrics.items():
            value = get(key)
            col.append(float(value) if value is not None and isinstance(value, (int, float)) else None)
        self.lines.append(line.rstrip())
        self.n += 1
        self.size += len(line)


class SampleBatcher:
    """Turns the sample lines of one task of a run into Arrow record batches.

    Lines are accumulated until ``batch_bytes`` of JSON have been read (one
    batch becomes one row group), so memory stays bounded by a few times
    ``batch_bytes`` whatever the file size. Each batch carries the metric
    columns seen so far in the task (``batch.schema`` grows when a later
    line brings a new metric). Lines are not valid UTF-8: :class:`ReadError`.
    """

    def __init__(self, run: Run, task: str, *, batch_bytes: int = 16 << 20, skip_corrupt: bool = False) -> None:
        if not 0 < batch_bytes <= MAX_BATCH_BYTES:
            raise ConfigError(f"batch size must be between 1 byte and {MAX_BATCH_BYTES} bytes, got {batch_bytes}")
        self.run = run
        self.task = task
        self.batch_bytes = batch_bytes
        self.skip_corrupt = skip_corrupt
        self.rows = 0

    def __iter__(self) -> Iterator[Any]:
        known: set[str] = set()
        chunk = _Chunk(known, [])
        samples = self.run.samples(self.task, skip_corrupt=self.skip_corrupt)
        for line, rec in samples.with_raw():
            chunk.add(line, rec)
            if chunk.size >= self.batch_bytes:
                yield self._batch(chunk)
                chunk = _Chunk(known, list(chunk.metrics))
        if chunk.n:
            yield self._batch(chunk)

    def _batch(self, chunk: _Chunk) -> Any:
        pa = pyarrow()
        n = chunk.n
        self.rows += n
        schema = samples_schema(list(chunk.metrics))
        consts = {"run_id": self.run.run_id, "model": model_of(self.run), "task": self.task}
        arrays = []
        for field in schema:
            name = field.name
            if name in consts:
                arrays.append(pa.array([consts[name]] * n, pa.string()))
            elif name == RECORD_COLUMN:
                offsets = array("i", [0])
                offsets.extend(accumulate(map(len, chunk.lines)))
                data = b"".join(chunk.lines)
                record = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
                try:
                    record.validate(full=True)
                except pa.ArrowInvalid as exc:
                    raise ReadError(f"a sample line is not valid UTF-8: {exc}", path=self.run.sample_files.get(self.task),
                                    task=self.task) from exc
                arrays.append(record)
            elif name in chunk.metrics:
                arrays.append(pa.array(chunk.metrics[name], pa.float64()))
            else:
                arrays.append(pa.array(chunk.cols[name], field.type))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)


# ------------------------------------------------------------------ results


def _int_or_none(value: Any) -> int | None:
    return value if type(value) is int else None


def _version(value: Any) -> str | None:
    return None if value is None else _text(value)


def results_table(run: Run) -> Any:
    """One row per task (or group), filter and metric of the run's results."""
    pa = pyarrow()
    rows: dict[str, list[Any]] = {name: [] for name, _ in RESULT_COLUMNS}
    model = model_of(run)
    for task in run.tasks:
        for metric, filt in run.metrics(task):
            rows["run_id"].append(run.run_id)
            rows["model"].append(model)
            rows["task"].append(task)
            rows["filter"].append(filt)
            rows["metric"].append(metric)
            rows["value"].append(run.value(task, metric, filt))
            rows["stderr"].append(run.stderr(task, metric, filt))
            rows["n"].append(run.reported_samples(task))
            rows["n_shot"].append(_int_or_none(run.n_shot(task)))
            rows["version"].append(_version(run.version(task)))
            rows["higher_is_better"].append(run.higher_is_better(task, metric))
    schema = results_schema().with_metadata({GROUPS_KEY: orjson.dumps(run.group_subtasks)})
    return pa.Table.from_pydict(rows, schema=schema)


def results_doc(table: Any) -> dict[str, Any]:
    """The inverse of :func:`results_table`: a results document (``results``, ``n-shot``,
    ``versions``, ``higher_is_better``, ``n-samples``, ``model_name``, ``group_subtasks``)
    rebuilt from one run's rows, tasks and metrics in row order."""
    cols = {name: table.column(name).to_pylist() for name, _ in RESULT_COLUMNS}
    doc: dict[str, Any] = {"model_name": cols["model"][0] if table.num_rows else None, "results": {},
                           "n-shot": {}, "versions": {}, "higher_is_better": {}, "n-samples": {}}
    for i, task in enumerate(cols["task"]):
        entry = doc["results"].get(task)
        if entry is None:
            entry = doc["results"][task] = {}
            for key, col, wrap in (("n-shot", "n_shot", None), ("versions", "version", None), ("n-samples", "n", "effective")):
                value = cols[col][i]
                if value is not None:
                    doc[key][task] = {wrap: value} if wrap else value
        metric, filt = cols["metric"][i], cols["filter"][i]
        entry[f"{metric},{filt}"] = cols["value"][i]
        stderr = cols["stderr"][i]
        entry[stderr_key(metric, filt)] = "N/A" if stderr is None else stderr
        if cols["higher_is_better"][i] is not None:
            doc["higher_is_better"].setdefault(task, {})[metric] = cols["higher_is_better"][i]
    groups = (table.schema.metadata or {}).get(GROUPS_KEY.encode())
    if groups and len(groups) > 2:
        doc["group_subtasks"] = orjson.loads(groups)
    return doc

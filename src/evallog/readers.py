"""Read runs back: the folders written by evallog, lm-eval and lmms-eval.

A *run* is one results file and the samples files that share its run id, in
one folder (the model folder; lmms-eval may also write directly into its
output path)::

    lm-eval     <dir>/results_<run_id>.json     <dir>/samples_<task>_<run_id>.jsonl
    lmms-eval   <dir>/<run_id>_results.json     <dir>/<run_id>_samples_<task>.jsonl

Either part may be missing (a run logged without samples, or samples whose
results file was never written). evallog also keeps a manifest
``<dir>/.evallog/<run_id>.json``; when its ``format_version`` is newer than
this evallog reads, the run is refused with
:class:`~evallog.errors.UnsupportedFormatError`.

Public API::

    load_run(path, run_id=None) -> Run
    list_runs(root) -> list[Run]
    Run.samples(task, skip_corrupt=False) -> TaskSamples   # lazy, re-iterable
    Run.n_samples(task) -> int

Samples are never held in memory as a whole: :class:`TaskSamples` re-reads the
file on every iteration and yields one parsed record (a ``dict``) at a time.
Records always carry a ``"filter"`` key: lmms-eval writes none, so it is
inferred from the run's results (the filters of the task in the order the
results list them; the k-th line of a ``doc_id`` belongs to the k-th filter,
which is how lmms-eval logs a multi-filter task), ``"none"`` when the results
say nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from evallog import layout
from evallog.encoding import decode
from evallog.errors import CorruptLineError, ReadError, UnsupportedFormatError
from evallog.flavors import IN_PROGRESS_SUFFIX, run_timestamp
from evallog.layout import RunFiles, RunStatus
from evallog.paths import open_regular, read_regular
from evallog.schema import NON_METRIC_SAMPLE_KEYS, metric_keys

__all__ = [
    "Run",
    "RunList",
    "SkippedRun",
    "TaskSamples",
    "load_run",
    "list_runs",
    "parse_run_timestamp",
    "metric_keys",
    "NON_METRIC_SAMPLE_KEYS",
]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ helpers


def parse_run_timestamp(run_id: str) -> datetime | None:
    """The (naive, local) time encoded in a run id of any flavor, or ``None``.

    lm-eval ids look like ``2026-11-26T14-50-01.009042``, lmms-eval ids like
    ``20261126_120000`` (anything after those prefixes is ignored).
    """
    return run_timestamp(run_id)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_json_file(path: Path) -> Any:
    data = read_regular(path)
    try:
        return decode(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReadError(f"not valid JSON: {exc}", path=path) from exc


# ------------------------------------------------------------------ samples


class TaskSamples:
    """The samples of one task of a run: a lazy, re-iterable sequence of dicts.

    Each iteration re-opens the file and parses one line at a time, so memory
    stays constant whatever the file size. A line that is not a JSON object
    raises :class:`~evallog.errors.CorruptLineError` naming the file and the
    line number; with ``skip_corrupt=True`` it is skipped instead, and
    :attr:`skipped` / :attr:`skipped_lines` tell how many (after a complete
    iteration). Blank lines are ignored. In an in-progress (``.partial``)
    file, an unterminated last line is the record being written and is
    ignored silently.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        task: str | None = None,
        *,
        skip_corrupt: bool = False,
        filters: Iterable[str] | None = None,
        in_progress: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.task = task
        self.skip_corrupt = skip_corrupt
        self.filters: tuple[str, ...] = tuple(filters or ())
        self.in_progress = (
            self.path.name.endswith(IN_PROGRESS_SUFFIX) if in_progress is None else in_progress
        )
        self.skipped = 0
        self.skipped_lines: list[int] = []  # the first 1000 skipped line numbers

    def __repr__(self) -> str:
        return f"TaskSamples(task={self.task!r}, path={str(self.path)!r})"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _, record in self.with_lines():
            yield record

    def __len__(self) -> int:
        return count_lines(self.path, in_progress=self.in_progress)

    def with_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(line_number, record)`` pairs (line numbers start at 1)."""
        for lineno, _, record in self._scan():
            yield lineno, record

    def with_raw(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Yield ``(line, record)`` pairs: the line as read (bytes, newline included)
        and its parsed record (with the inferred ``"filter"``, which the line may lack)."""
        for _, line, record in self._scan():
            yield line, record

    def _scan(self) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
        filters = self.filters
        infer_multi = len(filters) > 1
        default_filter = filters[0] if filters else "none"
        seen: dict[Any, int] = {}
        skipped = 0
        skipped_lines: list[int] = []
        fh = open_regular(self.path, task=self.task)
        with fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = decode(line)
                except ValueError:
                    record = _CORRUPT
                if type(record) is not dict:
                    truncated = not line.endswith(b"\n")
                    if truncated and self.in_progress:
                        break
                    if self.skip_corrupt:
                        skipped += 1
                        if len(skipped_lines) < 1000:
                            skipped_lines.append(lineno)
                        continue
                    what = (
                        "truncated line: the file ends in the middle of a record"
                        if truncated
                        else "not a JSON object"
                        if record is not _CORRUPT
                        else "corrupt line: not valid JSON"
                    )
                    raise CorruptLineError(what, path=self.path, line=lineno, task=self.task)
                if "filter" not in record:
                    if infer_multi:
                        doc_id = record.get("doc_id")
                        try:
                            k = seen.get(doc_id, 0)
                            seen[doc_id] = k + 1
                        except TypeError:  # unhashable doc_id
                            k = 0
                        record["filter"] = filters[k] if k < len(filters) else f"{default_filter}#{k}"
                    else:
                        record["filter"] = default_filter
                yield lineno, line, record
        self.skipped = skipped
        self.skipped_lines = skipped_lines
        if skipped:
            logger.warning("skipped %d corrupt line(s) in %s", skipped, self.path)


_CORRUPT = object()


def count_lines(path: str | os.PathLike[str], *, in_progress: bool = False) -> int:
    """Number of non-blank lines of a JSONL file, without parsing them.

    In an in-progress file an unterminated last line is not counted.
    """
    n = 0
    last = b"\n"
    try:
        with open_regular(Path(path)) as fh:
            for line in fh:
                last = line
                if not line.isspace():
                    n += 1
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    if in_progress and not last.endswith(b"\n") and not last.isspace():
        n -= 1
    return n


# ---------------------------------------------------------------------- runs


@dataclass
class Run:
    """One run read back from disk.

    Attributes:
        path: the folder holding the run's files.
        model: the folder's name (the sanitized model name the tracker used;
            for lmms-eval runs written directly into the output path, that
            folder's name).
        model_name: ``model_name`` from the results file, ``None`` if absent
            or empty.
        run_id: the run id shared by the run's file names.
        timestamp: the time encoded in ``run_id`` (naive), ``None`` if the id
            has neither flavor's shape.
        flavor: ``"lm-eval"`` or ``"lmms-eval"`` (from the file names).
        results: the parsed results file, ``{}`` when only samples exist.
        results_file: its path, or ``None``.
        tasks: every task and group name: the results' ``results`` keys in
            file order, then tasks that only have a samples file.
        sample_files: task name -> samples file.
        in_progress: a live tracker holds the run's lock (a lock whose pid is
            dead never counts), or, for runs without a manifest, some samples
            file is still a ``.partial`` stream.
        manifest: the evallog manifest of the run, ``None`` for runs written
            by lm-eval / lmms-eval themselves.
        status: :class:`~evallog.layout.RunStatus`; ``interrupted`` when the
            manifest says ``running`` but no live process holds the run.
    """

    path: Path
    model: str
    model_name: str | None
    run_id: str
    timestamp: datetime | None
    flavor: str
    results: dict[str, Any] = field(repr=False)
    results_file: Path | None = field(repr=False)
    tasks: list[str] = field(repr=False)
    sample_files: dict[str, Path] = field(repr=False)
    in_progress: bool = False
    manifest: dict[str, Any] | None = field(default=None, repr=False)
    status: RunStatus = field(default=RunStatus.COMPLETE, repr=False)

    # ---- identity

    @property
    def name(self) -> str:
        """A display name: ``model_name`` when known, else the folder name."""
        return self.model_name or self.model

    @property
    def label(self) -> str:
        """``<name>@<run_id>``, unambiguous in listings."""
        return f"{self.name}@{self.run_id}"

    # ---- results

    @property
    def task_results(self) -> dict[str, dict[str, Any]]:
        """``results["results"]``: per-task (and per-group) metric entries."""
        res = self.results.get("results")
        return res if isinstance(res, dict) else {}

    @property
    def groups(self) -> list[str]:
        """Group names: ``groups`` keys and ``group_subtasks`` keys with children."""
        out: list[str] = [name for name in self._section("groups") if isinstance(name, str)]
        for name in self.group_subtasks:
            if name not in out:
                out.append(name)
        return out

    def _section(self, key: str) -> dict[str, Any]:
        """A mapping section of the results (``versions``, ``n-shot``, ...); ``{}`` when it is
        absent or of another type (a hostile or damaged file never raises a bare error)."""
        value = self.results.get(key)
        return value if isinstance(value, dict) else {}

    def _entry(self, task: str) -> dict[str, Any]:
        entry = self.task_results.get(task)
        return entry if isinstance(entry, dict) else {}

    @property
    def group_subtasks(self) -> dict[str, list[str]]:
        """Groups with children (children that are not task names are left out)."""
        out: dict[str, list[str]] = {}
        for k, v in self._section("group_subtasks").items():
            if isinstance(v, (list, tuple)):
                children = [c for c in v if isinstance(c, str)]
                if children:
                    out[k] = children
        return out

    def metrics(self, task: str) -> list[tuple[str, str]]:
        """``(metric, filter)`` pairs the results report for ``task``."""
        entry = self.task_results.get(task)
        return metric_keys(entry) if isinstance(entry, dict) else []

    def filters(self, task: str) -> list[str]:
        """The task's filter names in results order (``[]`` without results)."""
        out: list[str] = []
        for _, filt in self.metrics(task):
            if filt not in out:
                out.append(filt)
        return out

    def value(self, task: str, metric: str, filt: str = "none") -> float | None:
        """The aggregated value of ``metric,filter``, ``None`` if absent or not a number."""
        v = self._entry(task).get(f"{metric},{filt}")
        return float(v) if isinstance(v, (int, float)) else None

    def stderr(self, task: str, metric: str, filt: str = "none") -> float | None:
        """The reported standard error of ``metric,filter``; ``None`` for ``"N/A"`` or absent."""
        v = self._entry(task).get(f"{metric}_stderr,{filt}")
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def n_shot(self, task: str) -> Any:
        return self._section("n-shot").get(task)

    def version(self, task: str) -> Any:
        return self._section("versions").get(task)

    def task_hash(self, task: str) -> str | None:
        value = self._section("task_hashes").get(task)
        return value if isinstance(value, str) else None

    def reported_samples(self, task: str) -> int | None:
        """``n-samples[task].effective`` (or the entry's ``sample_len``) from the results."""
        ns = self._section("n-samples").get(task)
        if isinstance(ns, dict) and _is_number(ns.get("effective")):
            return int(ns["effective"])
        entry = self._entry(task)
        if _is_number(entry.get("sample_len")):
            return int(entry["sample_len"])
        return None

    def higher_is_better(self, task: str, metric: str) -> bool | None:
        per_task = self._section("higher_is_better").get(task)
        v = per_task.get(metric) if isinstance(per_task, dict) else None
        return v if isinstance(v, bool) else None

    # ---- samples

    def has_samples(self, task: str) -> bool:
        return task in self.sample_files

    def samples(self, task: str, *, skip_corrupt: bool = False) -> TaskSamples:
        """The samples of ``task`` (lazy; see :class:`TaskSamples`)."""
        path = self.sample_files.get(task)
        if path is None:
            known = ", ".join(sorted(self.sample_files)) or "none"
            raise ReadError(f"no samples file for this task in the run (tasks with samples: {known})",
                            path=self.path, task=task)
        return TaskSamples(path, task, skip_corrupt=skip_corrupt, filters=self.filters(task))

    def n_samples(self, task: str) -> int:
        """Number of sample lines of ``task`` (0 without a samples file); JSON is not parsed."""
        path = self.sample_files.get(task)
        if path is None:
            return 0
        return count_lines(path, in_progress=path.name.endswith(IN_PROGRESS_SUFFIX))


# ------------------------------------------------------------------ scanning


def _build_run(rf: RunFiles) -> Run:
    directory = rf.folder
    manifest = layout.read_manifest(directory, rf.run_id)
    results: dict[str, Any] = {}
    if rf.results_file is not None:
        loaded = _read_json_file(rf.results_file)
        if not isinstance(loaded, dict):
            raise ReadError("results file is not a JSON object", path=rf.results_file)
        results = loaded
    tasks: list[str] = []
    res = results.get("results")
    if isinstance(res, dict):
        tasks.extend(res)
    tasks.extend(t for t in sorted(rf.sample_files) if t not in tasks)
    model_name = results.get("model_name")
    if not isinstance(model_name, str) or not model_name:
        model_name = None
    status, in_progress = layout.run_status(rf, manifest)
    return Run(
        path=directory,
        model=directory.name,
        model_name=model_name,
        run_id=rf.run_id,
        timestamp=parse_run_timestamp(rf.run_id),
        flavor=rf.flavor,
        results=results,
        results_file=rf.results_file,
        tasks=tasks,
        sample_files=dict(sorted(rf.sample_files.items())),
        in_progress=in_progress,
        manifest=manifest,
        status=status,
    )


def _sort_key(run: Run) -> tuple[str, str, str, str]:
    ts = run.timestamp.isoformat() if run.timestamp else ""
    return (run.model, ts, run.run_id, str(run.path))


@dataclass(frozen=True)
class SkippedRun:
    """A run :func:`list_runs` left out: its unreadable file and why."""

    path: Path
    reason: str


class RunList(list[Run]):
    """The runs :func:`list_runs` found; :attr:`skipped` lists the unreadable ones it left out."""

    skipped: list[SkippedRun]

    def __init__(self, runs: Iterable[Run] = (), skipped: Iterable[SkippedRun] = ()) -> None:
        super().__init__(runs)
        self.skipped = list(skipped)


def _skip(exc: ReadError, rf: RunFiles, skipped: list[SkippedRun]) -> None:
    path = Path(exc.path) if exc.path else (rf.results_file or rf.folder)
    skipped.append(SkippedRun(path, exc.message))
    logger.warning("skipping unreadable run %s: %s", path, exc.message)


def list_runs(
    root: str | os.PathLike[str], *, skip_unsupported: bool = False, errors: str = "skip"
) -> RunList:
    """Every run under ``root``, sorted by model folder then timestamp.

    Recurses into sub-folders (lm-eval's ``org__model`` folders, nested
    output paths) and also finds lmms-eval files written directly into
    ``root``. Hidden files and folders and ``*.tmp`` files are ignored;
    runs with ``.partial`` samples files are listed with ``in_progress=True``.
    A run whose results file or manifest cannot be read is left out with one
    warning naming the file and listed in the result's ``skipped``;
    ``errors="raise"`` raises its :class:`~evallog.errors.ReadError` instead.
    A run written in a newer evallog format raises
    :class:`~evallog.errors.UnsupportedFormatError`, or is left out (with a
    warning) when ``skip_unsupported`` is true. ``root`` may also be a
    results or samples file (its run is returned).
    """
    if errors not in ("skip", "raise"):
        raise ValueError(f"errors must be 'skip' or 'raise', not {errors!r}")
    root = Path(root)
    if root.is_file():
        return RunList([load_run(root)])
    if not root.is_dir():
        raise ReadError("no such folder", path=root)
    runs: list[Run] = []
    skipped: list[SkippedRun] = []
    for rf in layout.find_runs(root):
        try:
            runs.append(_build_run(rf))
        except UnsupportedFormatError as exc:
            if not skip_unsupported:
                raise
            logger.warning("skipping run %s: %s", rf.run_id, exc)
        except ReadError as exc:
            if errors == "raise":
                raise
            _skip(exc, rf, skipped)
    runs.sort(key=_sort_key)
    return RunList(runs, skipped)


def _pick(runs: list[Run], run_id: str | None, where: Path) -> Run:
    if run_id is not None:
        chosen = [r for r in runs if r.run_id == run_id]
        if not chosen:
            known = ", ".join(r.run_id for r in runs) or "none"
            raise ReadError(f"no run with id {run_id!r} (runs: {known})", path=where)
        runs = chosen
    return sorted(runs, key=lambda r: (r.timestamp.isoformat() if r.timestamp else "", r.run_id))[-1]


def _load_file(path: Path, run_id: str | None) -> Run:
    parsed = layout.parse_filename(path.name)
    if parsed is None:
        raise ReadError("not a results or samples file of lm-eval, lmms-eval or evallog", path=path)
    if run_id is not None and run_id != parsed.run_id:
        raise ReadError(f"file belongs to run {parsed.run_id!r}, not {run_id!r}", path=path)
    rf = layout.scan_folder(path.parent).get((parsed.flavor, parsed.run_id))
    if rf is None:  # e.g. a results file of an unexpected name
        rf = RunFiles(path.parent, parsed.flavor, parsed.run_id, results_file=path)
    return _build_run(rf)


def load_run(path: str | os.PathLike[str], run_id: str | None = None) -> Run:
    """Load one run.

    ``path`` may be a results file or a samples file (its run), a model folder
    (its latest run, or the one with ``run_id``), or an output root holding a
    single model folder (same choice inside it).
    """
    path = Path(path)
    if path.is_file():
        return _load_file(path, run_id)
    if not path.is_dir():
        raise ReadError("no such file or folder", path=path)
    here = [_build_run(rf) for rf in layout.scan_folder(path).values()]
    if here and (run_id is None or any(r.run_id == run_id for r in here)):
        return _pick(here, run_id, path)
    runs: list[Run] = list_runs(path, errors="raise")
    if run_id is not None:
        runs = [r for r in runs if r.run_id == run_id]
    if not runs:
        what = f"no run with id {run_id!r}" if run_id else "no runs"
        raise ReadError(f"{what} found under this folder", path=path)
    folders = sorted({r.path for r in runs})
    if len(folders) > 1:
        names = ", ".join(str(f.relative_to(path)) if f != path else "." for f in folders)
        raise ReadError(
            f"several model folders hold runs ({names}); pass one of them, or use list_runs()", path=path
        )
    return _pick(runs, run_id, path)

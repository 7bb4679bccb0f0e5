"""Fuzz suite (issue 17): hostile values, names and files through every write path and reader.

Every example must end in valid strict JSON on disk or a typed ``evallog.errors`` exception
that names its file, task or sample; never a bare builtin exception, a hang (each example runs
under a SIGALRM timeout), a mutated input, or a file outside ``output_path``.

Bounded time: the hypothesis profile below fixes the number of examples
(``EVALLOG_FUZZ_EXAMPLES``, default 150 per test); the whole file takes about a minute.
The counters printed at the end are the figures of the issue's note.
"""

from __future__ import annotations

import collections
import json
import math
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog import EvaluationTracker
from evallog.errors import EvallogError
from evallog.paths import model_dir_name, safe_task_component
from evallog.readers import list_runs, load_run

EXAMPLES = int(os.environ.get("EVALLOG_FUZZ_EXAMPLES", "150"))
PER_EXAMPLE_SECONDS = 20
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run (CI time is bounded and reproducible)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
COUNTS: collections.Counter[str] = collections.Counter()


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def on_alarm(_signum: int, _frame: Any) -> None:
        raise TimeoutError(f"example took more than {seconds} s (a hang)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------ hostile values
class BadStr:
    """An object whose __str__ (and __repr__) raise."""

    def __str__(self) -> str:
        raise RuntimeError("__str__ failed")

    __repr__ = __str__


class BadLen(list):
    def __len__(self) -> int:
        raise RuntimeError("__len__ failed")


def _cyclic() -> dict:
    d: dict = {"a": 1}
    d["self"] = d
    return d


def _deep(n: int) -> Any:
    v: Any = "leaf"
    for _ in range(n):
        v = {"d": v}
    return v


_WEIRD = st.sampled_from(
    [
        "bad_str", "cyclic", "cyclic_list", "longdouble", "longdouble_array", "memoryview", "colliding_keys",
        "null_keys", "tuple_key", "surrogate", "big_int", "nan", "inf", "set", "ordered", "bytes", "deep_200",
        "deep_300", "np_str", "np_array", "bad_len", "complex", "np_nan", "float16",
    ]
)


def make_weird(kind: str) -> Any:
    lst: list = []
    lst.append(lst)
    return {
        "bad_str": BadStr(),
        "cyclic": _cyclic(),
        "cyclic_list": lst,
        "longdouble": np.longdouble(0.25),
        "longdouble_array": np.array([1.5, 2.5], dtype=np.longdouble),
        "memoryview": memoryview(b"\x00\x01" * 2048),
        "colliding_keys": {1: "int", "1": "str"},
        "null_keys": {None: 1, "null": 2},
        "tuple_key": {(1, 2): "t"},
        "surrogate": "lone \ud800 surrogate",
        "big_int": 2**200,
        "nan": float("nan"),
        "inf": float("-inf"),
        "set": {"b", "a", 3},
        "ordered": collections.OrderedDict(z=1, a=[1, 2]),
        "bytes": b"\xff\xfe",
        "deep_200": _deep(200),
        "deep_300": _deep(300),
        "np_str": np.str_("numpy text"),
        "np_array": np.arange(6).reshape(2, 3),
        "bad_len": BadLen([1, 2]),
        "complex": 1 + 2j,
        "np_nan": np.float32("nan"),
        "float16": np.float16(0.5),
    }[kind]


_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    _WEIRD.map(make_weird),
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=12,
)
_NAME = st.one_of(
    st.text(min_size=0, max_size=40),
    st.sampled_from(["a/b", "a__b", "x\x00y", "x_y", "n\ny", "n_y", "..", ".", "../../etc", "\ud800", "a%2Fb",
                     "a" * 300, "org/model", "org__model", "<script>x</script>", "task*?[]", "hf_" + "A1" * 17]),
)


def _sample(i: int, value: Any) -> dict:
    return {
        "doc_id": i, "doc": {"q": value, "i": i}, "target": value, "arguments": ((f"ctx {i}", " a"),),
        "resps": [["a"]], "filtered_resps": ["a"], "filter": "none", "metrics": ["acc"],
        "doc_hash": "d", "prompt_hash": "p", "target_hash": "t", "acc": 1.0, "extra": value,
    }


# ------------------------------------------------------------------ invariants
def snapshot(value: Any, _seen: set[int] | None = None, _depth: int = 0) -> Any:
    """A comparable picture of a value (identity of foreign objects, content of containers)."""
    seen = set() if _seen is None else _seen
    if _depth > 400:
        return "deep"
    if isinstance(value, (str, bytes, int, bool)) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, float):
        return ("float", repr(value))
    if id(value) in seen:
        return ("cycle", id(value))
    if isinstance(value, dict):
        seen.add(id(value))
        out = ("dict", id(value), [(snapshot(k, seen, _depth + 1), snapshot(v, seen, _depth + 1)) for k, v in value.items()])
        seen.discard(id(value))
        return out
    if isinstance(value, (list, tuple)) and not isinstance(value, BadLen):
        seen.add(id(value))
        out2 = (type(value).__name__, id(value), [snapshot(v, seen, _depth + 1) for v in value])
        seen.discard(id(value))
        return out2
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, id(value), sorted(map(repr, value)))
    return (type(value).__name__, id(value))


def strict_load(data: bytes) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(data.decode("utf-8"), parse_constant=no_constants)


def check_tree(base: Path, out: Path, before_outside: set[str]) -> None:
    """Every file below ``out`` is strict JSON (lines) and nothing appeared outside ``out``."""
    outside = {str(p.relative_to(base)) for p in base.rglob("*") if out not in (p, *p.parents)}
    assert outside == before_outside, f"files outside output_path: {sorted(outside - before_outside)}"
    for p in out.rglob("*"):
        if p.is_symlink() or not p.is_file():
            continue
        data = p.read_bytes()
        if p.name.endswith((".jsonl", ".jsonl.partial")):
            for line in data.splitlines():
                strict_load(line)
        elif p.name.endswith(".json"):
            strict_load(data)
        elif p.name.endswith(".lock") or p.name.endswith(".tmp"):
            raise AssertionError(f"left behind: {p}")


def check_error(exc: BaseException, *, where: str) -> None:
    if isinstance(exc, TimeoutError):
        COUNTS["hangs"] += 1
        pytest.fail(f"hang in {where}")
    if not isinstance(exc, EvallogError):
        COUNTS["untyped errors"] += 1
        pytest.fail(f"untyped error from {where}: {type(exc).__name__}: {exc}")
    assert exc.path or exc.task is not None or exc.sample_index is not None, f"error names nothing: {exc!r}"
    COUNTS["typed errors"] += 1


# ------------------------------------------------------------------ write paths
@pytest.fixture
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(
    flavor=st.sampled_from(["lm-eval", "lmms-eval"]),
    mode=st.sampled_from(["batch", "stream", "all"]),
    task=_NAME,
    model=_NAME,
    values=st.lists(_VALUE, min_size=1, max_size=3),
    results_value=_VALUE,
)
def test_fuzz_write_paths(area: Path, flavor: str, mode: str, task: str, model: str, values: list, results_value: Any) -> None:
    COUNTS["write examples"] += 1
    case = area / f"case{COUNTS['write examples']}"
    out = case / "out"
    case.mkdir()
    (case / "sentinel.txt").write_text("outside")
    before_outside = {str(p.relative_to(case)) for p in case.rglob("*")}
    samples = [_sample(i, v) for i, v in enumerate(values)]
    results = {"results": {task: {"acc,none": 1.0, "note": results_value}}, "configs": {task: {"x": results_value}},
               "versions": {task: results_value}}
    pictures = (snapshot(samples), snapshot(results))
    with time_limit(PER_EXAMPLE_SECONDS):
        tracker = EvaluationTracker(str(out), flavor=flavor)
        try:
            tracker.general_config_tracker.log_experiment_args(
                model_source="hf", model_args={"pretrained": model}, system_instruction=None, chat_template=None,
                fewshot_as_multiturn=False)
            if mode == "stream":
                for s in samples:
                    tracker.log_sample(task, s)
            elif mode == "all":
                tracker.save_all_samples({task: samples, "other": samples[:1]})
            else:
                tracker.save_results_samples(task, samples)
            tracker.save_results_aggregated(results, {task: samples})
        except Exception as exc:  # noqa: BLE001 - the point: classify every failure
            check_error(exc, where=f"{mode} save")
    with time_limit(PER_EXAMPLE_SECONDS):
        try:
            tracker.close()
        except Exception as exc:  # noqa: BLE001
            check_error(exc, where="close")
    assert (snapshot(samples), snapshot(results)) == pictures, "the input was mutated"
    check_tree(case, out, before_outside)
    COUNTS["write examples ok"] += 1


# ------------------------------------------------------------------ readers on hostile files
_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=10,
)
_RESULTS_DOC = st.fixed_dictionaries(
    {},
    optional={
        "results": st.one_of(_JSONISH, st.dictionaries(st.sampled_from(["t1", "t2"]), _JSONISH, max_size=2)),
        "versions": _JSONISH, "n-shot": _JSONISH, "task_hashes": _JSONISH, "group_subtasks": _JSONISH,
        "groups": _JSONISH, "n-samples": _JSONISH, "higher_is_better": _JSONISH, "configs": _JSONISH,
        "model_name": _JSONISH, "config": _JSONISH,
    },
)
_FILE_BODY = st.one_of(
    _RESULTS_DOC.map(lambda d: json.dumps(d).encode()),
    _JSONISH.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    st.integers(1100, 3000).map(lambda n: b"[" * n + b"]" * n),  # deeper than any parser's limit
    st.integers(1100, 3000).map(lambda n: b'{"results": ' + b"[" * n + b"]" * n + b"}"),
    st.sampled_from([b"NaN", b'{"results": {"t1": {"acc,none": NaN}}}', b"\xff\xfe", b""]),
)
_LINES = st.lists(
    st.one_of(_JSONISH.map(lambda d: json.dumps(d).encode()), st.binary(max_size=40),
              st.integers(1100, 2000).map(lambda n: b"[" * n + b"]" * n)),
    max_size=4,
).map(lambda lines: b"\n".join(lines))
_SPECIAL = st.sampled_from(["none", "fifo", "dir", "symlink_out", "dangling"])


@FUZZ
@given(results=_FILE_BODY, lines=_LINES, special=_SPECIAL, flavor=st.sampled_from(["lm-eval", "lmms-eval"]),
       manifest=st.one_of(st.none(), _JSONISH.map(lambda d: json.dumps(d).encode()), st.binary(max_size=30)))
def test_fuzz_readers(area: Path, results: bytes, lines: bytes, special: str, flavor: str, manifest: bytes | None) -> None:
    COUNTS["reader examples"] += 1
    case = area / f"read{COUNTS['reader examples']}"
    folder = case / "out" / "org__model"
    folder.mkdir(parents=True)
    run_id = "2025-01-01T00-00-00.000001" if flavor == "lm-eval" else "20250101_000000"
    if flavor == "lm-eval":
        rname, sname, s2name = f"results_{run_id}.json", f"samples_t1_{run_id}.jsonl", f"samples_t2_{run_id}.jsonl"
    else:
        rname, sname, s2name = f"{run_id}_results.json", f"{run_id}_samples_t1.jsonl", f"{run_id}_samples_t2.jsonl"
    (folder / rname).write_bytes(results)
    (folder / sname).write_bytes(lines)
    if manifest is not None:
        (folder / ".evallog").mkdir()
        (folder / ".evallog" / f"{run_id}.json").write_bytes(manifest)
    target = folder / s2name
    if special == "fifo":
        os.mkfifo(target)
    elif special == "dir":
        target.mkdir()
    elif special == "symlink_out":
        (case / "secret.txt").write_text("outside")
        target.symlink_to(case / "secret.txt")
    elif special == "dangling":
        target.symlink_to(case / "missing")
    with time_limit(PER_EXAMPLE_SECONDS):
        try:
            runs = list_runs(case / "out")
            for run in runs:
                _exercise(run)
            _exercise(load_run(folder))
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, TimeoutError):
                COUNTS["hangs"] += 1
                pytest.fail("hang in a reader")
            if not isinstance(exc, EvallogError):
                COUNTS["untyped errors"] += 1
                pytest.fail(f"untyped error from a reader: {type(exc).__name__}: {exc}")
            assert exc.path is not None, f"reader error names no file: {exc!r}"
            COUNTS["typed errors"] += 1
    COUNTS["reader examples ok"] += 1


def _exercise(run: Any) -> None:
    _ = (run.name, run.label, run.task_results, run.groups, run.group_subtasks, run.in_progress)
    for task in list(run.tasks) + ["t1", "t2"]:
        _ = (run.metrics(task), run.filters(task), run.n_shot(task), run.version(task), run.task_hash(task),
             run.reported_samples(task), run.higher_is_better(task, "acc"), run.value(task, "acc"),
             run.stderr(task, "acc"))
        if run.has_samples(task):
            for skip in (True, False):
                try:
                    for _record in run.samples(task, skip_corrupt=skip):
                        pass
                    run.n_samples(task)
                except EvallogError as exc:
                    assert exc.path is not None
                    COUNTS["typed errors"] += 1


# ------------------------------------------------------------------ names are injective
@settings(max_examples=EXAMPLES * 20, deadline=None, derandomize=True)
@given(st.lists(_NAME, min_size=2, max_size=6, unique=True), st.sampled_from(["lm-eval", "lmms-eval"]))
def test_file_and_folder_names_are_injective(names: list[str], flavor: str) -> None:
    COUNTS["names tried"] += len(names)
    tasks = {}
    for n in names:
        try:
            tasks.setdefault(safe_task_component(n), []).append(n)
        except EvallogError:
            COUNTS["names refused"] += 1
    collisions = {k: v for k, v in tasks.items() if len(v) > 1}
    models = {}
    for n in names:
        models.setdefault(model_dir_name(n, flavor), []).append(n)
    collisions.update({k: v for k, v in models.items() if len(v) > 1})
    COUNTS["collisions"] += len(collisions)
    assert not collisions
    for component in tasks:
        assert "/" not in component and "\x00" not in component and not component.startswith(".")
        component.encode("utf-8")  # no lone surrogate reaches the file system
        assert len(component.encode()) <= 150
    for folder in models:
        assert "/" not in folder and "\x00" not in folder and not folder.startswith(".")
        folder.encode("utf-8")


def test_zz_print_fuzz_figures() -> None:
    """Runs last (file order): the figures of the issue's note."""
    for key in ("untyped errors", "hangs", "collisions", "mutated inputs", "files outside output_path"):
        COUNTS.setdefault(key, 0)  # (a mutated input or an escape fails its example outright)
    print("\nfuzz figures:", dict(sorted(COUNTS.items())))
    assert COUNTS["untyped errors"] == 0 and COUNTS["hangs"] == 0 and COUNTS["collisions"] == 0


def test_nan_is_null_in_strict_output(tmp_path: Path) -> None:
    tracker = EvaluationTracker(str(tmp_path), flavor="lm-eval")
    path = tracker.save_results_samples("t", [_sample(0, float("nan"))])
    tracker.close()
    assert path is not None
    assert strict_load(path.read_bytes().splitlines()[0])["extra"] is None
    assert not math.isnan(0.0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-s"]))

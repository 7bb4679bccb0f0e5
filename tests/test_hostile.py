"""One regression test per class of issue 17's findings (values, typed errors, CSV, Hub card);
the fuzz suite (test_fuzz.py) covers the same classes with generated inputs."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from evallog import EvaluationTracker
from evallog.encoding import encode_document, encode_line
from evallog.errors import ReadError, SerializationError
from evallog.hub_card import CardConfig, infer_column_types, render_card
from evallog.readers import load_run
from evallog.render import render_table


class BadStr:
    def __str__(self) -> str:
        raise RuntimeError("boom")


def _tracker(tmp_path: Path, flavor: str = "lm-eval") -> EvaluationTracker:
    return EvaluationTracker(str(tmp_path), flavor=flavor, run_id="r1")


# ------------------------------------------------------------------ 1. untyped errors, hangs
@pytest.mark.parametrize("value", [BadStr(), {"k": BadStr()}, [BadStr()]])
def test_failing_str_is_a_typed_error_on_every_write_path(tmp_path: Path, value: object) -> None:
    t = _tracker(tmp_path)
    with pytest.raises(SerializationError) as batch:
        t.save_results_samples("t", [{"doc_id": 0, "x": value}])
    assert batch.value.task == "t" and batch.value.sample_index == 0
    with pytest.raises(SerializationError) as stream:
        t.log_sample("s", {"doc_id": 0, "x": value})
    assert stream.value.task == "s"
    with pytest.raises(SerializationError) as results:
        t.save_results_aggregated({"results": {"t": {"x": value}}})
    assert results.value.path is not None
    t.close()


def test_cyclic_sample_is_a_typed_error_not_a_hang(tmp_path: Path) -> None:
    cyclic: dict = {"doc_id": 0}
    cyclic["self"] = cyclic
    t = _tracker(tmp_path)
    with pytest.raises(SerializationError):
        t.save_results_samples("t", [cyclic])
    with pytest.raises(SerializationError):
        t.save_results_aggregated({"results": {"t": cyclic}})
    t.close()


def test_lone_surrogate_task_name_is_written_escaped(tmp_path: Path) -> None:
    t = _tracker(tmp_path)
    path = t.save_results_samples("bad\ud800task", [{"doc_id": 0}])
    t.close()
    assert path is not None and "%uD800" in path.name
    assert load_run(path.parent).sample_files.keys() == {"bad\ud800task"}


RUN = "2025-01-01T00-00-00.000001"  # an lm-eval run id (a date: no evallog bookkeeping needed)


def _run_folder(tmp_path: Path, results: object) -> Path:
    folder = tmp_path / "org__m"
    folder.mkdir()
    (folder / f"results_{RUN}.json").write_text(json.dumps(results))
    (folder / f"samples_t_{RUN}.jsonl").write_text('{"doc_id": 0}\n')
    return folder


@pytest.mark.parametrize("section", ["versions", "n-shot", "task_hashes", "group_subtasks", "groups",
                                     "n-samples", "higher_is_better"])
@pytest.mark.parametrize("bad", [[1, 2], "text", 3, {"t": [1]}, {"g": 5}])
def test_readers_accept_wrong_typed_sections(tmp_path: Path, section: str, bad: object) -> None:
    run = load_run(_run_folder(tmp_path, {"results": {"t": {"acc,none": 0.5}}, section: bad}))
    _ = (run.version("t"), run.n_shot("t"), run.task_hash("t"), run.group_subtasks, run.groups,
         run.reported_samples("t"), run.higher_is_better("t", "acc"))


def test_deeply_nested_results_file_is_a_read_error(tmp_path: Path) -> None:
    folder = tmp_path / "org__m"
    folder.mkdir()
    (folder / f"results_{RUN}.json").write_bytes(b'{"results": ' + b"[" * 5000 + b"]" * 5000 + b"}")
    with pytest.raises(ReadError):
        load_run(folder)


def test_fifo_named_like_a_samples_file_does_not_hang(tmp_path: Path) -> None:
    folder = _run_folder(tmp_path, {"results": {"t": {"acc,none": 0.5}}})
    (folder / f"samples_t_{RUN}.jsonl").unlink()
    os.mkfifo(folder / f"samples_t_{RUN}.jsonl")
    run = load_run(folder)
    for task in run.sample_files:  # listed or not: reading never blocks
        with pytest.raises(ReadError):
            list(run.samples(task))


# ------------------------------------------------------------------ 2. values
def test_longdouble_is_written_as_numbers() -> None:
    line = json.loads(encode_line({"s": np.longdouble(0.25), "a": np.array([1.5, 2.5], dtype=np.longdouble)}))
    assert line == {"s": 0.25, "a": [1.5, 2.5]}


def test_memoryview_is_a_bytes_description() -> None:
    line = json.loads(encode_line({"m": memoryview(b"\x01" * 4096)}))
    assert line["m"]["type"] == "bytes" and line["m"]["size"] == 4096
    assert len(encode_line({"m": memoryview(b"\x01" * 4096)})) < 200


@pytest.mark.parametrize("doc", [{1: "a", "1": "b"}, {None: "a", "null": "b"}, {True: 1, "true": 2}])
def test_keys_colliding_once_stringified_are_refused(doc: dict) -> None:
    with pytest.raises(SerializationError):
        encode_line({"doc": doc})
    with pytest.raises(SerializationError):
        encode_document({"doc": doc})
    assert json.loads(encode_line({"doc": {1: "a", 2: "b"}})) == {"doc": {"1": "a", "2": "b"}}


# ------------------------------------------------------------------ 6. CSV
@pytest.mark.parametrize("cell", ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "=HYPERLINK(\"x\")"])
def test_csv_neutralises_formulas(cell: str) -> None:
    text = render_table(["name", "value"], [[cell, -0.5]], fmt="csv")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1][0] == "'" + cell and rows[1][1] == "-0.5"


def test_csv_quotes_bare_cr_and_roundtrips() -> None:
    cells = ["a\rb", "c\nd", 'e"f', "g,h", "plain", "-1.5", "NER tag for token: Paris"]
    text = render_table(["c"], [[c] for c in cells], fmt="csv")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert [r[0] for r in rows[1:]] == cells
    assert "\"a\rb\"" in text  # a bare CR is quoted (one row, not two)


# ------------------------------------------------------------------ 7. Hub card
def test_card_body_escapes_html_and_markdown_from_names() -> None:
    evil = "t</code>```<script>alert(1)</script><img src=x onerror=alert(1)>"
    configs = {"m__results": CardConfig("m__results", "results", "m", None, runs={"r1": "m/results_r1.json"})}
    card = render_card("org/details", configs, model_names={"m": "<b>bold</b> [x](javascript:alert(1))"},
                       latest_results=("m/results_r1.json", {"results": {evil: {"acc,none": 1.0}}}),
                       leaderboard_url="<script>x</script>", point_of_contact="<i>me</i>")
    body = card.split("---\n", 2)[2]
    # outside code blocks and code spans (shown as text by Markdown) there is no raw HTML
    fence = next(line for line in body.splitlines() if line.endswith("json") and line.startswith("`"))[:-4]
    assert len(fence) > 3  # longer than the task name's backtick run: the name cannot close it
    before, block_and_after = body.split(fence + "json\n", 1)
    block, after = block_and_after.split("\n" + fence, 1)
    assert evil in block
    prose = re.sub(r"```python.*?```", "", before + after, flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    prose = re.sub(r"\]\(<[^<>\s]*>\)", "]()", prose)  # link destinations written as <...> (CommonMark)
    assert "<" not in prose and "](javascript" not in prose


def test_card_handles_deep_nesting() -> None:
    deep: object = 1
    for _ in range(2000):
        deep = {"d": deep}
    types = infer_column_types({"results": deep})
    assert types["results"] is not None
    configs = {"m__results": CardConfig("m__results", "results", "m", None, runs={"r1": "m/results_r1.json"})}
    card = render_card("org/details", configs, latest_results=("m/results_r1.json", {"results": deep}))
    assert "nested too deeply" in card


def test_results_deeper_than_the_limit_are_refused_at_write_time(tmp_path: Path) -> None:
    deep: object = 1
    for _ in range(300):
        deep = {"d": deep}
    t = _tracker(tmp_path)
    with pytest.raises(SerializationError) as err:
        t.save_results_aggregated({"results": {"t": deep}})
    t.close()
    assert err.value.path is not None

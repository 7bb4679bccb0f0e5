"""The response journal on its own: flush bound, torn lines, exact round trip, answering from it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evallog.integrations.journal import (
    JournalLM,
    JournalWriter,
    journal_dir,
    load_answers,
    request_key,
)
from evallog.integrations.launch import (
    find_resumable_run,
    harness_flavor,
    output_path_of,
)


@dataclass
class Req:
    """The fields of a harness ``Instance`` the journal reads."""

    task_name: str
    doc_id: int
    idx: int
    args: tuple[Any, ...]
    resps: list[Any] = field(default_factory=list)


class Hook:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def add_partial(self, attr: str, req: Any, res: Any) -> None:
        self.seen.append((attr, req, res))


class ScoringModel:
    """A deterministic model that reports each answer through its cache hook, like lm-eval's HFLM."""

    def __init__(self, report: bool = True, die_after: int | None = None) -> None:
        self.cache_hook: Any = Hook()
        self.report = report
        self.die_after = die_after
        self.calls: list[int] = []
        self.rank = 0

    def set_cache_hook(self, hook: Any) -> None:
        self.cache_hook = hook

    def loglikelihood(self, requests: list[Req]) -> list[tuple[float, bool]]:
        self.calls.append(len(requests))
        out = []
        for n, r in enumerate(requests):
            if self.die_after is not None and n == self.die_after:
                raise RuntimeError("out of memory")
            answer = (-len(r.args[0] + r.args[1]) / 7, len(r.args[1]) % 2 == 0)
            if self.report:
                self.cache_hook.add_partial("loglikelihood", r.args, answer)
            out.append(answer)
        return out


def requests(n: int, task: str = "t") -> list[Req]:
    return [Req(task, i // 2, i % 2, (f"question {i // 2}", f" choice {i % 2}")) for i in range(n)]


def test_writer_flushes_every_n(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 0, every=4, interval=3600)
    for i in range(10):
        w.add(f"k{i}", "loglikelihood", Req("t", i, 0, ()), i)
        on_disk = w.path.read_bytes().count(b"\n")
        # what is not on disk yet is less than one flush window
        assert i + 1 - on_disk < 4
    w.close()
    assert w.path.read_bytes().count(b"\n") == 10


def test_writer_flushes_every_t_seconds(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 0, every=10**6, interval=0.05)
    w.add("k", "generate_until", Req("t", 0, 0, ()), "answer")
    import time

    deadline = time.monotonic() + 5
    while w.path.read_bytes().count(b"\n") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert w.path.read_bytes().count(b"\n") == 1  # the timer wrote it without another answer
    w.close()


def test_kill_loses_at_most_one_window(tmp_path: Path) -> None:
    """A process killed with SIGKILL mid-stream keeps all but < N answers."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from evallog.integrations.journal import JournalWriter
        class R: task_name = "t"; doc_id = 0; idx = 0
        w = JournalWriter(Path({str(tmp_path)!r}), 0, every=5, interval=3600)
        for i in range(23):
            w.add(f"k{{i}}", "loglikelihood", R(), [i, "x" * 50])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL
    answers = load_answers(tmp_path)
    assert 23 - len(answers) < 5
    assert len(answers) == 20


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    w = JournalWriter(tmp_path, 0, every=1, interval=3600)
    w.add("a", "loglikelihood", Req("t", 0, 0, ()), (-1.5, True))
    w.close()
    with open(w.path, "ab") as fh:
        fh.write(b'{"k":"b","q":"loglikelihood","r":')
    answers = load_answers(tmp_path)
    assert list(answers) == ["a"]
    assert answers["a"][0] == (-1.5, True)


answer_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(answer_values)
def test_answers_round_trip_exactly(tmp_path_factory: pytest.TempPathFactory, value: Any) -> None:
    folder = tmp_path_factory.mktemp("rt")
    w = JournalWriter(folder, 0, every=1, interval=3600)
    w.add("k", "generate_until", Req("t", 0, 0, ()), value)
    w.close()
    got = load_answers(folder)["k"][0]
    assert got == value and type(got) is type(value)


def test_non_finite_answers_round_trip(tmp_path: Path) -> None:
    """Regression (found by the property test): -inf log-likelihoods came back as None."""
    w = JournalWriter(tmp_path, 0, every=1, interval=3600)
    w.add("k", "loglikelihood", Req("t", 0, 0, ()), (float("-inf"), False))
    w.add("n", "loglikelihood_rolling", Req("t", 0, 0, ()), float("nan"))
    w.close()
    answers = load_answers(tmp_path)
    assert answers["k"][0] == (float("-inf"), False)
    assert answers["n"][0] != answers["n"][0]  # NaN


def test_key_depends_on_request_content() -> None:
    a = Req("t", 1, 0, ("ctx", " cont"))
    assert request_key("loglikelihood", a) == request_key("loglikelihood", Req("t", 1, 0, ("ctx", " cont")))
    assert request_key("loglikelihood", a) != request_key("loglikelihood", Req("u", 1, 0, ("ctx", " cont")))
    assert request_key("loglikelihood", a) != request_key("loglikelihood", Req("t", 2, 0, ("ctx", " cont")))
    assert request_key("loglikelihood", a) != request_key("loglikelihood", Req("t", 1, 1, ("ctx", " cont")))
    assert request_key("loglikelihood", a) != request_key("loglikelihood_rolling", a)
    # functions in lmms-eval's arguments (doc_to_visual) are keyed by name, not address
    f = Req("t", 1, 0, ("ctx", {"until": ["\n"]}, len))
    assert request_key("generate_until", f) == request_key("generate_until", Req("t", 1, 0, ("ctx", {"until": ["\n"]}, len)))


def test_batch_that_dies_halfway_keeps_its_answers(tmp_path: Path) -> None:
    reqs = requests(10)
    writer = JournalWriter(tmp_path, 0, every=1, interval=3600)
    lm = JournalLM(ScoringModel(die_after=6), writer, {})
    with pytest.raises(RuntimeError):
        lm.loglikelihood(reqs)
    writer.close()
    assert len(load_answers(tmp_path)) == 6  # reported through the cache hook before the crash

    # resume: the 6 come from the journal, only 4 go to the model
    model = ScoringModel()
    writer2 = JournalWriter(tmp_path, 0, every=1, interval=3600)
    resumed = JournalLM(model, writer2, load_answers(tmp_path))
    answers = resumed.loglikelihood(reqs)
    writer2.close()
    assert model.calls == [4]
    assert resumed.journal_stats.as_dict() == {"from_journal": 6, "computed": 4}
    assert answers == ScoringModel().loglikelihood(reqs)
    assert len(load_answers(tmp_path)) == 10


def test_models_that_do_not_report_are_journaled_on_return(tmp_path: Path) -> None:
    reqs = requests(5)
    writer = JournalWriter(tmp_path, 0, every=1, interval=3600)
    lm = JournalLM(ScoringModel(report=False), writer, {})
    lm.loglikelihood(reqs)
    writer.close()
    assert sum(len(v) for v in load_answers(tmp_path).values()) == 5


def test_any_number_of_processes(tmp_path: Path) -> None:
    """Journals written by 4 ranks (strided docs) answer a single process."""
    reqs = requests(16)
    for rank in range(4):
        writer = JournalWriter(tmp_path, rank, every=1, interval=3600)
        JournalLM(ScoringModel(), writer, {}).loglikelihood(reqs[rank::4])
        writer.close()
    model = ScoringModel()
    lm = JournalLM(model, None, load_answers(tmp_path))
    assert lm.loglikelihood(reqs) == ScoringModel().loglikelihood(reqs)
    assert model.calls == []


def test_previous_cache_hook_still_called(tmp_path: Path) -> None:
    model = ScoringModel()
    previous = model.cache_hook
    writer = JournalWriter(tmp_path, 0, every=1, interval=3600)
    JournalLM(model, writer, {}).loglikelihood(requests(3))
    writer.close()
    assert len(previous.seen) == 3


def test_launcher_helpers(tmp_path: Path) -> None:
    assert harness_flavor(["lmms-eval", "--model", "x"]) == "lmms-eval"
    assert harness_flavor(["python", "-m", "lmms_eval"]) == "lmms-eval"
    assert harness_flavor(["accelerate", "launch", "-m", "lm_eval"]) == "lm-eval"
    assert output_path_of(["lm_eval", "-o", "x"]) == "x"
    assert output_path_of(["lm_eval", "--output_path=y"]) == "y"
    assert output_path_of(["lm_eval"]) is None
    assert find_resumable_run(tmp_path) is None
    for run_id, complete in (("2026-01-01T00-00-00", False), ("2026-01-02T00-00-00", True)):
        folder = journal_dir(tmp_path / "model", run_id)
        folder.mkdir(parents=True)
        if complete:
            (folder / "complete").touch()
    assert find_resumable_run(tmp_path) == "2026-01-01T00-00-00"
    assert os.fspath(journal_dir(tmp_path, "r")).endswith(os.path.join(".evallog", "journal", "r"))


def test_run_without_the_harness_installed_is_an_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "evallog", "run", "--", "no-such-harness-xyz", "--model", "dummy"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 1
    assert "command not found: no-such-harness-xyz" in proc.stderr
    assert subprocess.run([sys.executable, "-m", "evallog", "run"], capture_output=True, check=False).returncode == 2

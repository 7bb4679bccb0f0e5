"""Streaming samples: same bytes as batch saves, durability, threads, resume, recovery, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from evallog import EvaluationTracker
from evallog.errors import TrackerClosedError
from evallog.flavors import task_hash
from evallog.layout import IN_PROGRESS_SUFFIX
from evallog.recovery import recover


def sample(i: int, filt: str = "none") -> dict:
    return {
        "doc_id": i, "doc": {"q": f"question {i}", "img": b"\x00" * 100}, "target": i % 4,
        "arguments": [(f"ctx {i}", " a"), (f"ctx {i}", " b")],
        "resps": [[(-1.5, False)], [(-0.5, True)]], "filtered_resps": [(-1.5, False), (-0.5, True)],
        "filter": filt, "metrics": ["acc"], "doc_hash": f"d{i}", "prompt_hash": f"p{i}", "target_hash": f"t{i}",
        "acc": np.float32(i % 2),
    }


def make(path, **kw) -> EvaluationTracker:
    tracker = EvaluationTracker(output_path=str(path), **kw)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
    return tracker


@pytest.mark.parametrize("flavor", ["lmms-eval", "lm-eval"])
def test_streamed_bytes_equal_batch_bytes_and_hashes(tmp_path, flavor):
    samples = [sample(i) for i in range(250)]
    batch = make(tmp_path / "batch", flavor=flavor)
    batch_path = batch.save_results_samples("t", samples)
    with make(tmp_path / "stream", flavor=flavor, flush_every=7) as streamed:
        streamed.log_samples("t", iter(samples))
        results = streamed.save_results_aggregated({"results": {}}, None)
    stream_path = streamed.sample_paths["t"]
    assert stream_path.read_bytes() == batch_path.read_bytes()
    written = json.loads(results.read_text())["task_hashes"]["t"]
    assert written == task_hash(flavor, samples)
    batch_results = batch.save_results_aggregated({"results": {}}, {"t": samples})
    assert json.loads(batch_results.read_text())["task_hashes"]["t"] == written


def test_in_progress_name_flush_by_count_and_time(tmp_path):
    tracker = make(tmp_path, flush_every=10, flush_interval=0.2)
    for i in range(25):
        tracker.log_sample("t", sample(i))
    partial = tracker.sample_paths["t"].with_name(tracker.sample_paths["t"].name + IN_PROGRESS_SUFFIX)
    assert partial.exists() and not tracker.sample_paths["t"].exists()
    assert len(partial.read_bytes().splitlines()) == 20  # two full buffers, whole lines only
    deadline = time.monotonic() + 5
    while len(partial.read_bytes().splitlines()) < 25 and time.monotonic() < deadline:
        time.sleep(0.05)  # the flusher thread writes the rest within flush_interval
    assert len(partial.read_bytes().splitlines()) == 25
    final = tracker.close_task("t")
    assert final.exists() and not partial.exists()
    with pytest.raises(TrackerClosedError):
        tracker.log_sample("t", sample(99))
    tracker.close()


def test_threads(tmp_path):
    tracker = make(tmp_path, flush_every=13)

    def worker(k):
        for i in range(k * 1000, k * 1000 + 500):
            tracker.log_sample(f"task{k % 2}", sample(i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tracker.close()
    for task in ("task0", "task1"):
        lines = tracker.sample_paths[task].read_text().splitlines()
        ids = [json.loads(line)["doc_id"] for line in lines]
        assert len(ids) == 1000 == len(set(ids))


def test_batch_save_after_stream_does_not_duplicate(tmp_path):
    samples = [sample(i) for i in range(30)]
    tracker = make(tmp_path, flush_every=5)
    tracker.log_samples("same", samples)
    tracker.log_samples("diff", samples[:10])
    same = tracker.save_results_samples("same", samples)  # identical: stream is closed, nothing rewritten
    diff = tracker.save_results_samples("diff", samples)  # different: the batch replaces the stream
    tracker.close()
    assert len(same.read_text().splitlines()) == 30
    assert len(diff.read_text().splitlines()) == 30
    assert not list(tmp_path.rglob(f"*{IN_PROGRESS_SUFFIX}"))


def test_two_trackers_same_output_path_concurrently(tmp_path):
    a, b = make(tmp_path, flush_every=3), make(tmp_path, flush_every=3)
    for i in range(50):
        a.log_sample("t", sample(i))
        b.log_sample("t", sample(1000 + i))
    a.save_results_aggregated({"results": {"who": "a"}}, None)
    b.save_results_aggregated({"results": {"who": "b"}}, None)
    a.close()
    b.close()
    assert a.run_id != b.run_id
    for tracker, base in ((a, 0), (b, 1000)):
        ids = [json.loads(x)["doc_id"] for x in tracker.sample_paths["t"].read_text().splitlines()]
        assert ids == list(range(base, base + 50))
    assert json.loads(a.results_path.read_text())["results"] == {"who": "a"}
    assert json.loads(b.results_path.read_text())["results"] == {"who": "b"}


def test_two_processes_same_output_path(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from evallog import EvaluationTracker
        t = EvaluationTracker(output_path={str(tmp_path)!r}, flush_every=5)
        t.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
        for i in range(300):
            t.log_sample("t", {{"doc_id": i, "who": sys.argv[1]}})
        t.save_results_aggregated({{"results": {{"who": sys.argv[1]}}}}, None)
        t.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who]) for who in ("p1", "p2")]
    assert [p.wait(60) for p in procs] == [0, 0]
    folder = tmp_path / "org__model"
    results = sorted(folder.glob("*_results.json"))
    assert len(results) == 2
    assert sorted(json.loads(p.read_text())["results"]["who"] for p in results) == ["p1", "p2"]
    for path in folder.glob("*_samples_t.jsonl"):
        who = {json.loads(line)["who"] for line in path.read_text().splitlines()}
        assert len(who) == 1 and len(path.read_text().splitlines()) == 300


def test_write_error_raises_typed_and_keeps_flushed_samples(tmp_path):
    # a real write failure: the file-size limit makes write() fail with EFBIG
    script = textwrap.dedent(f"""
        import resource, signal, json
        from evallog import EvaluationTracker
        from evallog.errors import WriteError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        t = EvaluationTracker(output_path={str(tmp_path)!r}, flush_every=10)
        t.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        logged = 0
        try:
            for i in range(10_000):
                t.log_sample("t", {{"doc_id": i, "text": "x" * 200}})
                logged += 1
        except WriteError as exc:
            print(json.dumps({{"error": str(exc), "task": exc.task, "path": exc.path, "logged": logged}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    info = json.loads(out.stdout)
    assert info["task"] == "t" and info["path"].endswith(IN_PROGRESS_SUFFIX)
    report = recover(tmp_path)
    (task,) = report.tasks
    assert task.dropped == 0 and task.kept > 0 and task.kept % 10 == 0  # whole flushes only
    ids = [json.loads(x)["doc_id"] for x in task.path.read_text().splitlines()]
    assert ids == list(range(task.kept))


def test_recover_cli_torn_line_and_report(tmp_path):
    tracker = make(tmp_path, flush_every=1)
    for i in range(10):
        tracker.log_sample("t", sample(i))
    partial = tracker._streams["t"].partial_path
    tracker._streams["t"]._fh.write(b'{"doc_id": 10, "torn')  # simulate a kill in the middle of a write
    tracker._streams["t"]._fh.flush()
    # this process still owns the run: recovering it needs --force
    proc = subprocess.run([sys.executable, "-m", "evallog", "recover", str(tmp_path), "--force"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "kept 10 samples, dropped 1" in proc.stdout
    final = Path(str(partial)[: -len(IN_PROGRESS_SUFFIX)])
    assert not partial.exists() and len(final.read_text().splitlines()) == 10


def test_recover_skips_live_runs(tmp_path):
    tracker = make(tmp_path, flush_every=1)
    tracker.log_sample("t", sample(0))
    report = recover(tmp_path)
    assert [t.status for t in report.tasks] == ["skipped-live"]
    tracker.close()


def test_resume_continues_run_and_reports_logged_keys(tmp_path):
    script = textwrap.dedent(f"""
        import os
        from evallog import EvaluationTracker
        t = EvaluationTracker(output_path={str(tmp_path)!r}, flush_every=1, flavor="lm-eval")
        t.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
        for i in range(40):
            for f in ("strict", "flex"):
                t.log_sample("gen", {{"doc_id": i, "filter": f, "doc_hash": str(i), "prompt_hash": "", "target_hash": ""}})
        t.log_sample("done", {{"doc_id": 0, "filter": "none", "doc_hash": "x"}})
        t.close_task("done")
        t._streams["gen"]._fh.write(b'{{"doc_id": 40, "fil')
        t._streams["gen"]._fh.flush()
        print(t.run_id)
        os._exit(0)  # dies without closing
    """)
    run_id = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()
    tracker = make(tmp_path, flavor="lm-eval", resume=True, flush_every=1)
    keys = tracker.logged_keys("gen")
    assert tracker.run_id == run_id
    assert keys == {(i, f) for i in range(40) for f in ("strict", "flex")}
    assert tracker.logged_keys("done") == {(0, "none")}
    for i in range(40, 50):
        for f in ("strict", "flex"):
            if (i, f) not in keys:
                tracker.log_sample("gen", {"doc_id": i, "filter": f, "doc_hash": str(i), "prompt_hash": "", "target_hash": ""})
    results = tracker.save_results_aggregated({"results": {}}, None)
    tracker.close()
    lines = tracker.sample_paths["gen"].read_text().splitlines()
    assert len(lines) == 100 and all(json.loads(x) for x in lines)
    expected = task_hash("lm-eval", [json.loads(x) for x in lines])
    assert json.loads(results.read_text())["task_hashes"]["gen"] == expected
    assert run_id in tracker.sample_paths["gen"].name


def test_batch_save_accepts_a_generator(tmp_path):
    tracker = make(tmp_path)
    path = tracker.save_results_samples("t", (sample(i) for i in range(50)))
    assert [json.loads(x)["doc_id"] for x in path.read_text().splitlines()] == list(range(50))


def test_streamed_lines_survive_short_writes(tmp_path, monkeypatch):
    # a flush hands the lines to os.writev (atomic.write_all); a short write (a signal, a full device,
    # a pipe) is continued
    from evallog import atomic

    real = os.writev

    def short(fd, buffers):
        first = bytes(buffers[0])
        return real(fd, [first[: max(1, len(first) // 3)]])

    monkeypatch.setattr(atomic.os, "writev", short)
    lines = [f'{{"i":{i},"text":"{"x" * (i % 50)}"}}\n'.encode() for i in range(300)]
    path = tmp_path / "f.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        assert atomic.write_all(fd, lines) == sum(map(len, lines))
    finally:
        os.close(fd)
    assert path.read_bytes() == b"".join(lines)

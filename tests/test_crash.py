"""Crash test: a child process streams samples and is killed with SIGKILL at random moments.

After `recover`, every sample flushed before the kill is there, every line is valid JSON,
at most the last flush interval is lost, and no results file is half-written.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from evallog.recovery import recover

FLUSH_EVERY = 20

CHILD = textwrap.dedent("""
    import sys
    from evallog import EvaluationTracker
    out = sys.argv[1]
    t = EvaluationTracker(output_path=out, flush_every=%d, flush_interval=0.05)
    t.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
    streams = {}
    report = sys.stdout
    i = 0
    while True:
        task = "task%%d" %% (i %% 3)
        t.log_sample(task, {"doc_id": i, "filter": "none", "doc_hash": str(i), "text": "x" * (i %% 500),
                            "acc": float(i %% 2)})
        stream = t._streams[task]
        # after each sample: how many samples of this task are logged and how many are on disk
        report.write("%%s %%d %%d\\n" %% (task, stream.count, stream.flushed_count))
        report.flush()
        if i %% 250 == 0:
            t.save_results_aggregated({"results": {"progress": i}, "filler": ["y" * 1000] * 200}, None)
        i += 1
""" % FLUSH_EVERY)  # noqa: UP031 - a template of Python code, full of braces


def _trial(tmp_path: Path, seed: int) -> None:
    out = tmp_path / f"trial{seed}"
    rng = random.Random(seed)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(out)], stdout=subprocess.PIPE, text=True)
    lines: list[str] = [proc.stdout.readline()]  # the child is streaming now, however slow its start
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()  # keep the pipe drained so the child never blocks on its reports
    time.sleep(rng.random() * 1.5)  # a random moment of the streaming
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=30)
    reported = "".join(lines)
    assert proc.returncode == -signal.SIGKILL
    logged: dict[str, int] = {}
    flushed: dict[str, int] = {}
    for line in reported.splitlines():
        parts = line.split()
        if len(parts) == 3:  # the last report line may be torn by the kill
            logged[parts[0]] = int(parts[1])
            flushed[parts[0]] = int(parts[2])
    assert logged, "the child streamed nothing before the kill"

    report = recover(out)
    kept = {t.task: t for t in report.tasks}
    folder = out / "org__model"
    for task, n_flushed in flushed.items():
        recovered = kept[task]
        assert recovered.status == "recovered"
        lines = recovered.path.read_text().splitlines()
        records = [json.loads(line) for line in lines]  # every line is valid JSON
        assert len(records) == recovered.kept >= n_flushed  # nothing flushed was lost
        # at most one flush interval lost (plus the sample being logged at the kill)
        assert recovered.kept >= logged[task] - FLUSH_EVERY
        assert [r["doc_id"] % 3 for r in records] == [int(task[-1])] * len(records)
        assert [r["doc_id"] for r in records] == sorted(r["doc_id"] for r in records)
    for results in folder.glob("*_results.json"):
        json.loads(results.read_text())  # never half-written
    assert not list(folder.glob("*.partial")) and not list(folder.glob(".*.tmp"))


def test_sigkill_at_random_moments(tmp_path):
    for seed in range(5):
        _trial(tmp_path, seed)

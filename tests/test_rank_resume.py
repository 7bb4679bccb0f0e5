"""Resuming an interrupted multi-process run with another (or the same) number of processes.

The interrupted run is played by two trackers (rank 0 and 1 of 2) in a
subprocess SIGKILLed mid-task: rank 0 finished task ``a``, rank 1 had half of
its docs of ``a`` in its shard. A resumed run recomputes every sample (under
``evallog run`` from the response journal), so the old processes' shards and
markers must be discarded, never merged nor taken as a rank's completion.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import _rank_workers as workers
import pytest

from evallog.tracker import EvaluationTracker

RUN_ID = "2025-01-02T03-04-05"
SRC = str(Path(__file__).resolve().parent.parent / "src")
TESTS = str(Path(__file__).resolve().parent)
TASK = "gsm8k"  # 9 docs, 2 filters
NAME = f"samples_{TASK}_{RUN_ID}.jsonl"
DOCS = list(range(9))


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "EVALLOG_RUN_ID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


def interrupted_two_process_run(out: Path) -> None:
    script = textwrap.dedent(f"""
        import os, signal
        import _rank_workers as w
        from evallog.tracker import EvaluationTracker
        r0, r1 = (EvaluationTracker({str(out)!r}, flavor="lm-eval", run_id={RUN_ID!r}, rank=r, world_size=2,
                                    flush_every=1) for r in range(2))
        r0.log_samples("gsm8k", w.samples_of("lm-eval", "gsm8k", [0, 2, 4, 6, 8]))
        r0.close_task("gsm8k")                                           # rank 0's done marker
        r1.log_samples("gsm8k", w.samples_of("lm-eval", "gsm8k", [1, 3]))  # rank 1: half of its docs
        r1.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, TESTS])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = sorted(p.name for p in (out / "model").iterdir())
    assert f"{NAME}.rank-0-of-2.partial" in left and f"{NAME}.rank-1-of-2.partial" in left
    assert (out / "model" / ".evallog" / f"{RUN_ID}.ranks" / f"{TASK}.rank-0-of-2.done.json").exists()


def one_process_file(tmp_path: Path) -> bytes:
    single = EvaluationTracker(tmp_path / "single", flavor="lm-eval", run_id=RUN_ID)
    single.log_samples(TASK, workers.samples_of("lm-eval", TASK, DOCS))
    single.close()
    return (tmp_path / "single" / "model" / NAME).read_bytes()


def assert_nothing_stale(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".rank-" in p.name]
    manifest = (folder / ".evallog" / f"{RUN_ID}.json").read_text()
    assert '"complete"' in manifest


def test_resumed_by_one_process(tmp_path: Path) -> None:
    out = tmp_path / "run"
    interrupted_two_process_run(out)
    tracker = EvaluationTracker(out, flavor="lm-eval", run_id=RUN_ID, resume=True)
    tracker.log_samples(TASK, workers.samples_of("lm-eval", TASK, DOCS))
    tracker.close()
    assert tracker.run_id == RUN_ID  # the interrupted run, not a new id
    assert (out / "model" / NAME).read_bytes() == one_process_file(tmp_path)
    assert not (out / "model" / ".evallog" / f"{RUN_ID}.ranks").exists()
    assert_nothing_stale(out / "model")


@pytest.mark.parametrize("world", [2, 3])
def test_resumed_by_several_processes(tmp_path: Path, world: int) -> None:
    out = tmp_path / "run"
    interrupted_two_process_run(out)
    ranks = [EvaluationTracker(out, flavor="lm-eval", run_id=RUN_ID, resume=True, rank=r, world_size=world,
                               rank_timeout=30) for r in range(world)]
    batches = {r: workers.samples_of("lm-eval", TASK, workers.rank_docs(TASK, r, world)) for r in range(world)}
    ranks[0].log_sample(TASK, batches[0][0])  # rank 0 claims the run first (the others wait for it)
    for r in range(1, world):  # the others finish the task before rank 0: the old rank 0's marker must not count
        ranks[r].log_samples(TASK, batches[r])
        ranks[r].close_task(TASK)
    assert not (out / "model" / NAME).exists()  # the old run never merged it, the new one cannot yet
    ranks[0].log_samples(TASK, batches[0][1:])
    for r in range(1, world):
        ranks[r].close()
    ranks[0].save_results_aggregated({"results": {TASK: {"alias": TASK}}})
    ranks[0].close()
    assert (out / "model" / NAME).read_bytes() == one_process_file(tmp_path)
    assert_nothing_stale(out / "model")

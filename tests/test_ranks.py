"""Multi-process runs with real process groups (torch.distributed, gloo, CPU).

Every rank streams its samples into its own shard; the shards are merged into
files byte-identical to the one-process run; a rank SIGKILLed at a random
moment leaves the others' shards intact and ``recover`` reports exactly the
missing doc ids. Skipped without torch (``pip install torch==2.13.0``).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed")

import _rank_workers as workers  # noqa: E402  (tests/ is on sys.path under pytest)

from evallog.readers import list_runs  # noqa: E402
from evallog.recovery import recover  # noqa: E402
from evallog.tracker import EvaluationTracker  # noqa: E402

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "EVALLOG_RUN_ID")


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(target: Any, world: int, *args: Any) -> list[Any]:
    ctx = torch.multiprocessing.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=target, args=(rank, world, port, *args)) for rank in range(world)]
    for p in procs:
        p.start()
    return procs


def _join(procs: list[Any], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.1, deadline - time.monotonic()))
        if p.is_alive():
            for q in procs:
                q.kill()
            pytest.fail("a rank did not finish in time")


def _one_process_run(out: Path, flavor: str, run_id: str, keep: dict[str, set[tuple[str, int]]] | None = None) -> Path:
    """The same samples through one process (``keep``: only these (filter, doc id) keys per task)."""
    tracker = EvaluationTracker(out, flavor=flavor, run_id=run_id)
    assert not tracker.rank_info.distributed
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=tiny-model", None, None, False)
    for task, (n, _) in workers.TASKS.items():
        logged = 0
        for filter_name, sample in workers.keyed_samples(flavor, task, list(range(n))):
            if keep is None or (filter_name, sample["doc_id"]) in keep.get(task, set()):
                tracker.log_sample(task, sample)
                logged += 1
        if logged:
            tracker.close_task(task)
    tracker.close()
    return out / "tiny-model"


@pytest.mark.parametrize(("world", "flavor"), [(2, "lm-eval"), (4, "lmms-eval")])
def test_process_group_writes_the_one_process_files(tmp_path: Path, world: int, flavor: str) -> None:
    out = tmp_path / "group"
    reports = [tmp_path / f"report-{r}.txt" for r in range(world)]
    procs = [
        p for p in _start(_run_rank_indirect, world, str(out), flavor, str(tmp_path))
    ]
    _join(procs)
    assert [p.exitcode for p in procs] == [0] * world
    run_ids = set()
    for report in reports:
        run_id, extra = report.read_text().split()
        run_ids.add(run_id)
        assert extra == "0", "evallog made a collective call"
    assert len(run_ids) == 1, "the ranks did not agree on the run id"
    run_id = run_ids.pop()

    group_dir = out / "tiny-model"
    single_dir = _one_process_run(tmp_path / "single", flavor, run_id)
    for task in workers.TASKS:
        name = (f"samples_{task}_{run_id}.jsonl" if flavor == "lm-eval" else f"{run_id}_samples_{task}.jsonl")
        merged, single = (group_dir / name).read_bytes(), (single_dir / name).read_bytes()
        assert merged == single, f"{task}: merged file differs from the one-process file"
        assert len(merged.splitlines()) == workers.TASKS[task][0] * len(workers.TASKS[task][1])
    assert not [p.name for p in group_dir.iterdir() if ".rank-" in p.name], "shards left behind"
    assert not list(out.rglob(".evallog/launch-*.json")), "the run-id publication was left behind"

    run = list_runs(out)[0]
    assert not run.in_progress and run.manifest is not None and run.manifest["status"] == "complete"
    assert sorted(run.sample_files) == sorted(workers.TASKS)
    single_hashes = list_runs(tmp_path / "single")[0].manifest["tasks"]  # type: ignore[index]
    assert run.results["task_hashes"] == {t: single_hashes[t]["task_hash"] for t in workers.TASKS}
    expected_sum = {t: sum(float(d % 3 == 0) for d in range(n)) * len(f) for t, (n, f) in workers.TASKS.items()}
    assert {t: v["acc_sum,none"] for t, v in run.results["results"].items()} == expected_sum


def _run_rank_indirect(rank: int, world: int, port: int, out: str, flavor: str, tmp: str) -> None:
    workers.run_rank(rank, world, port, out, flavor, str(Path(tmp) / f"report-{rank}.txt"))


def _segments(path: Path) -> list[tuple[int, int]]:
    """(segment, doc id) of each line, segments numbered as in single-process order."""
    out, segment, last = [], 0, -1
    for line in path.read_bytes().splitlines():
        doc_id = orjson.loads(line)["doc_id"]
        if doc_id <= last:
            segment += 1
        out.append((segment, doc_id))
        last = doc_id
    return out


@pytest.mark.parametrize("trial", range(3))
def test_rank_killed_at_a_random_moment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trial: int) -> None:
    rng = random.Random(1000 + trial)
    world = (2, 2, 4)[trial]
    flavor = ("lm-eval", "lmms-eval", "lm-eval")[trial]
    victim = rng.randrange(world)
    run_id = "2025-01-02T03-04-05" if flavor == "lm-eval" else "20250102_030405"
    monkeypatch.setenv("EVALLOG_RUN_ID", run_id)
    victim_docs = {t: workers.rank_docs(t, victim, world) for t in workers.TASKS}
    total = sum(len(d) * len(workers.TASKS[t][1]) for t, d in victim_docs.items())
    kill_after = rng.randrange(1, total)
    out = tmp_path / "group"
    progress = tmp_path / "progress.txt"
    procs = _start(workers.run_victim_or_survivor, world, str(out), flavor, victim, str(progress))
    deadline = time.monotonic() + 120
    while (len(progress.read_text().splitlines()) - world if progress.exists() else -1) < kill_after:
        assert time.monotonic() < deadline and procs[victim].is_alive(), "the victim did not reach its kill point"
        time.sleep(0.005)
    os.kill(procs[victim].pid, signal.SIGKILL)
    monkeypatch.delenv("EVALLOG_RUN_ID")
    _join(procs)
    assert [p.exitcode for i, p in enumerate(procs) if i != victim] == [0] * (world - 1)
    assert procs[victim].exitcode == -signal.SIGKILL

    confirmed: dict[str, set[tuple[str, int]]] = {}
    for line in progress.read_text().splitlines():
        if line != "ready":
            task, filter_name, doc_id = line.split("\t")
            confirmed.setdefault(task, set()).add((filter_name, int(doc_id)))

    report = recover(out)
    entries = {e.task: e for e in report.shard_tasks}
    group_dir = out / "tiny-model"
    present: dict[str, set[tuple[str, int]]] = {}
    for task, (n, filters) in workers.TASKS.items():
        name = f"samples_{task}_{run_id}.jsonl" if flavor == "lm-eval" else f"{run_id}_samples_{task}.jsonl"
        keys = {(filters[s], d) for s, d in _segments(group_dir / name)}
        present[task] = keys
        victim_keys = {k for k in keys if k[1] % world == victim}
        # every sample whose log_sample returned is on disk; at most the one in flight besides
        assert confirmed.get(task, set()) <= victim_keys
        assert len(victim_keys - confirmed.get(task, set())) <= 1
        # the survivors' samples are all there
        assert {(f, d) for f in filters for d in range(n) if d % world != victim} <= keys
        expected_missing = sorted({d for d in victim_docs[task] for f in filters if (f, d) not in keys})
        if task in entries:
            entry = entries[task]
            assert entry.status == "merged" and entry.expected_known
            assert entry.missing == expected_missing
            assert entry.per_rank[victim] == len(victim_keys)
            for r in range(world):
                if r != victim:
                    assert entry.per_rank[r] == len(workers.rank_docs(task, r, world)) * len(filters)
        else:  # the victim finished this task before it died: merged normally
            assert expected_missing == []
    assert sum(len(e.missing) for e in entries.values()) > 0 or kill_after >= total - 1
    assert not [p.name for p in group_dir.iterdir() if ".rank-" in p.name]
    # what was kept is byte-identical to one process writing the same samples
    single_dir = _one_process_run(tmp_path / "single", flavor, run_id, keep=present)
    for name in (p.name for p in group_dir.iterdir() if p.suffix == ".jsonl"):
        single = single_dir / name
        assert (group_dir / name).read_bytes() == (single.read_bytes() if single.exists() else b"")

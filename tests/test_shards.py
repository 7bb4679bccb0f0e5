"""Multi-process runs without torch: rank detection, the shard merge, recovery, remote output.

The process-group tests are in tests/test_ranks.py (they need torch); here
ranks are played by trackers given ``rank=``/``world_size=`` (in this process
or in a subprocess that is SIGKILLed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import _rank_workers as workers
import fsspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evallog.errors import ConfigError, ShardError
from evallog.flavors import get_flavor
from evallog.merge import ShardSource, merge_shards
from evallog.ranks import detect_rank
from evallog.readers import list_runs
from evallog.shards import Segmenter, frame_line, ranks_dir
from evallog.tracker import EvaluationTracker

RUN_ID = "2025-01-02T03-04-05"
SRC = str(Path(__file__).resolve().parent.parent / "src")


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "EVALLOG_RUN_ID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


# --------------------------------------------------------------------------- rank detection
def test_rank_detection_precedence() -> None:
    assert detect_rank(env={}).world_size == 1 and not detect_rank(env={}).distributed
    info = detect_rank(env={"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (info.rank, info.world_size, info.local_rank, info.source) == (3, 4, 1, "RANK")
    mpi = detect_rank(env={"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "8"})
    assert (mpi.rank, mpi.world_size) == (2, 8)
    kw = detect_rank(rank=1, world_size=2, env={"RANK": "3", "WORLD_SIZE": "4"})
    assert (kw.rank, kw.world_size, kw.source) == (1, 2, "keywords")
    with pytest.raises(ConfigError):
        detect_rank(env={"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ConfigError):
        detect_rank(env={"RANK": "x", "WORLD_SIZE": "4"})


def test_one_process_unchanged(tmp_path: Path) -> None:
    tracker = EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID)
    assert not tracker.rank_info.distributed
    tracker.log_sample("t", workers.make_sample("lm-eval", "t", 0, "none", 1))
    tracker.close()
    assert [p.name for p in (tmp_path / "model").iterdir() if p.is_file()] == [f"samples_t_{RUN_ID}.jsonl"]


# --------------------------------------------------------------------------- the merge
def _shard(path: Path, lines: list[tuple[str, Any]]) -> Path:
    seg = Segmenter()
    with open(path, "wb") as fh:
        for label, doc_id in lines:
            sample = {"doc_id": doc_id, "filter": label, "doc_hash": f"h{doc_id}"}
            fields = get_flavor("lm-eval").hash_fields(sample)
            fh.write(frame_line(b'{"doc_id":%s}\n' % str(doc_id).encode(), sample, seg, fields)[0])
    return path


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    filters=st.lists(st.sampled_from(["none", "strict", "flex"]), min_size=1, max_size=3, unique=True),
    owners=st.lists(st.integers(0, 3), min_size=40, max_size=40),
)
def test_merge_is_single_process_order_for_any_split(
    tmp_path_factory: Any, n: int, filters: list[str], owners: list[int]
) -> None:
    """Docs split over 4 shards in any way (not only strided): the merge is filter by filter, ids ascending."""
    tmp = tmp_path_factory.mktemp("m")
    sources = []
    for rank in range(4):
        docs = [d for d in range(n) if owners[d] == rank]
        path = _shard(tmp / f"s{rank}", [(f, d) for f in filters for d in docs])
        sources.append(ShardSource(path, rank))
    result = merge_shards(sources, tmp / "out.jsonl", "lm-eval", task="t")
    expected = b"".join(b'{"doc_id":%d}\n' % d for f in filters for d in range(n))
    assert (tmp / "out.jsonl").read_bytes() == expected
    assert result.samples == n * len(filters)
    assert sum(result.per_rank.values()) == result.samples


def test_merge_refuses_disagreeing_or_unsorted_shards(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", [("none", 0), ("strict", 0)])
    b = _shard(tmp_path / "b", [("strict", 1), ("none", 1)])
    with pytest.raises(ShardError, match="disagree on the filters"):
        merge_shards([ShardSource(a, 0), ShardSource(b, 1)], tmp_path / "out", "lm-eval", task="t")
    assert not (tmp_path / "out").exists()  # atomic: nothing half-written
    c = tmp_path / "c"
    c.write_bytes(b'{"s":0,"doc_id":5,"h":["a","b","c"]}\t{}\n{"s":0,"doc_id":2,"h":["a","b","c"]}\t{}\n')
    with pytest.raises(ShardError, match="not in doc id order"):
        merge_shards([ShardSource(c, 0)], tmp_path / "out", "lm-eval", task="t")


def test_salvage_drops_a_torn_line_and_checks_counts(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", [("none", 0), ("none", 2)])
    whole = a.stat().st_size
    with open(a, "ab") as fh:
        fh.write(b'{"s":0,"doc_id":4,"h":["a","b","c"]}\t{"doc_id":4')  # torn by a kill
    result = merge_shards([ShardSource(a, 0, salvage=True)], tmp_path / "out", "lm-eval", task="t")
    assert (result.samples, result.dropped) == (2, {0: 1})
    with pytest.raises(ShardError, match="invalid line"):
        merge_shards([ShardSource(a, 0)], tmp_path / "out2", "lm-eval", task="t")
    with pytest.raises(ShardError, match="reported 3 samples"):
        merge_shards([ShardSource(a, 0, size=whole, count=3)], tmp_path / "out3", "lm-eval", task="t")


# --------------------------------------------------------------------------- recovery after a SIGKILL
_RANK1 = textwrap.dedent(
    """
    import os, signal, sys
    sys.path[:0] = [{src!r}, {tests!r}]
    import _rank_workers as workers
    from evallog.tracker import EvaluationTracker
    tracker = EvaluationTracker({out!r}, flavor="lm-eval", run_id={run_id!r}, rank=1, world_size=2, flush_every=1)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=tiny-model", None, None, False)
    tracker.expect_docs("arc_easy", workers.rank_docs("arc_easy", 1, 2))
    for sample in workers.samples_of("lm-eval", "arc_easy", workers.rank_docs("arc_easy", 1, 2))[:3]:
        tracker.log_sample("arc_easy", sample)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_recover_cli_reports_ranks_and_missing_doc_ids(tmp_path: Path) -> None:
    script = _RANK1.format(src=SRC, tests=str(Path(__file__).parent), out=str(tmp_path), run_id=RUN_ID)
    rank1 = subprocess.run([sys.executable, "-c", script], check=False)
    assert rank1.returncode == -signal.SIGKILL
    rank0 = EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID, rank=0, world_size=2, rank_timeout=0.2)
    rank0.general_config_tracker.log_experiment_args("hf", "pretrained=tiny-model", None, None, False)
    rank0.expect_docs("arc_easy", workers.rank_docs("arc_easy", 0, 2))
    for sample in workers.samples_of("lm-eval", "arc_easy", workers.rank_docs("arc_easy", 0, 2)):
        rank0.log_sample("arc_easy", sample)
    rank0.save_results_aggregated({"results": {"arc_easy": {"alias": "arc_easy"}}})
    rank0.close()  # rank 1 never finishes: rank 0 gives up after rank_timeout
    run_dir = tmp_path / "tiny-model"
    assert sorted(p.name for p in run_dir.iterdir() if ".rank-" in p.name) == [
        f"samples_arc_easy_{RUN_ID}.jsonl.rank-{r}-of-2.partial" for r in range(2)
    ]
    assert not (run_dir / f"samples_arc_easy_{RUN_ID}.jsonl").exists()
    assert list_runs(tmp_path)[0].manifest["status"] == "running"  # type: ignore[index]
    rdir = ranks_dir(run_dir, RUN_ID)  # the side indexes: rank 0's whole, the killed rank's left as it was
    assert sorted(p.name for p in rdir.glob("*.index")) == [f"arc_easy.rank-{r}-of-2.index" for r in range(2)]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.run([sys.executable, "-m", "evallog", "recover", str(tmp_path)], capture_output=True, text=True,
                          check=True, env=env)
    assert "merged 15 samples of task arc_easy from 2 ranks (rank 0: 12, rank 1: 3 (unfinished))" in proc.stdout
    assert "missing doc ids (8, expected ids announced by the ranks): 7, 9, 11, 13, 15, 17, 19, 21" in proc.stdout
    run = list_runs(tmp_path)[0]
    assert "arc_easy" in run.sample_files and not run.in_progress
    assert run.manifest is not None and run.manifest["status"] == "recovered"
    assert not list(rdir.glob("*.index"))  # recovery merged from the line prefixes and removed them
    kept = [d for d in range(23) if d % 2 == 0 or d in (1, 3, 5)]
    single = EvaluationTracker(tmp_path / "single", flavor="lm-eval", run_id=RUN_ID)
    single.log_samples("arc_easy", workers.samples_of("lm-eval", "arc_easy", kept))
    single.close()
    name = f"samples_arc_easy_{RUN_ID}.jsonl"
    assert (run_dir / name).read_bytes() == (tmp_path / "single" / "model" / name).read_bytes()


# --------------------------------------------------------------------------- remote output
def test_remote_output_uploads_only_merged_files(tmp_path: Path) -> None:
    url = "memory://ranks-test/out"
    fs = fsspec.filesystem("memory")
    trackers = [
        EvaluationTracker(url, flavor="lm-eval", run_id=RUN_ID, rank=r, world_size=2, staging_dir=tmp_path / "stage")
        for r in range(2)
    ]
    for rank, tracker in enumerate(trackers):
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=tiny-model", None, None, False)
        tracker.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", workers.rank_docs("gsm8k", rank, 2)))
    trackers[1].close()
    trackers[0].save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}}})
    trackers[0].close()
    remote = sorted(p.rsplit("/", 1)[1] for p in fs.find("/ranks-test/out"))
    assert remote == [f"{RUN_ID}.json", f"results_{RUN_ID}.json", f"samples_gsm8k_{RUN_ID}.jsonl"]
    merged = fs.cat(f"/ranks-test/out/tiny-model/samples_gsm8k_{RUN_ID}.jsonl")
    assert merged == (tmp_path / "stage" / "tiny-model" / f"samples_gsm8k_{RUN_ID}.jsonl").read_bytes()
    assert len(merged.splitlines()) == 18
    fs.rm("/ranks-test", recursive=True)


def test_finishing_twice_keeps_the_shard_and_logging_after_raises(tmp_path: Path) -> None:
    from evallog.errors import TrackerClosedError

    trackers = [EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID, rank=r, world_size=2) for r in range(2)]
    trackers[0].log_samples("one", workers.samples_of("lm-eval", "one", [0]))
    trackers[0].close_task("one")
    trackers[0].close_task("one")  # again (the harness saves what it gathered): nothing lost
    trackers[0].save_results_samples("one", [])  # rank 0's gathered list is empty under `evallog run`
    with pytest.raises(TrackerClosedError):
        trackers[0].log_sample("one", workers.make_sample("lm-eval", "one", 2, "none", 1))
    trackers[1].close()
    trackers[0].close()
    single = EvaluationTracker(tmp_path / "single", flavor="lm-eval", run_id=RUN_ID)
    single.log_samples("one", workers.samples_of("lm-eval", "one", [0]))
    single.close()
    name = f"samples_one_{RUN_ID}.jsonl"
    assert (tmp_path / "model" / name).read_bytes() == (tmp_path / "single" / "model" / name).read_bytes()


# --------------------------------------------------------------------------- publishing
def test_only_rank_0_publishes_the_merged_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every rank is built with the push flags (as the harness CLI does); one commit per repo, from rank 0."""
    from hubserver import FakeHub

    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    fake = FakeHub()
    fake.add_user("tester", orgs={"test-org": "write"})
    fake.add_token("hf_write", "tester")
    monkeypatch.setenv("HF_ENDPOINT", fake.start())
    try:
        trackers = [
            EvaluationTracker(tmp_path, hub_results_org="test-org", details_repo_name="details",
                              results_repo_name="results", push_results_to_hub=True, push_samples_to_hub=True,
                              token="hf_write", flavor="lm-eval", run_id=RUN_ID, rank=r, world_size=2)
            for r in range(2)
        ]
        for rank, tracker in enumerate(trackers):
            tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/tiny", None, None, False)
            tracker.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", workers.rank_docs("gsm8k", rank, 2)))
        trackers[1].close()
        trackers[0].save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}}})
        trackers[0].close()
        details, results = "test-org/details-private", "test-org/results-private"
        assert (fake.commit_posts(details), fake.commit_posts(results)) == (1, 1)
        name = f"samples_gsm8k_{RUN_ID}.jsonl"
        merged = (tmp_path / "org__tiny" / name).read_bytes()
        assert fake.files(details)[f"org__tiny/{name}"] == merged and len(merged.splitlines()) == 18
        assert not any(".rank-" in p for p in fake.files(details))
    finally:
        fake.stop()


def test_ranks_that_did_not_split_the_docs_leave_one_copy(tmp_path: Path) -> None:
    """lm-eval's HF model on CPU under torchrun evaluates every doc in every process: the merged
    file is still the one-process file (one copy per doc), and the duplicates are counted."""
    trackers = [EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID, rank=r, world_size=2) for r in range(2)]
    for tracker in trackers:
        tracker.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", list(range(9))))
    trackers[1].close()
    trackers[0].close()
    single = EvaluationTracker(tmp_path / "single", flavor="lm-eval", run_id=RUN_ID)
    single.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", list(range(9))))
    single.close()
    name = f"samples_gsm8k_{RUN_ID}.jsonl"
    assert (tmp_path / "model" / name).read_bytes() == (tmp_path / "single" / "model" / name).read_bytes()
    a = _shard(tmp_path / "a", [("none", 0), ("none", 1)])
    b = _shard(tmp_path / "b", [("none", 0), ("none", 1)])
    result = merge_shards([ShardSource(a, 0, count=2), ShardSource(b, 1, count=2)], tmp_path / "o", "lm-eval", task="t")
    assert (result.samples, result.duplicates, result.per_rank) == (2, 2, {0: 2, 1: 0})


def test_rank_0_without_docs_of_a_task_does_not_wait_for_itself(tmp_path: Path) -> None:
    """A task whose docs all fell to other ranks: rank 0 saving the results (its evaluation is
    over) counts as done with it, so the merge happens at once. It used to wait ``rank_timeout``
    for its own completion marker, which only ``close()`` wrote (a hang of 600 s by default)."""
    ranks = [EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID, rank=r, world_size=2, rank_timeout=3)
             for r in range(2)]
    ranks[1].log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", [0, 1, 2]))
    ranks[1].close()
    ranks[0].log_samples("arc_easy", workers.samples_of("lm-eval", "arc_easy", [0]))
    path = ranks[0].save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}, "arc_easy": {"alias": "arc_easy"}}})
    assert path is not None
    merged = tmp_path / "model" / f"samples_gsm8k_{RUN_ID}.jsonl"
    assert merged.exists(), "the task was not merged when rank 0 saved the results"
    single = EvaluationTracker(tmp_path / "one", flavor="lm-eval", run_id=RUN_ID)
    single.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", [0, 1, 2]))
    single.close()
    assert merged.read_bytes() == (tmp_path / "one" / "model" / merged.name).read_bytes()
    ranks[0].close()
    assert not list(tmp_path.rglob("*.rank-*.partial"))

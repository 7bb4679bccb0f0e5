"""The run-id publication ``.evallog/launch-<key>.json`` (ranks not given a run id) is removed once
every rank has read it: by the last rank to close, never while a rank may still need it."""

from __future__ import annotations

from pathlib import Path

import _rank_workers as workers
import pytest

import evallog.distributed
from evallog.readers import list_runs
from evallog.tracker import EvaluationTracker


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "EVALLOG_RUN_ID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    # both ranks live in this process: make them the first tracker of one launch (same launch key)
    monkeypatch.setattr(evallog.distributed, "next_tracker_index", lambda: 1)


def _rank(out: Path, rank: int) -> EvaluationTracker:
    tracker = EvaluationTracker(out, flavor="lm-eval", rank=rank, world_size=2, rank_timeout=0.5)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/tiny", None, None, False)
    return tracker


def _launch_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.rglob(".evallog/launch-*.json"))


def test_rank_0_closing_first_leaves_the_publication_for_a_late_rank(tmp_path: Path) -> None:
    rank0 = _rank(tmp_path, 0)
    rank0.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", workers.rank_docs("gsm8k", 0, 2)))
    rank0.close_task("gsm8k")
    rank0.save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}}})
    rank0.close()  # rank 1 has not even started: it still has to read the run id
    assert len(_launch_files(tmp_path)) == 1
    rank1 = _rank(tmp_path, 1)  # late: reads the id rank 0 published
    rank1.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", workers.rank_docs("gsm8k", 1, 2)))
    assert rank1.run_id == rank0.run_id
    rank1.close()  # the last rank to close removes it
    assert _launch_files(tmp_path) == []
    merged = tmp_path / "org__tiny" / f"samples_gsm8k_{rank0.run_id}.jsonl"
    assert len(merged.read_bytes().splitlines()) == 18  # both ranks' samples, merged by rank 1


def test_rank_0_closing_last_removes_the_publication(tmp_path: Path) -> None:
    rank0, rank1 = _rank(tmp_path, 0), _rank(tmp_path, 1)
    for rank, tracker in enumerate((rank0, rank1)):
        tracker.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", workers.rank_docs("gsm8k", rank, 2)))
    assert rank1.run_id == rank0.run_id
    rank1.close()
    assert len(_launch_files(tmp_path)) == 1  # rank 0 has not closed yet
    rank0.save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}}})
    rank0.close()
    assert _launch_files(tmp_path) == []
    run = list_runs(tmp_path)[0]
    assert run.manifest is not None and run.manifest["status"] == "complete"

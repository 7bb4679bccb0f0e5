"""Only rank 0 publishes: a rank > 0 built with the Hub push flags makes no commit, even when it
merged a task itself (the merged file is among its files) and closes last, after rank 0 wrote the
results (something publishable)."""

from __future__ import annotations

from pathlib import Path

import _rank_workers as workers
import pytest
from hubserver import FakeHub

from evallog.tracker import EvaluationTracker

RUN_ID = "2025-01-02T03-04-05"


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "EVALLOG_RUN_ID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


def test_a_rank_above_0_never_publishes(hub: FakeHub, tmp_path: Path) -> None:
    push = {"hub_results_org": "test-org", "details_repo_name": "details", "results_repo_name": "results",
            "push_results_to_hub": True, "push_samples_to_hub": True, "token": "hf_write"}
    rank0 = EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID, rank=0, world_size=2)  # no push flags
    rank1 = EvaluationTracker(tmp_path, flavor="lm-eval", run_id=RUN_ID, rank=1, world_size=2, **push)
    for rank, tracker in enumerate((rank0, rank1)):
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/tiny", None, None, False)
        tracker.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", workers.rank_docs("gsm8k", rank, 2)))
    rank0.close_task("gsm8k")
    rank1.close_task("gsm8k")  # last to finish the task: rank 1 merges, the merged file is its to publish
    assert rank1._files.sample_paths  # what rank 1 would push without the guard
    rank0.save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}}})
    rank0.close()  # results written, run complete
    name = f"samples_gsm8k_{RUN_ID}.jsonl"
    assert len((tmp_path / "org__tiny" / name).read_bytes().splitlines()) == 18
    assert list((tmp_path / "org__tiny").glob("results_*.json"))
    rank1.close()  # the run's files are on disk now: rank 1 still publishes nothing
    assert hub.commit_posts("test-org/details-private") == 0
    assert hub.commit_posts("test-org/results-private") == 0
    # the same flags on rank 0 do publish (the check above would see a commit)
    single = EvaluationTracker(tmp_path / "one", flavor="lm-eval", run_id=RUN_ID, **push)
    single.general_config_tracker.log_experiment_args("hf", "pretrained=org/tiny", None, None, False)
    single.log_samples("gsm8k", workers.samples_of("lm-eval", "gsm8k", list(range(9))))
    single.save_results_aggregated({"results": {"gsm8k": {"alias": "gsm8k"}}})
    single.close()
    assert hub.commit_posts("test-org/details-private") == 1

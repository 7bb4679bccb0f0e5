"""Worker processes of the multi-process tests (tests/test_ranks.py) and their samples.

Imported by spawned processes, so it has no pytest imports. Each worker joins
a real ``torch.distributed`` process group (gloo, CPU) and evaluates its share
of every task the way both harnesses split docs (``doc_id % world_size ==
rank``), filter by filter, logging samples with the tracker.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

# task -> (number of docs, filters); "one" has fewer docs than ranks
TASKS: dict[str, tuple[int, list[str]]] = {
    "arc_easy": (23, ["none"]),
    "gsm8k": (9, ["strict-match", "flexible-extract"]),
    "one": (1, ["none"]),
}


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_sample(flavor: str, task: str, doc_id: int, filter_name: str, filters: int) -> dict[str, Any]:
    """A deterministic sample in the shape the harness logs (lm-eval or lmms-eval)."""
    doc = {"question": f"{task} question {doc_id} \u00e9\u00e8 \"quoted\"\ttab", "answer": doc_id % 4, "id": f"{task}-{doc_id}"}
    sample: dict[str, Any] = {
        "doc_id": doc_id,
        "doc": doc,
        "target": str(doc_id % 4),
        "arguments": [(f"Question: {doc['question']}\nAnswer:", f" {c}") for c in "ABCD"],
        "resps": [[(-1.0 - doc_id / 7 - i, i == doc_id % 4)] for i in range(4)],
        "filtered_resps": [(-1.0 - doc_id / 7 - i, i == doc_id % 4) for i in range(4)],
        "filter": filter_name,
        "metrics": ["acc"],
        "doc_hash": _h(f"{task}{doc_id}"),
        "prompt_hash": _h(f"prompt{task}{doc_id}"),
        "target_hash": _h(str(doc_id % 4)),
        "acc": float(doc_id % 3 == 0),
    }
    if flavor == "lmms-eval":  # lmms-eval records carry no filter key (formats.md §12, #27)
        for key in ("prompt_hash", "target_hash", "filter"):
            sample.pop(key)
    return sample


def rank_docs(task: str, rank: int, world: int) -> list[int]:
    return list(range(rank, TASKS[task][0], world))


def samples_of(flavor: str, task: str, docs: list[int]) -> list[dict[str, Any]]:
    """The samples of ``docs`` in the order one process logs them (filter by filter)."""
    return [sample for _, sample in keyed_samples(flavor, task, docs)]


def keyed_samples(flavor: str, task: str, docs: list[int]) -> list[tuple[str, dict[str, Any]]]:
    """(filter, sample) pairs of ``docs`` in the order one process logs them."""
    n, filters = TASKS[task]
    return [(f, make_sample(flavor, task, d, f, len(filters))) for f in filters for d in docs]


def _join_group(rank: int, world: int, port: int) -> Any:
    import torch.distributed as dist

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    dist.init_process_group("gloo", rank=rank, world_size=world)
    return dist


def _spy_collectives(dist: Any, counts: dict[str, int]) -> None:
    """Count every collective call from here on (evallog must make none)."""
    for name in ("gather_object", "all_gather_object", "broadcast_object_list", "scatter_object_list",
                 "gather", "all_gather", "broadcast", "send", "recv", "reduce", "all_reduce", "barrier"):
        original = getattr(dist, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            counts[_name] = counts.get(_name, 0) + 1
            return _original(*args, **kwargs)

        setattr(dist, name, spy)


def run_rank(rank: int, world: int, port: int, out: str, flavor: str, report: str) -> None:
    """A full data-parallel evaluation: log, finish each task, gather metrics, rank 0 saves."""
    import torch

    from evallog.tracker import EvaluationTracker

    dist = _join_group(rank, world, port)
    counts: dict[str, int] = {}
    _spy_collectives(dist, counts)
    tracker = EvaluationTracker(out, flavor=flavor, flush_every=5)  # rank and world size from torch.distributed
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=tiny-model", None, None, False)
    assert (tracker.rank_info.rank, tracker.rank_info.world_size) == (rank, world)
    own_collectives = 0
    totals: dict[str, float] = {}
    for task in TASKS:
        for sample in samples_of(flavor, task, rank_docs(task, rank, world)):
            tracker.log_sample(task, sample)
            totals[task] = totals.get(task, 0.0) + sample["acc"]
        tracker.close_task(task)
        # the metrics are still reduced through the group, as the harness does
        value = torch.tensor([totals.get(task, 0.0)])
        dist.all_reduce(value)
        own_collectives += 1
        totals[task] = float(value.item())
    if rank == 0:
        results = {"results": {t: {"alias": t, "acc_sum,none": totals[t]} for t in TASKS}, "configs": {}}
        tracker.save_results_aggregated(results=results, samples=None)
    tracker.close()
    extra = sum(counts.values()) - own_collectives
    Path(report).write_text(f"{tracker.run_id}\n{extra}\n")
    dist.destroy_process_group()


def run_victim_or_survivor(
    rank: int, world: int, port: int, out: str, flavor: str, victim: int, progress: str
) -> None:
    """Kill trial: every rank announces its docs and logs; the victim logs slowly and reports
    each sample whose log_sample returned (it is SIGKILLed from outside at a random moment)."""
    from evallog.tracker import EvaluationTracker

    _join_group(rank, world, port)
    tracker = EvaluationTracker(out, flavor=flavor, flush_every=1, rank_timeout=2.0)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=tiny-model", None, None, False)
    for task in TASKS:
        tracker.expect_docs(task, rank_docs(task, rank, world))
    with open(progress, "a", encoding="utf-8") as fh:
        fh.write("ready\n")
        fh.flush()
        for task in TASKS:
            for filter_name, sample in keyed_samples(flavor, task, rank_docs(task, rank, world)):
                tracker.log_sample(task, sample)
                if rank == victim:
                    fh.write(f"{task}\t{filter_name}\t{sample['doc_id']}\n")
                    fh.flush()
                    time.sleep(0.01)
            tracker.close_task(task)
    tracker.close()

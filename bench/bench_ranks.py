#!/usr/bin/env python3
"""Multi-process runs: the harnesses' gather of every sample to rank 0 vs evallog's per-rank writing.

    python bench/bench_ranks.py [--samples 200000] [--worlds 2 4] [--repeat 3] [--merge-only]

Each configuration starts a real ``torch.distributed`` process group (gloo, CPU,
``torch.multiprocessing`` spawn). Every rank produces its share of the run's
samples (lm-eval-shaped records, ~1.3 KB each, docs strided over the ranks as
the harnesses do), then the run is *finished*:

* ``gather``   what lm-eval / lmms-eval do: every rank keeps its samples in a
               list; at the end ``torch.distributed.gather_object`` sends each
               task's list to rank 0, which concatenates them and writes the
               samples files (with evallog's one-process tracker);
* ``evallog``  every rank streams its samples to its shard while it produces
               them (``log_sample``); finishing is ``close_task`` (completion
               marker; the last rank merges) and rank 0's results + ``close``.

Reported for rank 0: RSS when finishing starts, peak RSS during finishing
(``VmHWM`` reset through ``/proc/self/clear_refs``), the increase, and the
bytes of samples that went through collectives (a spy wraps every
``torch.distributed`` collective; for ``gather_object`` the pickled size of
each non-root rank's list). Then the merge alone: ``merge_shards`` over the
finished shards of one task, through their side indexes (what the ranks run)
and from the line prefixes (recovery's path), vs ``cat`` of the same shard
files (GNU cat: an in-kernel ``copy_file_range``), interleaved in each repeat.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

RUN_ID = "2025-01-02T03-04-05"
# task -> (docs, filters): 150k + 25k x 2 = 200k samples at the default size
TASKS = {"mmlu": (150_000, ("none",)), "gsm8k": (25_000, ("strict-match", "flexible-extract"))}


def _tasks(total: int) -> dict[str, tuple[int, tuple[str, ...]]]:
    scale = total / 200_000
    return {t: (max(1, int(n * scale)), f) for t, (n, f) in TASKS.items()}


def make_sample(task: str, doc_id: int, filter_name: str) -> dict[str, Any]:
    digest = hashlib.sha256(f"{task}{doc_id}".encode()).hexdigest()
    question = f"{task} question {doc_id}: " + " ".join(digest[i : i + 6] for i in range(0, 60, 6)) * 4
    return {
        "doc_id": doc_id,
        "doc": {"question": question, "choices": ["alpha", "beta", "gamma", "delta"], "answer": doc_id % 4},
        "target": str(doc_id % 4),
        "arguments": [(f"Question: {question}\nAnswer:", f" {c}") for c in ("alpha", "beta", "gamma", "delta")],
        "resps": [[(-1.0 - (doc_id % 97) / 13 - i, i == doc_id % 4)] for i in range(4)],
        "filtered_resps": [(-1.0 - (doc_id % 97) / 13 - i, i == doc_id % 4) for i in range(4)],
        "filter": filter_name,
        "metrics": ["acc", "acc_norm"],
        "doc_hash": digest,
        "prompt_hash": hashlib.sha256(question.encode()).hexdigest(),
        "target_hash": hashlib.sha256(str(doc_id % 4).encode()).hexdigest(),
        "acc": float(doc_id % 4 == 0),
        "acc_norm": float(doc_id % 3 == 0),
    }


def rank_samples(tasks: dict[str, tuple[int, tuple[str, ...]]], task: str, rank: int, world: int) -> Iterator[dict[str, Any]]:
    n, filters = tasks[task]
    for f in filters:
        for d in range(rank, n, world):
            yield make_sample(task, d, f)


def _status(field: str) -> int:
    m = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(m[1]) * 1024 if m else 0


def _spy(dist: Any, counter: dict[str, int]) -> None:
    for name in ("gather_object", "all_gather_object", "broadcast_object_list", "scatter_object_list", "gather",
                 "all_gather", "broadcast", "send", "recv", "reduce", "all_reduce"):
        original = getattr(dist, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            counter["calls"] += 1
            if _name.endswith("_object") and args:
                obj = args[0] if _name != "broadcast_object_list" else args[0]
                if _name != "gather_object" or dist.get_rank() != kwargs.get("dst", 0):
                    counter["bytes"] += len(pickle.dumps(obj))
            return _original(*args, **kwargs)

        setattr(dist, name, spy)


def worker(rank: int, world: int, port: int, mode: str, out: str, total: int, result: str) -> None:
    import torch.distributed as dist

    from evallog.tracker import EvaluationTracker

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), EVALLOG_RUN_ID=RUN_ID)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    tasks = _tasks(total)
    sent = {"calls": 0, "bytes": 0}
    kept: dict[str, list[dict[str, Any]]] = {}
    if mode == "gather":  # the harness keeps every logged sample until the end; rank 0 writes
        tracker = EvaluationTracker(out, flavor="lm-eval", run_id=RUN_ID, rank=0, world_size=1)
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=bench-model", None, None, False)
        kept = {task: list(rank_samples(tasks, task, rank, world)) for task in tasks}
    else:
        tracker = EvaluationTracker(out, flavor="lm-eval", rank_timeout=600)
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=bench-model", None, None, False)
        for task in tasks:
            for sample in rank_samples(tasks, task, rank, world):
                tracker.log_sample(task, sample)
    dist.barrier()
    _spy(dist, sent)
    rss_start = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    t0 = time.perf_counter()
    if mode == "gather":
        for task in tasks:
            full: list[Any] | None = [None] * world if rank == 0 else None
            dist.gather_object(kept[task], full, dst=0)
            if rank == 0:
                assert full is not None
                tracker.save_results_samples(task, list(itertools.chain.from_iterable(full)))
            kept[task] = []
        if rank == 0:
            tracker.save_results_aggregated({"results": {t: {"alias": t} for t in tasks}}, None)
        tracker.close()
    else:
        for task in tasks:
            tracker.close_task(task)
        if rank == 0:
            tracker.save_results_aggregated({"results": {t: {"alias": t} for t in tasks}}, None)
        tracker.close()
    elapsed = time.perf_counter() - t0
    peak = _status("VmHWM")
    Path(result).write_text(json.dumps({"rank": rank, "rss_start": rss_start, "peak": peak,
                                        "seconds": elapsed, "collective_calls": sent["calls"],
                                        "collective_bytes": sent["bytes"]}))
    # keep the group alive until every rank is done (not measured)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_group(mode: str, world: int, total: int, tmp: Path) -> dict[str, Any]:
    import torch.multiprocessing as mp

    out = tmp / f"{mode}-{world}"
    results = [tmp / f"{mode}-{world}-rank{r}.json" for r in range(world)]
    ctx = mp.get_context("spawn")
    port = _free_port()
    procs = [ctx.Process(target=worker, args=(r, world, port, mode, str(out), total, str(results[r]))) for r in range(world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"{mode} rank failed with exit code {p.exitcode}")
    per_rank = [json.loads(r.read_text()) for r in results]
    files = sorted((out / "bench-model").glob("samples_*.jsonl"))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]
    shutil.rmtree(out)
    return {"ranks": per_rank, "files_sha": digest}


def bench_merge(world: int, total: int, tmp: Path, repeat: int) -> dict[str, float]:
    """merge_shards vs cat over the shards of one task (written by `world` in-process ranks).

    Timed, interleaved in each repeat: the merge as the ranks run it (finished ranks, side indexes),
    the merge from the line prefixes (what recovery and unindexed shards take), and ``cat``."""
    from dataclasses import replace

    from evallog.merge import merge_shards
    from evallog.rankgroup import done_sources
    from evallog.shards import ranks_dir, read_done
    from evallog.tracker import EvaluationTracker

    out = tmp / f"merge-{world}"
    tasks = {"mmlu": (total, ("none",))}
    trackers = [EvaluationTracker(out, flavor="lm-eval", run_id=RUN_ID, rank=r, world_size=world) for r in range(world)]
    run_dir = out / "bench-model"
    final = run_dir / f"samples_mmlu_{RUN_ID}.jsonl"
    for r, tr in enumerate(trackers):
        tr.general_config_tracker.log_experiment_args("hf", "pretrained=bench-model", None, None, False)
        for sample in rank_samples(tasks, "mmlu", r, world):
            tr.log_sample("mmlu", sample)
        tr._dist.group.complete_task("mmlu", final)  # finished rank: shard, index, marker (no merge)
    rdir = ranks_dir(run_dir, RUN_ID)
    indexed = done_sources(rdir, final, read_done(rdir, "mmlu", world))
    assert all(s.index is not None for s in indexed), "a rank wrote no side index"
    prefixes = [replace(s, index=None) for s in indexed]
    shards = [s.path for s in indexed]
    size = sum(p.stat().st_size for p in shards)
    times: dict[str, list[tuple[float, float, int]]] = {"indexed": [], "prefixes": [], "cat": []}
    digests = set()
    for _ in range(repeat):
        for name, sources in (("indexed", indexed), ("prefixes", prefixes), ("cat", None)):
            target = run_dir / f"{name}.jsonl"
            target.unlink(missing_ok=True)  # every timed writer starts from no output file
            times[name].append(_timed(sources, target, shards))
            digests.add(hashlib.sha256(target.read_bytes()).hexdigest() if name != "cat" else "")
            target.unlink()
    assert len(digests - {""}) == 1, "the two merge paths wrote different files"
    result = merge_shards(indexed, run_dir / "check.jsonl", "lm-eval", task="mmlu", fsync=False)
    merged_size = (run_dir / "check.jsonl").stat().st_size
    for tr in trackers:
        tr._dist.group.release()  # abandon the shards (no merge at exit)
        tr._closed = True
    shutil.rmtree(out)
    best = {name: (min(r[0] for r in t), min(r[1] for r in t), max(r[2] for r in t)) for name, t in times.items()}
    return {"world": world, "samples": result.samples, "shard_mib": size / 2**20, "merged_mib": merged_size / 2**20,
            "best": best, "runs": times}


def _timed(sources: Any, target: Path, shards: list[Path]) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS increase in bytes) of one merge (``sources``) or of ``cat`` (``sources`` None)."""
    from evallog.merge import merge_shards

    if sources is None:
        c0, t0 = _children_cpu(), time.perf_counter()
        with open(target, "wb") as fh:
            subprocess.run(["cat", *map(str, shards)], stdout=fh, check=True)
        return time.perf_counter() - t0, _children_cpu() - c0, 0
    rss = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    c0, t0 = time.process_time(), time.perf_counter()
    merge_shards(sources, target, "lm-eval", task="mmlu", fsync=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, _status("VmHWM") - rss


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--worlds", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--merge-only", action="store_true", help="only the merge vs cat part (no process groups)")
    args = ap.parse_args()
    mib = 2**20
    with tempfile.TemporaryDirectory(prefix="bench-ranks-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"{args.samples} samples, lm-eval flavor; rank 0 while finishing the run")
        print(f"{'world':>5} {'mode':>8} {'RSS start':>10} {'peak':>9} {'increase':>9} {'seconds':>8} "
              f"{'collective calls':>16} {'sample bytes sent':>18}  files sha256")
        for world in [] if args.merge_only else args.worlds:
            for mode in ("gather", "evallog"):
                res = run_group(mode, world, args.samples, tmp)
                r0 = res["ranks"][0]
                sent = sum(r["collective_bytes"] for r in res["ranks"])
                calls = sum(r["collective_calls"] for r in res["ranks"])
                print(f"{world:>5} {mode:>8} {r0['rss_start'] / mib:>8.0f}Mi {r0['peak'] / mib:>7.0f}Mi "
                      f"{(r0['peak'] - r0['rss_start']) / mib:>7.0f}Mi {r0['seconds']:>8.2f} {calls:>16} "
                      f"{sent / mib:>15.1f}Mi  {res['files_sha']}", flush=True)
        print()
        print(f"merge of one task's shards ({args.samples} samples) vs cat of the same shard files "
              f"(page cache, no fsync; interleaved, best of {args.repeat}; CPU: the merge's process time, cat's rusage)")
        for world in args.worlds:
            m = bench_merge(world, args.samples, tmp, args.repeat)
            cat_wall, cat_cpu, _ = m["best"]["cat"]
            print(f"  {world} shards, {m['shard_mib']:.0f} MiB in, {m['merged_mib']:.0f} MiB out: cat {cat_wall:.2f} s wall, "
                  f"{cat_cpu:.2f} s CPU", flush=True)
            for name in ("indexed", "prefixes"):
                wall, cpu, rss = m["best"][name]
                runs = ", ".join(f"{r[1]:.2f}" for r in m["runs"][name])
                cats = ", ".join(f"{r[1]:.2f}" for r in m["runs"]["cat"])
                print(f"    merge ({name:8}) {wall:.2f} s wall ({m['merged_mib'] / wall:.0f} MiB/s), {cpu:.2f} s CPU, "
                      f"peak RSS +{rss / 2**20:.0f} MiB; merge/cat = {wall / cat_wall:.2f}x wall, "
                      f"{cpu / max(cat_cpu, 1e-9):.2f}x CPU [CPU per repeat: {runs} vs cat {cats}]", flush=True)


if __name__ == "__main__":
    main()

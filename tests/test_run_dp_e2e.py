"""`evallog run` with the REAL harnesses running data-parallel on CPU (end-to-end, slow: ~3 min).

Several processes under ``torchrun``: every rank streams the samples of its own
documents into its own shard, the harness's gather of logged samples to rank 0
carries empty lists, the harness still gathers the metrics, and the last rank
to finish a task merges the shards into the file one process would write.

What is real and what is shimmed (the scripts in ``tests/harness_scripts``):

* lm-eval 0.4.13: ``lmeval_dp.py`` runs lm-eval's own CLI with the model
  ``hf-cpu-dp``: lm-eval's ``HFLM`` (``--model hf``) whose rank and world size
  come from the torch.distributed group, and whose ``all_gather``/``barrier`` go
  through it. HFLM itself takes the data-parallel branch only with more than one
  GPU, and under ``torchrun`` on CPU its ``Accelerator`` reports one process, so
  every process would evaluate every document. lm-eval's evaluator (striding,
  padding, ``gather_object`` of samples and metrics) is unchanged.
* lmms-eval 0.7.3 is data-parallel by itself under ``torchrun``;
  ``lmms_eval_dp.py`` only gives its ``dummy`` model the ``device`` attribute its
  padding step reads.

Needs ``EVALLOG_HARNESS_VENV`` (``.ci/harness_venv.sh``, set by ``.ci/run``).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from harness_support import SCRIPTS, copy_tasks, diff_runs, e2e_marks, harness_venv, make_tiny_model, popen, run, run_files

from evallog.layout import parse_shard_filename
from evallog.shards import split_line

VENV = harness_venv()
pytestmark = e2e_marks()

LMEVAL_TASKS = "gt_mc_arith,gt_gen_math,gt_group"
LMMS_TASKS = "gt_gen_math,gt_mcgen_arith,gt_gen_group"
TOTAL_REQUESTS = 106  # 10x4 + 8x4 + 6x4 loglikelihood + 10 generations
SUMMARY = re.compile(r"evallog run: (resumed )?run (\S+): (\d+) requests answered from the journal, (\d+) sent to the model \((\d+) process")


def bin_(name: str) -> str:
    assert VENV is not None
    return str(VENV / "bin" / name)


def launch(script: str, processes: int) -> list[str]:
    """The same command line in one process or under torchrun."""
    if processes == 1:
        return [bin_("python"), str(SCRIPTS / script)]
    return [bin_("torchrun"), "--nproc_per_node", str(processes), str(SCRIPTS / script)]


def lmeval_args(model: Path) -> list[str]:
    return ["--model", "hf-cpu-dp", "--model_args", f"pretrained={model},dtype=float32", "--device", "cpu",
            "--batch_size", "1", "--tasks", LMEVAL_TASKS, "--include_path", "../tasks/lmeval_tasks",
            "--output_path", "out", "--log_samples", "--gen_kwargs", "max_gen_toks=48"]


def lmms_args() -> list[str]:
    return ["--model", "dummy", "--tasks", LMMS_TASKS, "--include_path", "../tasks/lmms_tasks",
            "--output_path", "out", "--log_samples"]


def evallog_run(*options: str) -> list[str]:
    return [bin_("evallog"), "run", *options, "--"]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dp")
    copy_tasks(root / "tasks")
    return root


@pytest.fixture(scope="module")
def tiny(work: Path) -> Path:
    assert VENV is not None
    return make_tiny_model(VENV, work / "tiny", work / "tasks")


def start(work: Path, name: str, cmd: list[str], spy: bool = False) -> subprocess.Popen[bytes]:
    """``cmd`` in ``work/name`` (each run writes ``out`` there, so command lines are equal)."""
    folder = work / name
    folder.mkdir()
    if spy:
        (folder / "spy").mkdir()
        cmd = ["env", f"EVALLOG_TEST_SPY_DIR={folder / 'spy'}", *cmd]
    return popen(cmd, folder, work / f"{name}.log")


def finish(work: Path, name: str, proc: subprocess.Popen[bytes]) -> Path:
    assert proc.wait(timeout=900) == 0, (work / f"{name}.log").read_text()[-3000:]
    return work / name / "out"


@pytest.fixture(scope="module")
def lmeval_one(work: Path, tiny: Path) -> Path:
    """The one-process run of the data-parallel command (the reference)."""
    return finish(work, "one", start(work, "one", evallog_run() + launch("lmeval_dp.py", 1) + lmeval_args(tiny)))


# --------------------------------------------------------------------------- what a run left
def spied(folder: Path) -> list[list[dict]]:
    """Per process: the object collectives it made (function, pickled bytes sent, samples in them)."""
    return [json.loads(p.read_text())["calls"] for p in sorted((folder / "spy").glob("rank*.json"))]


def merged_markers(out: Path) -> dict[str, dict]:
    return {json.loads(p.read_text())["task"]: json.loads(p.read_text()) for p in out.rglob(".evallog/*.ranks/*.merged.json")}


def journal_doc_ids(out: Path) -> dict[int, set[tuple[str, int]]]:
    """(task, doc id) of every journaled answer, by the rank of the process that answered it."""
    found: dict[int, set[tuple[str, int]]] = {}
    for path in out.rglob(".evallog/journal/*/*.jsonl"):
        rank = int(path.name.split("-")[0][len("rank"):])
        for line in path.read_bytes().splitlines():
            record = json.loads(line)
            found.setdefault(rank, set()).add((record["t"], record["d"]))
    return found


def journal_lines(out: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in out.rglob(".evallog/journal/*/*.jsonl"))


def shard_doc_ids(out: Path) -> dict[tuple[str, int, int], list[int]]:
    """(file, rank, world) -> doc ids of the whole lines of each shard left in ``out``."""
    found = {}
    for path in out.rglob("*.partial"):
        shard = parse_shard_filename(path.name)
        if shard:
            lines = [raw for raw in path.read_bytes().split(b"\n")[:-1]]
            found[(shard.final, shard.rank, shard.world_size)] = [json.loads(split_line(raw + b"\n")[1])["doc_id"] for raw in lines]
    return found


def summary(work: Path, name: str) -> re.Match[str]:
    match = SUMMARY.search((work / f"{name}.log").read_text())
    assert match, (work / f"{name}.log").read_text()[-2000:]
    return match


def assert_same_files(reference: Path, out: Path) -> None:
    """Results equal in value, every samples file byte for byte, the run complete, nothing left over."""
    assert diff_runs(reference, out) == []
    _, ref_samples = run_files(reference)
    _, samples = run_files(out)
    assert sorted(samples) == sorted(ref_samples)
    for task, path in samples.items():
        assert path.read_bytes() == ref_samples[task].read_bytes(), task
    assert not list(out.rglob("*.partial")), list(out.rglob("*.partial"))
    assert not list(out.rglob(".evallog/launch-*.json"))  # a run-id publication (resume) goes when every rank closed
    manifests = list(out.rglob(".evallog/*.json"))
    statuses = {json.loads(p.read_text())["status"] for p in manifests}
    assert statuses == {"complete"}, statuses


def assert_docs_split(out: Path, counts: dict[str, int], world: int) -> None:
    """Each rank wrote only its own documents (rank r: doc ids r, r + world, ...), each doc once."""
    markers = merged_markers(out)
    assert sorted(markers) == sorted(counts)
    for task, n_docs in counts.items():
        per_rank = {int(r): n for r, n in markers[task]["per_rank"].items()}
        filters = markers[task]["samples"] // n_docs
        assert per_rank == {r: filters * len(range(r, n_docs, world)) for r in range(world)}, (task, per_rank)


# --------------------------------------------------------------------------- lm-eval, data-parallel
LMEVAL_DOCS = {"gt_mc_arith": 10, "gt_gen_math": 10, "gt_sub_history": 6, "gt_sub_science": 8}


def announced(out: Path) -> dict[tuple[str, int], list[int]]:
    """(task, rank) -> the doc ids the rank announced (its plan file)."""
    plans = (json.loads(p.read_text()) for p in out.rglob(".evallog/*.ranks/*.plan.json"))
    return {(plan["task"], plan["rank"]): plan["doc_ids"] for plan in plans}


def test_lmeval_two_processes_write_the_one_process_files(work: Path, tiny: Path, lmeval_one: Path) -> None:
    ours = start(work, "two", evallog_run() + launch("lmeval_dp.py", 2) + lmeval_args(tiny), spy=True)
    theirs = start(work, "two-own", launch("lmeval_dp.py", 2) + lmeval_args(tiny), spy=True)  # lm-eval alone
    out, own = finish(work, "two", ours), finish(work, "two-own", theirs)

    assert_same_files(lmeval_one, out)
    # the docs were split: the model answered each request once, rank r the docs r, r + 2, ...
    match = summary(work, "two")
    assert (int(match[3]), int(match[4]), int(match[5])) == (0, TOTAL_REQUESTS, 2)
    answered = journal_doc_ids(out)
    assert sorted(answered) == [0, 1]
    assert all(doc % 2 == rank for rank, docs in answered.items() for _, doc in docs)
    assert_docs_split(out, LMEVAL_DOCS, 2)
    assert "more than one rank" not in (work / "two.log").read_text()  # no doc was written twice
    # each rank announced its docs (evallog recover would name exactly the missing ones)
    assert announced(out) == {(task, r): list(range(r, n, 2)) for task, n in LMEVAL_DOCS.items() for r in range(2)}
    # no sample crossed a collective: lm-eval's gather of logged samples carried empty lists
    calls = spied(work / "two")
    assert len(calls) == 2 and all(calls)
    assert all(c["samples"] == 0 for rank_calls in calls for c in rank_calls), calls
    assert all(rank_calls[0]["fn"] == "gather_object" and rank_calls[0]["bytes"] < 200 for rank_calls in calls), calls
    # the same spy sees them when lm-eval runs alone (its gather sends every logged sample to rank 0)
    own_calls = spied(work / "two-own")
    assert [rank_calls[0]["samples"] for rank_calls in own_calls] == [22, 22], own_calls
    # and the metrics are gathered as lm-eval gathers them (same second collective, same size)
    assert [c[1] for c in calls] == [c[1] for c in own_calls]
    # lm-eval's own files depend on the number of processes (rank 0's docs, then rank 1's)
    _, own_samples = run_files(own)
    own_ids = [json.loads(line)["doc_id"] for line in own_samples["gt_mc_arith"].read_text().splitlines()]
    assert own_ids == [0, 2, 4, 6, 8, 1, 3, 5, 7, 9]


# --------------------------------------------------------------------------- lmms-eval, data-parallel
def test_lmms_two_processes_write_the_one_process_files(work: Path) -> None:
    one = start(work, "lmms-one", evallog_run() + launch("lmms_eval_dp.py", 1) + lmms_args())
    two = start(work, "lmms-two", evallog_run() + launch("lmms_eval_dp.py", 2) + lmms_args(), spy=True)
    reference, out = finish(work, "lmms-one", one), finish(work, "lmms-two", two)
    assert_same_files(reference, out)
    docs = {"gt_gen_math": 10, "gt_mcgen_arith": 10, "gt_gen_history": 6, "gt_gen_science": 8}
    assert_docs_split(out, docs, 2)
    # each rank announced its docs before the model ran (evallog recover would name exactly the missing ones)
    assert announced(out) == {(task, r): list(range(r, n, 2)) for task, n in docs.items() for r in range(2)}
    calls = spied(work / "lmms-two")
    assert len(calls) == 2 and all(calls)
    assert all(c["samples"] == 0 for rank_calls in calls for c in rank_calls), calls


# --------------------------------------------------------------------------- --resume with another number of processes
def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the launcher and every process under it (torchrun's workers have sessions of their own)."""
    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    psutil.wait_procs(procs, timeout=30)


def kill_then_resume(work: Path, tiny: Path, reference: Path, name: str, before: int, after: int,
                     fire: Callable[[Path], bool]) -> dict:
    options = ["--journal-every", "3", "--journal-interval", "0.5"]
    proc = start(work, name, evallog_run(*options) + launch("lmeval_dp.py", before) + lmeval_args(tiny))
    out = work / name / "out"
    while proc.poll() is None and not fire(out):
        time.sleep(0.005)
    assert proc.poll() is None, f"{name}: the run ended before the kill"
    kill_tree(proc)
    state = {"journaled": journal_lines(out), "shards": shard_doc_ids(out),
             "merged": sorted(merged_markers(out)), "partial": sorted(p.name for p in out.rglob("*.partial"))}
    log = work / f"{name}-resumed.log"
    cmd = evallog_run("--resume", *options) + launch("lmeval_dp.py", after) + lmeval_args(tiny)
    assert run(cmd, work / name, log, timeout=900) == 0, log.read_text()[-3000:]
    match = SUMMARY.search(log.read_text())
    assert match, log.read_text()[-2000:]
    state.update(resumed=bool(match[1]), from_journal=int(match[3]), computed=int(match[4]), processes=int(match[5]))
    return state


def has_shard_lines(out: Path) -> bool:
    return any(parse_shard_filename(p.name) and p.stat().st_size > 0 for p in out.rglob("*.partial"))


def test_resume_with_another_number_of_processes(work: Path, tiny: Path, lmeval_one: Path) -> None:
    trials = {
        # killed while the ranks write their shards: resumed by one process, then by two again
        "k2to1": (2, 1, has_shard_lines),
        "k2to2": (2, 2, has_shard_lines),
        # killed while the model answers requests: resumed by two processes
        "k1to2": (1, 2, lambda out: journal_lines(out) >= 30),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(kill_then_resume, work, tiny, lmeval_one, name, *spec) for name, spec in trials.items()}
        states = {name: f.result() for name, f in futures.items()}
    print("kill, then --resume (processes before -> after: state at the kill, requests answered from the journal / sent):")
    for name, state in states.items():
        print(f"  {name}: {state}")
    for name, state in states.items():
        out = work / name / "out"
        assert state["resumed"], (name, state)
        # every journaled answer (of every earlier process) is used; only the others are recomputed
        assert state["from_journal"] == state["journaled"] > 0, (name, state)
        assert state["from_journal"] + state["computed"] == TOTAL_REQUESTS, (name, state)
        assert state["processes"] == trials[name][1]
        # the old processes' shards, markers and in-progress files are gone; the files are the uninterrupted run's
        assert_same_files(lmeval_one, out)
        if trials[name][1] == 2:
            assert_docs_split(out, LMEVAL_DOCS, 2)
        else:
            assert not list(out.rglob(".evallog/*.ranks")), name
    for name in ("k2to1", "k2to2"):
        shards = states[name]["shards"]
        assert any(shards.values()), states[name]  # killed with samples in the shards
        # each rank's shard held only its own documents
        assert all(doc % world == rank for (_, rank, world), ids in shards.items() for doc in ids), shards

"""`evallog run` with the REAL lm-eval 0.4.13 and lmms-eval 0.7.3 (end-to-end, slow: ~4 min).

The harnesses live in a cached venv of their own (``.ci/harness_venv.sh``,
named by ``EVALLOG_HARNESS_VENV``, which ``.ci/run`` sets); without it these
tests are skipped. No download at run time: the tasks and data are the local
fixtures of ``tests/data/harness_tasks``, the models are lm-eval's / lmms-eval's
``dummy`` and a tiny random-weight Llama with a tokenizer built here.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness_support import (
    SCRIPTS,
    copy_tasks,
    diff_runs,
    e2e_marks,
    harness_env,
    harness_venv,
    make_tiny_model,
    popen,
    run,
    run_files,
)

VENV = harness_venv()
pytestmark = e2e_marks()

LMEVAL_TASKS = "gt_mc_arith,gt_gen_math,gt_group"
LMMS_TASKS = "gt_gen_math,gt_mcgen_arith,gt_gen_group"
SUMMARY = re.compile(r"evallog run: (?:resumed )?run (\S+): (\d+) requests answered from the journal, (\d+) sent to the model")


def bin_(name: str) -> str:
    assert VENV is not None
    return str(VENV / "bin" / name)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("harness")
    copy_tasks(root / "tasks")
    return root


def lmeval_dummy(out: str) -> list[str]:
    return [bin_("lm_eval"), "--model", "dummy", "--tasks", LMEVAL_TASKS, "--include_path", "../tasks/lmeval_tasks",
            "--output_path", out, "--log_samples", "--seed", "1234"]


def lmms_dummy(out: str) -> list[str]:
    return [bin_("lmms-eval"), "--model", "dummy", "--tasks", LMMS_TASKS, "--include_path", "../tasks/lmms_tasks",
            "--output_path", out, "--log_samples"]


def evallog_run(*options: str) -> list[str]:
    return [bin_("evallog"), "run", *options, "--"]


def both(work: Path, own: list[str], ours: list[str], name: str) -> tuple[Path, Path]:
    """The harness's own run and the evallog run of the same command, side by side.

    Each runs in a folder of its own with the same relative ``--output_path``
    ``out``, so that even the recorded command lines are equal.
    """
    (work / f"{name}-own").mkdir()
    (work / f"{name}-evallog").mkdir()
    p1 = popen(own, work / f"{name}-own", work / f"{name}-own.log")
    p2 = popen(ours, work / f"{name}-evallog", work / f"{name}-evallog.log")
    assert p1.wait(timeout=600) == 0, (work / f"{name}-own.log").read_text()[-3000:]
    assert p2.wait(timeout=600) == 0, (work / f"{name}-evallog.log").read_text()[-3000:]
    return work / f"{name}-own" / "out", work / f"{name}-evallog" / "out"


def assert_clean_run(folder: Path) -> None:
    """Every file of the run parses, nothing is left in progress, the manifest says complete."""
    assert not list(folder.rglob("*.partial")), list(folder.rglob("*.partial"))
    results, samples = run_files(folder)
    json.loads(results.read_text(encoding="utf-8"))
    for path in samples.values():
        for line in path.read_text(encoding="utf-8").splitlines():
            json.loads(line)
    manifests = [p for p in folder.rglob(".evallog/*.json")]
    statuses = {json.loads(p.read_text())["status"] for p in manifests}
    assert "complete" in statuses, statuses


@pytest.fixture(scope="module")
def lmeval_runs(work: Path) -> tuple[Path, Path]:
    return both(work, lmeval_dummy("out"), evallog_run() + lmeval_dummy("out"), "lmeval")


@pytest.fixture(scope="module")
def lmms_runs(work: Path) -> tuple[Path, Path]:
    return both(work, lmms_dummy("out"), evallog_run() + lmms_dummy("out"), "lmms")


# --------------------------------------------------------------------------- parity
def test_lmeval_parity(work: Path, lmeval_runs: tuple[Path, Path]) -> None:
    own, ours = lmeval_runs
    assert diff_runs(own, ours) == []
    _, own_samples = run_files(own)
    _, our_samples = run_files(ours)
    assert sorted(own_samples) == sorted(our_samples) == ["gt_gen_math", "gt_mc_arith", "gt_sub_history", "gt_sub_science"]
    assert_clean_run(ours)
    # the printed table is evallog's, with the same rows
    log = (work / "lmeval-evallog.log").read_text()
    assert "|GT Knowledge (group alias)  |    1.0|none" in log
    assert SUMMARY.search(log)


def test_lmms_parity(work: Path, lmms_runs: tuple[Path, Path]) -> None:
    own, ours = lmms_runs
    assert diff_runs(own, ours) == []
    _, our_samples = run_files(ours)
    assert sorted(our_samples) == ["gt_gen_history", "gt_gen_math", "gt_gen_science", "gt_mcgen_arith"]
    assert_clean_run(ours)
    assert "GT Knowledge gen (group alias)" in (work / "lmms-evallog.log").read_text()


def test_harness_exit_code_passes_through(work: Path) -> None:
    cmd = evallog_run() + [bin_("lm_eval"), "--model", "dummy", "--tasks", "no_such_task_xyz",
                           "--include_path", "../tasks/lmeval_tasks", "--output_path", "bad"]
    (work / "bad").mkdir()
    own = run(cmd[3:], work / "bad", work / "bad-own.log")
    ours = run(cmd, work / "bad", work / "bad-evallog.log")
    assert own != 0 and ours == own


# --------------------------------------------------------------------------- the harnesses' own readers
def _facts(script: str, folder: Path) -> dict:
    out = subprocess.run([bin_("python"), str(SCRIPTS / script), str(folder)], check=True, capture_output=True,
                         env=harness_env(), text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_lmeval_readers_read_evallog_output(lmeval_runs: tuple[Path, Path]) -> None:
    own, ours = lmeval_runs
    theirs, mine = _facts("read_with_lmeval.py", own), _facts("read_with_lmeval.py", ours)
    assert mine["tasks"] == theirs["tasks"] == ["gt_gen_math", "gt_mc_arith", "gt_sub_history", "gt_sub_science"]
    assert mine["lines"] == theirs["lines"]
    assert mine["latest_keys"] == theirs["latest_keys"]


def test_lmms_loaders_read_evallog_output(lmms_runs: tuple[Path, Path]) -> None:
    _, ours = lmms_runs
    facts = _facts("read_with_lmms.py", ours)
    assert facts["models"] == ["dummy"]
    assert sorted(facts["tasks"]) == ["gt_gen_history", "gt_gen_math", "gt_gen_science", "gt_mcgen_arith"]
    assert all(t["has_results"] and t["docs"] > 0 for t in facts["tasks"].values())
    assert "results" in facts["results_keys"] and "configs" in facts["results_keys"]


def test_python_entry_point_streams(work: Path) -> None:
    out = subprocess.run(
        [bin_("python"), str(SCRIPTS / "entry_point_lmeval.py"), str(work / "tasks" / "lmeval_tasks"), str(work / "api-out")],
        check=True, capture_output=True, env=harness_env(), text=True, cwd=work,
    )
    facts = json.loads(out.stdout.strip().splitlines()[-1])
    assert facts["tracker"] == "evallog.integrations.lm_eval"
    assert facts["is_streamed"]
    # nothing held in memory, every sample went by the stream: 10 mc docs, 10 docs x 2 filters
    assert facts["streamed"] == {"gt_mc_arith": ["StreamedSamples", 0, 10], "gt_gen_math": ["StreamedSamples", 0, 20]}
    assert_clean_run(work / "api-out")


# --------------------------------------------------------------------------- kill -9, then --resume
@dataclass
class Trial:
    index: int
    phase: str
    journaled: int = 0
    from_journal: int = -1
    computed: int = -1
    resumed: bool = False
    at_kill: str = ""


@pytest.fixture(scope="module")
def tiny_model(work: Path) -> Path:
    assert VENV is not None
    return make_tiny_model(VENV, work / "tiny", work / "tasks")


def lmeval_hf(model: Path, out: str) -> list[str]:
    return [bin_("lm_eval"), "--model", "hf", "--model_args", f"pretrained={model},dtype=float32", "--device", "cpu",
            "--batch_size", "1", "--tasks", LMEVAL_TASKS, "--include_path", "tasks/lmeval_tasks",
            "--output_path", out, "--log_samples", "--gen_kwargs", "max_gen_toks=48"]


JOURNAL_EVERY = 3


def journal_lines(folder: Path) -> int:
    n = 0
    for path in folder.rglob(".evallog/journal/*/*.jsonl"):
        n += path.read_bytes().count(b"\n")
    return n


def _trigger(phase: str, out: Path, rng: random.Random) -> Callable[[], bool]:
    if phase == "loading":
        deadline = time.monotonic() + rng.uniform(1.0, 6.0)
        return lambda: time.monotonic() >= deadline or journal_lines(out) > 0
    if phase == "requests":
        k = rng.randint(1, 90)
        return lambda: journal_lines(out) >= k
    if phase == "scoring":
        return lambda: any(out.rglob("*.partial"))
    return lambda: any(out.rglob("results_*.json"))  # saving


def kill_and_resume(work: Path, model: Path, trial: Trial, reference: Path) -> Trial:
    rng = random.Random(trial.index)
    name = f"trial{trial.index}"
    out = work / name
    options = ["--journal-every", str(JOURNAL_EVERY), "--journal-interval", "0.5"]
    proc = popen(evallog_run(*options) + lmeval_hf(model, name), work, work / f"{name}-killed.log")
    fire = _trigger(trial.phase, out, rng)
    while proc.poll() is None and not fire():
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.05))
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    trial.journaled = journal_lines(out)
    trial.at_kill = (
        f"journal={trial.journaled} partial={any(out.rglob('*.partial'))} results={any(out.rglob('results_*.json'))}"
    )
    log = work / f"{name}-resumed.log"
    assert run(evallog_run("--resume", *options) + lmeval_hf(model, name), work, log) == 0, log.read_text()[-3000:]
    text = log.read_text()
    match = SUMMARY.search(text)
    assert match, text[-2000:]
    trial.resumed = "resumed run" in match.group(0)
    trial.from_journal, trial.computed = int(match.group(2)), int(match.group(3))
    assert diff_runs(reference, out) == [], trial
    assert_clean_run(out)
    return trial


def test_kill_at_random_moments_then_resume(work: Path, tiny_model: Path) -> None:
    reference = work / "hf-reference"
    log = work / "hf-reference.log"
    assert run(evallog_run() + lmeval_hf(tiny_model, "hf-reference"), work, log) == 0, log.read_text()[-3000:]
    total = int(SUMMARY.search(log.read_text()).group(3))  # type: ignore[union-attr]
    assert total == 106  # 10x4 + 8x4 + 6x4 loglikelihood + 10 generations
    phases = ["loading", "requests", "requests", "scoring", "saving"] * 2
    trials = [Trial(i, phase) for i, phase in enumerate(phases)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda t: kill_and_resume(work, tiny_model, t, reference), trials))
    for t in done:
        assert t.from_journal + t.computed == total, t
        if t.resumed:
            # every journaled answer is used; only the unjournaled ones go to the model again
            assert t.from_journal == t.journaled, t
    summary = [(t.phase, t.at_kill, t.from_journal, t.computed) for t in done]
    print("kill trials (phase, state at kill, answered from journal, sent to the model):")
    for row in summary:
        print("  ", row)
    assert sum(t.resumed and t.from_journal > 0 for t in done) >= 4, summary


def test_resume_after_every_file_was_written(work: Path) -> None:
    """Killed after the last file was written but before the run was marked complete.

    Regression: the resumed run skipped every sample (all on disk) without adopting
    the files, and wrote a results file without ``task_hashes``.
    """
    (work / "late").mkdir()
    cmd = evallog_run() + [bin_("lm_eval"), "--model", "dummy", "--tasks", "gt_gen_math", "--include_path",
                           "../tasks/lmeval_tasks", "--output_path", "out", "--log_samples"]
    assert run(cmd, work / "late", work / "late-1.log") == 0
    shutil.copytree(work / "late" / "out", work / "late-first")
    for marker in (work / "late" / "out").rglob(".evallog/journal/*/complete"):
        marker.unlink()
    for manifest in (work / "late" / "out").rglob(".evallog/*.json"):
        manifest.write_text(manifest.read_text().replace('"complete"', '"running"'))
    log = work / "late-2.log"
    assert run(cmd[:2] + ["--resume"] + cmd[2:], work / "late", log) == 0
    assert "resumed run" in log.read_text()
    assert diff_runs(work / "late-first", work / "late" / "out") == []
    assert_clean_run(work / "late" / "out")


def test_other_command_line_forms(work: Path) -> None:
    """`python -m lm_eval`, `lm-eval run` and `python -m lmms_eval` get evallog's tracker too."""
    forms = {
        "pym-lmeval": [bin_("python"), "-m", "lm_eval", "--model", "dummy", "--tasks", "gt_gen_math",
                       "--include_path", "../tasks/lmeval_tasks", "--output_path", "out", "--log_samples"],
        "lm-eval-run": [bin_("lm-eval"), "run", "--model", "dummy", "--tasks", "gt_gen_math",
                        "--include_path", "../tasks/lmeval_tasks", "--output_path", "out", "--log_samples"],
        "pym-lmms": [bin_("python"), "-m", "lmms_eval", "--model", "dummy", "--tasks", "gt_gen_math",
                     "--include_path", "../tasks/lmms_tasks", "--output_path", "out", "--log_samples"],
    }
    procs = {}
    for name, cmd in forms.items():
        (work / name).mkdir()
        procs[name] = popen(evallog_run() + cmd, work / name, work / f"{name}.log")
    for name, proc in procs.items():
        assert proc.wait(timeout=600) == 0, (work / f"{name}.log").read_text()[-3000:]
        out = work / name / "out"
        assert_clean_run(out)  # evallog's manifest: evallog's tracker wrote the run
        _, samples = run_files(out)
        assert list(samples) == ["gt_gen_math"]
        assert SUMMARY.search((work / f"{name}.log").read_text())


def test_torchrun_two_processes_resume_on_one(work: Path, tiny_model: Path) -> None:
    """Two processes under torchrun, kill -9 mid-requests, resume as one plain process.

    (lm-eval's HF model on CPU under torchrun runs every request on both processes;
    both journal, and the single resumed process answers from both journals.)
    """
    reference = work / "hf-reference"
    if not reference.exists():
        assert run(evallog_run() + lmeval_hf(tiny_model, "hf-reference"), work, work / "hf-reference.log") == 0
    harness = lmeval_hf(tiny_model, "tr")
    launcher = [bin_("torchrun"), "--nproc_per_node", "2", "-m", "lm_eval", *harness[1:]]
    proc = popen(evallog_run("--journal-every", str(JOURNAL_EVERY)) + launcher, work, work / "tr-killed.log")
    def journals() -> list[Path]:
        return list((work / "tr").rglob(".evallog/journal/*/*.jsonl"))

    # kill once both processes are answering requests (they start at different speeds)
    while proc.poll() is None and (len(journals()) < 2 or journal_lines(work / "tr") < 40):
        time.sleep(0.01)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    journaled = journal_lines(work / "tr")
    assert len(journals()) == 2, journals()  # one journal per process
    log = work / "tr-resumed.log"
    assert run(evallog_run("--resume") + harness, work, log) == 0, log.read_text()[-3000:]
    match = SUMMARY.search(log.read_text())
    assert match and "resumed run" in match.group(0)
    from_journal, computed = int(match.group(2)), int(match.group(3))
    assert from_journal + computed == 106
    assert from_journal >= min(journaled // 2, 106)  # each process journaled the same requests
    assert diff_runs(reference, work / "tr") == []
    assert_clean_run(work / "tr")

"""Resume and recover under contention, run ids of any form, temp files, foreign files (issue 17 #5),
and the writer's paths: symlinks refused inside the output folder, output_path itself may be one (#4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from evallog import EvaluationTracker
from evallog.errors import ConfigError, UnsafePathError
from evallog.readers import list_runs
from evallog.recovery import recover

SRC = str(Path(__file__).resolve().parents[1] / "src")
TRIALS = int(os.environ.get("EVALLOG_RESUME_TRIALS", "20"))
N = 12  # samples per task
CRASH_AT = 5  # samples written per task before the crash

CHILD = textwrap.dedent(
    """
    import os, sys, time, json
    from evallog import EvaluationTracker
    out, flavor, role, start_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    N, CRASH_AT = int(sys.argv[5]), int(sys.argv[6])
    run_id = sys.argv[7] or None

    def sample(i):
        return {"doc_id": i, "doc": {"q": i}, "target": "a", "arguments": (("ctx", " a"),), "resps": [["a"]],
                "filtered_resps": ["a"], "filter": "none", "metrics": ["acc"], "doc_hash": str(i),
                "prompt_hash": "p", "target_hash": "t", "acc": 1.0}

    while time.time() < start_at:
        time.sleep(0.001)
    if role == "crash":
        t = EvaluationTracker(out, flavor=flavor, run_id=run_id, flush_every=1)
        t.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
        for task in ("a", "b"):
            for i in range(CRASH_AT):
                t.log_sample(task, sample(i))
        t.flush()
        os._exit(0)  # killed: no close, the lock stays behind
    t = EvaluationTracker(out, flavor=flavor, resume=True, flush_every=2)
    t.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
    for task in ("a", "b"):
        done = t.logged_keys(task)
        for i in range(N):
            if (i, "none") not in done:
                t.log_sample(task, sample(i))
    t.save_results_aggregated({"results": {"a": {"acc,none": 1.0}, "b": {"acc,none": 1.0}}})
    t.close()
    print(json.dumps({"run_id": t.run_id}))
    """
)


def _spawn(out: Path, flavor: str, role: str, start_at: float, run_id: str = "") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), flavor, role, str(start_at), str(N), str(CRASH_AT), run_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _lines_by_file(out: Path) -> dict[Path, list[tuple]]:
    files: dict[Path, list[tuple]] = {}
    for p in out.rglob("*.jsonl*"):
        if ".evallog" in p.parts:
            continue
        files[p] = [(r["doc_id"], r.get("filter", "none")) for r in map(json.loads, p.read_text().splitlines())]
    return files


@pytest.mark.parametrize("flavor,run_id", [("lm-eval", ""), ("lmms-eval", ""), ("lm-eval", "myrun")])
def test_concurrent_resumes_write_no_duplicate_lines(tmp_path: Path, flavor: str, run_id: str) -> None:
    trials = max(1, TRIALS // 3) if (flavor, run_id) != ("lm-eval", "") else TRIALS
    duplicates = 0
    for trial in range(trials):
        out = tmp_path / f"t{trial}"
        crash = _spawn(out, flavor, "crash", 0.0, run_id)
        assert crash.wait(60) == 0, crash.stderr.read() if crash.stderr else ""
        start_at = time.time() + 1.5  # the resumers start together
        resumers = [_spawn(out, flavor, "resume", start_at) for _ in range(3)]
        for p in resumers:
            _stdout, stderr = p.communicate(timeout=120)
            assert p.returncode == 0, stderr
        for path, keys in _lines_by_file(out).items():
            dup = sum(n - 1 for n in Counter(keys).values() if n > 1)
            duplicates += dup
            assert not path.name.endswith(".partial"), path
            assert sorted(set(keys)) == sorted(keys), f"trial {trial}: duplicate lines in {path.name}"
        # the interrupted run was completed exactly once, with every sample
        runs = list_runs(out)
        resumed = [r for r in runs if r.n_samples("a") == N and r.n_samples("b") == N]
        assert resumed, [(r.run_id, r.n_samples("a")) for r in runs]
    print(f"\nconcurrent resumes ({flavor}, run_id={run_id or 'generated'}): {trials} trials x 3 processes, "
          f"duplicate lines: {duplicates}")
    assert duplicates == 0


def test_lm_eval_run_with_any_run_id_is_found_by_recover_and_ls(tmp_path: Path) -> None:
    crash = _spawn(tmp_path, "lm-eval", "crash", 0.0, "myrun")
    assert crash.wait(60) == 0
    runs = list_runs(tmp_path)
    # its writer is dead: interrupted, not in progress (issue 10's status rule)
    assert [r.run_id for r in runs] == ["myrun"] and runs[0].status == "interrupted" and not runs[0].in_progress
    assert sorted(runs[0].sample_files) == ["a", "b"]
    report = recover(tmp_path)
    assert sorted(t.task for t in report.tasks if t.status == "recovered") == ["a", "b"]
    run = list_runs(tmp_path)[0]
    assert run.n_samples("a") == CRASH_AT and not run.in_progress and run.status == "recovered"


def test_recover_removes_stale_temp_files_in_bookkeeping_folder(tmp_path: Path) -> None:
    crash = _spawn(tmp_path, "lm-eval", "crash", 0.0)
    assert crash.wait(60) == 0
    bookkeeping = next(tmp_path.rglob(".evallog"))
    dead_pid = 2**22 + 12345  # above pid_max: never alive
    stale = bookkeeping / f".x.json.{dead_pid}.abcd1234.tmp"
    stale.write_text("{}")
    foreign = bookkeeping / "notes.tmp"  # not our temp-file name: left alone
    foreign.write_text("keep")
    report = recover(tmp_path)
    assert stale in report.removed_temp_files and not stale.exists()
    assert foreign.exists()


def _write_foreign_samples(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text('{"doc_id": 0, "foreign": true}\n')
    return p


def test_run_id_of_foreign_files_is_never_adopted(tmp_path: Path) -> None:
    foreign = _write_foreign_samples(tmp_path / "org__m", "samples_t_myrun.jsonl")
    before = foreign.read_bytes()
    tracker = EvaluationTracker(str(tmp_path), flavor="lm-eval", run_id="myrun")
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
    with pytest.raises(ConfigError):
        tracker.save_results_samples("t", [{"doc_id": 1}])
    tracker.close()
    assert foreign.read_bytes() == before
    # a generated id that happens to match foreign files moves on to another id
    foreign2 = _write_foreign_samples(tmp_path / "org__m2", "20250101_000000_samples_t.jsonl")
    before2 = foreign2.read_bytes()
    tracker2 = EvaluationTracker(str(tmp_path), flavor="lmms-eval")
    tracker2._run_id = "20250101_000000"  # as if generated at that second
    tracker2.general_config_tracker.log_experiment_args("hf", "pretrained=org/m2", None, None, False)
    path = tracker2.save_results_samples("t", [{"doc_id": 1, "doc_hash": "x"}])
    tracker2.close()
    assert path is not None and path != foreign2 and foreign2.read_bytes() == before2


def test_resume_does_not_adopt_a_run_it_did_not_write(tmp_path: Path) -> None:
    folder = tmp_path / "org__m"
    partial = _write_foreign_samples(folder, "samples_t_2025-01-01T00-00-00.000001.jsonl.partial")
    before = partial.read_bytes()
    tracker = EvaluationTracker(str(tmp_path), flavor="lm-eval", resume=True)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
    assert tracker.logged_keys("t") == set()
    tracker.log_sample("t", {"doc_id": 5})
    tracker.close()
    assert tracker.run_id != "2025-01-01T00-00-00.000001" and partial.read_bytes() == before


# ------------------------------------------------------------------ symlinks (#4)
def _tracker(out: Path, **kw) -> EvaluationTracker:
    t = EvaluationTracker(str(out), flavor="lm-eval", run_id="r1", **kw)
    t.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
    return t


def test_symlink_at_partial_name_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "org__m").mkdir(parents=True)
    planted = out / "org__m" / "samples_t_r1.jsonl.partial"
    planted.symlink_to(victim)
    t = _tracker(out)
    with pytest.raises(ConfigError):  # planted before the run started: files the run did not write
        t.log_sample("t", {"doc_id": 0})
    t.close()
    planted.unlink()
    t = _tracker(out)
    t.logged_keys("other")  # the run is claimed; now the symlink appears at the predictable name
    planted.symlink_to(victim)
    with pytest.raises(UnsafePathError):
        t.log_sample("t", {"doc_id": 0})
    t.close()
    assert victim.read_text() == "precious"


def test_symlinked_bookkeeping_or_model_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "org__m").mkdir(parents=True)
    (out / "org__m" / ".evallog").symlink_to(elsewhere)
    t = _tracker(out)
    with pytest.raises(UnsafePathError):
        t.save_results_samples("t", [{"doc_id": 0}])
    t.close()
    assert list(elsewhere.iterdir()) == []
    out2 = tmp_path / "out2"
    out2.mkdir()
    (out2 / "org__m").symlink_to(elsewhere)
    t2 = _tracker(out2)
    with pytest.raises(UnsafePathError):
        t2.save_results_samples("t", [{"doc_id": 0}])
    t2.close()
    assert list(elsewhere.iterdir()) == []


def test_output_path_may_itself_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    t = _tracker(link)
    t.log_sample("t", {"doc_id": 0})
    t.save_results_aggregated({"results": {"t": {"acc,none": 1.0}}})
    t.close()
    assert (real / "org__m" / "samples_t_r1.jsonl").is_file() and (real / "org__m" / "results_r1.json").is_file()

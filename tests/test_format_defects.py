"""The run-format disagreements of issue 10, each reproduced as a user meets it.

These tests use only the public API that existed before the format layer
(tracker, readers, recovery, hub.find_local_runs, the CLI), so that they can be
run against the older code to show that they failed there.

1. lm-eval flavor with an ``output_path`` ending in ``.json``: every command finds the results file.
2. (redaction pre-check vs ``key: value``: issue 17's, tested there.)
3. ``readers.metric_keys`` agrees with ``make_table`` on lmms-eval's extra columns.
4. A run saved the way the harnesses do it (no ``close()``) is finished and unlocked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evallog import EvaluationTracker, list_runs, load_run, make_table
from evallog.cli import main as cli_main
from evallog.hub import find_local_runs
from evallog.readers import metric_keys
from evallog.recovery import recover

DATA = Path(__file__).parent / "data"
RESULTS = json.loads((DATA / "lmeval_run1" / "results_input.json").read_text())
SAMPLES = json.loads((DATA / "lmeval_run1" / "samples_input.json").read_text())


def _manifest(run_dir: Path, run_id: str) -> dict:
    return json.loads((run_dir / ".evallog" / f"{run_id}.json").read_text())


# ------------------------------------------------------------------ 1. lm-eval's .json output path


def test_lmeval_json_output_path_is_one_run_for_every_command(tmp_path, capsys):
    out = tmp_path / "out"
    tracker = EvaluationTracker(output_path=str(out / "gt_eval.json"), flavor="lm-eval")
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
    tracker.save_results_aggregated(RESULTS, SAMPLES)
    for task in RESULTS["configs"]:
        tracker.save_results_samples(task, SAMPLES[task])
    results_file = out / f"gt_eval_{tracker.run_id}.json"
    assert tracker.results_path == results_file and results_file.is_file()

    # readers
    assert load_run(out).results_file == results_file
    (run,) = list_runs(out)
    assert run.results_file == results_file and len(run.sample_files) == 4

    # hub push plans the results file with its samples
    (local,) = find_local_runs(out)
    assert local.results_file == results_file and len(local.sample_files) == 4
    assert cli_main(["push", str(out), "--repo", "org/results", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "1 results file, 4 sample files" in printed and f"gt_eval_{tracker.run_id}.json" in printed

    # evallog table on the folder
    assert cli_main(["table", str(out)]) == 0
    table = capsys.readouterr().out
    assert "gt_mc_arith" in table and "acc" in table


# ------------------------------------------------------------------ 3. metric keys


def test_metric_keys_leave_out_lmms_eval_extra_columns():
    entry = {
        "alias": "mmmu",
        "acc,none": 0.5,
        "acc_stderr,none": 0.1,
        "acc_stderr_clt,none": 0.1,
        "acc_stderr_clustered,none": "N/A",
        "acc_expected_accuracy,none": 0.45,
        "acc_consensus_accuracy,none": 0.4,
        "acc_internal_variance,none": 0.01,
        "acc_consistency_rate,none": 0.9,
        "sample_len": 10,
    }
    assert metric_keys(entry) == [("acc", "none")]
    # the table shows the same single metric row, the extra statistics as its columns
    table = make_table({"results": {"mmmu": entry}}, fmt="csv")
    rows = [line for line in table.splitlines()[1:] if line.strip()]
    assert len(rows) == 1 and ",acc," in rows[0]


# ------------------------------------------------------------------ 4. finished without close()


def _save_like_the_harness(out: Path, flavor: str, *, log_samples: bool = True) -> EvaluationTracker:
    tracker = EvaluationTracker(output_path=str(out), flavor=flavor)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
    # lm-eval / lmms-eval __main__: aggregated results, then one call per task of results["configs"]
    tracker.save_results_aggregated(RESULTS, SAMPLES if log_samples else None)
    if log_samples:
        for task in RESULTS["configs"]:
            tracker.save_results_samples(task, SAMPLES[task])
    return tracker


@pytest.mark.parametrize("flavor", ["lm-eval", "lmms-eval"])
@pytest.mark.parametrize("log_samples", [True, False])
def test_run_saved_like_the_harness_is_complete_without_close(tmp_path, capsys, flavor, log_samples):
    out = tmp_path / "out"
    tracker = _save_like_the_harness(out, flavor, log_samples=log_samples)  # never closed
    run_dir, run_id = tracker.results_path.parent, tracker.run_id
    assert _manifest(run_dir, run_id)["status"] == "complete"
    assert not (run_dir / ".evallog" / f"{run_id}.lock").exists()
    (run,) = list_runs(out)
    assert not run.in_progress
    assert cli_main(["ls", str(out)]) == 0
    assert "in progress" not in capsys.readouterr().out


def test_a_later_write_reclaims_the_finished_run(tmp_path):
    out = tmp_path / "out"
    tracker = _save_like_the_harness(out, "lm-eval")
    run_dir, run_id = tracker.results_path.parent, tracker.run_id
    tracker.log_sample("extra", {"doc_id": 0, "filter": "none", "acc": 1.0})
    assert (run_dir / ".evallog" / f"{run_id}.lock").exists()
    assert _manifest(run_dir, run_id)["status"] == "running" and load_run(out).in_progress
    assert tracker.run_id == run_id  # the same run, not a new id
    tracker.close()
    assert _manifest(run_dir, run_id)["status"] == "complete"
    assert not (run_dir / ".evallog" / f"{run_id}.lock").exists()
    assert sorted(load_run(out).sample_files) == sorted([*RESULTS["configs"], "extra"])


CHILD = textwrap.dedent("""
    import json, os, sys
    from evallog import EvaluationTracker
    out, data = sys.argv[1], sys.argv[2]
    results = json.load(open(os.path.join(data, "results_input.json")))
    samples = json.load(open(os.path.join(data, "samples_input.json")))

    def cli_evaluate():  # the harness: the tracker is a local variable, close() is never called
        tracker = EvaluationTracker(output_path=out, flavor=sys.argv[3])
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
        tracker.save_results_aggregated(results, samples)
        for task in results["configs"]:
            tracker.save_results_samples(task, samples[task])
        print(tracker.run_id, tracker.results_path.parent, flush=True)
        return tracker

    keep = cli_evaluate()
    os._exit(0)  # no at-exit hook, no garbage collection: what a killed or hard-exiting process leaves
""")


@pytest.mark.parametrize("flavor", ["lm-eval", "lmms-eval"])
def test_harness_process_exiting_without_close_leaves_a_finished_run(tmp_path, capsys, flavor):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), str(DATA / "lmeval_run1"), flavor],
        capture_output=True, text=True, timeout=120, check=True,
    )
    run_id, run_dir = proc.stdout.split()
    assert _manifest(Path(run_dir), run_id)["status"] == "complete"
    assert not (Path(run_dir) / ".evallog" / f"{run_id}.lock").exists()
    (run,) = list_runs(out)
    assert not run.in_progress
    assert cli_main(["ls", str(out)]) == 0
    assert "in progress" not in capsys.readouterr().out


KILLED = textwrap.dedent("""
    import os, sys
    from evallog import EvaluationTracker
    tracker = EvaluationTracker(output_path=sys.argv[1], flavor="lm-eval")
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
    tracker.log_sample("streamed", {"doc_id": 0, "filter": "none", "acc": 1.0})
    tracker.flush()
    print(tracker.run_id, tracker.sample_paths["streamed"].parent, flush=True)
    os._exit(0)  # killed mid-run: manifest "running", a .partial stream, a lock naming this pid
""")


def test_a_lock_of_a_dead_process_is_never_in_progress(tmp_path, capsys):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", KILLED, str(out)], capture_output=True, text=True,
                          timeout=120, check=True)
    run_id, run_dir = proc.stdout.split()
    lock = Path(run_dir) / ".evallog" / f"{run_id}.lock"
    assert lock.exists() and _manifest(Path(run_dir), run_id)["status"] == "running"

    (run,) = list_runs(out)
    assert not run.in_progress
    assert cli_main(["ls", str(out)]) == 0
    assert "in progress" not in capsys.readouterr().out
    report = recover(out)
    assert [(t.task, t.status, t.kept) for t in report.tasks] == [("streamed", "recovered", 1)]
    assert not lock.exists()


def test_a_dropped_tracker_releases_its_lock(tmp_path):
    import gc

    out = tmp_path / "out"
    tracker = EvaluationTracker(output_path=str(out), flavor="lmms-eval")
    tracker.log_sample("streamed", {"doc_id": 0, "acc": 1.0})
    tracker.flush()
    run_dir, run_id = tracker.sample_paths["streamed"].parent, tracker.run_id
    lock = run_dir / ".evallog" / f"{run_id}.lock"
    assert lock.exists()
    del tracker
    gc.collect()
    assert not lock.exists()
    (run,) = list_runs(out)
    assert not run.in_progress
    assert [t.status for t in recover(out).tasks] == ["recovered"]
    assert os.listdir(run_dir) and load_run(out).n_samples("streamed") == 1


# ------------------------------------------------------------------ whole-folder commands survive one bad run

LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMEVAL_ID = "2026-11-26T14-50-01.009042"


def _root_with_a_corrupt_run(tmp_path: Path) -> tuple[Path, Path]:
    import shutil

    root = tmp_path / "root"
    for name in ("good", "bad"):
        shutil.copytree(LMEVAL_DIR, root / name)
        for p in [root / name, *(root / name).rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    bad = root / "bad" / f"results_{LMEVAL_ID}.json"
    bad.write_bytes(bad.read_bytes()[:100])  # a torn results file
    return root, bad


def test_list_runs_skips_a_corrupt_run_with_one_warning(tmp_path, caplog):
    from evallog.errors import ReadError

    root, bad = _root_with_a_corrupt_run(tmp_path)
    with caplog.at_level("WARNING", logger="evallog"):
        runs = list_runs(root)
    assert [r.model for r in runs] == ["good"]
    assert [s.path for s in runs.skipped] == [bad]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and str(bad) in warnings[0]
    with pytest.raises(ReadError, match="not valid JSON"):
        list_runs(root, errors="raise")


def _evallog(*argv: str) -> subprocess.CompletedProcess[str]:
    """The real command in its own process: what a user sees on stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "evallog", *argv], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["ls"], ["leaderboard"], ["report", "-o", "{out}"]])
def test_whole_folder_commands_skip_a_corrupt_run(tmp_path, command):
    root, bad = _root_with_a_corrupt_run(tmp_path)
    argv = [c.format(out=tmp_path / "r.html") for c in command]
    proc = _evallog(argv[0], str(root), *argv[1:])
    assert proc.returncode == 0, proc.stderr
    assert "1 unreadable run skipped" in proc.stdout
    assert len(proc.stderr.strip().splitlines()) == 1 and str(bad) in proc.stderr  # one warning line naming it
    strict = _evallog(argv[0], str(root), *argv[1:], "--strict")
    assert strict.returncode == 1 and str(bad) in strict.stderr and "not valid JSON" in strict.stderr


def test_push_dry_run_refuses_an_invalid_results_file(tmp_path, capsys):
    root, bad = _root_with_a_corrupt_run(tmp_path)
    assert cli_main(["push", str(root / "bad"), "--repo", "org/results", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "invalid results file" in err and str(bad) in err

"""EvaluationTracker behaviour: run ids, re-saves, atomicity, paths, secrets, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evallog import EvaluationTracker
from evallog.errors import ConfigError, SerializationError, UnsafePathError, WriteError

RESULTS = {
    "results": {"t1": {"alias": "t1", "acc,none": 0.5, "acc_stderr,none": 0.1}},
    "configs": {"t1": {"task": "t1"}},
    "versions": {"t1": 1.0},
}


def sample(i: int, **extra) -> dict:
    return {
        "doc_id": i, "doc": {"q": f"question {i}"}, "target": i % 4,
        "arguments": [(f"ctx {i}", " a"), (f"ctx {i}", " b")],
        "resps": [[(-1.5, False)], [(-0.5, True)]], "filtered_resps": [(-1.5, False), (-0.5, True)],
        "filter": "none", "metrics": ["acc"], "doc_hash": f"d{i}", "prompt_hash": f"p{i}", "target_hash": f"t{i}",
        "acc": float(i % 2), **extra,
    }


def make(tmp_path, **kw) -> EvaluationTracker:
    tracker = EvaluationTracker(output_path=str(tmp_path), **kw)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
    return tracker


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("flavor", ["lmms-eval", "lm-eval"])
def test_samples_before_aggregated_share_run_id(tmp_path, flavor):
    tracker = make(tmp_path, flavor=flavor)
    tracker.save_results_samples("t1", [sample(0)])
    tracker.save_results_aggregated(RESULTS, {"t1": [sample(0)]})
    names = files(tmp_path / "org__model")
    assert len(names) == 2 and all(tracker.run_id in n for n in names)


def test_later_datetime_str_renames_written_files(tmp_path):
    tracker = make(tmp_path)
    tracker.save_results_samples("t1", [sample(0)])
    tracker.log_sample("t2", sample(1))
    tracker.save_results_aggregated(RESULTS, None, "20240501_123456")
    tracker.close()
    assert tracker.run_id == "20240501_123456"
    assert files(tmp_path / "org__model") == [
        "20240501_123456_results.json", "20240501_123456_samples_t1.jsonl", "20240501_123456_samples_t2.jsonl",
    ]


def test_saving_a_task_again_replaces_its_file(tmp_path):
    tracker = make(tmp_path, flavor="lm-eval")
    path = tracker.save_results_samples("t1", [sample(0), sample(1)])
    tracker.save_results_samples("t1", [sample(0), sample(1)])
    assert len(path.read_text().splitlines()) == 2
    tracker.save_results_samples("t1", [sample(5)])
    assert [json.loads(x)["doc_id"] for x in path.read_text().splitlines()] == [5]


def test_failure_mid_write_leaves_previous_file_intact(tmp_path):
    tracker = make(tmp_path)
    path = tracker.save_results_samples("t1", [sample(0), sample(1)])
    before = path.read_bytes()

    class Unencodable:
        def __str__(self):
            raise RuntimeError("boom")

    bad = [sample(0), sample(1), sample(2, doc=None, arguments=[("x", ["a", {1, (2, 3)}, {(1, 2): 1}])])]
    with pytest.raises(SerializationError) as err:
        tracker.save_results_samples("t1", bad)
    assert err.value.task == "t1" and err.value.sample_index == 2 and err.value.path == str(path)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_results_file_atomic_replace(tmp_path):
    tracker = make(tmp_path)
    first = tracker.save_results_aggregated(RESULTS, None)
    good = first.read_bytes()
    with pytest.raises(SerializationError):
        tracker.save_results_aggregated({**RESULTS, "bad": {(1, 2): "tuple key"}}, None)
    assert first.read_bytes() == good


@pytest.mark.parametrize("fsync", [False, True])
def test_fsync_governs_every_file_of_a_save(tmp_path, monkeypatch, fsync):
    """``fsync`` is one knob: off (the default), a batch save forces no file to the device (the
    results file used to be fsync'ed whatever it said); on, the results and samples files are."""
    import os

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    tracker = make(tmp_path, fsync=fsync)
    synced.clear()  # claiming the run folder syncs the folder once
    tracker.save_results_aggregated(RESULTS, {"t1": [sample(0), sample(1)]})
    after_results = len(synced)
    tracker.save_results_samples("t1", [sample(0), sample(1)])
    assert (after_results > 0, len(synced) > after_results) == (fsync, fsync)


def test_one_failing_task_does_not_stop_the_others(tmp_path):
    tracker = make(tmp_path)
    with pytest.raises(SerializationError) as err:
        tracker.save_all_samples({"t1": [sample(0)], "bad": [{"doc_id": 0, "x": {(1,): 1}}], "t3": [sample(1)]})
    assert err.value.task == "bad" and len(err.value.errors) == 1
    assert sorted(tracker.sample_paths) == ["t1", "t3"]


@pytest.mark.parametrize("task", ["../../escape", "/abs/path", "a/../../b", "nul\x00byte", "..", "x" * 400])
def test_task_names_cannot_escape(tmp_path, task):
    out = tmp_path / "out"
    tracker = make(out)
    path = tracker.save_results_samples(task, [sample(0)])
    assert out.resolve() in path.resolve().parents
    assert len(path.name.encode()) < 255
    all_files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert all(out in p.parents for p in all_files)


def test_paths_outside_the_output_folder_are_refused(tmp_path):
    from evallog.paths import ensure_inside

    ensure_inside(tmp_path, tmp_path / "model" / "file.json")
    for outside in (tmp_path / ".." / "x.json", tmp_path.parent, tmp_path / "a" / ".." / ".." / "b"):
        with pytest.raises(UnsafePathError):
            ensure_inside(tmp_path, outside)


@pytest.mark.parametrize("model", ["../../etc", "/abs/../../x", "..", ".hidden", "a\x00b", "x" * 500])
def test_model_names_cannot_escape(tmp_path, model):
    out = tmp_path / "out"
    tracker = EvaluationTracker(output_path=str(out))
    tracker.general_config_tracker.log_experiment_args("hf", {"pretrained": model}, None, None, False)
    path = tracker.save_results_aggregated(RESULTS, None)
    assert path.parent.parent == out and path.parent.name not in ("", ".", "..")
    assert not path.parent.name.startswith(".")


def test_model_folder_never_empty_or_random_and_distinct(tmp_path):
    names = []
    for model_args in ["", "pretrained=/a/ckpt/final", "pretrained=/b/ckpt/final", "pretrained=org/m"]:
        tracker = EvaluationTracker(output_path=str(tmp_path))
        tracker.general_config_tracker.log_experiment_args("dummy", model_args, None, None, False)
        names.append(tracker.save_results_aggregated(RESULTS, None).parent.name)
    assert names[0] == "dummy"
    assert names[1] != names[2] and names[1].startswith("ckpt__final")
    assert names[3] == "org__m"
    tracker = EvaluationTracker(output_path=str(tmp_path), flavor="lm-eval")
    assert tracker.save_results_aggregated(RESULTS, None).parent.name == "model"  # no log_experiment_args


def test_model_args_dict_and_exact_keys():
    from evallog.flavors import model_name_from_args

    assert model_name_from_args({"pretrained": "org/m", "dtype": "bf16"}, "lmms-eval") == "org/m"
    assert model_name_from_args("base_model=x,pretrained=y", "lm-eval") == "y"
    assert model_name_from_args("pretrained='a,b',peft=c", "lm-eval") == "c"
    assert model_name_from_args("model_version=v2", "lmms-eval") == "v2"


def test_lmeval_json_output_path(tmp_path):
    tracker = make(tmp_path / "res.json", flavor="lm-eval")
    results = tracker.save_results_aggregated(RESULTS, None)
    samples = tracker.save_results_samples("t1", [sample(0)])
    assert results.parent == tmp_path and results.name == f"res_{tracker.date_id}.json"
    assert samples.parent == tmp_path and samples.name == f"samples_t1_{tracker.date_id}.jsonl"


def test_wall_clock_times(tmp_path):
    before = time.time()
    tracker = make(tmp_path)
    data = json.loads(tracker.save_results_aggregated(RESULTS, None).read_text())
    assert before - 1 <= data["start_time"] <= data["end_time"] <= time.time() + 1
    assert isinstance(data["total_evaluation_time_seconds"], str)


def test_no_output_path_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracker = EvaluationTracker()
    assert tracker.save_results_aggregated(dict(RESULTS), None, "20240101_000000") is None
    assert tracker.save_results_samples("t1", [sample(0)]) is None
    assert list(tmp_path.iterdir()) == []


def test_attributes_callers_read():
    tracker = EvaluationTracker(hub_results_org="org", details_repo_name="d", public_repo=True, gated=True,
                                leaderboard_url="u", point_of_contact="p")
    assert (tracker.details_repo, tracker.details_repo_private) == ("org/d", "org/d-private")
    assert (tracker.results_repo, tracker.results_repo_private) == ("org/d", "org/d-private")
    assert tracker.api is None and tracker.gated_repo and tracker.public_repo
    assert tracker.leaderboard_url == "u" and tracker.point_of_contact == "p"
    assert tracker.push_results_to_hub is False and tracker.push_samples_to_hub is False
    assert isinstance(tracker.date_id, str) and tracker.output_path is None
    assert EvaluationTracker(flavor="lm-eval").details_repo == "/lm-eval-results"
    assert EvaluationTracker().details_repo == "/lmms-eval-results"
    with pytest.raises(ConfigError):
        EvaluationTracker(flavor="lighteval")


SECRETS = [
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "sk-proj-Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0",
    "AKIAIOSFODNN7EXAMPLE",
    "plain-secret-value-42",
]


def test_planted_secrets_never_reach_disk(tmp_path):
    tracker = EvaluationTracker(output_path=str(tmp_path), flavor="lm-eval")
    tracker.general_config_tracker.log_experiment_args(
        "openai", f"model=gpt-x,api_key={SECRETS[3]},base_url=http://h", None, None, False)
    results = {
        **RESULTS,
        "config": {"model_args": f"pretrained=org/m,token={SECRETS[0]}",
                   "model_args_dict": {"api_key": SECRETS[1], "max_tokens": 16}},
        "configs": {"t1": {"metadata": {"hf_token": SECRETS[0], "score_key": "acc", "aws": SECRETS[2]}}},
        "env": {"OPENAI_API_KEY": SECRETS[1], "password": SECRETS[3]},
    }
    tracker.save_results_aggregated(results, None)
    tracker.save_results_samples("t1", [sample(0, doc={"note": f"key is {SECRETS[0]}", "token_counts": [3]})])
    tracker.log_sample("t2", sample(1, extra={"secret": SECRETS[3]}))
    tracker.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for secret in SECRETS:
        assert secret.encode() not in blob, secret
    data = json.loads(tracker.results_path.read_text())
    assert data["configs"]["t1"]["metadata"]["score_key"] == "acc"
    assert data["config"]["model_args_dict"]["max_tokens"] == 16
    assert data["model_name"] == "gpt-x"


def test_redaction_can_be_turned_off(tmp_path):
    tracker = make(tmp_path, redact_secrets=False)
    path = tracker.save_results_aggregated({**RESULTS, "config": {"api_key": "visible"}}, None)
    assert json.loads(path.read_text())["config"]["api_key"] == "visible"


def test_strict_json_and_anchor_tokens(tmp_path):
    nan_results = {"results": {"t": {"acc,none": float("nan"), "acc_stderr,none": float("inf")}}}
    strict = make(tmp_path / "a").save_results_aggregated(nan_results, None)
    assert json.loads(strict.read_text(), parse_constant=lambda c: 1 / 0)["results"]["t"]["acc,none"] is None
    loose = make(tmp_path / "b", strict_json=False).save_results_aggregated(nan_results, None)
    assert "NaN" in loose.read_text() and "Infinity" in loose.read_text()


def test_write_error_is_typed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    tracker = make(blocker)  # output_path is a regular file: the model folder cannot be created
    with pytest.raises(WriteError) as err:
        tracker.save_results_aggregated(RESULTS, None)
    assert str(blocker) in str(err.value)


def test_two_trackers_same_second_do_not_collide(tmp_path):
    a, b = make(tmp_path), make(tmp_path)
    assert a.run_id == b.run_id  # lmms-eval ids have second precision
    pa = a.save_results_aggregated(RESULTS, None)
    pb = b.save_results_aggregated(RESULTS, None)
    assert pa != pb and pa.exists() and pb.exists() and a.run_id != b.run_id


def test_cli_demo_both_flavors(tmp_path):
    for flavor in ("lmms-eval", "lm-eval"):
        out = tmp_path / flavor
        proc = subprocess.run([sys.executable, "-m", "evallog", "demo", "--output", str(out), "--flavor", flavor],
                              capture_output=True, text=True, check=True)
        assert "demo_arith" in proc.stdout and "Knowledge (group)" in proc.stdout
        folder = out / "evallog__toy-large"  # one of the demo's three models
        names = files(folder)
        assert len(names) == 5 and not any(n.endswith(".partial") for n in names)
        data = json.loads(next(p for p in folder.iterdir() if "results" in p.name).read_text())
        assert set(data["task_hashes"]) == {"demo_arith", "demo_gen_math", "demo_history", "demo_science"}
        assert "sk-demo" not in "".join(p.read_text() for p in folder.iterdir() if p.is_file())


def test_sequential_runs_in_the_same_second_keep_their_files(tmp_path):
    # lmms-eval ids have second precision: a second run started in the same second
    # (or given the same datetime_str) must not overwrite the first one's files
    first = make(tmp_path)
    first.save_results_aggregated({"results": {"run": 1}}, None, "20240101_000000")
    first.close()
    second = make(tmp_path)
    second.save_results_aggregated({"results": {"run": 2}}, None, "20240101_000000")
    second.close()
    assert first.run_id == "20240101_000000" and second.run_id == "20240101_000000_2"
    assert json.loads(first.results_path.read_text())["results"] == {"run": 1}
    assert json.loads(second.results_path.read_text())["results"] == {"run": 2}
    third, fourth = make(tmp_path), make(tmp_path)
    third.save_results_aggregated(RESULTS, None)
    third.close()
    fourth.save_results_aggregated(RESULTS, None)
    assert third.results_path != fourth.results_path and third.results_path.exists()


def test_remote_output_path_through_fsspec(tmp_path):
    import fsspec

    fs = fsspec.filesystem("memory")
    staging = tmp_path / "staging"
    with EvaluationTracker(output_path="memory://evals/run", staging_dir=str(staging), flush_every=2) as tracker:
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)
        tracker.save_results_samples("t1", [sample(0), sample(1)])
        for i in range(5):
            tracker.log_sample("t2", sample(i))
            tracker.log_sample("t3", sample(i))
        assert not fs.exists(f"/evals/run/org__model/{tracker.run_id}_samples_t2.jsonl")  # still streaming
        tracker.close_task("t3")  # uploaded now, under the first run id
        tracker.save_results_aggregated(RESULTS, None, "20240501_000000")  # renames local and remote
    folder = "/evals/run/org__model"
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.find(folder))
    assert names == ["20240501_000000.json", "20240501_000000_results.json", "20240501_000000_samples_t1.jsonl",
                     "20240501_000000_samples_t2.jsonl", "20240501_000000_samples_t3.jsonl"]
    for name in names[1:]:
        local = staging / "org__model" / name
        assert fs.cat_file(f"{folder}/{name}") == local.read_bytes()
    assert tracker.output_path == "memory://evals/run"
    fs.rm("/evals", recursive=True)


def test_remote_upload_failure_keeps_the_staged_file(tmp_path):
    tracker = EvaluationTracker(output_path="memory://evals/ro", staging_dir=str(tmp_path))
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/model", None, None, False)

    class Broken:  # a remote that refuses every write
        def makedirs(self, *a, **k):
            raise PermissionError("read-only bucket")

    tracker._mirror.fs = Broken()
    with pytest.raises(WriteError) as err:
        tracker.save_results_samples("t1", [sample(0)])
    assert "memory://evals/ro/org__model/" in str(err.value) and "read-only bucket" in str(err.value)
    assert (tmp_path / "org__model").glob("*_samples_t1.jsonl")
    assert len(list((tmp_path / "org__model").glob("*_samples_t1.jsonl"))) == 1

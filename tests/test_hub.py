"""Publishing to the Hub, against a local fake Hub driven by the real huggingface_hub client.

The fake (tests/hubserver.py) is a real HTTP server on 127.0.0.1 started per
test; ``HF_ENDPOINT`` points at it (evallog reads it at call time), so nothing
is mocked on the client side. Faults are injected on the server: 429 with
Retry-After, 5xx, 412 after a concurrent commit, slow answers.
"""

from __future__ import annotations

import os

# read by huggingface_hub at import time: no telemetry lookup, quiet output
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import hashlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from evallog.errors import HubAuthError, HubError, HubPushError  # noqa: E402
from evallog.hub import RetryPolicy, hub_settings, push_run, settings_for_repos  # noqa: E402
from evallog.layout import results_filename, samples_filename  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

DATA = Path(__file__).parent / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"
ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------- fixtures
@pytest.fixture
def hub(hub):
    """conftest's fake Hub, plus a read org, a second user and read / fine-grained tokens."""
    hub.add_user("tester", orgs={"test-org": "write", "viewers": "read"})
    hub.add_user("other")
    hub.add_token("hf_read", "tester", role="read")
    hub.add_token("hf_fine", "tester", role="fineGrained",
                  scoped={"test-org": ["repo.content.read", "repo.write"]})
    hub.add_token("hf_other", "other")
    return hub


class Sleeps(list):
    """Records the waits of a RetryPolicy instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fast_policy(sleeps: Sleeps | None = None, **kw) -> RetryPolicy:
    opts = dict(max_attempts=4, base_delay=0.25, max_delay=2.0, jitter=0.0, timeout=10.0,
                sleep=sleeps if sleeps is not None else Sleeps())
    opts.update(kw)
    return RetryPolicy(**opts)


def sample_record(task: str, i: int) -> dict:
    return {
        "doc_id": i,
        "doc": {"id": f"{task}-{i}", "question": f"What is {i} + {i}?", "choices": ["1", "2"], "answer": 1},
        "target": str(2 * i),
        "arguments": {"gen_args_0": {"arg_0": f"Q {i}", "arg_1": " 2"}},
        "resps": [[str(2 * i)]],
        "filtered_resps": [str(2 * i)],
        "filter": "none",
        "metrics": ["acc"],
        "doc_hash": hashlib.sha256(f"{task}{i}".encode()).hexdigest(),
        "prompt_hash": "p",
        "target_hash": "t",
        "acc": float(i % 2),
    }


def write_run(folder: Path, tasks: list[str], run_id: str, *, flavor: str = "lm-eval",
              n: int = 3) -> tuple[Path, list[Path]]:
    """A run folder as lm-eval (or lmms-eval) writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    results = {
        "results": {t: {"alias": t, "acc,none": 0.5, "acc_stderr,none": "N/A"} for t in tasks},
        "configs": {t: {"task": t, "num_fewshot": 0} for t in tasks},
        "versions": {t: 1.0 for t in tasks},
        "n-shot": {t: 0 for t in tasks},
        "config": {"model": "hf", "model_args": "pretrained=org/model", "batch_size": 1},
        "git_hash": None,
        "date": 1764168601.0,
        "model_name": "org/model",
        "model_name_sanitized": "org__model",
        "model_source": "hf",
    }
    results_file = folder / results_filename(flavor, run_id)
    results_file.write_text(json.dumps(results, indent=2), encoding="utf-8")
    samples = []
    for t in tasks:
        p = folder / samples_filename(flavor, t, run_id)
        p.write_text("".join(json.dumps(sample_record(t, i)) + "\n" for i in range(n)), encoding="utf-8")
        samples.append(p)
    return results_file, samples


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def push(settings, results_file, samples, **kw):
    return push_run(settings, model_name="org/model", model_dir_name="org__model",
                    results_file=results_file, sample_files=samples, flavor="lm-eval",
                    model_source="hf", **kw)


def repo_settings(repo="test-org/evals", details=None, token="hf_write", **kw):
    return settings_for_repos(repo, details_repo=details, token=token, **kw)


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    full_env.update({"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "evallog", *args], env=full_env, capture_output=True,
                          text=True, timeout=timeout, cwd=str(ROOT))


# ------------------------------------------------------- one commit per run
def test_twenty_task_run_is_one_commit_per_repo(hub, tmp_path):
    from evallog import EvaluationTracker

    tracker = EvaluationTracker(
        str(tmp_path / "out"), hub_results_org="test-org", details_repo_name="details",
        results_repo_name="results", push_results_to_hub=True, push_samples_to_hub=True,
        token="hf_write", flavor="lm-eval",
    )
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf", model_args="pretrained=org/model-7b", system_instruction=None,
        chat_template=None, fewshot_as_multiturn=False)
    tasks = [f"task_{i:02d}" for i in range(20)]
    samples = {t: [sample_record(t, i) for i in range(4)] for t in tasks}
    results = {"results": {t: {"alias": t, "acc,none": 0.25} for t in tasks},
               "configs": {t: {"task": t} for t in tasks}, "versions": {t: 1 for t in tasks}}
    tracker.save_results_aggregated(results, samples)
    for t in tasks:
        tracker.save_results_samples(t, samples[t])
    report = tracker.recreate_metadata_card()
    tracker.close()  # already pushed: no second push

    details, results_repo = "test-org/details-private", "test-org/results-private"
    counts = {details: hub.commit_posts(details), results_repo: hub.commit_posts(results_repo)}
    print(f"\ncommit POSTs seen by the test server: {counts}")
    assert counts == {details: 1, results_repo: 1}
    assert len(hub.user_commits(details)) == 1 and len(hub.user_commits(results_repo)) == 1
    assert report.commits == 2
    dfiles = hub.files(details)
    assert sorted(p for p in dfiles if p.endswith(".jsonl")) == sorted(
        f"org__model-7b/{tracker.sample_paths[t].name}" for t in tasks)
    assert set(dfiles) - {p for p in dfiles if p.endswith(".jsonl")} == {".gitattributes", "README.md"}
    rfiles = hub.files(results_repo)
    assert set(rfiles) == {".gitattributes", "README.md", f"org__model-7b/{tracker.results_path.name}"}
    # the pushed bytes are the local bytes
    for t in tasks:
        assert dfiles[f"org__model-7b/{tracker.sample_paths[t].name}"] == tracker.sample_paths[t].read_bytes()
    # no manifest, lock or other bookkeeping leaves the output folder
    assert not any(".evallog" in p for p in list(dfiles) + list(rfiles))


def test_one_repo_means_one_commit_with_everything(hub, tmp_path):
    rf, sf = write_run(tmp_path / "org__model", ["a", "b", "c"], "2026-01-02T03-04-05.123456")
    report = push(repo_settings(), rf, sf, retry=fast_policy())
    assert hub.commit_posts("test-org/evals") == 1
    assert report.commits == 1 and report.repos[0].created
    files = hub.files("test-org/evals")
    assert {f"org__model/{p.name}" for p in [rf, *sf]} | {"README.md", ".gitattributes"} == set(files)
    assert hub.repo("test-org/evals").private is True  # private unless --public


def test_pushing_the_same_run_again_makes_no_commit(hub, tmp_path):
    rf, sf = write_run(tmp_path / "org__model", ["a", "b"], "2026-01-02T03-04-05")
    settings = repo_settings(details="test-org/evals-details")
    first = push(settings, rf, sf, retry=fast_policy())
    assert first.commits == 2
    before = (hub.commit_posts("test-org/evals"), hub.commit_posts("test-org/evals-details"))
    again = push(settings, rf, sf, retry=fast_policy())
    assert again.commits == 0
    assert all(r.uploaded == [] for r in again.repos)
    assert (hub.commit_posts("test-org/evals"), hub.commit_posts("test-org/evals-details")) == before
    assert hub.count("POST", r"/preupload/") == 2  # the second push sent no file at all


def test_a_second_run_adds_a_split_and_keeps_the_first(hub, tmp_path):
    settings = repo_settings()
    rf1, sf1 = write_run(tmp_path / "r1", ["a", "b"], "2026-01-01T00-00-00")
    rf2, sf2 = write_run(tmp_path / "r2", ["a", "c"], "2026-02-01T00-00-00")
    push(settings, rf1, sf1, retry=fast_policy())
    report = push(settings, rf2, sf2, retry=fast_policy())
    # only the new run's files and the card are sent
    assert sorted(report.repos[0].uploaded) == sorted(
        [f"org__model/{p.name}" for p in [rf2, *sf2]] + ["README.md"])
    card = hub.files("test-org/evals")["README.md"].decode()
    assert "split: 2026_01_01T00_00_00\n" in card and "split: 2026_02_01T00_00_00\n" in card
    assert "config_name: org__model__b" in card and "config_name: org__model__c" in card


# ------------------------------------------------------------------- faults
def test_429_with_retry_after_is_honoured(hub, tmp_path):
    rf, sf = write_run(tmp_path / "org__model", ["a"], "2026-01-02T03-04-05")
    hub.inject("POST", r"/commit/main$", status=429, headers={"Retry-After": "7"})
    sleeps = Sleeps()
    report = push(repo_settings(), rf, sf, retry=fast_policy(sleeps))
    assert sleeps == [7.0]
    assert hub.commit_posts("test-org/evals") == 2 and len(hub.user_commits("test-org/evals")) == 1
    assert report.repos[0].attempts == 2 and report.commits == 1


def test_5xx_is_retried_with_backoff(hub, tmp_path):
    rf, sf = write_run(tmp_path / "org__model", ["a"], "2026-01-02T03-04-05")
    hub.inject("POST", r"/commit/main$", status=500, times=2)
    hub.inject("GET", r"^/api/datasets/test-org/evals$", status=503)  # a read fails too
    sleeps = Sleeps()
    report = push(repo_settings(), rf, sf, retry=fast_policy(sleeps))
    assert report.commits == 1
    assert sleeps == [0.25, 0.5, 1.0]  # exponential: three failures, three waits
    assert len(hub.user_commits("test-org/evals")) == 1


def test_412_concurrent_commit_is_not_overwritten(hub, tmp_path):
    """Another writer commits between our read and our commit: the Hub answers 412 to our
    stale parent_commit; the retry re-reads, keeps the other commit and adds ours on top."""
    settings = repo_settings()
    rf0, sf0 = write_run(tmp_path / "first", ["a"], "2026-01-01T00-00-00")
    push(settings, rf0, sf0, retry=fast_policy())

    other_file = "someone__else/results_2026-01-05T00-00-00.json"

    def other_writer(fake):
        fake.commit_direct("test-org/evals", {other_file: b'{"results": {"z": {"acc,none": 1.0}}}'})

    hub.inject("POST", r"/commit/main$", action=other_writer)
    rf, sf = write_run(tmp_path / "second", ["b"], "2026-01-02T00-00-00")
    sleeps = Sleeps()
    report = push(settings, rf, sf, retry=fast_policy(sleeps))
    assert report.commits == 1 and report.repos[0].attempts == 2
    assert [st for m, p, st in hub.answers if m == "POST" and p.endswith("/commit/main")][-2:] == [412, 200]
    repo = hub.repo("test-org/evals")
    titles = [c.title for c in repo.commits[1:]]
    assert titles[1] == "concurrent commit" and titles[2].startswith("Add run 2026-01-02T00-00-00")
    files = hub.files("test-org/evals")
    assert other_file in files  # the other writer's commit survived
    assert f"org__model/{rf.name}" in files and f"org__model/{rf0.name}" in files
    # the card was rebuilt from the new file list, the other writer's run included
    assert "config_name: someone__else__results" in files["README.md"].decode()


def test_a_slow_answer_times_out_and_the_commit_is_not_duplicated(hub, tmp_path):
    """The commit is applied but its answer is late: the retry sees it landed, commits nothing."""
    rf, sf = write_run(tmp_path / "org__model", ["a", "b"], "2026-01-02T03-04-05")
    hub.inject("POST", r"/commit/main$", delay=4.0, after=True)
    report = push(repo_settings(), rf, sf, retry=fast_policy(timeout=1.5))
    hub.wait_idle()
    commits = hub.user_commits("test-org/evals")
    assert len(commits) == 1 and hub.commit_posts("test-org/evals") == 1
    assert report.repos[0].attempts >= 2 and report.repos[0].commit == commits[0].oid


def test_a_slow_commit_that_lands_late_is_refused(hub, tmp_path):
    """The Hub is slow before applying the commit: the retry commits, and the late first
    attempt then fails on its stale parent_commit instead of committing twice."""
    rf, sf = write_run(tmp_path / "org__model", ["a"], "2026-01-02T03-04-05")
    hub.inject("POST", r"/commit/main$", delay=4.0)
    report = push(repo_settings(), rf, sf, retry=fast_policy(timeout=1.5))
    hub.wait_idle()
    assert report.commits == 1
    assert hub.commit_posts("test-org/evals") >= 2
    assert len(hub.user_commits("test-org/evals")) == 1
    commit_answers = [st for m, p, st in hub.answers if m == "POST" and p.endswith("/commit/main")]
    assert 412 in commit_answers  # the late first attempt was refused (stale parent_commit)


def test_final_failure_names_the_repo_and_keeps_local_files(hub, tmp_path):
    folder = tmp_path / "org__model"
    rf, sf = write_run(folder, ["a", "b"], "2026-01-02T03-04-05")
    before = snapshot(tmp_path)
    hub.inject("POST", r"/commit/main$", status=503, times=100)
    sleeps = Sleeps()
    with pytest.raises(HubPushError) as info:
        push(repo_settings(), rf, sf, retry=fast_policy(sleeps, max_attempts=3))
    err = info.value
    assert err.repo_id == "test-org/evals" and "test-org/evals" in str(err)
    assert "3 attempt" in str(err) and "503" in str(err)
    assert len(sleeps) == 2
    assert snapshot(tmp_path) == before  # every local file, byte for byte, untouched
    assert len(hub.user_commits("test-org/evals")) == 0


def test_a_refused_write_is_not_retried(hub, tmp_path):
    rf, sf = write_run(tmp_path / "org__model", ["a"], "2026-01-02T03-04-05")
    hub.inject("POST", r"/commit/main$", status=403, message="You don't have the rights")
    sleeps = Sleeps()
    with pytest.raises(HubAuthError) as info:
        push(repo_settings(), rf, sf, retry=fast_policy(sleeps))
    assert info.value.repo_id == "test-org/evals" and sleeps == []


# ------------------------------------------------------- tokens and access
def _tracker(tmp_path, **kw):
    from evallog import EvaluationTracker

    args = dict(hub_results_org="test-org", push_results_to_hub=True, push_samples_to_hub=True,
                flavor="lm-eval")
    args.update(kw)
    return EvaluationTracker(str(tmp_path / "out"), **args)


def test_bad_token_fails_at_tracker_construction(hub, tmp_path):
    with pytest.raises(HubAuthError) as info:
        _tracker(tmp_path, token="hf_not_a_token")
    msg = str(info.value)
    assert "rejected" in msg and "token= argument" in msg and "hf_not_a_token" not in msg
    assert not (tmp_path / "out").exists()  # nothing was written
    assert hub.count("POST", r"/commit/") == 0


def test_read_only_token_fails_at_tracker_construction(hub, tmp_path):
    with pytest.raises(HubAuthError) as info:
        _tracker(tmp_path, token="hf_read")
    assert "read-only" in str(info.value) and "write" in str(info.value)
    assert not (tmp_path / "out").exists()
    assert hub.log == [("GET", "/api/whoami-v2")]  # one check, no repo touched


def test_write_access_to_the_org_is_checked(hub, tmp_path):
    with pytest.raises(HubAuthError, match="not a member of the organisation 'elsewhere'"):
        _tracker(tmp_path, token="hf_write", hub_results_org="elsewhere")
    with pytest.raises(HubAuthError, match="'read' role"):
        _tracker(tmp_path, token="hf_write", hub_results_org="viewers")
    with pytest.raises(HubAuthError, match="fine-grained"):
        hub_settings(hub_results_org="tester", push_results_to_hub=True, token="hf_fine")
    ok = hub_settings(hub_results_org="test-org", push_results_to_hub=True, token="hf_fine")
    assert ok.results_target == "test-org/lm-eval-results-private"


def test_token_from_argument_then_env(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_other")
    s = hub_settings(push_samples_to_hub=True)  # no argument: HF_TOKEN
    assert (s.org, s.user, s.token_source) == ("other", "other", "the HF_TOKEN environment variable")
    assert s.details_target == "other/lm-eval-results-private"  # org from whoami()
    s = hub_settings(push_samples_to_hub=True, token="hf_write")  # the argument wins
    assert (s.org, s.token_source) == ("tester", "the token= argument")
    assert "hf_write" not in repr(s)


def test_whoami_rate_limit_is_retried(hub):
    hub.inject("GET", r"^/api/whoami-v2$", status=429, headers={"Retry-After": "2"})
    sleeps = Sleeps()
    s = hub_settings(push_results_to_hub=True, token="hf_write", retry=fast_policy(sleeps))
    assert s.user == "tester" and sleeps == [2.0]


def test_repo_names_follow_the_anchors(hub):
    s = hub_settings(hub_results_org="test-org", push_samples_to_hub=True, token="hf_write",
                     default_repo_name="lmms-eval-results")
    assert (s.details_target, s.results_target) == ("test-org/lmms-eval-results-private",) * 2
    s = hub_settings(hub_results_org="test-org", push_samples_to_hub=True, token="hf_write",
                     details_repo_name="det", results_repo_name="res", public_repo=True)
    assert (s.details_target, s.results_target) == ("test-org/det", "test-org/res")
    s = hub_settings(hub_results_org="test-org", push_samples_to_hub=True, token="hf_write",
                     hub_repo_name="one", details_repo_name="det", results_repo_name="res")
    assert (s.details_target, s.results_target) == ("test-org/one-private",) * 2


def test_hub_repo_name_means_one_repo_and_one_commit(hub, tmp_path):
    s = hub_settings(hub_results_org="test-org", push_samples_to_hub=True, push_results_to_hub=True,
                     token="hf_write", hub_repo_name="one", leaderboard_url="https://lb.example/board",
                     point_of_contact="evals@example.org")
    rf, sf = write_run(tmp_path / "org__model", ["a", "b"], "2026-01-02T03-04-05")
    report = push(s, rf, sf, retry=fast_policy())
    assert [r.repo_id for r in report.repos] == ["test-org/one-private"]
    assert hub.commit_posts("test-org/one-private") == 1
    card = hub.files("test-org/one-private")["README.md"].decode()
    assert "leaderboard_url: https://lb.example/board" in card
    assert "point_of_contact: evals@example.org" in card
    assert "config_name: org__model__results" in card and "config_name: org__model__a" in card


def test_no_push_flag_means_no_network(hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    s = hub_settings(default_repo_name="lmms-eval-results")
    assert (s.details_repo, s.results_repo_private) == ("/lmms-eval-results", "/lmms-eval-results-private")
    assert s.token is None and hub.log == []


def test_unreachable_hub_fails_early_with_a_typed_error(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(HubError, match="Could not check the Hugging Face token against http://127.0.0.1:9"):
        hub_settings(push_results_to_hub=True, token="hf_x", retry=fast_policy(max_attempts=2))


def test_gating_uses_the_given_token(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_other")  # an ambient token that must not be used
    tracker = _tracker(tmp_path, token="hf_write", gated=True, push_results_to_hub=False)
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
    tracker.save_results_samples("a", [sample_record("a", 0)])
    tracker.save_results_aggregated({"results": {"a": {"acc,none": 1.0}}})
    tracker.push_to_hub()
    tracker.close()
    assert hub.settings_calls == [("test-org/lm-eval-results-private", {"gated": "auto"}, "hf_write")]
    repo = hub.repo("test-org/lm-eval-results-private")
    assert repo.gated == "auto" and repo.private is True
    # gated before any file was committed
    order = [p for m, p in hub.log if m in ("PUT", "POST") and ("settings" in p or "/commit/" in p)]
    assert order[0].endswith("/settings")
    # every request carried the given token
    assert {tok for _, p, tok in hub.auth_seen if not p.startswith("/api/validate-yaml")} == {"hf_write"}


def test_public_repo_has_no_suffix_and_is_public(hub, tmp_path):
    tracker = _tracker(tmp_path, token="hf_write", public_repo=True, results_repo_name="res",
                       details_repo_name="det")
    tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/m", None, None, False)
    tracker.save_results_samples("a", [sample_record("a", 0)])
    tracker.save_results_aggregated({"results": {"a": {"acc,none": 1.0}}})
    tracker.close()  # close() publishes a run that was not pushed yet
    assert hub.repo("test-org/res").private is False and hub.repo("test-org/det").private is False
    assert tracker.details_repo == "test-org/det" and tracker.results_repo_private == "test-org/res-private"


def test_the_token_is_never_logged_nor_written(hub, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    rf, sf = write_run(tmp_path / "org__model", ["a"], "2026-01-02T03-04-05")
    hub.inject("POST", r"/commit/main$", status=500)
    settings = repo_settings()
    push(settings, rf, sf, retry=fast_policy())
    assert caplog.records  # there was logging (the retry warning at least)
    assert all("hf_write" not in r.getMessage() for r in caplog.records)
    assert "hf_write" not in repr(settings)
    assert all(b"hf_write" not in data for data, _ in snapshot(tmp_path).values())
    assert all(b"hf_write" not in data for data in hub.files("test-org/evals").values())


# ----------------------------------------------------------------------- CLI
def test_cli_dry_run_sends_nothing(hub, tmp_path):
    r = cli("push", str(LMEVAL_DIR), "--repo", "test-org/evals", "--gated", "--dry-run",
            env={"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")})
    assert r.returncode == 0, r.stderr
    assert hub.log == []
    assert "test-org/evals: create if missing (private)" in r.stdout
    assert "add bu6tyawv/samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl" in r.stdout
    assert "add README.md" in r.stdout


def test_cli_skips_files_still_being_written(hub, tmp_path):
    folder = tmp_path / "org__model"
    write_run(folder, ["a"], "2026-01-02T03-04-05")
    (folder / (samples_filename("lm-eval", "b", "2026-01-02T03-04-05") + ".partial")).write_text("{}\n")
    r = cli("push", str(folder), "--repo", "test-org/evals", "--dry-run",
            env={"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf")})
    assert r.returncode == 0, r.stderr
    assert "samples_a_" in r.stdout and "samples_b_" not in r.stdout
    assert "still being written" in r.stderr


def test_cli_push_uses_the_repo_names_as_given(hub, tmp_path):
    home = tmp_path / "hf"
    home.mkdir()
    (home / "token").write_text("hf_write")  # the saved login (hf auth login)
    env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(home)}
    r = cli("push", str(LMEVAL_DIR.parent), "--repo", "test-org/res", "--details-repo", "test-org/det", env=env)
    assert r.returncode == 0, r.stderr
    assert hub.has_repo("test-org/res") and hub.has_repo("test-org/det")
    assert not hub.has_repo("test-org/res-private")
    assert hub.repo("test-org/res").private and hub.repo("test-org/det").private
    assert set(hub.files("test-org/res")) == {".gitattributes", "README.md",
                                              "bu6tyawv/results_2026-11-26T14-50-01.009042.json"}
    assert len([p for p in hub.files("test-org/det") if p.endswith(".jsonl")]) == 4
    assert "committed" in r.stdout
    # the lmms-eval run (files directly in the folder, empty model name) and --public
    r = cli("push", str(LMMS_DIR), "--repo", "test-org/lmms", "--public", env=env)
    assert r.returncode == 0, r.stderr
    assert hub.repo("test-org/lmms").private is False
    assert "lmms_output/20261126_225343_results.json" in hub.files("test-org/lmms")
    # pushing again: nothing to commit
    r = cli("push", str(LMMS_DIR), "--repo", "test-org/lmms", env=env)
    assert "up to date" in r.stdout and len(hub.user_commits("test-org/lmms")) == 1


def test_cli_without_a_token_says_what_to_do(hub, tmp_path):
    r = cli("push", str(LMEVAL_DIR), "--repo", "test-org/evals",
            env={"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "empty")})
    assert r.returncode == 1
    assert "needs a token with write access" in r.stderr and "HF_TOKEN" in r.stderr
    assert hub.log == []


def test_cli_read_only_token(hub, tmp_path):
    r = cli("push", str(LMEVAL_DIR), "--repo", "test-org/evals",
            env={"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": "hf_read"})
    assert r.returncode == 1 and "read-only" in r.stderr and "HF_TOKEN" in r.stderr


# ------------------------------------------------------------------ datasets
DATASETS_SCRIPT = textwrap.dedent("""
    import json, sys
    import datasets
    datasets.config.USE_PARQUET_EXPORT = False
    datasets.disable_progress_bars()
    out = {}
    for repo, name, split in json.loads(sys.argv[1]):
        ds = datasets.load_dataset(repo, name=name, split=split)
        row = ds[0]
        out[f"{repo}|{name}|{split}"] = {"rows": ds.num_rows, "columns": sorted(ds.column_names),
                                         "first": {k: row[k] for k in ("doc_id", "results", "model_name")
                                                   if k in row}}
    out["configs"] = (datasets.get_dataset_config_names("test-org/details")
                      + datasets.get_dataset_config_names("test-org/evals"))
    print(json.dumps(out))
""")


def test_datasets_loads_every_config_of_the_card(hub, tmp_path):
    pytest.importorskip("datasets")
    settings = repo_settings(details="test-org/details")
    # two lm-eval runs with different task sets (so different results shapes), then an lmms-eval run
    report = push_run(settings, model_name="bu6tyawv", model_dir_name="bu6tyawv",
                      results_file=LMEVAL_DIR / "results_2026-11-26T14-50-01.009042.json",
                      sample_files=sorted(LMEVAL_DIR.glob("samples_*.jsonl")), flavor="lm-eval",
                      retry=fast_policy())
    assert report.commits == 2
    rf, sf = write_run(tmp_path / "bu6tyawv", ["gt_mc_arith", "extra_task"], "2026-11-27T10-00-00", n=5)
    # a task keeps its record shape from run to run: the new run's gt_mc_arith records are the
    # fixture's first five
    fixture_lines = (LMEVAL_DIR / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl").read_text(
        encoding="utf-8").splitlines(keepends=True)
    sf[0].write_text("".join(fixture_lines[:5]), encoding="utf-8")
    push_run(settings, model_name="bu6tyawv", model_dir_name="bu6tyawv", results_file=rf,
             sample_files=sf, flavor="lm-eval", retry=fast_policy())
    push_run(settings, model_name="", model_dir_name="lmms_model",
             results_file=LMMS_DIR / "20261126_225343_results.json",
             sample_files=sorted(LMMS_DIR.glob("*_samples_*.jsonl")), flavor="lmms-eval", retry=fast_policy())

    wanted = [
        ("test-org/details", "bu6tyawv__gt_mc_arith", "latest"),
        ("test-org/details", "bu6tyawv__gt_mc_arith", "2026_11_26T14_50_01.009042"),
        ("test-org/details", "bu6tyawv__gt_gen_math", "latest"),
        ("test-org/details", "bu6tyawv__extra_task", "latest"),
        ("test-org/details", "lmms_model__gt_gen_math", "latest"),
        ("test-org/evals", "bu6tyawv__results", "latest"),
        ("test-org/evals", "bu6tyawv__results", "2026_11_26T14_50_01.009042"),
        ("test-org/evals", "lmms_model__results", "latest"),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.url, HF_TOKEN="hf_write", HF_HOME=str(tmp_path / "hf"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    r = subprocess.run([sys.executable, "-c", DATASETS_SCRIPT, json.dumps(wanted)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])

    def lines(p: Path) -> int:
        return sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.strip())

    assert got["test-org/details|bu6tyawv__gt_mc_arith|latest"]["rows"] == 5  # the newer run
    assert got["test-org/details|bu6tyawv__gt_mc_arith|2026_11_26T14_50_01.009042"]["rows"] == lines(
        LMEVAL_DIR / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl")
    assert got["test-org/details|bu6tyawv__gt_gen_math|latest"]["rows"] == lines(
        LMEVAL_DIR / "samples_gt_gen_math_2026-11-26T14-50-01.009042.jsonl")
    assert got["test-org/details|bu6tyawv__extra_task|latest"]["rows"] == 5
    assert got["test-org/details|lmms_model__gt_gen_math|latest"]["rows"] == lines(
        LMMS_DIR / "20261126_225343_samples_gt_gen_math.jsonl")
    latest = got["test-org/evals|bu6tyawv__results|latest"]
    assert latest["rows"] == 1
    # one schema for every run: fields of the other run are null
    assert {k for k, v in latest["first"]["results"].items() if v is not None} == {"gt_mc_arith", "extra_task"}
    older = got["test-org/evals|bu6tyawv__results|2026_11_26T14_50_01.009042"]
    original = json.loads((LMEVAL_DIR / "results_2026-11-26T14-50-01.009042.json").read_text())
    loaded = without_nulls(older["first"]["results"])
    # the newer run has "N/A" where this one has a number: that column is a string, with every digit
    assert loaded["gt_mc_arith"].pop("acc_stderr,none") == repr(original["results"]["gt_mc_arith"].pop(
        "acc_stderr,none"))
    assert loaded == without_nulls(original["results"])  # the other numbers are exact floats
    assert got["test-org/evals|lmms_model__results|latest"]["rows"] == 1
    assert "bu6tyawv__gt_mc_arith" in got["configs"] and "lmms_model__results" in got["configs"]


def without_nulls(value):
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value

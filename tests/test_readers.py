"""Reading runs back: both naming schemes, nested folders, corrupt files, format versions."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog import layout as naming
from evallog.errors import CorruptLineError, ReadError, UnsupportedFormatError
from evallog.readers import Run, TaskSamples, list_runs, load_run, parse_run_timestamp

DATA = Path(__file__).parent / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMEVAL_ID = "2026-11-26T14-50-01.009042"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"
LMMS_ID = "20261126_225343"


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for p in [dst, *dst.rglob("*")]:  # fixtures are read-only
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dst


def rename_run(folder: Path, old: str, new: str) -> None:
    for p in list(folder.iterdir()):
        if old in p.name:
            p.rename(folder / p.name.replace(old, new))


# ------------------------------------------------------------------ fixtures of both frameworks


def test_lmeval_fixture_run():
    run = load_run(LMEVAL_DIR)
    assert isinstance(run, Run)
    assert run.flavor == "lm-eval"
    assert run.run_id == LMEVAL_ID
    assert run.timestamp == datetime(2026, 11, 26, 14, 50, 1, 9042)
    assert run.model == "bu6tyawv" and run.model_name == "bu6tyawv"
    assert run.results_file == LMEVAL_DIR / f"results_{LMEVAL_ID}.json"
    assert run.tasks == ["gt_mc_arith", "gt_gen_math", "gt_sub_science", "gt_sub_history", "gt_group"]
    assert sorted(run.sample_files) == ["gt_gen_math", "gt_mc_arith", "gt_sub_history", "gt_sub_science"]
    assert run.groups == ["gt_group"]
    assert run.group_subtasks == {"gt_group": ["gt_sub_science", "gt_sub_history"]}
    assert run.results["results"]["gt_mc_arith"]["acc,none"] == 0.5
    assert run.metrics("gt_mc_arith") == [("acc", "none"), ("acc_norm", "none")]
    assert run.filters("gt_gen_math") == ["strict-match", "flexible-extract"]
    assert run.stderr("gt_mc_arith", "acc") == pytest.approx(0.16666666666666666)
    assert run.reported_samples("gt_sub_history") == 6
    assert not run.in_progress
    # sample counts match the fixture's recorded save calls
    calls = json.loads((DATA / "lmeval_run1" / "save_calls.json").read_text())["save_results_samples"]
    for call in calls:
        assert run.n_samples(call["task_name"]) == call["n_samples"]
        assert sum(1 for _ in run.samples(call["task_name"])) == call["n_samples"]


def test_lmeval_samples_records_and_reiteration():
    run = load_run(LMEVAL_DIR)
    samples = run.samples("gt_gen_math")
    first = [(r["doc_id"], r["filter"]) for r in samples]
    second = [(r["doc_id"], r["filter"]) for r in samples]
    assert first == second and len(first) == 20
    assert {f for _, f in first} == {"strict-match", "flexible-extract"}
    rec = next(iter(run.samples("gt_mc_arith")))
    assert rec["metrics"] == ["acc", "acc_norm"] and rec["acc"] == 1.0
    lines = [ln for ln, _ in run.samples("gt_mc_arith").with_lines()]
    assert lines == list(range(1, 11))


def test_lmms_fixture_run_infers_filters():
    run = load_run(LMMS_DIR)
    assert run.flavor == "lmms-eval"
    assert run.run_id == LMMS_ID
    assert run.timestamp == datetime(2026, 11, 26, 22, 53, 43)
    assert run.model == "lmms_output"  # files written directly into output_path
    assert run.model_name is None  # empty model_name in the results
    assert run.groups == ["gt_gen_group"]
    assert sorted(run.sample_files) == ["gt_gen_history", "gt_gen_math", "gt_gen_science", "gt_mcgen_arith"]
    # lmms lines carry no filter: a single-filter task gets the results' filter ...
    assert {r["filter"] for r in run.samples("gt_mcgen_arith")} == {"letter"}
    # ... and a two-filter task (each doc logged once per filter) the k-th filter for the k-th line
    recs = [(r["doc_id"], r["filter"]) for r in run.samples("gt_gen_math")]
    assert recs[:10] == [(i, "strict-match") for i in range(10)]
    assert recs[10:] == [(i, "flexible-extract") for i in range(10)]


def test_lmms_samples_with_filter_key_are_kept():
    run = load_run(DATA / "lmms_from_run1" / "lmms_output")
    assert run.run_id == "20261126_120000"
    assert {r["filter"] for r in run.samples("gt_mc_arith")} == {"none"}


def test_load_run_from_files(tmp_path):
    run = load_run(LMEVAL_DIR / f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl")
    assert run.run_id == LMEVAL_ID and len(run.sample_files) == 4 and run.results_file is not None
    run = load_run(LMMS_DIR / f"{LMMS_ID}_results.json")
    assert run.run_id == LMMS_ID and len(run.sample_files) == 4
    with pytest.raises(ReadError, match="not a results or samples file"):
        load_run(DATA / "lmeval_run1" / "run_config.json")
    with pytest.raises(ReadError, match="belongs to run"):
        load_run(LMMS_DIR / f"{LMMS_ID}_results.json", run_id="20200101_000000")
    with pytest.raises(ReadError, match="no such"):
        load_run(tmp_path / "missing")


def test_output_root_with_single_model_and_ambiguous_root(tmp_path):
    root = tmp_path / "out"
    copy_tree(LMEVAL_DIR, root / "bu6tyawv")
    assert load_run(root).run_id == LMEVAL_ID
    copy_tree(LMEVAL_DIR, root / "other__model")
    with pytest.raises(ReadError, match="several model folders"):
        load_run(root)
    assert load_run(root / "other__model").model == "other__model"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReadError, match="no runs"):
        load_run(empty)


# ------------------------------------------------------------------ listing


def make_tree(tmp_path: Path) -> Path:
    """lm-eval org__model folders with two runs, lmms files directly in the root, noise files."""
    root = tmp_path / "root"
    a = copy_tree(LMEVAL_DIR, root / "org__model-a")
    newer = "2026-12-01T09-00-00.000001"
    for p in list(a.iterdir()):
        shutil.copy(p, a / p.name.replace(LMEVAL_ID, newer))
    b = copy_tree(LMEVAL_DIR, root / "nested" / "deeper" / "org__model-b")
    rename_run(b, LMEVAL_ID, "2025-01-02T03-04-05")
    for p in LMMS_DIR.iterdir():
        shutil.copy(p, root / p.name)
    # noise: hidden folder, temp files, unrelated files
    hidden = copy_tree(LMEVAL_DIR, root / ".cache" / "x")
    assert hidden.exists()
    (root / f".results_{LMEVAL_ID}.json.tmp").write_text("{")
    (a / f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl.123.tmp").write_text("{")
    (root / "notes.txt").write_text("hello")
    return root


def test_list_runs_nested_and_sorted(tmp_path):
    root = make_tree(tmp_path)
    runs = list_runs(root)
    got = [(r.model, r.run_id, r.flavor) for r in runs]
    assert got == [
        ("org__model-a", LMEVAL_ID, "lm-eval"),
        ("org__model-a", "2026-12-01T09-00-00.000001", "lm-eval"),
        ("org__model-b", "2025-01-02T03-04-05", "lm-eval"),
        ("root", LMMS_ID, "lmms-eval"),
    ]
    assert runs[2].timestamp == datetime(2025, 1, 2, 3, 4, 5)
    assert all(len(r.sample_files) == 4 for r in runs)
    # the model folder gives the latest run by default, or the one asked for
    assert load_run(root / "org__model-a").run_id == "2026-12-01T09-00-00.000001"
    assert load_run(root / "org__model-a", run_id=LMEVAL_ID).run_id == LMEVAL_ID
    with pytest.raises(ReadError, match="no run with id"):
        load_run(root / "org__model-a", run_id="nope")


def test_samples_only_and_results_only_runs(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(LMEVAL_DIR / f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl", d)
    shutil.copy(LMEVAL_DIR / f"results_{LMEVAL_ID}.json", d / "results_2026-01-01T00-00-00.json")
    runs = list_runs(d)
    assert [(r.run_id, r.results_file is None, list(r.sample_files)) for r in runs] == [
        ("2026-01-01T00-00-00", False, []),
        (LMEVAL_ID, True, ["gt_mc_arith"]),
    ]
    only_samples = runs[1]
    assert only_samples.results == {} and only_samples.tasks == ["gt_mc_arith"]
    assert {r["filter"] for r in only_samples.samples("gt_mc_arith")} == {"none"}
    with pytest.raises(ReadError, match="no samples file"):
        runs[0].samples("gt_mc_arith")
    assert runs[0].n_samples("gt_mc_arith") == 0


def test_lmeval_json_output_path_stem(tmp_path):
    # lm-eval with --output_path out/my.json writes out/my_<date_id>.json
    shutil.copy(LMEVAL_DIR / f"results_{LMEVAL_ID}.json", tmp_path / f"my_{LMEVAL_ID}.json")
    shutil.copy(LMEVAL_DIR / f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl", tmp_path)
    run = load_run(tmp_path)
    assert run.results_file == tmp_path / f"my_{LMEVAL_ID}.json"
    assert list(run.sample_files) == ["gt_mc_arith"]


def test_in_progress_partial_files(tmp_path):
    d = copy_tree(LMEVAL_DIR, tmp_path / "m")
    name = f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl"
    (d / name).rename(d / (name + naming.IN_PROGRESS_SUFFIX))
    # a stream being written: the last record is cut
    with open(d / (name + naming.IN_PROGRESS_SUFFIX), "ab") as fh:
        fh.write(b'{"doc_id": 10, "acc"')
    run = load_run(d)
    assert run.in_progress
    assert run.sample_files["gt_mc_arith"].name.endswith(".partial")
    assert run.n_samples("gt_mc_arith") == 10
    assert len(list(run.samples("gt_mc_arith"))) == 10
    # once the final file exists it wins over a leftover stream
    shutil.copy(LMEVAL_DIR / name, d / name)
    run = load_run(d)
    assert not run.in_progress and run.sample_files["gt_mc_arith"].name == name


# ------------------------------------------------------------------ corrupt files


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def test_corrupt_line_raises_with_file_and_line(tmp_path):
    p = write_lines(
        tmp_path / f"samples_t_{LMEVAL_ID}.jsonl",
        [b'{"doc_id": 0, "acc": 1}\n', b"\n", b'{"doc_id": 1, "acc": 0}\n', b'{"doc_id": 2, "ac\n', b'{"doc_id": 3}\n'],
    )
    samples = TaskSamples(p, "t")
    with pytest.raises(CorruptLineError) as info:
        list(samples)
    err = info.value
    assert err.line == 4 and err.path == str(p) and err.task == "t"
    assert "line 4" in str(err) and p.name in str(err)
    skipping = TaskSamples(p, "t", skip_corrupt=True)
    assert [r["doc_id"] for r in skipping] == [0, 1, 3]
    assert skipping.skipped == 1 and skipping.skipped_lines == [4]
    # counting does not parse: 4 non-blank lines
    assert len(samples) == 4


def test_non_object_line_and_truncated_file(tmp_path):
    p = write_lines(tmp_path / "x.jsonl", [b'{"doc_id": 0}\n', b"[1, 2]\n"])
    with pytest.raises(CorruptLineError, match="not a JSON object") as info:
        list(TaskSamples(p))
    assert info.value.line == 2
    p = write_lines(tmp_path / "y.jsonl", [b'{"doc_id": 0}\n', b'{"doc_id": 1, "acc": 0.'])
    with pytest.raises(CorruptLineError, match="truncated") as info:
        list(TaskSamples(p))
    assert info.value.line == 2
    assert [r["doc_id"] for r in TaskSamples(p, skip_corrupt=True)] == [0]


def test_run_samples_skip_corrupt(tmp_path):
    d = copy_tree(LMEVAL_DIR, tmp_path / "m")
    f = d / f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl"
    lines = f.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3][:40] + b"\n"
    f.write_bytes(b"".join(lines))
    run = load_run(d)
    with pytest.raises(CorruptLineError) as info:
        list(run.samples("gt_mc_arith"))
    assert info.value.line == 4
    s = run.samples("gt_mc_arith", skip_corrupt=True)
    assert len(list(s)) == 9 and s.skipped == 1


def test_nan_tokens_are_read(tmp_path):
    d = copy_tree(LMEVAL_DIR, tmp_path / "m")
    res = d / f"results_{LMEVAL_ID}.json"
    res.write_text(res.read_text().replace('"acc,none": 0.5', '"acc,none": NaN', 1))
    f = d / f"samples_gt_mc_arith_{LMEVAL_ID}.jsonl"
    f.write_bytes(f.read_bytes().replace(b'"acc": 1.0', b'"acc": Infinity', 1))
    run = load_run(d)
    v = run.results["results"]["gt_mc_arith"]["acc,none"]
    assert v != v  # NaN
    assert next(iter(run.samples("gt_mc_arith")))["acc"] == float("inf")


def test_corrupt_results_file(tmp_path):
    d = copy_tree(LMEVAL_DIR, tmp_path / "m")
    res = d / f"results_{LMEVAL_ID}.json"
    res.write_bytes(res.read_bytes()[:100])
    with pytest.raises(ReadError, match="not valid JSON") as info:
        load_run(d)
    assert info.value.path == str(res)


# ------------------------------------------------------------------ format versions


def write_manifest(folder: Path, run_id: str, version: int, **extra) -> Path:
    mdir = folder / naming.MANIFEST_DIR
    mdir.mkdir(exist_ok=True)
    p = mdir / f"{run_id}.json"
    p.write_text(json.dumps({"format_version": version, "evallog_version": "9.9.9", "flavor": "lm-eval",
                             "run_id": run_id, **extra}))
    return p


def test_manifest_current_version_is_read(tmp_path):
    d = copy_tree(LMEVAL_DIR, tmp_path / "m")
    write_manifest(d, LMEVAL_ID, naming.FORMAT_VERSION)
    run = load_run(d)
    assert run.manifest["format_version"] == naming.FORMAT_VERSION
    assert load_run(LMEVAL_DIR).manifest is None  # anchor-written run


def test_newer_format_version_is_refused(tmp_path):
    root = tmp_path / "root"
    d = copy_tree(LMEVAL_DIR, root / "m")
    copy_tree(LMEVAL_DIR, root / "ok")
    write_manifest(d, LMEVAL_ID, naming.FORMAT_VERSION + 1)
    with pytest.raises(UnsupportedFormatError, match="upgrade evallog") as info:
        load_run(d)
    assert "9.9.9" in str(info.value) and naming.MANIFEST_DIR in str(info.value)
    with pytest.raises(UnsupportedFormatError):
        list_runs(root)
    assert [r.model for r in list_runs(root, skip_unsupported=True)] == ["ok"]


# ------------------------------------------------------------------ misc


@pytest.mark.parametrize(
    "run_id, expected",
    [
        ("2026-11-26T14-50-01.009042", datetime(2026, 11, 26, 14, 50, 1, 9042)),
        ("2026-11-26T14-50-01", datetime(2026, 11, 26, 14, 50, 1)),
        ("20261126_120000", datetime(2026, 11, 26, 12, 0, 0)),
        ("20261126_120000_retry", datetime(2026, 11, 26, 12, 0, 0)),
        ("20261326_120000", None),
        ("myrun", None),
    ],
)
def test_parse_run_timestamp(run_id, expected):
    assert parse_run_timestamp(run_id) == expected


records = st.dictionaries(
    st.text(min_size=1, max_size=8).filter(lambda k: k != "filter"),
    st.one_of(
        st.integers(-(2**53), 2**53),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.booleans(),
        st.none(),
        st.lists(st.text(max_size=5), max_size=3),
    ),
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(records, max_size=8))
def test_jsonl_roundtrip(tmp_path, recs):
    p = tmp_path / "rt.jsonl"
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    got = list(TaskSamples(p))
    assert [{k: v for k, v in r.items() if k != "filter"} for r in got] == recs
    assert all(r["filter"] == "none" for r in got)
    assert len(TaskSamples(p)) == len(recs)


# ------------------------------------------------------------------ CLI: ls and show


def test_cli_ls(tmp_path, capsys):
    from evallog.cli import main as cli_main

    root = make_tree(tmp_path)
    assert cli_main(["ls", str(root)]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("|") and "---" not in line]
    assert len(lines) == 5  # header + 4 runs
    assert "|bu6tyawv" in lines[1].replace(" ", "") and LMEVAL_ID in lines[1]
    # 44 lines, gt_gen_math logged with two filters: 34 samples per filter
    assert "2026-11-26T14:49:59Z" in lines[1] and "|34|" in lines[1].replace(" ", "")
    assert cli_main(["ls", str(root), "--fmt", "json", "--no-count"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["Run id"] for r in records] == [LMEVAL_ID, "2026-12-01T09-00-00.000001", "2025-01-02T03-04-05", LMMS_ID]
    assert records[3]["Flavor"] == "lmms-eval" and records[0]["Samples"] is None
    assert records[0]["Tasks"].split(", ")[:2] == ["gt_mc_arith", "gt_gen_math"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["ls", str(empty)]) == 0  # nothing found is not an error
    assert "no runs under" in capsys.readouterr().err


def test_cli_show(capsys):
    from evallog.cli import main as cli_main

    assert cli_main(["show", str(LMEVAL_DIR), "--task", "gt_mc_arith", "--limit", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("-- doc ") == 3 and "10 samples (showing 3)" in out
    assert "input:    Question: What is 23 + 11?⏎Answer:" in out and "acc=1.0" in out
    assert cli_main(["show", str(LMEVAL_DIR), "--task", "gt_mc_arith", "--wrong", "--limit", "0"]) == 0
    out = capsys.readouterr().out
    wrong = {int(line.split()[2]) for line in out.splitlines() if line.startswith("-- doc ")}
    expected = {r["doc_id"] for r in load_run(LMEVAL_DIR).samples("gt_mc_arith") if r["acc"] == 0}
    assert wrong == expected and f"{len(expected)} wrong samples" in out
    # lmms-eval run, one filter of a two-filter task, raw JSON lines
    assert cli_main(["show", str(LMMS_DIR), "--task", "gt_gen_math", "--filter", "flexible-extract", "--json"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(recs) == 10 and {r["filter"] for r in recs} == {"flexible-extract"}
    assert recs[0]["task"] == "gt_gen_math" and recs[0]["target"] == "-7"
    assert cli_main(["show", str(LMEVAL_DIR), "--task", "nope"]) == 1
    assert "no samples for task(s) nope" in capsys.readouterr().err


def test_manifest_status_running(tmp_path):
    d = copy_tree(LMEVAL_DIR, tmp_path / "m")
    write_manifest(d, LMEVAL_ID, naming.FORMAT_VERSION, status="running")
    assert not load_run(d).in_progress  # results written, nobody holds the run any more
    (d / naming.MANIFEST_DIR / f"{LMEVAL_ID}.lock").write_text("{}")
    assert load_run(d).in_progress
    write_manifest(d, LMEVAL_ID, naming.FORMAT_VERSION, status="complete")
    assert not load_run(d).in_progress
    # an in-progress results file is not a run of its own
    (d / "results_2026-12-12T00-00-00.json.partial").write_text("{")
    assert [r.run_id for r in list_runs(d)] == [LMEVAL_ID]


@pytest.mark.parametrize("flavor", ["lm-eval", "lmms-eval"])
def test_runs_written_by_evallog(tmp_path, flavor):
    from evallog import EvaluationTracker

    results = json.loads((DATA / "lmeval_run1" / "results_input.json").read_text())
    samples = json.loads((DATA / "lmeval_run1" / "samples_input.json").read_text())
    tracker = EvaluationTracker(output_path=str(tmp_path / "out"), flavor=flavor)
    tracker.general_config_tracker.model_name = "org/model"
    tracker.save_results_aggregated(results, samples)
    for task in results["configs"]:
        tracker.save_results_samples(task, samples[task])
    tracker.log_sample("streamed", {"doc_id": 0, "filter": "none", "acc": 1.0})
    tracker.flush()

    (run,) = list_runs(tmp_path / "out")
    assert run.flavor == flavor and run.model == "org__model" and run.model_name == "org/model"
    assert run.manifest["format_version"] == naming.FORMAT_VERSION
    assert run.in_progress and run.sample_files["streamed"].name.endswith(naming.IN_PROGRESS_SUFFIX)
    assert {t: run.n_samples(t) for t in run.sample_files} == {
        "gt_gen_math": 20, "gt_mc_arith": 10, "gt_sub_history": 6, "gt_sub_science": 8, "streamed": 1}
    assert [(r["doc_id"], r["filter"]) for r in run.samples("gt_gen_math")][9:11] == [
        (9, "strict-match"), (0, "flexible-extract")]
    tracker.close()
    run = load_run(tmp_path / "out")
    assert not run.in_progress and not run.sample_files["streamed"].name.endswith(naming.IN_PROGRESS_SUFFIX)

    manifest = run.path / naming.MANIFEST_DIR / f"{run.run_id}.json"
    data = json.loads(manifest.read_text())
    data["format_version"] = naming.FORMAT_VERSION + 1
    manifest.write_text(json.dumps(data))
    with pytest.raises(UnsupportedFormatError, match="upgrade evallog"):
        load_run(tmp_path / "out")

"""evallog export --to eee / hf-eval-results: schema-valid files whose scores round-trip unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from evallog.cli import main
from evallog.exporters.eee import export_eee, read_eee
from evallog.exporters.hf_eval_results import export_hf_eval_results, read_hf_eval_results
from evallog.readers import load_run

DATA = Path(__file__).parent / "data"
SCHEMAS = DATA / "every_eval_ever"
RUNS = {
    "lmeval": DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv",
    "lmms": DATA / "lmms_run1" / "lmms_output",
    "lmms_from": DATA / "lmms_from_run1" / "lmms_output",
}


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _reported(run_dir: Path) -> dict[tuple[str, str, str], tuple[float, float | None]]:
    run = load_run(run_dir)
    out = {}
    for task in run.task_results:
        for metric, filt in run.metrics(task):
            value = run.value(task, metric, filt)
            if value is not None:
                out[(task, metric, filt)] = (value, run.stderr(task, metric, filt))
    return out


@pytest.mark.parametrize("name", sorted(RUNS))
def test_eee_records_validate_and_round_trip(name: str, tmp_path: Path) -> None:
    run_dir = RUNS[name]
    dest = tmp_path / "eee"
    assert main(["export", str(run_dir), "--to", "eee", str(dest), "--organization", "evallog tests"]) == 0
    records = sorted(dest.glob("data/*/*/*/*.json"))
    instance_files = sorted(dest.glob("data/*/*/*/*_samples.jsonl"))
    run = load_run(run_dir)
    assert len(records) == len([t for t in run.task_results if run.metrics(t)])
    assert len(instance_files) == len(run.sample_files)
    agg, inst = _validator("eval.schema.json"), _validator("instance_level_eval.schema.json")
    for path in records:
        rec = json.loads(path.read_text())
        agg.validate(rec)
        detail = rec.get("detailed_evaluation_results")
        if detail:  # the pointer names the instance file and its checksum
            lines = (dest / detail["file_path"]).read_text().splitlines()
            assert detail["total_rows"] == len(lines) > 0
            for line in lines:
                obj = json.loads(line)
                inst.validate(obj)
                assert obj["evaluation_id"] == rec["evaluation_id"]
    # scores, stderrs: unchanged
    back = read_eee(dest)
    reported = _reported(run_dir)
    assert set(back) == set(reported)
    for key, (value, stderr) in reported.items():
        assert back[key]["score"] == value and back[key]["stderr"] == stderr, key
    if name == "lmms":  # lmms-eval's extra statistics travel in score_details.details
        assert back[("gt_gen_math", "exact_match", "strict-match")]["details"] == {"stderr_clt": "0.0"}


def test_eee_instance_scores_are_the_sample_scores(tmp_path: Path) -> None:
    run = load_run(RUNS["lmeval"])
    res = export_eee(run, tmp_path, retrieved_timestamp="1800000000")
    [inst] = [p for p in res.instance_files if "gt_sub_science" in str(p)]
    exported = {}
    for line in inst.read_text().splitlines():
        obj = json.loads(line)
        exported[(obj["sample_id"], obj["evaluation_result_id"])] = obj["evaluation"]["score"]
    expected = {}
    for rec in run.samples("gt_sub_science"):
        for metric in rec["metrics"]:
            expected[(str(rec["doc_id"]), f"gt_sub_science/{metric}/{rec['filter']}")] = rec[metric]
    assert exported == expected and len(expected) == 16
    again = export_eee(run, tmp_path, retrieved_timestamp="1800000000")  # deterministic: same files
    assert again.paths == res.paths


def test_eee_rejects_bad_relationship(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        export_eee(RUNS["lmeval"], tmp_path, relationship="friends")


@pytest.mark.parametrize("name", sorted(RUNS))
def test_hf_eval_results_round_trip(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = RUNS[name]
    run = load_run(run_dir)
    tasks = [t for t in run.task_results if run.metrics(t)]
    args = ["export", str(run_dir), "--to", "hf-eval-results", str(tmp_path), "--source-url",
            "https://example.org/samples"]
    for t in tasks:
        args += ["--dataset-id", f"{t}=evallog-tests/{t}"]
    assert main(args) == 0
    files = sorted((tmp_path / ".eval_results").glob("*.yaml"))
    reported = _reported(run_dir)
    assert len(files) == len(reported)  # one file per benchmark result
    for path in files:
        entries = yaml.safe_load(path.read_text())
        assert isinstance(entries, list) and len(entries) == 1
        entry = entries[0]
        assert set(entry) <= {"dataset", "value", "verifyToken", "date", "source", "notes"}
        assert isinstance(entry["dataset"]["id"], str) and "/" in entry["dataset"]["id"]
        assert isinstance(entry["dataset"]["task_id"], str)
        assert isinstance(entry["value"], float)
        assert entry["source"]["url"] == "https://example.org/samples"
        assert entry["date"].endswith("Z")
    back = read_hf_eval_results(tmp_path)
    assert set(back) == set(reported)
    for key, (value, stderr) in reported.items():
        assert back[key]["value"] == value and back[key]["stderr"] == stderr, key


def test_hf_eval_results_skip_local_datasets(tmp_path: Path) -> None:
    res = export_hf_eval_results(RUNS["lmeval"], tmp_path, dataset_ids={"gt_mc_arith": "org/arith"})
    assert [p.name for p in res.files] == ["gt_mc_arith_acc.yaml", "gt_mc_arith_acc_norm.yaml"]
    assert len(res.skipped) == 4 and all("not on the Hub" in s for s in res.skipped)
    entry = yaml.safe_load(res.files[0].read_text())[0]
    assert entry["dataset"] == {"id": "org/arith", "task_id": "gt_mc_arith"} and entry["value"] == 0.5

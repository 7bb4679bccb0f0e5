"""Golden tests: the inputs of real lm-eval / lmms-eval runs, replayed through evallog,
give files that parse equal to the files the anchors wrote, except for the documented
improvements (model folder/name, wall-clock times)."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

from evallog import EvaluationTracker

DATA = Path(__file__).parent / "data"

# keys whose values differ on purpose (improvements, or times of the run)
IMPROVED = {"model_name", "model_name_sanitized", "start_time", "end_time", "total_evaluation_time_seconds"}

CASES = [
    # (fixture folder, inputs folder, flavor, datetime_str, anchor output folder)
    ("lmeval_run1", "lmeval_run1", "lm-eval", None, "lmeval_output/bu6tyawv"),
    ("lmms_from_run1", "lmeval_run1", "lmms-eval", "20261126_120000", "lmms_output"),
    ("lmms_run1", "lmms_run1", "lmms-eval", "20261126_225343", "lmms_output"),
]


def _load(folder: str):
    with open(DATA / folder / "results.pkl", "rb") as fh:
        results = pickle.load(fh)
    with open(DATA / folder / "samples.pkl", "rb") as fh:
        samples = pickle.load(fh)
    return results, samples


def _replay(tmp_path: Path, inputs: str, flavor: str, datetime_str: str | None):
    results, samples = _load(inputs)
    before = (copy.deepcopy(results), copy.deepcopy(samples))
    tracker = EvaluationTracker(output_path=str(tmp_path), flavor=flavor)
    tracker.general_config_tracker.log_experiment_args(
        model_source="dummy", model_args="", system_instruction=None, chat_template=None,
        fewshot_as_multiturn=results.get("fewshot_as_multiturn", flavor == "lm-eval"),
    )
    if datetime_str:
        tracker.save_results_aggregated(results, samples, datetime_str)
    else:
        tracker.save_results_aggregated(results, samples)
    for task in samples:
        tracker.save_results_samples(task, samples[task])
    return tracker, results, samples, before


@pytest.mark.parametrize("fixture,inputs,flavor,datetime_str,anchor_dir", CASES)
def test_files_parse_equal_to_anchor(tmp_path, fixture, inputs, flavor, datetime_str, anchor_dir):
    tracker, results, samples, before = _replay(tmp_path, inputs, flavor, datetime_str)
    anchor = DATA / fixture / anchor_dir
    pattern = "results_*.json" if flavor == "lm-eval" else "*_results.json"
    expected = json.loads(next(anchor.glob(pattern)).read_text())
    written = json.loads(tracker.results_path.read_text())
    assert list(written) == list(expected), "same keys in the same order"
    for key in expected:
        if key not in IMPROVED:
            assert written[key] == expected[key], key
    assert written["model_name"] == "dummy" and written["model_name_sanitized"] == "dummy"
    assert tracker.results_path.parent.name == "dummy"
    for task in samples:
        sample_pattern = f"samples_{task}_*.jsonl" if flavor == "lm-eval" else f"*_samples_{task}.jsonl"
        anchor_lines = [json.loads(line) for line in next(anchor.glob(sample_pattern)).read_text().splitlines()]
        mine = tracker.sample_paths[task]
        assert mine.parent == tracker.results_path.parent
        ours = [json.loads(line) for line in mine.read_text().splitlines()]
        assert ours == anchor_lines, task
        # same run id in every file name
        assert tracker.run_id in mine.name and tracker.run_id in tracker.results_path.name


@pytest.mark.parametrize("fixture,inputs,flavor,datetime_str,anchor_dir", CASES)
def test_inputs_not_mutated(tmp_path, fixture, inputs, flavor, datetime_str, anchor_dir):
    _, results, samples, before = _replay(tmp_path, inputs, flavor, datetime_str)
    assert results == before[0]
    assert samples == before[1]


def test_lmeval_run_id_format_and_names(tmp_path):
    tracker, *_ = _replay(tmp_path, "lmeval_run1", "lm-eval", None)
    import re

    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(\.\d+)?", tracker.date_id)
    names = sorted(p.name for p in tracker.results_path.parent.iterdir() if not p.name.startswith("."))
    assert f"results_{tracker.date_id}.json" in names
    assert f"samples_gt_mc_arith_{tracker.date_id}.jsonl" in names


def test_config_tracker_fields_per_flavor():
    import dataclasses

    lm = EvaluationTracker(flavor="lm-eval").general_config_tracker
    lmms = EvaluationTracker().general_config_tracker
    base = ["model_source", "model_name", "model_name_sanitized", "system_instruction", "system_instruction_sha",
            "fewshot_as_multiturn", "chat_template", "chat_template_sha"]
    assert [f.name for f in dataclasses.fields(lm)] == [*base, "total_evaluation_time_seconds"]
    assert [f.name for f in dataclasses.fields(lmms)] == [*base, "start_time", "end_time", "total_evaluation_time_seconds"]
    assert dataclasses.is_dataclass(lm) and dataclasses.is_dataclass(lmms)

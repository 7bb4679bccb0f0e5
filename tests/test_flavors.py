"""The format layer: flavor registry (by name, by sniffing), a third harness as one module, layout, schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from evallog import EvaluationTracker, layout, list_runs, load_run, report_samples, schema, table
from evallog.cli import main as cli_main
from evallog.errors import ConfigError
from evallog.flavors import (
    Flavor,
    GeneralConfigTracker,
    ParsedName,
    get_flavor,
    register_flavor,
    registered_flavors,
    sniff_flavor,
    unregister_flavor,
)
from evallog.hub import find_local_runs
from evallog.recovery import recover

DATA = Path(__file__).parent / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"
RESULTS = json.loads((DATA / "lmeval_run1" / "results_input.json").read_text())
SAMPLES = json.loads((DATA / "lmeval_run1" / "samples_input.json").read_text())


# ------------------------------------------------------------------ registry


def test_builtin_flavors_by_name_and_by_sniffing():
    assert [f.name for f in registered_flavors()][:2] == ["lm-eval", "lmms-eval"]
    assert get_flavor("lm-eval").results_filename("X") == "results_X.json"
    assert get_flavor("lmms-eval").samples_filename("t", "X") == "X_samples_t.jsonl"
    with pytest.raises(ConfigError, match="flavor must be one of"):
        get_flavor("nope")
    assert sniff_flavor(LMEVAL_DIR).name == "lm-eval"
    assert sniff_flavor(LMMS_DIR).name == "lmms-eval"
    assert sniff_flavor(next(LMMS_DIR.glob("*_results.json"))).name == "lmms-eval"
    assert sniff_flavor(DATA) is None  # no run files directly in it


def test_lmeval_json_stem_names_parse_back():
    lm = get_flavor("lm-eval")
    rid = lm.new_run_id()
    path = lm.results_path(Path("out"), rid, stem=Path("out/gt_eval.json"))
    assert path == Path(f"out/gt_eval_{rid}.json")
    assert layout.parse_filename(path.name) == ParsedName("results", "lm-eval", rid)
    assert layout.parse_filename(f"samples_t_{rid}.jsonl.partial") == ParsedName("samples", "lm-eval", rid, "t", True)
    assert layout.parse_filename(f".samples_t_{rid}.jsonl.123.ab.tmp") is None


# ------------------------------------------------------------------ a third harness in one module


class ToyConfigTracker(GeneralConfigTracker):
    _flavor = "toy-eval"


class ToyFlavor(Flavor):
    """A made-up harness: ``toy-<id>.results.json`` and ``toy-<id>.<task>.samples.jsonl``."""

    name = "toy-eval"
    default_repo_name = "toy-eval-results"
    model_name_keys = ("checkpoint",)
    config_tracker_class = ToyConfigTracker
    results_pattern = re.compile(r"^toy-(?P<run_id>\d{8}-\d{6})\.results\.json$")
    samples_pattern = re.compile(r"^toy-(?P<run_id>\d{8}-\d{6})\.(?P<task>.+)\.samples\.jsonl$")

    def results_filename(self, run_id: str) -> str:
        return f"toy-{run_id}.results.json"

    def samples_filename(self, task: str, run_id: str) -> str:
        return f"toy-{run_id}.{task}.samples.jsonl"

    def new_run_id(self, timezone: str | None = None, offset_seconds: int = 0) -> str:
        return (datetime.now().astimezone()).strftime("%Y%m%d-%H%M%S")

    def run_timestamp(self, run_id: str) -> datetime | None:
        return datetime.strptime(run_id, "%Y%m%d-%H%M%S")  # noqa: DTZ007

    def transform_sample(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        return {"doc_id": sample["doc_id"], "filter": sample.get("filter", "none"), "acc": sample.get("acc")}


@pytest.fixture
def toy():
    flavor = register_flavor(ToyFlavor())
    try:
        yield flavor
    finally:
        unregister_flavor(flavor.name)


def test_a_third_harness_is_one_flavor_module(tmp_path, toy, capsys):
    out = tmp_path / "out"
    tracker = EvaluationTracker(output_path=str(out), flavor="toy-eval")
    tracker.general_config_tracker.log_experiment_args("toy", "checkpoint=org/toy,model=ignored", None, None, False)
    samples = {"gt_mc_arith": [{"doc_id": i, "acc": float(i % 2), "doc_hash": f"h{i}"} for i in range(5)]}
    tracker.save_results_aggregated({"results": {"gt_mc_arith": {"acc,none": 0.4}}, "configs": {"gt_mc_arith": {}}},
                                    samples)
    tracker.save_results_samples("gt_mc_arith", samples["gt_mc_arith"])
    folder = out / "org__toy"
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [
        f"toy-{tracker.run_id}.gt_mc_arith.samples.jsonl", f"toy-{tracker.run_id}.results.json"]
    assert sniff_flavor(folder) is toy

    (run,) = list_runs(out)
    assert run.flavor == "toy-eval" and run.run_id == tracker.run_id and not run.in_progress
    assert run.timestamp is not None and run.status == layout.RunStatus.COMPLETE
    assert [r["acc"] for r in load_run(folder).samples("gt_mc_arith")] == [0.0, 1.0, 0.0, 1.0, 0.0]
    (local,) = find_local_runs(out)
    assert local.flavor == "toy-eval" and local.results_file is not None and len(local.sample_files) == 1
    assert cli_main(["table", str(out)]) == 0 and "gt_mc_arith" in capsys.readouterr().out

    streamer = EvaluationTracker(output_path=str(out), flavor="toy-eval", run_id="20260101-000000")
    streamer.log_sample("gen", {"doc_id": 0, "acc": 1.0})
    streamer.flush()
    del streamer  # dropped without close: the finalizer releases the lock
    assert [(t.task, t.status) for t in recover(out).tasks] == [("gen", "recovered")]


# ------------------------------------------------------------------ schema: one home for metric keys


def test_schema_key_sets_are_shared():
    import importlib

    from evallog import precheck as precheck_mod
    from evallog import readers
    from evallog.cli import _runs

    compare_mod = importlib.import_module("evallog.compare_samples")

    assert readers.NON_METRIC_SAMPLE_KEYS is schema.NON_METRIC_SAMPLE_KEYS
    assert compare_mod.NON_METRIC_SAMPLE_KEYS is schema.NON_METRIC_SAMPLE_KEYS
    assert report_samples._SAMPLE_KEYS is schema.SAMPLE_FIELD_KEYS
    assert precheck_mod._HARNESS_KEYS is schema.HARNESS_SAMPLE_KEYS
    assert table._OPTIONAL is schema.OPTIONAL_COLUMNS
    assert readers.metric_keys is schema.metric_keys
    assert "NON_METRIC_SAMPLE_KEYS" not in vars(_runs)  # imported where used, from schema


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("acc,none", ("acc", "none", None)),
        ("acc_stderr,none", ("acc_stderr", "none", "_stderr")),
        ("acc_stderr_clt,flex", ("acc_stderr_clt", "flex", "_stderr_clt")),
        ("acc_expected_accuracy,none", ("acc_expected_accuracy", "none", "_expected_accuracy")),
        ("exact_match,strict-match", ("exact_match", "strict-match", None)),
        ("alias", None),
        (" ", None),
        ("paired_acc,none", None),
    ],
)
def test_parse_metric_key(key, expected):
    parsed = schema.parse_metric_key(key)
    assert (parsed if parsed is None else (parsed.metric, parsed.filter, parsed.variant)) == expected
    if parsed is not None and parsed.variant:
        assert parsed.base + parsed.variant == parsed.metric


# ------------------------------------------------------------------ layout: statuses and locks


def test_lock_states(tmp_path):
    folder = tmp_path
    assert layout.lock_state(folder, "r") is layout.LockState.ABSENT
    assert layout.create_lock(folder, "r") and not layout.create_lock(folder, "r")
    # our pid but no tracker of this process holds it: stale
    assert layout.lock_state(folder, "r") is layout.LockState.STALE
    layout.lock_path(folder, "r").write_text("1 some-other-host\n")
    assert layout.lock_state(folder, "r") is layout.LockState.STALE
    layout.lock_path(folder, "r").write_text("{}")
    assert layout.lock_state(folder, "r") is layout.LockState.UNKNOWN
    layout.remove_lock(folder, "r")
    assert layout.lock_state(folder, "r") is layout.LockState.ABSENT

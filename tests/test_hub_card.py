"""The dataset card built from a repo's file list (no network)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from evallog import hub_card
from evallog.layout import results_filename, samples_filename

DATA = Path(__file__).parent / "data"
SPLIT_RE = re.compile(r"^\w+(\.\w+)*$")
BAD_CONFIG_CHARS = set('<>:/\\|?*')


@given(st.text(min_size=0, max_size=40))
@settings(max_examples=300, deadline=None)
def test_split_names_are_always_valid(run_id):
    name = hub_card.split_name(run_id)
    assert SPLIT_RE.match(name), (run_id, name)
    assert name not in ("latest", "all")


def test_split_names_of_both_flavors():
    assert hub_card.split_name("2026-11-26T14-50-01.009042") == "2026_11_26T14_50_01.009042"
    assert hub_card.split_name("20261126_225343") == "20261126_225343"
    assert hub_card.split_name("latest") == "run_latest"


def test_run_order_is_chronological_across_flavors():
    ids = ["2026-11-26T14-50-01", "20261125_120000", "2026-11-26T14-50-01.5", "20261127_000000"]
    ordered = sorted(ids, key=hub_card.run_sort_key)
    assert ordered == ["20261125_120000", "2026-11-26T14-50-01", "2026-11-26T14-50-01.5", "20261127_000000"]


def _paths():
    return [
        ".gitattributes",
        "README.md",
        "org__m/" + results_filename("lm-eval", "2026-01-01T00-00-00"),
        "org__m/" + results_filename("lm-eval", "2026-02-01T00-00-00.5"),
        "org__m/" + samples_filename("lm-eval", "mmlu_abstract", "2026-01-01T00-00-00"),
        "org__m/" + samples_filename("lm-eval", "mmlu_abstract", "2026-02-01T00-00-00.5"),
        "org__m/" + samples_filename("lm-eval", "hella-swag", "2026-02-01T00-00-00.5"),
        "other/" + results_filename("lmms-eval", "20260301_101010"),
        "other/" + samples_filename("lmms-eval", "mmmu_val", "20260301_101010"),
        "other/" + samples_filename("lmms-eval", "mmmu_val", "20260302_101010") + ".partial",
        "other/notes.txt",
    ]


def test_configs_from_both_naming_schemes():
    configs = hub_card.plan_configs(_paths())
    assert list(configs) == sorted(configs)
    assert set(configs) == {
        "org__m__results", "org__m__mmlu_abstract", "org__m__hella_swag",
        "other__results", "other__mmmu_val",
    }
    res = configs["org__m__results"]
    assert res.kind == "results" and res.latest_run == "2026-02-01T00-00-00.5"
    files = res.data_files()
    assert [d["split"] for d in files] == ["2026_01_01T00_00_00", "2026_02_01T00_00_00.5", "latest"]
    assert files[-1]["path"] == ["org__m/results_2026-02-01T00-00-00.5.json"]
    # an in-progress file is not a run
    assert list(configs["other__mmmu_val"].runs) == ["20260301_101010"]
    for name, cfg in configs.items():
        assert not BAD_CONFIG_CHARS & set(name)
        for d in cfg.data_files():
            assert set(d) == {"split", "path"} and SPLIT_RE.match(d["split"])


def test_card_front_matter_is_valid_and_deterministic():
    configs = hub_card.plan_configs(_paths())
    configs["org__m__results"].features = hub_card.features_from_types({"results": "string", "date": "float64"})
    kwargs = dict(model_names={"org__m": "org/m"}, leaderboard_url="https://lb.example/x",
                  point_of_contact="me@example.org", endpoint="http://127.0.0.1:1",
                  latest_results=("org__m/x.json", {"results": {"t": {"acc,none": 0.5}}}))
    text = hub_card.render_card("test-org/r", configs, **kwargs)
    assert text == hub_card.render_card("test-org/r", hub_card.plan_configs(_paths()) | {
        "org__m__results": configs["org__m__results"]}, **kwargs)
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("\n---", 1)[0][4:])
    assert meta["leaderboard_url"] == "https://lb.example/x"
    assert meta["point_of_contact"] == "me@example.org"
    names = [c["config_name"] for c in meta["configs"]]
    assert names == sorted(names)
    defaults = [c["config_name"] for c in meta["configs"] if c.get("default")]
    assert defaults == ["other__results"]  # the most recent run
    res = next(c for c in meta["configs"] if c["config_name"] == "org__m__results")
    assert res["features"] == [{"name": "date", "dtype": "float64"}, {"name": "results", "dtype": "string"}]
    body = text.split("\n---", 1)[1]
    assert 'load_dataset("test-org/r", name="other__results", split="latest")' in body
    assert "`org__m__mmlu_abstract`" in body and '"acc,none": 0.5' in body


def test_results_column_types_union():
    a = hub_card.infer_column_types({"results": {"x": {"acc": 1, "se": 0.1}}, "date": 1, "git_hash": None,
                                     "flag": True, "ids": [1, 2], "cfg": {"k": "v"}, "empty": {},
                                     "nothing": None})
    b = hub_card.infer_column_types({"results": {"y": {"acc": 0.5}, "x": {"se": "N/A"}}, "date": 2.5,
                                     "git_hash": "abc", "flag": "yes", "ids": [1.5], "cfg": "plain",
                                     "extra": [{"a": 1}, {"b": "x"}]})
    merged = hub_card.merge_column_types(a, b)
    feats = hub_card.features_from_types(merged)
    by_name = {f["name"]: {k: v for k, v in f.items() if k != "name"} for f in feats}
    assert by_name == {
        "results": {"struct": [
            {"name": "x", "struct": [{"name": "acc", "dtype": "int64"}, {"name": "se", "dtype": "string"}]},
            {"name": "y", "struct": [{"name": "acc", "dtype": "float64"}]},
        ]},
        "date": {"dtype": "float64"},
        "git_hash": {"dtype": "string"},
        "flag": {"dtype": "string"},
        "ids": {"list": "float64"},
        "cfg": {"dtype": "string"},  # an object in one run, a string in another: JSON text
        "empty": {"struct": []},
        "nothing": {"dtype": "null"},
        "extra": {"list": [{"name": "a", "dtype": "int64"}, {"name": "b", "dtype": "string"}]},
    }
    # what the card wrote reads back, and merging it again changes nothing
    again = hub_card.types_from_features(feats)
    assert hub_card.features_from_types(hub_card.merge_column_types(again, a, b)) == feats
    # a list in one run and a string in another: no declaration fits, let datasets infer
    c = hub_card.infer_column_types({"ids": "1,2"})
    assert hub_card.features_from_types(hub_card.merge_column_types(a, c)) is None


def test_declared_features_parse_in_datasets():
    datasets = pytest.importorskip("datasets")
    data = json.loads((DATA / "lmeval_run1/lmeval_output/bu6tyawv/"
                       "results_2026-11-26T14-50-01.009042.json").read_text(encoding="utf-8"))
    feats = hub_card.features_from_types(hub_card.infer_column_types(data))
    parsed = datasets.Features._from_yaml_list(feats)
    assert parsed._to_yaml_list() == feats


def test_results_of_fixture_runs_get_declared_columns():
    path = DATA / "lmeval_run1/lmeval_output/bu6tyawv/results_2026-11-26T14-50-01.009042.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    feats = hub_card.features_from_types(hub_card.infer_column_types(data))
    by_name = {f["name"]: f for f in feats}
    assert by_name["results"]["struct"][0]["name"] == "gt_mc_arith"
    assert set(by_name) == set(data)

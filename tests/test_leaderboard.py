"""leaderboard(): models x tasks from a folder of runs of both frameworks."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from evallog.cli import main as cli_main
from evallog.errors import ConfigError
from evallog.leaderboard import MISSING, Leaderboard, leaderboard
from evallog.readers import list_runs
from evallog.render import render_table

DATA = Path(__file__).parent / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMEVAL_ID = "2026-11-26T14-50-01.009042"
NEWER_ID = "2026-12-01T08-00-00.000000"
LMMS_FROM_DIR = DATA / "lmms_from_run1" / "lmms_output"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"


def copy_run(src: Path, dst: Path, old_id: str, new_id: str, edit=None) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for p in src.iterdir():
        data = p.read_bytes()
        if p.name.endswith(".json") and edit is not None:
            d = json.loads(data)
            edit(d)
            data = json.dumps(d, indent=2).encode()
        (dst / p.name.replace(old_id, new_id)).write_bytes(data)


@pytest.fixture
def root(tmp_path) -> Path:
    """org__model-a: two lm-eval runs (the newer one better on gt_mc_arith);
    org__model-b: an lmms-eval run of the same tasks; org__model-c: lmms-eval, other tasks;
    plus a samples-only run that must not show up."""
    root = tmp_path / "out"

    def name(n):
        return lambda d: d.update(model_name=n)

    def newer(d):
        d["model_name"] = "org/model-a"
        d["results"]["gt_mc_arith"]["acc,none"] = 0.9
        d["results"]["gt_group"]["acc,none"] = 0.6

    copy_run(LMEVAL_DIR, root / "org__model-a", LMEVAL_ID, LMEVAL_ID, name("org/model-a"))
    copy_run(LMEVAL_DIR, root / "org__model-a", LMEVAL_ID, NEWER_ID, newer)

    def model_b(d):
        d["model_name"] = "org/model-b"
        d["results"]["gt_mc_arith"]["acc,none"] = 0.7
        d["results"]["gt_sub_history"]["acc,none"] = 0.9

    copy_run(LMMS_FROM_DIR, root / "org__model-b", "20261126_120000", "20261126_120000", model_b)
    copy_run(LMMS_DIR, root / "org__model-c", "20261126_225343", "20261126_225343", name("org/model-c"))
    only = root / "org__model-d"
    only.mkdir()
    (only / "samples_gt_mc_arith_2026-01-01T00-00-00.jsonl").write_bytes(
        next(LMEVAL_DIR.glob("samples_gt_mc_arith_*")).read_bytes())
    return root


def test_latest_run_per_model_and_missing_cells(root):
    lb = leaderboard(root, metric="acc")
    assert isinstance(lb, Leaderboard)
    assert lb.labels == ["org/model-a", "org/model-b", "org/model-c"]
    assert [r.run_id for r in lb.runs] == [NEWER_ID, "20261126_120000", "20261126_225343"]
    assert lb.columns == ["gt_mc_arith", "gt_sub_science", "gt_sub_history"]
    assert lb.keys == ["acc,none"] * 3
    assert lb.values[0] == [0.9, 0.125, pytest.approx(1 / 3)]
    assert lb.values[1] == [0.7, 0.125, 0.9]
    assert lb.values[2] == [None, None, None]  # model-c has no acc
    md = lb.render("markdown")
    assert md.startswith("Leaderboard: acc\n")
    row_c = [line for line in md.splitlines() if line.startswith("|org/model-c")][0]
    assert [c.strip() for c in row_c.strip("|").split("|")] == ["org/model-c", MISSING, MISSING, MISSING]


def test_all_runs(root):
    lb = leaderboard(root, metric="acc", latest=False)
    assert lb.labels == [
        f"org/model-a@{LMEVAL_ID}",
        f"org/model-a@{NEWER_ID}",
        "org/model-b@20261126_120000",
        "org/model-c@20261126_225343",
    ]
    assert [v[0] for v in lb.values] == [0.5, 0.9, 0.7, None]


def test_default_metric_per_task(root):
    lb = leaderboard(root)
    assert lb.metric is None
    assert dict(zip(lb.columns, lb.keys)) == {
        "gt_mc_arith": "acc,none",
        "gt_gen_math": "exact_match,strict-match",
        "gt_sub_science": "acc,none",
        "gt_sub_history": "acc,none",
        "gt_gen_history": "exact_match,letter",
        "gt_gen_science": "exact_match,letter",
        "gt_mcgen_arith": "exact_match,letter",
    }
    headers = lb.headers()
    assert headers[0] == "Model" and "gt_mc_arith (acc)" in headers
    assert "gt_gen_math (exact_match,strict-match)" in headers
    assert lb.title == "Leaderboard"


def test_metric_with_filter_and_groups(root):
    lb = leaderboard(root, metric="exact_match,flexible-extract")
    assert lb.columns == ["gt_gen_math"] and lb.keys == ["exact_match,flexible-extract"]
    assert lb.title == "Leaderboard: exact_match (flexible-extract)"
    g = leaderboard(root, metric="acc", groups=True)
    assert g.columns == ["gt_mc_arith", "gt_group"]
    assert g.values[0] == [0.9, 0.6]
    assert g.values[1][1] == pytest.approx(0.21428571428571427)
    gm = leaderboard(root, metric="exact_match", groups=True)
    assert "gt_gen_group" in gm.columns and "gt_gen_history" not in gm.columns


def test_renders_through_render_table(root):
    lb = leaderboard(root, metric="acc", fmt="latex")
    numeric = [False, True, True, True]
    for fmt in ("markdown", "latex", "html"):
        assert lb.render(fmt) == render_table(lb.headers(), lb.table_rows(), fmt, numeric=numeric, title=lb.title)
    assert lb.render() == lb.render("latex")  # the fmt given to leaderboard() is the default
    rows = list(csv.reader(io.StringIO(lb.render("csv"))))
    assert rows[0] == ["Model", "gt_mc_arith", "gt_sub_science", "gt_sub_history"]
    assert rows[3] == ["org/model-c", "", "", ""]
    records = json.loads(lb.render("json"))
    assert records[0]["gt_mc_arith"] == 0.9 and records[2]["gt_mc_arith"] is None
    d = lb.to_dict()
    json.dumps(d)
    assert d["rows"][0]["run_id"] == NEWER_ID and d["columns"][0] == {"task": "gt_mc_arith", "key": "acc,none"}


def test_sort_and_errors(root):
    lb = leaderboard(root, metric="acc", sort_by="gt_sub_history")
    assert lb.labels == ["org/model-b", "org/model-a", "org/model-c"]  # best first, missing last
    with pytest.raises(ConfigError, match="not a column"):
        leaderboard(root, metric="acc", sort_by="nope")
    with pytest.raises(ConfigError, match="no task reports"):
        leaderboard(root, metric="bleu")
    with pytest.raises(ConfigError):
        leaderboard(42)  # type: ignore[arg-type]


def test_runs_or_paths_as_input(root):
    runs = list_runs(root)
    assert leaderboard(runs, metric="acc").labels == ["org/model-a", "org/model-b", "org/model-c"]
    lb = leaderboard([root / "org__model-b", LMEVAL_DIR], metric="acc")
    assert lb.labels == ["bu6tyawv", "org/model-b"]


def test_cli_leaderboard(root, capsys):
    assert cli_main(["leaderboard", str(root), "--metric", "acc"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Leaderboard: acc") and "|org/model-a|" in out.replace(" ", "")
    assert cli_main(["leaderboard", str(root), "--metric", "acc", "--fmt", "json", "--all-runs"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 4
    assert cli_main(["leaderboard", str(root), "--groups", "--metric", "acc", "--fmt", "csv",
                     "--sort-by", "gt_group"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Model,gt_mc_arith,gt_group" and lines[1].startswith("org/model-a,")
    assert cli_main(["leaderboard", str(root), "--metric", "bleu"]) == 1
    assert "bleu" in capsys.readouterr().err

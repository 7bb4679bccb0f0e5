"""make_table, render_table and `evallog table` against the anchors' own tables.

The anchors' Markdown is compared cell by cell (numbers as numbers), never
byte by byte: their table library re-types every column, so the same number
prints ``0`` / ``0.5`` / ``0.5000`` depending on its neighbours, while
evallog always prints 4 decimals.

Anchor cells that differ on purpose, and why:

* lm-eval fixtures (``lmeval_run1``): none, apart from the decimals.
* lmms-eval's own run (``lmms_run1``): lmms-eval has no ``Version`` column
  (evallog shows it whenever the dict has ``versions``) and repeats the task
  name on every row of a task (evallog, like lm-eval, shows it once).
  ``table_results_second_call_same_dict.md`` shows raw task keys because
  lmms-eval popped ``alias`` from the dict on the first call (formats.md §12
  #10); evallog never mutates its input, so both calls show the aliases.
* lmms-eval's make_table on lm-eval results (``lmms_from_run1``): besides the
  two differences above, lmms-eval prints the non-metric keys ``name``,
  ``sample_len`` and ``sample_count`` as metric rows, keeps the dict's
  insertion order and does not indent subtasks (it relies on aliases that its
  own evaluator pre-indents). evallog follows lm-eval's hierarchy order and
  indentation for every input, so these tables are compared as sets of rows
  once the defect rows are dropped and names are un-indented.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import pickle
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evallog
from evallog.cli import main
from evallog.errors import ConfigError
from evallog.render import FORMATS, display_width, render_table
from evallog.table import make_table

DATA = Path(__file__).parent / "data"

FOUNDING = {
    "results": {
        "mmmu_val": {"acc,none": 0.4567, "acc_stderr,none": 0.0234},
        "mme": {"score,none": 1823.5, "score_stderr,none": 45.2},
    },
    "versions": {"mmmu_val": "Yaml", "mme": "Yaml"},
    "n-shot": {"mmmu_val": 0, "mme": 0},
    "higher_is_better": {"mmmu_val": {"acc": True}, "mme": {"score": True}},
}


# ------------------------------------------------------------------ helpers


def load(run: str, pkl: bool = False) -> dict:
    if pkl:
        with open(DATA / run / "results.pkl", "rb") as fh:
            return pickle.load(fh)
    return json.loads((DATA / run / "results_input.json").read_text(encoding="utf-8"))


def md_cells(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of the first Markdown table in ``text``, cells stripped."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in re.split(r"(?<!\\)\|", ln.strip())[1:-1]] for ln in lines]
    assert set("".join(rows[1])) <= {"-", ":"}, "second line must be the separator"
    return rows[0], rows[2:]


def cell(value: str) -> object:
    """A cell as a number when it reads as one, else the stripped string."""
    try:
        return float(value)
    except ValueError:
        return value.strip()


def norm(rows: list[list[str]]) -> list[list[object]]:
    return [[cell(c) for c in row] for row in rows]


def drop_column(header: list[str], rows: list[list[str]], name: str) -> tuple[list[str], list[list[str]]]:
    i = header.index(name)
    return header[:i] + header[i + 1 :], [r[:i] + r[i + 1 :] for r in rows]


def fill_down(rows: list[list[str]]) -> list[list[str]]:
    """Repeat the task name on every row of a task, as lmms-eval prints it."""
    out, last = [], ""
    for r in rows:
        last = r[0] or last
        out.append([last, *r[1:]])
    return out


def fixture(run: str, name: str) -> tuple[list[str], list[list[str]]]:
    return md_cells((DATA / run / name).read_text(encoding="utf-8"))


VARIANTS = [
    ("table_results.md", "results", False),
    ("table_results_sorted.md", "results", True),
    ("table_groups.md", "groups", False),
    ("table_groups_sorted.md", "groups", True),
]


# ------------------------------------------------------------------ founding example


def test_founding_example_prints_as_specified():
    text = make_table(FOUNDING)
    collapsed = [" ".join(ln.replace("|", " | ").split()) for ln in text.splitlines()]
    assert collapsed[0] == "| Tasks | Version | Filter | n-shot | Metric | | Value | | Stderr |"
    assert collapsed[2] == "| mme | Yaml | none | 0 | score | ↑ | 1823.5000 | ± | 45.2000 |"
    assert collapsed[3] == "| mmmu_val | Yaml | none | 0 | acc | ↑ | 0.4567 | ± | 0.0234 |"
    assert len(collapsed) == 4
    assert evallog.make_table is make_table


# ------------------------------------------------------------------ lm-eval fixtures


@pytest.mark.parametrize("pkl", [False, True], ids=["json", "pickle"])
@pytest.mark.parametrize(("name", "column", "sort"), VARIANTS)
def test_lmeval_fixture_cells_match(name, column, sort, pkl):
    header, rows = md_cells(make_table(load("lmeval_run1", pkl), column, sort))
    a_header, a_rows = fixture("lmeval_run1", name)
    assert header == a_header
    assert norm(rows) == norm(a_rows)


def test_lmeval_cli_stdout_tables_match():
    """The anchor CLI prints the results table then the groups table."""
    text = (DATA / "lmeval_run1" / "stdout_cli_equivalent.txt").read_text(encoding="utf-8")
    anchor_tables = text.split("\n\n")
    ours = [make_table(load("lmeval_run1")), make_table(load("lmeval_run1"), "groups")]
    for a, o in zip([t for t in anchor_tables if "|" in t], ours):
        (ah, ar), (oh, orows) = md_cells(a), md_cells(o)
        assert oh == ah and norm(orows) == norm(ar)


# ------------------------------------------------------------------ lmms-eval fixtures


@pytest.mark.parametrize("pkl", [False, True], ids=["json", "pickle"])
@pytest.mark.parametrize(("name", "column", "sort"), VARIANTS)
def test_lmms_fixture_cells_match(name, column, sort, pkl):
    header, rows = md_cells(make_table(load("lmms_run1", pkl), column, sort))
    header, rows = drop_column(header, rows, "Version")  # lmms-eval has none
    a_header, a_rows = fixture("lmms_run1", name)
    assert header == a_header
    assert norm(fill_down(rows)) == norm(a_rows)


def test_lmms_second_call_same_dict_is_an_anchor_defect():
    results = load("lmms_run1")
    first = make_table(results)
    assert make_table(results) == first  # evallog does not pop aliases
    _, rows = md_cells(first)
    _, a_rows = fixture("lmms_run1", "table_results_second_call_same_dict.md")
    ours_names = [r[0] for r in fill_down(rows)]
    anchor_names = [r[0] for r in a_rows]
    assert ours_names[0] == "GT Knowledge gen (group alias)" and anchor_names[0] == "gt_gen_group"
    assert "- Science (aliased subtask)" in ours_names and "gt_gen_science" in anchor_names
    # everything except the names is the same
    header, rows = drop_column(*md_cells(first), "Version")
    assert norm([r[1:] for r in rows]) == norm([r[1:] for r in a_rows])


_LMMS_DEFECT_METRICS = {"name", "sample_len", "sample_count"}


def _as_row_set(rows: list[list[str]]) -> list[tuple]:
    out = []
    for r in fill_down(rows):
        name = re.sub(r"^ *- ", "", r[0])
        out.append(tuple([name, *(cell(c) for c in r[1:])]))
    return sorted(out, key=repr)


@pytest.mark.parametrize(("name", "column", "sort"), [*VARIANTS, ("table_results_second_call_same_dict.md", "results", False)])
def test_lmms_on_lmeval_results_cells_match_without_defect_rows(name, column, sort):
    results = load("lmeval_run1")
    header, rows = drop_column(*md_cells(make_table(results, column, sort)), "Version")
    a_header, a_rows = fixture("lmms_from_run1", name)
    metric = a_header.index("Metric")
    assert {r[metric] for r in a_rows} & _LMMS_DEFECT_METRICS  # the anchor's defect is there
    a_rows = [r for r in a_rows if r[metric] not in _LMMS_DEFECT_METRICS]
    assert header == a_header
    assert {r[metric] for r in rows}.isdisjoint(_LMMS_DEFECT_METRICS)
    if name.endswith("second_call_same_dict.md"):
        # the anchor popped the aliases on its first call: compare everything but names
        assert sorted(map(repr, (r[1:] for r in _as_row_set(rows)))) == sorted(
            map(repr, (r[1:] for r in _as_row_set(a_rows)))
        )
    else:
        assert _as_row_set(rows) == _as_row_set(a_rows)


def test_lmms_saved_results_file_renders_like_its_input():
    saved = json.loads((DATA / "lmms_from_run1" / "lmms_output" / "20261126_120000_results.json").read_text())
    assert md_cells(make_table(saved)) == md_cells(make_table(load("lmeval_run1")))


# ------------------------------------------------------------------ no mutation


@pytest.mark.parametrize("run", ["lmeval_run1", "lmms_run1"])
@pytest.mark.parametrize("pkl", [False, True], ids=["json", "pickle"])
def test_input_is_never_modified(run, pkl):
    results = load(run, pkl)
    before = copy.deepcopy(results)
    for fmt in FORMATS:
        for column in ("results", "groups"):
            for sort in (False, True):
                make_table(results, column, sort, fmt=fmt)
    assert pickle.dumps(results) == pickle.dumps(before)


# ------------------------------------------------------------------ consistent numbers


def test_every_float_has_four_decimals_whatever_the_column_holds():
    results = {
        "results": {
            "a": {"acc,none": 0.5, "acc_stderr,none": "N/A"},
            "b": {"acc,none": 1.0, "acc_stderr,none": 0.1},
            "c": {"acc,none": 7, "acc_stderr,none": 2},
            "d": {"acc,none": float("nan"), "acc_stderr,none": float("nan")},
            "e": {"acc,none": "[1, 2]"},
        },
        "versions": {"a": 1.0, "b": 2, "c": "Yaml", "d": 0.5},
    }
    _, rows = md_cells(make_table(results))
    assert [r[6] for r in rows] == ["0.5000", "1.0000", "7", "NaN", "[1, 2]"]
    assert [r[8] for r in rows] == ["N/A", "0.1000", "2", "NaN", ""]
    assert [r[7] for r in rows] == ["±", "±", "±", "±", ""]
    assert [r[1] for r in rows] == ["1.0", "2", "Yaml", "0.5", "N/A"]  # versions as written


def test_numpy_scalars_format_like_python_numbers():
    np = pytest.importorskip("numpy")
    rows = [["x", np.float32(0.25), np.int64(3), np.float64(1 / 3), np.bool_(True)]]
    text = render_table(["a", "b", "c", "d", "e"], rows)
    assert md_cells(text)[1] == [["x", "0.2500", "3", "0.3333", "True"]]
    assert json.loads(render_table(["a", "b", "c", "d", "e"], rows, "json")) == [
        {"a": "x", "b": 0.25, "c": 3, "d": 1 / 3, "e": True}
    ]


def test_markdown_layout_follows_the_anchors_look():
    text = make_table(load("lmeval_run1"))
    lines = text.splitlines()
    assert text.endswith("|\n")
    assert lines[1] == "|----------------------------|------:|----------------|-----:|-----------|---|-----:|---|-----:|"
    assert lines[0].startswith("|           Tasks            |Version|")  # centered, no margin
    assert "|   |" in lines[0]  # empty headers keep the minimum width of 3
    assert lines[2].startswith("|GT Knowledge (group alias)  |    1.0|none  ")  # text left, numbers right
    assert len({display_width(ln) for ln in lines}) == 1


# ------------------------------------------------------------------ CJK


def _cells_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_cjk_names_align_in_terminal_cells():
    results = {
        "results": {
            "数学": {"alias": "数学テスト（日本語）", "acc,none": 0.5, "acc_stderr,none": 0.1},
            "zh": {"alias": "中文", "acc,none": 0.25, "acc_stderr,none": 0.05},
            "en": {"acc,none": 0.75, "acc_stderr,none": 0.01},
        },
        "group_subtasks": {"zh": ["数学"]},
    }
    lines = make_table(results).splitlines()
    assert len({_cells_width(ln) for ln in lines}) == 1
    pipes = [[_cells_width(ln[: i]) for i, ch in enumerate(ln) if ch == "|"] for ln in lines]
    assert all(p == pipes[0] for p in pipes)
    assert " - 数学テスト（日本語）" in lines[3]


# ------------------------------------------------------------------ missing keys, shapes


def test_missing_versions_nshot_and_higher_is_better_give_blanks():
    results = {"results": {"t": {"acc,none": 0.5, "acc_stderr,none": 0.1}}}
    header, rows = md_cells(make_table(results))
    assert header == ["Tasks", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"]
    assert rows == [["t", "none", "", "acc", "", "0.5000", "±", "0.1000"]]
    for fmt in FORMATS:
        make_table(results, fmt=fmt)
        make_table({"results": {}}, fmt=fmt)


def test_partial_metadata_and_lower_is_better():
    results = {
        "results": {"a": {"ppl,none": 12.5, "ppl_stderr,none": "N/A"}, "b": {"acc,none": 0.5}},
        "versions": {"a": 1},
        "n-shot": {"b": 5},
        "higher_is_better": {"a": {"ppl": False}, "b": None},
    }
    _, rows = md_cells(make_table(results))
    assert rows == [
        ["a", "1", "none", "", "ppl", "↓", "12.5000", "±", "N/A"],
        ["b", "N/A", "none", "5", "acc", "", "0.5000", "", ""],
    ]


def test_missing_column_and_bad_format_raise_config_error():
    with pytest.raises(ConfigError):
        make_table(FOUNDING, "groups")
    with pytest.raises(ConfigError):
        make_table(FOUNDING, fmt="xlsx")
    with pytest.raises(ConfigError):
        render_table(["a"], [[1, 2]])
    with pytest.raises(ConfigError):
        render_table(["a"], [[1]], numeric=[True, False])


def test_hierarchy_nonaggregating_group_and_sorting():
    results = {
        "results": {
            "hellaswag": {"alias": "hellaswag", "acc,none": 0.3, "acc_stderr,none": 0.1},
            "tag_group": {"alias": "tag_group", "name": "tag_group"},
            "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.1},
            "mmlu_law": {"alias": "law", "acc,none": 0.125},
            "mmlu_hum": {"alias": "humanities", "acc,none": 0.25},
            "mmlu": {"alias": "mmlu", "acc,none": 0.5, "sample_count": {"acc,none": 3}, "sample_len": 3},
        },
        "group_subtasks": {"mmlu": ["mmlu_hum"], "mmlu_hum": ["mmlu_law"], "tag_group": ["gsm8k"]},
    }
    _, rows = md_cells(make_table(results))
    # lm-eval: a group without metrics has no row, its children are still indented
    assert [r[0] for r in rows] == ["mmlu", "- humanities", "- law", "- gsm8k", "hellaswag"]
    lines = [ln for ln in make_table(results).splitlines()[2:]]
    assert lines[2].startswith("|  - law") and lines[1].startswith("| - humanities")
    _, rows = md_cells(make_table(results, sort_results=True))
    assert [r[0] for r in rows] == ["- gsm8k", "hellaswag", "mmlu", "- humanities", "- law"]


def test_lmms_placeholder_and_preindented_aliases():
    results = {
        "results": {
            "grp": {" ": " ", "alias": "grp"},
            "sub_a": {
                "alias": " - sub_a",
                "exact_match,strict": 1.0,
                "exact_match_stderr,strict": "N/A",
                "exact_match_stderr_clt,strict": "N/A",
                "exact_match_stderr_clustered,strict": "N/A",
            },
        },
        "group_subtasks": {"grp": ["sub_a"]},
        "n-shot": {"sub_a": 5},
    }
    header, rows = md_cells(make_table(results))
    assert header == ["Tasks", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"]  # all-N/A hidden
    assert rows == [["grp", "", "", "", "", "", "", ""], ["- sub_a", "strict", "5", "exact_match", "", "1.0000", "±", "N/A"]]
    # no group_subtasks: the alias's own indentation is kept
    del results["group_subtasks"]
    assert [r[0] for r in md_cells(make_table(results))[1]] == ["grp", "- sub_a"]
    assert make_table(results).splitlines()[3].startswith("| - sub_a")
    data = json.loads(make_table(results, fmt="json"))
    assert [d["task"] for d in data] == ["sub_a"]  # placeholder rows are not data


LMMS_FULL = {
    "results": {
        "mmmu_val": {
            "alias": "mmmu_val",
            "acc,none": 0.5,
            "acc_stderr,none": 0.1,
            "acc_stderr_clt,none": 0.11,
            "acc_stderr_clustered,none": "N/A",
            "acc_expected_accuracy,none": 0.4,
            "acc_consensus_accuracy,none": 0.6,
            "acc_internal_variance,none": 0.02,
            "acc_consistency_rate,none": 0.9,
            "paired_baseline": "qwen",
            "paired_baseline_score": 40.0,
            "paired_ci_lower": -3.2,
            "paired_ci_upper": 5.1,
            "paired_pvalue": 0.03,
        },
        "mme": {"alias": "mme", "score,none": 1500.25, "score_stderr,none": "N/A"},
    },
    "n-shot": {"mmmu_val": 0, "mme": 0},
    "higher_is_better": {"mmmu_val": {"acc": True}, "mme": {"score": True}},
    "throughput": {"avg_speed": 12.5, "total_gen_tokens": 1000, "avg_extra": 3.0, "total_elapsed_time": 80.0},
}


def test_lmms_optional_columns_and_fixed_diff():
    text = make_table(LMMS_FULL)
    header, rows = md_cells(text)
    assert header == [
        "Tasks", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr",
        "Stderr_CLT", "EA", "CA", "IV", "CR", "Baseline", "Diff", "CI", "P_Value",
    ]  # fmt: skip
    # Diff is the paired mean difference (CI midpoint), not 0.5 - 40.0 = -39.5 (formats.md §12 #30)
    assert rows[1] == [
        "mmmu_val", "none", "0", "acc", "↑", "0.5000", "±", "0.1000",
        "0.1100", "0.4000", "0.6000", "0.0200", "0.9000", "qwen", "+0.9%", "[-3.2%, +5.1%]", "0.0300*",
    ]  # fmt: skip
    assert rows[0][8:] == ["N/A"] * 5 + ["N/A"] * 4
    data = json.loads(make_table(LMMS_FULL, fmt="json"))
    assert data[1]["diff"] == pytest.approx(0.95) and data[1]["ci_lower"] == -3.2
    assert data[1]["baseline_score"] == 40.0 and data[1]["p_value"] == 0.03
    assert "stderr_clustered" not in data[1] and data[0]["stderr"] is None


def test_throughput_table_follows():
    text = make_table(LMMS_FULL)
    main, _, rest = text.partition("Throughput Summary")
    assert rest
    _, rows = md_cells(rest)
    assert rows == [
        ["total_gen_tokens", "1000", "tokens"],
        ["total_elapsed_time", "80.0000", "seconds"],
        ["avg_speed", "12.5000", "tokens/s"],
        ["avg_extra", "3.0000", "varies"],
    ]
    assert "Throughput" not in make_table(LMMS_FULL, "results", fmt="csv")
    assert "Throughput" not in make_table({**LMMS_FULL, "groups": LMMS_FULL["results"]}, "groups")


# ------------------------------------------------------------------ other formats


def test_latex_is_booktabs_and_escaped():
    results = {
        "results": {"a_b&c%#$": {"alias": "R&D_{x}~^\\", "acc,none": 0.5, "acc_stderr,none": 0.1}, "sub": {"acc,none": 0.25}},
        "group_subtasks": {"a_b&c%#$": ["sub"]},
        "higher_is_better": {"a_b&c%#$": {"acc": True}},
    }
    tex = make_table(results, fmt="latex")
    lines = tex.splitlines()
    assert lines[0] == r"\begin{table}[ht]" and lines[-1] == r"\end{table}"
    assert r"\begin{tabular}{lllllrlr}" in lines  # Filter..Metric text, Value/Stderr numeric
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert lines.count(rule) == 1
    row = next(ln for ln in lines if ln.startswith("R"))
    assert row == (
        r"R\&D\_\{x\}\textasciitilde{}\textasciicircum{}\textbackslash{} & none &  & acc & $\uparrow$ & 0.5000 & $\pm$ & 0.1000 \\"
    )
    assert any(ln.startswith("~- sub & none") for ln in lines)  # indentation kept
    body = "\n".join(lines[lines.index(r"\midrule") + 1 : lines.index(r"\bottomrule")])
    assert body.count(r" \\") == 2
    assert not re.search(r"(?<!\\)[&%#_](?![^$]*\$)", body.replace(" & ", " "))


def test_csv_is_data_one_row_per_task_filter_metric():
    results = load("lmeval_run1")
    text = make_table(results, fmt="csv")
    records = list(csv.DictReader(io.StringIO(text)))
    assert list(records[0]) == ["task", "alias", "version", "filter", "n_shot", "metric", "higher_is_better", "value", "stderr"]
    expected = {
        (task, mf.partition(",")[2], mf.partition(",")[0])
        for task, entry in results["results"].items()
        for mf in entry
        if "," in mf and "_stderr" not in mf
    }
    assert {(r["task"], r["filter"], r["metric"]) for r in records} == expected
    assert len(records) == len(expected)
    for r in records:
        raw = results["results"][r["task"]]
        assert float(r["value"]) == raw[f"{r['metric']},{r['filter']}"]  # full precision
        assert float(r["stderr"]) == raw[f"{r['metric']}_stderr,{r['filter']}"]
        assert r["higher_is_better"] == "True" and r["n_shot"] == "0"
    assert "±" not in text and "↑" not in text and " - " not in text
    assert records[1]["task"] == records[0]["task"] == "gt_group"  # name repeated, not blanked
    na = list(csv.DictReader(io.StringIO(make_table({"results": {"t": {"a,none": 1, "a_stderr,none": "N/A"}}}, fmt="csv"))))
    assert na == [{"task": "t", "alias": "t", "filter": "none", "n_shot": "", "metric": "a", "higher_is_better": "", "value": "1", "stderr": ""}]


def test_json_is_strict_records():
    results = {"results": {"t": {"a,none": float("nan"), "a_stderr,none": "N/A", "b,none": 0.1}}, "versions": {"t": 2.0}}
    text = make_table(results, fmt="json")
    assert "NaN" not in text
    assert json.loads(text) == [
        {"task": "t", "alias": "t", "version": "2.0", "filter": "none", "n_shot": None, "metric": "a",
         "higher_is_better": None, "value": None, "stderr": None},
        {"task": "t", "alias": "t", "version": "2.0", "filter": "none", "n_shot": None, "metric": "b",
         "higher_is_better": None, "value": 0.1, "stderr": None},
    ]  # fmt: skip
    assert json.loads(render_table(["", ""], [[1, 2]], "json")) == [{"": 1, "_2": 2}]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self.rows[-1].append("")
            self._in = True

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.rows[-1][-1] += data


def test_html_is_a_plain_table_with_the_markdown_cells():
    results = {**FOUNDING, "results": {**FOUNDING["results"], "<b>x</b>": {"acc,none": 0.5}}}
    html_text = make_table(results, fmt="html")
    assert html_text.startswith("<table>") and html_text.rstrip().endswith("</table>")
    assert "<b>" not in html_text and "&lt;b&gt;x&lt;/b&gt;" in html_text
    parser = _Cells()
    parser.feed(html_text)
    md_header, md_rows = md_cells(make_table(results))
    assert parser.rows == [md_header, *md_rows]
    assert set(parser.tags) <= {"table", "thead", "tbody", "tr", "th", "td"}


def test_every_format_renders_the_throughput_section_or_leaves_it_out():
    assert make_table(LMMS_FULL, fmt="latex").count(r"\begin{tabular}") == 2
    assert r"\caption{Throughput Summary}" in make_table(LMMS_FULL, fmt="latex")
    assert make_table(LMMS_FULL, fmt="html").count("<table>") == 2
    assert isinstance(json.loads(make_table(LMMS_FULL, fmt="json")), list)


# ------------------------------------------------------------------ property


_names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**6), 10**6), st.just("N/A"), st.none(), _names
)
_entry = st.dictionaries(
    st.one_of(st.sampled_from(["alias", "name", "sample_len", " "]), st.builds(lambda m, f: f"{m},{f}", _names, _names)),
    _values,
    max_size=6,
)
_results = st.fixed_dictionaries(
    {"results": st.dictionaries(_names, _entry, max_size=5)},
    optional={
        "versions": st.dictionaries(_names, st.one_of(st.floats(), _names, st.none()), max_size=3),
        "n-shot": st.dictionaries(_names, st.integers(0, 25), max_size=3),
        "higher_is_better": st.dictionaries(_names, st.dictionaries(_names, st.sampled_from([True, False, None]))),
        "group_subtasks": st.dictionaries(_names, st.lists(_names, max_size=3), max_size=3),
        "throughput": st.dictionaries(_names, _values, max_size=3),
    },
)


@settings(max_examples=150, deadline=None)
@given(_results)
def test_any_results_dict_renders_in_every_format_without_mutation(results):
    before = copy.deepcopy(results)
    for fmt in FORMATS:
        text = make_table(results, fmt=fmt)
        assert text.endswith("\n")
        if fmt == "json":
            json.loads(text)
        if fmt == "markdown":
            table = text.split("\n\nThroughput Summary")[0]
            widths = {display_width(ln) for ln in table.splitlines()}
            assert len(widths) == 1
    assert repr(results) == repr(before)


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_csv_floats_round_trip(x):
    text = render_table(["v"], [[x]], "csv")
    assert float(text.splitlines()[1]) == x
    assert md_cells(render_table(["v"], [[x]]))[1] == [[f"{x:.4f}"]]


# ------------------------------------------------------------------ CLI


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["table", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_results_file_prints_results_then_groups(capsys):
    path = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv" / "results_2026-11-26T14-50-01.009042.json"
    code, out, _ = run_cli(capsys, str(path))
    assert code == 0
    results = json.loads(path.read_text())
    assert out == make_table(results) + "\n" + make_table(results, "groups")
    code, out, _ = run_cli(capsys, str(path), "--groups", "--sort", "--fmt", "latex")
    assert out == make_table(results, "groups", True, fmt="latex")
    code, out, _ = run_cli(capsys, str(path), "--fmt", "csv")
    assert out == make_table(results, fmt="csv")  # one document, no groups appended


def test_cli_folder_uses_newest_results_file(tmp_path, capsys):
    src = DATA / "lmms_run1" / "lmms_output" / "20261126_225343_results.json"
    model = tmp_path / "org__model"
    model.mkdir()
    old = json.loads(src.read_text())
    new = copy.deepcopy(old)
    new["results"]["gt_gen_math"]["exact_match,strict-match"] = 0.875
    (model / "20261126_225343_results.json").write_text(json.dumps(old))
    (model / "20261127_080000_results.json").write_text(json.dumps(new))
    (model / "20261128_000000_results.json.partial").write_text("{")  # in progress: ignored
    (model / "20261126_225343_samples_gt_gen_math.jsonl").write_text("")
    for folder in (model, tmp_path):  # the run folder, or the output_path above it
        code, out, _ = run_cli(capsys, str(folder))
        assert code == 0 and "0.8750" in out
        assert out.startswith(make_table(new))


def test_cli_reads_nan_and_infinity_tokens(tmp_path, capsys):
    path = tmp_path / "results_2026-01-01T00-00-00.json"
    path.write_text('{"results": {"t": {"acc,none": NaN, "acc_stderr,none": Infinity}}, "versions": {"t": 1}}')
    code, out, _ = run_cli(capsys, str(path))
    assert code == 0
    assert md_cells(out)[1] == [["t", "1", "none", "", "acc", "", "NaN", "±", "inf"]]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing.json", "no such file"),
        (lambda p: p, "no results file"),
        (lambda p: (p / "x.json").write_text("{not json") and p / "x.json", "not valid JSON"),
        (lambda p: (p / "x.json").write_text("[1, 2]") and p / "x.json", "no 'results'"),
        (lambda p: (p / "x.json").write_text('{"results": {}}') and p / "x.json", "no groups"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, setup, message):
    path = setup(tmp_path)
    code, out, err = run_cli(capsys, str(path), *(["--groups"] if message == "no groups" else []))
    assert code == 1 and out == ""
    assert err.startswith("evallog: error: ") and message in err and err.count("\n") == 1
    assert os.fspath(path) in err


def test_render_table_guesses_numeric_columns():
    text = render_table(["name", "score", "note"], [["a", 0.5, "x"], ["b", "N/A", None], ["c", math.nan, "y"]])
    assert text.splitlines()[1] == "|----|-----:|----|"
    assert text.splitlines()[3] == "|b   |   N/A|    |"
    assert render_table(["t"], [["x"]], title="Title").startswith("Title\n\n|")


def test_baseline_cells_with_nan_statistics():
    results = {
        "results": {
            "t": {
                "acc,none": 0.5,
                "paired_baseline": "base",
                "paired_baseline_score": 40.0,
                "paired_ci_lower": float("nan"),
                "paired_ci_upper": float("nan"),
                "paired_pvalue": float("nan"),
            }
        }
    }
    header, rows = md_cells(make_table(results))
    assert header[-4:] == ["Baseline", "Diff", "CI", "P_Value"]
    assert rows[0][-4:] == ["base", "NaN", "[NaN, NaN]", "NaN"]
    assert json.loads(make_table(results, fmt="json"))[0]["diff"] is None

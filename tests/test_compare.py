"""compare(): paired statistics on real fixture runs and synthetic ones, flags, flips, bounded memory."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evallog.cli import main as cli_main
from evallog.compare import Comparison, compare
from evallog.errors import ConfigError, CorruptLineError
from evallog.readers import load_run
from evallog.stats import mcnemar_exact, unpaired_z_test

DATA = Path(__file__).parent / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMEVAL_ID = "2026-11-26T14-50-01.009042"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"
LMMS_ID = "20261126_225343"
B_ID = "2026-11-27T09-00-00.000000"


# ------------------------------------------------------------------ building runs


def copy_run(src: Path, dst: Path, old_id: str, new_id: str) -> Path:
    dst.mkdir(parents=True)
    for p in src.iterdir():
        (dst / p.name.replace(old_id, new_id)).write_bytes(p.read_bytes())
    return dst


def results_path(folder: Path) -> Path:
    found = [p for p in folder.iterdir() if p.name.endswith(".json")]
    assert len(found) == 1
    return found[0]


def samples_path(folder: Path, task: str) -> Path:
    found = [p for p in folder.iterdir() if p.suffix == ".jsonl" and task in p.name]
    assert len(found) == 1
    return found[0]


def edit_results(folder: Path, fn) -> None:
    p = results_path(folder)
    data = json.loads(p.read_text())
    fn(data)
    p.write_text(json.dumps(data, indent=2))


def rescore(folder: Path, task: str, change) -> None:
    """Rewrite the samples of ``task`` with ``change(record)`` and recompute its results the
    way lm-eval does (mean, stderr = sample std / sqrt(n))."""
    sp = samples_path(folder, task)
    recs = [json.loads(line) for line in sp.read_text().splitlines()]
    for r in recs:
        change(r)
    sp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))

    def fix(data):
        entry = data["results"][task]
        for key in list(entry):
            metric, _, filt = key.partition(",")
            if not filt or metric.endswith("_stderr") or not isinstance(entry[key], (int, float)):
                continue
            vals = [float(r[metric]) for r in recs if r.get("filter", filt) == filt and metric in r]
            mean = sum(vals) / len(vals)
            entry[key] = mean
            var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)
            entry[f"{metric}_stderr,{filt}"] = math.sqrt(var / len(vals))

    edit_results(folder, fix)


@pytest.fixture
def two_runs(tmp_path):
    """The real lm-eval fixture run (A) and a copy (B) where some samples flipped."""
    a = copy_run(LMEVAL_DIR, tmp_path / "out" / "model-a", LMEVAL_ID, LMEVAL_ID)
    b = copy_run(LMEVAL_DIR, tmp_path / "out" / "model-b", LMEVAL_ID, B_ID)
    edit_results(a, lambda d: d.update(model_name="org/model-a"))
    edit_results(b, lambda d: d.update(model_name="org/model-b"))
    before = {r["doc_id"]: r["acc"] for r in load_run(a).samples("gt_mc_arith")}
    right = sorted(d for d, v in before.items() if v == 1.0)
    wrong = sorted(d for d, v in before.items() if v == 0.0)
    r2w, w2r = right[:1], wrong[:4]  # B loses one, wins four

    def flip(rec):
        if rec["doc_id"] in r2w or rec["doc_id"] in w2r:
            rec["acc"] = 1.0 - rec["acc"]

    rescore(b, "gt_mc_arith", flip)
    # a continuous metric in gt_gen_math: give both runs a per-sample score
    rng = random.Random(0)
    scores = {i: rng.random() for i in range(10)}
    rescore(a, "gt_gen_math", lambda r: r.update(exact_match=scores[r["doc_id"]]))
    rescore(b, "gt_gen_math", lambda r: r.update(exact_match=min(1.0, scores[r["doc_id"]] + 0.2)))
    return a, b, r2w, w2r


# ------------------------------------------------------------------ real runs


def test_paired_comparison_of_real_runs(two_runs):
    a, b, r2w, w2r = two_runs
    cmp = compare(a, b, n_resamples=2000, seed=1)
    assert isinstance(cmp, Comparison)
    assert cmp.run_a.model == "model-a" and cmp.run_b.run_id == B_ID
    assert cmp.tasks == ["gt_mc_arith", "gt_gen_math", "gt_sub_science", "gt_sub_history", "gt_group"]
    assert cmp.comparable and cmp.only_in_a == [] and cmp.only_in_b == []

    row = cmp.row("gt_mc_arith", "acc")
    assert row.paired and row.binary and row.method == "mcnemar-exact"
    assert row.n_matched == 10 and row.n_only_a == 0 and row.n_only_b == 0
    assert (row.right_to_wrong, row.wrong_to_right) == (1, 4)
    assert row.right_to_wrong_ids == r2w and row.wrong_to_right_ids == w2r
    assert row.value_a == 0.5 and row.value_b == pytest.approx(0.8)
    assert row.diff == pytest.approx(0.3) and row.estimate == pytest.approx(0.3)
    assert row.p_value == pytest.approx(mcnemar_exact(1, 4))  # 0.375
    assert row.ci_low < 0.3 < row.ci_high
    assert row.higher_is_better is True

    untouched = cmp.row("gt_mc_arith", "acc_norm")
    assert untouched.diff == 0 and untouched.p_value == 1.0 and untouched.right_to_wrong == 0

    flips = cmp.flips(task="gt_mc_arith")
    assert [(f.doc_id, f.direction) for f in flips] == [(d, "right_to_wrong") for d in r2w] + [
        (d, "wrong_to_right") for d in w2r
    ]
    assert cmp.flips(direction="right_to_wrong")[0].metric == "acc"

    # continuous per-sample values: paired bootstrap, one row per filter
    for filt in ("strict-match", "flexible-extract"):
        cont = cmp.row("gt_gen_math", "exact_match", filt)
        assert cont.paired and not cont.binary and cont.method == "paired-bootstrap"
        assert cont.n_matched == 10
        assert cont.ci_low <= cont.estimate <= cont.ci_high

    # groups have no samples: unpaired, labelled so
    grp = cmp.row("gt_group", "acc")
    assert not grp.paired and grp.method == "unpaired-z"


def test_identical_real_runs(tmp_path):
    # the fixture's two real lm-eval runs of the same model (library call and CLI cross-check)
    cmp = compare(LMEVAL_DIR, DATA / "lmeval_run1" / "cli_crosscheck" / "out" / "bu6tyawv", n_resamples=500)
    paired = [r for r in cmp.rows if r.paired]
    assert len(paired) == 8
    assert all(r.diff == 0 and r.p_value == 1.0 and not r.right_to_wrong and not r.wrong_to_right for r in paired)
    assert cmp.comparable


def test_lmms_runs_pair_by_inferred_filter(tmp_path):
    a = LMMS_DIR
    b = copy_run(LMMS_DIR, tmp_path / "lmms_b", LMMS_ID, "20261127_090000")
    # B gets docs 0-2 right, on the second filter only (lines 11-20 of the file)
    sp = samples_path(b, "gt_gen_math")
    lines = [json.loads(x) for x in sp.read_text().splitlines()]
    for i, rec in enumerate(lines):
        if i >= 10 and rec["doc_id"] < 3:
            rec["exact_match"] = 1.0
    sp.write_text("".join(json.dumps(r) + "\n" for r in lines))
    edit_results(b, lambda d: d["results"]["gt_gen_math"].update({"exact_match,flexible-extract": 0.3}))
    cmp = compare(a, b, tasks=["gt_gen_math"], n_resamples=500)
    strict = cmp.row("gt_gen_math", "exact_match", "strict-match")
    flex = cmp.row("gt_gen_math", "exact_match", "flexible-extract")
    assert strict.wrong_to_right == 0 and strict.n_matched == 10
    assert flex.wrong_to_right_ids == [0, 1, 2] and flex.p_value == pytest.approx(mcnemar_exact(0, 3))
    assert flex.diff == pytest.approx(0.3)
    # the task hashes of the two copies are equal: comparable
    assert cmp.comparable


def test_lmeval_against_lmms_flavor(tmp_path):
    # lm-eval and lmms-eval files of the same evaluation pair up across flavors
    cmp = compare(LMEVAL_DIR, DATA / "lmms_from_run1" / "lmms_output", n_resamples=200)
    row = cmp.row("gt_mc_arith", "acc")
    assert row.paired and row.n_matched == 10 and row.diff == 0
    assert cmp.comparable  # task hashes are not compared across flavors


# ------------------------------------------------------------------ without samples


def test_unpaired_when_one_run_has_no_samples(two_runs):
    a, b, *_ = two_runs
    for p in b.glob("*.jsonl"):
        p.unlink()
    cmp = compare(a, b)
    row = cmp.row("gt_mc_arith", "acc")
    assert not row.paired and row.method == "unpaired-z" and row.n_matched == 0
    ra, rb = load_run(a), load_run(b)
    expected = unpaired_z_test(0.5, ra.stderr("gt_mc_arith", "acc"), 0.8, rb.stderr("gt_mc_arith", "acc"))
    assert row.p_value == pytest.approx(expected.p_value)
    assert row.ci_low == pytest.approx(expected.ci_low)
    assert "unpaired" in cmp.render()


def write_binary_run(folder: Path, run_id: str, outcomes: list[int], *, samples: bool = True) -> Path:
    """A one-task lm-eval run whose per-doc acc values are ``outcomes``."""
    folder.mkdir(parents=True)
    n = len(outcomes)
    mean = sum(outcomes) / n
    stderr = math.sqrt(sum((x - mean) ** 2 for x in outcomes) / (n - 1) / n)
    results = {
        "results": {"t": {"name": "t", "alias": "t", "sample_len": n, "acc,none": mean, "acc_stderr,none": stderr}},
        "group_subtasks": {},
        "versions": {"t": 1.0},
        "n-shot": {"t": 0},
        "higher_is_better": {"t": {"acc": True}},
        "n-samples": {"t": {"original": n, "effective": n}},
        "task_hashes": {"t": "h"},
        "model_name": folder.name,
    }
    (folder / f"results_{run_id}.json").write_text(json.dumps(results))
    if samples:
        with open(folder / f"samples_t_{run_id}.jsonl", "w") as fh:
            for i, x in enumerate(outcomes):
                fh.write(json.dumps({"doc_id": i, "filter": "none", "metrics": ["acc"], "doc_hash": f"d{i}",
                                     "acc": float(x)}) + "\n")
    return folder


def test_paired_vs_unpaired_p_values(tmp_path):
    """168 docs, A right on 106, B on 121, discordant 7 / 22: p = 0.080 unpaired, 0.008 paired."""
    a_out = [1] * 99 + [1] * 7 + [0] * 22 + [0] * 40
    b_out = [1] * 99 + [0] * 7 + [1] * 22 + [0] * 40
    a = write_binary_run(tmp_path / "paired" / "a", LMEVAL_ID, a_out)
    b = write_binary_run(tmp_path / "paired" / "b", B_ID, b_out)
    paired = compare(a, b).row("t", "acc")
    assert paired.method == "mcnemar-exact" and round(paired.p_value, 3) == 0.008
    a2 = write_binary_run(tmp_path / "unpaired" / "a", LMEVAL_ID, a_out, samples=False)
    b2 = write_binary_run(tmp_path / "unpaired" / "b", B_ID, b_out, samples=False)
    unpaired = compare(a2, b2).row("t", "acc")
    assert unpaired.method == "unpaired-z" and round(unpaired.p_value, 3) == 0.080
    assert paired.diff == pytest.approx(unpaired.diff) == pytest.approx(15 / 168)


# ------------------------------------------------------------------ flags


def test_incomparable_tasks_are_flagged(two_runs):
    a, b, *_ = two_runs

    def change(d):
        d["n-shot"]["gt_mc_arith"] = 5
        d["versions"]["gt_sub_science"] = 2.0
        d["task_hashes"]["gt_sub_history"] = "0" * 64

    edit_results(b, change)
    cmp = compare(a, b, n_resamples=200)
    assert not cmp.comparable
    checks = cmp.checks
    assert not checks["gt_mc_arith"].comparable and checks["gt_mc_arith"].issues == ["n-shot 0 vs 5"]
    assert checks["gt_sub_science"].issues == ["task version 1.0 vs 2.0"]
    assert "task hash" in checks["gt_sub_history"].issues[0]
    assert checks["gt_gen_math"].comparable
    row = cmp.row("gt_mc_arith", "acc")
    assert not row.comparable and row.issues == ["n-shot 0 vs 5"]
    assert row.p_value is not None  # still computed, but flagged
    text = cmp.render()
    assert "! gt_mc_arith: not comparable: n-shot 0 vs 5" in text
    flags = [line.split("|")[-2].strip() for line in text.splitlines() if line.startswith("|gt_mc_arith")]
    assert flags == ["not comparable", "not comparable"]


def test_unmatched_samples_and_sample_counts(two_runs):
    a, b, *_ = two_runs
    sp = samples_path(b, "gt_mc_arith")
    lines = sp.read_text().splitlines()
    extra = json.loads(lines[0])
    extra["doc_id"] = 99
    sp.write_text("\n".join(lines[2:] + [json.dumps(extra)]) + "\n")  # drop docs 0, 1; add 99
    cmp = compare(a, b, tasks=["gt_mc_arith"], n_resamples=200)
    row = cmp.row("gt_mc_arith", "acc")
    assert (row.n_matched, row.n_only_a, row.n_only_b) == (8, 2, 1)
    check = cmp.checks["gt_mc_arith"]
    assert check.n_samples_a == 10 and check.n_samples_b == 9
    assert not check.comparable and "sample lines 10 vs 9" in check.issues
    assert "8 samples matched, 2 only in A, 1 only in B" in cmp.render()


def test_different_documents_are_flagged(two_runs):
    a, b, *_ = two_runs
    rescore(b, "gt_sub_history", lambda r: r.update(doc_hash="x" + r["doc_hash"][1:]) if r["doc_id"] == 0 else None)
    cmp = compare(a, b, tasks=["gt_sub_history"], n_resamples=200)
    assert cmp.checks["gt_sub_history"].issues == ["1 matched samples have a different doc_hash"]


# ------------------------------------------------------------------ metrics that are not numbers


def test_dict_valued_metric_is_not_paired(tmp_path):
    def make(folder, run_id, score):
        folder.mkdir(parents=True)
        res = {
            "results": {"mme": {"alias": "mme", "mme_score,none": score, "mme_score_stderr,none": "N/A"}},
            "n-shot": {"mme": 0},
        }
        (folder / f"{run_id}_results.json").write_text(json.dumps(res))
        with open(folder / f"{run_id}_samples_mme.jsonl", "w") as fh:
            for i in range(5):
                fh.write(json.dumps({"doc_id": i, "target": "Yes", "mme_score": {"question_id": i, "score": 1},
                                     "input": "q"}) + "\n")
        return folder

    a = make(tmp_path / "a", "20260101_000000", 1500.0)
    b = make(tmp_path / "b", "20260102_000000", 1510.0)
    row = compare(a, b).row("mme", "mme_score")
    assert not row.paired and row.note and "not numbers" in row.note
    assert row.diff == pytest.approx(10.0) and row.p_value is None  # no stderr: no test


def test_runs_without_results_use_sample_metrics(tmp_path):
    def make(folder, run_id, vals):
        folder.mkdir(parents=True)
        with open(folder / f"samples_t_{run_id}.jsonl", "w") as fh:
            for i, v in enumerate(vals):
                fh.write(json.dumps({"doc_id": i, "filter": "none", "metrics": ["acc"], "acc": v}) + "\n")
        return folder

    a = make(tmp_path / "a", LMEVAL_ID, [1, 0, 0, 1, 0, 0])
    b = make(tmp_path / "b", B_ID, [1, 1, 1, 1, 0, 0])
    row = compare(a, b, n_resamples=300).row("t", "acc")
    assert row.paired and row.value_a == pytest.approx(2 / 6) and row.value_b == pytest.approx(4 / 6)
    assert row.wrong_to_right_ids == [1, 2]


# ------------------------------------------------------------------ options and errors


def test_task_and_metric_selection(two_runs):
    a, b, *_ = two_runs
    cmp = compare(a, b, tasks=["gt_mc_arith"], metrics=["acc_norm"], n_resamples=100)
    assert [(r.task, r.metric) for r in cmp.rows] == [("gt_mc_arith", "acc_norm")]
    cmp = compare(a, b, metrics=["exact_match,flexible-extract"], n_resamples=100)
    assert [(r.task, r.filter) for r in cmp.rows] == [("gt_gen_math", "flexible-extract")]
    with pytest.raises(ConfigError, match="neither run"):
        compare(a, b, tasks=["nope"])
    with pytest.raises(ConfigError, match="no task"):
        compare(a, b, metrics=["bleu"])
    with pytest.raises(ConfigError):
        compare(a, b, alpha=0)
    with pytest.raises(ConfigError):
        compare(a, b, n_resamples=0)


def test_seed_and_resamples_are_used(two_runs):
    a, b, *_ = two_runs
    r1 = compare(a, b, tasks=["gt_gen_math"], n_resamples=300, seed=1).rows[0].test
    r2 = compare(a, b, tasks=["gt_gen_math"], n_resamples=300, seed=1).rows[0].test
    r3 = compare(a, b, tasks=["gt_gen_math"], n_resamples=300, seed=2).rows[0].test
    assert r1 == r2 and r1 != r3 and r1.n_resamples == 300


def test_only_in_one_run(two_runs):
    a, b, *_ = two_runs
    samples_path(b, "gt_sub_history").unlink()
    edit_results(b, lambda d: d["results"].pop("gt_sub_history"))
    cmp = compare(a, b, n_resamples=100)
    assert cmp.only_in_a == ["gt_sub_history"] and "gt_sub_history" not in cmp.tasks


def test_corrupt_sample_line(two_runs):
    a, b, *_ = two_runs
    sp = samples_path(b, "gt_mc_arith")
    lines = sp.read_text().splitlines(keepends=True)
    lines[4] = '{"doc_id": 4, "acc": \n'
    sp.write_text("".join(lines))
    with pytest.raises(CorruptLineError) as info:
        compare(a, b, tasks=["gt_mc_arith"])
    assert info.value.line == 5 and info.value.path == str(sp)
    row = compare(a, b, tasks=["gt_mc_arith"], skip_corrupt=True, n_resamples=100).row("gt_mc_arith", "acc")
    assert row.n_matched == 9 and row.n_only_a == 1


def test_progress_callback(two_runs):
    a, b, *_ = two_runs
    calls = []
    compare(a, b, tasks=["gt_mc_arith"], n_resamples=50, progress=lambda *args: calls.append(args))
    assert ("gt_mc_arith: run A", 10, 10) in calls and ("gt_mc_arith: run B", 10, 10) in calls


# ------------------------------------------------------------------ output


def test_to_dict_and_renderings(two_runs):
    a, b, *_ = two_runs
    cmp = compare(a, b, n_resamples=200)
    d = cmp.to_dict()
    json.dumps(d, allow_nan=False)  # strict JSON
    rows = {(r["task"], r["filter"], r["metric"]): r for r in d["rows"]}
    acc = rows[("gt_mc_arith", "none", "acc")]
    assert acc["test"]["method"] == "mcnemar-exact" and acc["wrong_to_right"] == 4
    assert d["run_b"]["run_id"] == B_ID and d["tasks"]["gt_mc_arith"]["comparable"]
    md = cmp.render("markdown", max_flips=2)
    assert md.startswith("A: org/model-a@") and "| McNemar" in md.replace("|McNemar", "| McNemar")
    assert "gt_mc_arith [none] acc wrong→right: doc_id" in md and "(+2)" in md
    assert json.loads(cmp.render("json"))["rows"]
    assert cmp.render("csv").splitlines()[0].startswith("Task,Filter,Metric,A,B")
    assert "\\toprule" in cmp.render("latex")
    assert "<table>" in cmp.render("html")


def test_cli_compare(two_runs, capsys):
    a, b, *_ = two_runs
    assert cli_main(["compare", str(a), str(b), "--task", "gt_mc_arith", "--resamples", "300"]) == 0
    out = capsys.readouterr().out
    assert "A: org/model-a@" in out and "McNemar" in out and "wrong→right" in out
    # FOLDER@RUN_ID picks a run in a folder
    assert cli_main(["compare", f"{a}@{LMEVAL_ID}", str(b), "--fmt", "json", "--metric", "acc"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {r["metric"] for r in d["rows"]} == {"acc"}
    assert cli_main(["compare", str(a), str(b), "--task", "nope"]) == 1
    assert "neither run" in capsys.readouterr().err


# ------------------------------------------------------------------ bounded memory at 200k samples


def write_big_run(folder: Path, run_id: str, n: int, seed: int) -> None:
    """A one-task lm-eval run with ``n`` realistic sample lines (doc, arguments, hashes)."""
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    accs = 0.0
    with open(folder / f"samples_big_{run_id}.jsonl", "w") as fh:
        for i in range(n):
            acc = 1.0 if rng.random() < 0.6 + 0.05 * seed else 0.0
            accs += acc
            rec = {
                "doc_id": i,
                "doc": {"question": f"What is {i} + {i % 97}?", "choices": ["a", "b", "c", "d"], "answer": i % 4},
                "target": str(i % 4),
                "arguments": {f"gen_args_{j}": {"arg_0": f"Question: What is {i} + {i % 97}?\nAnswer:",
                                                "arg_1": f" {c}"} for j, c in enumerate("abcd")},
                "resps": [[[str(-rng.random()), "False"]] for _ in range(4)],
                "filtered_resps": [[str(-rng.random()), "False"] for _ in range(4)],
                "filter": "none",
                "metrics": ["acc", "loss"],
                "doc_hash": f"{i:064x}",
                "prompt_hash": f"{i * 7:064x}",
                "target_hash": f"{i % 4:064x}",
                "acc": acc,
                "loss": rng.random() * 3,
            }
            fh.write(json.dumps(rec) + "\n")
    results = {
        "results": {"big": {"name": "big", "alias": "big", "sample_len": n, "acc,none": accs / n,
                            "acc_stderr,none": 0.001, "loss,none": 1.5, "loss_stderr,none": 0.002}},
        "n-shot": {"big": 0}, "versions": {"big": 1.0}, "n-samples": {"big": {"original": n, "effective": n}},
        "higher_is_better": {"big": {"acc": True, "loss": False}},
    }
    (folder / f"results_{run_id}.json").write_text(json.dumps(results))


def test_200k_samples_bounded_memory(tmp_path):
    n = 200_000
    write_big_run(tmp_path / "a", LMEVAL_ID, n, 0)
    write_big_run(tmp_path / "b", B_ID, n, 1)
    script = textwrap.dedent(
        f"""
        import json
        from evallog.compare import compare
        from evallog.readers import load_run

        def hwm():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        a, b = load_run({str(tmp_path / "a")!r}), load_run({str(tmp_path / "b")!r})
        before = hwm()
        cmp = compare(a, b)
        after = hwm()
        acc, loss = cmp.row("big", "acc"), cmp.row("big", "loss")
        print(json.dumps({{"increase": after - before, "matched": acc.n_matched, "acc_method": acc.method,
                          "loss_method": loss.method, "flips": acc.right_to_wrong + acc.wrong_to_right,
                          "p": acc.p_value}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["matched"] == n
    assert out["acc_method"] == "mcnemar-exact"
    assert out["loss_method"].startswith("paired-bootstrap")
    assert out["flips"] > 0 and out["p"] < 1e-6  # B is 5 points better on 200k samples
    assert out["increase"] < 200 * 2**20, out["increase"] / 2**20


def test_repeated_lines_are_flagged(two_runs):
    # an appended re-run with the same run id (both anchors open samples files in append mode)
    a, b, *_ = two_runs
    sp = samples_path(b, "gt_sub_history")
    sp.write_text(sp.read_text() * 2)
    cmp = compare(a, b, tasks=["gt_sub_history"], n_resamples=100)
    issues = cmp.checks["gt_sub_history"].issues
    assert "repeated (doc_id, filter) lines: 0 in A, 6 in B (the first of each is used)" in issues
    assert cmp.row("gt_sub_history", "acc").n_matched == 6

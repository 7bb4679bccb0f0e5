"""evallog verify: fixture runs of both harnesses verify clean; planted changes are caught."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest

from evallog import aggregations as agg
from evallog.cli import main
from evallog.readers import load_run
from evallog.verify import verify

DATA = Path(__file__).parent / "data"
LMEVAL = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS = DATA / "lmms_run1" / "lmms_output"
LMMS_FROM = DATA / "lmms_from_run1" / "lmms_output"
CROSSCHECK = DATA / "lmeval_run1" / "cli_crosscheck" / "out" / "bu6tyawv"


@pytest.mark.parametrize("folder", [LMEVAL, LMMS, LMMS_FROM, CROSSCHECK], ids=lambda p: p.parts[-3])
def test_fixture_runs_verify_clean(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v = verify(folder)
    counts = v.counts()
    assert v.ok and counts["mismatch"] == 0
    assert counts["cannot"] == 0, [c for c in v.checks if c.status == "cannot"]
    run = load_run(folder)
    # every number of every entry is checked: each value and each stderr key
    for task, entry in run.task_results.items():
        numeric = {k for k, val in entry.items() if "," in k and isinstance(val, (int, float, str)) and k != " "}
        checked = {c.key for c in v.checks if c.task == task and c.section == "results"}
        assert numeric <= checked, (task, numeric - checked)
    assert main(["verify", str(folder)]) == 0
    assert "0 mismatch" in capsys.readouterr().out


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _edit_results(folder: Path, edit) -> None:  # type: ignore[no-untyped-def]
    path = next(p for p in folder.iterdir() if "results" in p.name and p.suffix == ".json")
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=2))


def _mismatches(folder: Path) -> list[tuple[str, str, str]]:
    return [(c.task, c.key, c.section) for c in verify(folder).mismatches]


def test_planted_aggregate_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _copy(LMEVAL, tmp_path)
    _edit_results(folder, lambda d: d["results"]["gt_sub_science"].__setitem__("acc,none", 0.25))
    # only the planted value: the group is recomputed from the subtasks' samples
    assert _mismatches(folder) == [("gt_sub_science", "acc,none", "results")]
    assert main(["verify", str(folder), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["counts"]["mismatch"] == 1
    bad = next(c for c in report["checks"] if c["status"] == "mismatch")
    assert bad["reported"] == 0.25 and bad["recomputed"] == 0.125


def test_planted_stderr_is_caught(tmp_path: Path) -> None:
    folder = _copy(LMEVAL, tmp_path)
    _edit_results(folder, lambda d: d["results"]["gt_mc_arith"].__setitem__("acc_norm_stderr,none", 0.17))
    assert _mismatches(folder) == [("gt_mc_arith", "acc_norm_stderr,none", "results")]
    assert main(["verify", str(folder)]) == 1


def test_planted_group_values_are_caught(tmp_path: Path) -> None:
    folder = _copy(LMEVAL, tmp_path)

    def edit(d: dict) -> None:  # type: ignore[type-arg]
        d["results"]["gt_group"]["acc,none"] = 0.25
        d["groups"]["gt_group"]["acc_norm_stderr,none"] = 0.2

    _edit_results(folder, edit)
    assert _mismatches(folder) == [("gt_group", "acc,none", "results"),
                                   ("gt_group", "acc_norm_stderr,none", "groups")]


def test_planted_lmms_values_are_caught(tmp_path: Path) -> None:
    folder = _copy(LMMS, tmp_path)

    def edit(d: dict) -> None:  # type: ignore[type-arg]
        d["results"]["gt_gen_math"]["exact_match_stderr_clt,flexible-extract"] = 0.1
        d["results"]["gt_gen_group"]["exact_match,letter"] = 0.5

    _edit_results(folder, edit)
    assert sorted(_mismatches(folder)) == [("gt_gen_group", "exact_match,letter", "results"),
                                           ("gt_gen_math", "exact_match_stderr_clt,flexible-extract", "results")]
    assert main(["verify", str(folder)]) == 1


def test_planted_sample_is_caught(tmp_path: Path) -> None:
    """Changing one per-sample score (not the results) shows as a value and a stderr mismatch."""
    folder = _copy(LMEVAL, tmp_path)
    path = next(folder.glob("samples_gt_sub_history_*.jsonl"))
    lines = path.read_text().splitlines()
    rec = json.loads(lines[0])
    rec["acc"] = 1.0 - rec["acc"]
    lines[0] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n")
    keys = {(t, k) for t, k, _ in _mismatches(folder)}
    assert ("gt_sub_history", "acc,none") in keys and ("gt_sub_history", "acc_stderr,none") in keys
    assert ("gt_group", "acc,none") in keys  # the group follows the samples, not the reported subtask


def test_cannot_be_recomputed_is_reported_not_failed(tmp_path: Path) -> None:
    folder = _copy(LMEVAL, tmp_path)
    next(folder.glob("samples_gt_gen_math_*.jsonl")).unlink()

    def edit(d: dict) -> None:  # type: ignore[type-arg]
        d["configs"]["gt_mc_arith"]["metric_list"][0]["aggregation"] = "def agg(items):\n    return 1\n"

    _edit_results(folder, edit)
    v = verify(folder)
    assert v.ok
    cannot = {(c.task, c.key): c.how for c in v.checks if c.status == "cannot"}
    assert cannot[("gt_gen_math", "exact_match,strict-match")] == "no samples file for this task"
    assert "custom aggregation" in cannot[("gt_mc_arith", "acc,none")]
    assert "custom aggregation" in cannot[("gt_mc_arith", "acc_stderr,none")]
    assert ("gt_mc_arith", "acc_norm,none") not in cannot


def test_tolerance_flag(tmp_path: Path) -> None:
    folder = _copy(LMEVAL, tmp_path)
    _edit_results(folder, lambda d: d["results"]["gt_sub_science"].__setitem__("acc,none", 0.125 + 1e-7))
    assert main(["verify", str(folder)]) == 1
    assert main(["verify", str(folder), "--tolerance", "1e-6"]) == 0


def test_clustered_stderr_by_hand() -> None:
    # scores 1,0 | 1,1 in clusters a | b: mean .75, SE_clt^2 = .25/4, cross term -.25/16
    assert agg.clustered_stderr([1, 0, 1, 1], ["a", "a", "b", "b"]) == pytest.approx(math.sqrt(0.046875))
    assert agg.clt_stderr([1, 0, 1, 1]) == pytest.approx(0.25)


def test_lmms_clustered_and_bootstrap_replayed(tmp_path: Path) -> None:
    """A run whose per-sample values carry cluster ids and a median aggregation."""
    folder = _copy(LMMS, tmp_path)
    rng = random.Random(3)
    scores = [{"score": rng.randint(0, 1), "video": f"v{i // 3}"} for i in range(12)]
    lengths = [rng.randint(1, 50) for _ in range(12)]
    path = next(folder.glob("*_samples_gt_mcgen_arith.jsonl"))
    recs = [json.loads(line) for line in path.read_text().splitlines()][:1]
    out = []
    for i in range(12):
        rec = dict(recs[0], doc_id=i, exact_match=scores[i], length=lengths[i])
        out.append(json.dumps(rec))
    path.write_text("\n".join(out) + "\n")
    flat = [s["score"] for s in scores]
    med = sorted(lengths)[6]

    def edit(d: dict) -> None:  # type: ignore[type-arg]
        cfg = d["configs"]["gt_mcgen_arith"]
        cfg["cluster_key"] = "video"
        cfg["metric_list"] = [{"metric": "exact_match", "aggregation": "mean"},
                              {"metric": "length", "aggregation": "median"}]
        e = d["results"]["gt_mcgen_arith"]
        e["exact_match_stderr_clt,letter"] = 0.0   # planted: the truth is std/sqrt(n) of the scores
        e["exact_match_stderr_clustered,letter"] = "N/A"  # planted: 4 clusters -> a number
        e["length,letter"] = med
        e["length_stderr,letter"] = 1.0  # planted: bootstrapped in the harness
        e["length_stderr_clt,letter"] = "N/A"
        e["length_stderr_clustered,letter"] = "N/A"

    _edit_results(folder, edit)
    v = verify(folder, tasks=["gt_mcgen_arith"], bootstrap_budget=2_000_000)
    by_key = {c.key: c for c in v.checks}
    assert by_key["exact_match,letter"].status == "cannot"  # dict values: task code aggregates them
    clt = by_key["exact_match_stderr_clt,letter"]
    assert clt.status == "mismatch" and clt.recomputed == pytest.approx(agg.sample_stddev(flat) / math.sqrt(12))
    clustered = by_key["exact_match_stderr_clustered,letter"]
    assert clustered.status == "mismatch"
    assert clustered.recomputed == pytest.approx(agg.clustered_stderr(flat, [s["video"] for s in scores]))
    assert by_key["length,letter"].status == "match"
    boot = by_key["length_stderr,letter"]
    assert boot.status == "mismatch" and "bootstrap" in boot.how and 0 < boot.recomputed < 20
    assert verify(folder, tasks=["gt_mcgen_arith"], bootstrap_budget=10).checks  # over budget: cannot
    over = {c.key: c for c in verify(folder, tasks=["gt_mcgen_arith"], bootstrap_budget=10).checks}
    assert over["length_stderr,letter"].status == "cannot"


def test_bootstrap_of_mean_agrees_with_closed_form() -> None:
    rng = random.Random(0)
    xs = [rng.random() for _ in range(40)]
    boot = agg.bootstrap_stderr(agg.mean, xs, 4000)
    closed = agg.mean_stderr(xs) * math.sqrt(39 / 40)  # the bootstrap has no Bessel correction
    assert boot == pytest.approx(closed, rel=0.05)
    assert agg.bootstrap_stderr(agg.mean, xs, 4000) == boot  # seeded: the same every time


def test_evallog_verify_is_callable_even_after_importing_the_module() -> None:
    import evallog
    import evallog.verify as module

    assert module.Check is not None
    assert evallog.verify(LMEVAL).ok and evallog.verify(LMMS, tolerance=0.0).counts()["mismatch"] == 0


def test_corpus_bleu_and_its_bootstrap_are_recomputed(tmp_path: Path) -> None:
    """A bleu-aggregated metric (lm-eval's registered corpus aggregation, via sacrebleu)."""
    sacrebleu = pytest.importorskip("sacrebleu")
    folder = _copy(LMEVAL, tmp_path)
    path = next(folder.glob("samples_gt_gen_math_*.jsonl"))
    rng = random.Random(11)
    words = ["the", "answer", "is", "seven", "plus", "two", "makes", "nine", "not", "ten"]
    lines, refs, preds = [], [], []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec["filter"] == "strict-match":
            ref, pred = " ".join(rng.choices(words, k=9)), " ".join(rng.choices(words, k=9))
            rec["bleu"] = [ref, pred]
            rec["metrics"] = [*rec["metrics"], "bleu"]
            refs.append(ref)
            preds.append(pred)
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines) + "\n")
    expected = sacrebleu.corpus_bleu(preds, [refs]).score

    def edit(d: dict) -> None:  # type: ignore[type-arg]
        d["configs"]["gt_gen_math"]["metric_list"].append({"metric": "bleu", "aggregation": "bleu"})
        d["results"]["gt_gen_math"]["bleu,strict-match"] = expected
        d["results"]["gt_gen_math"]["bleu_stderr,strict-match"] = 123.0  # planted

    _edit_results(folder, edit)
    by_key = {c.key: c for c in verify(folder, tasks=["gt_gen_math"]).checks}
    assert by_key["bleu,strict-match"].status == "match" and expected > 0
    se = by_key["bleu_stderr,strict-match"]
    assert se.status == "mismatch" and "100 resamples" in se.how and 0 < se.recomputed < expected

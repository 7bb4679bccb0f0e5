"""Regression gate (compare --fail-on-regression), multiple-testing corrections and power analysis."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evallog.cli import main
from evallog.gate import GateRow, decide, gate
from evallog.power import achieved_power, min_detectable_difference, power_analysis, required_n
from evallog.stats import adjust_p_values, mcnemar_exact, multinomial_variate

ALPHA = 0.05


# ------------------------------------------------------------------ corrections


def test_adjusted_p_values_by_hand() -> None:
    ps = [0.01, 0.04, 0.03, 0.005]
    assert adjust_p_values(ps, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert adjust_p_values(ps, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_p_values(ps, "none") == ps
    with pytest.raises(ValueError):
        adjust_p_values(ps, "bonferroni-ish")


# ------------------------------------------------------------------ simulations


def _cells(pa: float, pb: float, rho: float) -> list[float]:
    """P(both right), P(A right, B wrong), P(A wrong, B right), P(both wrong) for correlation rho."""
    p11 = pa * pb + rho * math.sqrt(pa * (1 - pa) * pb * (1 - pb))
    return [p11, pa - p11, pb - p11, 1 - pa - pb + p11]


def _null_family(rng: random.Random, k: int, n: int, rho: float) -> list[GateRow]:
    rows = []
    for t in range(k):
        p = rng.uniform(0.3, 0.9)  # both models have the same accuracy on every task
        _, b, c, _ = multinomial_variate(rng, n, _cells(p, p, rho))
        est = (c - b) / n
        rows.append(GateRow("cand", f"t{t}", "none", "acc", None, None, est, mcnemar_exact(b, c), None,
                            "mcnemar-exact", True, est < 0, False, True))
    return rows


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_holm_family_wise_false_positive_rate_on_null_pairs(rho: float) -> None:
    """2000 families of 10 tasks x 500 items with no true difference: P(any regression) <= alpha."""
    rng = random.Random(20261130)
    reps, k, n = 2000, 10, 500
    fw_any = {"holm": 0, "none": 0}
    fw_regression = 0
    for _ in range(reps):
        rows = _null_family(rng, k, n, rho)
        fw_any["none"] += any(r.p_value is not None and r.p_value <= ALPHA for r in rows)
        decide(rows, alpha=ALPHA, correction="holm")
        fw_any["holm"] += any(r.p_adjusted is not None and r.p_adjusted <= ALPHA for r in rows)
        fw_regression += any(r.regression for r in rows)
    margin = 2 * math.sqrt(ALPHA * (1 - ALPHA) / reps)
    assert fw_any["holm"] / reps <= ALPHA + margin
    assert fw_regression <= fw_any["holm"]
    assert fw_any["none"] / reps > 4 * ALPHA  # uncorrected, the family-wise rate explodes


@pytest.mark.parametrize(("n", "p", "rho"), [(1000, 0.7, 0.0), (400, 0.5, 0.3), (2000, 0.85, 0.5)])
def test_power_matches_closed_form(n: int, p: float, rho: float) -> None:
    """At the minimum detectable difference, a paired z-test rejects with the target power."""
    d = min_detectable_difference(n, p, alpha=ALPHA, power=0.8, correlation=rho)
    assert d == pytest.approx((1.959963985 + 0.841621234) * math.sqrt(2 * p * (1 - p) * (1 - rho) / n))
    rng = random.Random(n)
    reps, rejected = 4000, 0
    z = 1.959963985
    probs = _cells(p + d / 2, p - d / 2, rho)  # accuracies P +- D/2: a difference of D around P
    for _ in range(reps):
        _, b, c, _ = multinomial_variate(rng, n, probs)
        diff = (c - b) / n
        var = (b + c) / n - diff * diff
        rejected += var > 0 and abs(diff) / math.sqrt(var / n) > z
    assert rejected / reps == pytest.approx(0.8, abs=0.03)
    assert achieved_power(n, d, p, alpha=ALPHA, correlation=rho) == pytest.approx(0.8, abs=1e-3)


def test_required_n_inverts_the_minimum_detectable_difference() -> None:
    for effect, p, rho in [(0.05, 0.7, 0.0), (0.02, 0.5, 0.4), (0.1, 0.9, 0.0)]:
        n = required_n(effect, p, correlation=rho)
        assert min_detectable_difference(n, p, correlation=rho) <= effect
        assert min_detectable_difference(n - 1, p, correlation=rho) > effect
        assert power_analysis(p, effect=effect, correlation=rho).n == n


def test_power_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["power", "--n", "1000", "--baseline", "0.7", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["effect"] == pytest.approx(2.801585 * math.sqrt(0.42 / 1000), rel=1e-6)
    assert main(["power", "--effect", "0.05", "--baseline", "0.7", "--correlation", "0.5"]) == 0
    text = capsys.readouterr().out
    assert f": {math.ceil(2.801585**2 * 0.21 / 0.0025)}\n" in text
    assert main(["power", "--n", "100", "--baseline", "1.5"]) == 1  # ConfigError -> exit 1


# ------------------------------------------------------------------ end to end


def _write_run(folder: Path, run_id: str, outcomes: dict[str, list[int]]) -> Path:
    folder.mkdir(parents=True)
    results: dict = {"results": {}, "group_subtasks": {}, "versions": {}, "n-shot": {}, "higher_is_better": {},
                     "n-samples": {}, "task_hashes": {}, "model_name": folder.name}
    for task, xs in outcomes.items():
        n = len(xs)
        mean = sum(xs) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n)
        results["results"][task] = {"name": task, "alias": task, "sample_len": n, "acc,none": mean,
                                    "acc_stderr,none": se}
        results["versions"][task] = 1.0
        results["n-shot"][task] = 0
        results["higher_is_better"][task] = {"acc": True}
        results["n-samples"][task] = {"original": n, "effective": n}
        results["task_hashes"][task] = "h"
        with open(folder / f"samples_{task}_{run_id}.jsonl", "w") as fh:
            for i, x in enumerate(xs):
                fh.write(json.dumps({"doc_id": i, "filter": "none", "metrics": ["acc"], "doc_hash": f"{task}{i}",
                                     "acc": float(x)}) + "\n")
    (folder / f"results_{run_id}.json").write_text(json.dumps(results))
    return folder


def _flip(xs: list[int], rng: random.Random, ones_to_zero: int) -> list[int]:
    out = list(xs)
    ones = [i for i, x in enumerate(out) if x == 1]
    for i in rng.sample(ones, ones_to_zero):
        out[i] = 0
    return out


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    rng = random.Random(5)
    base = {t: [int(rng.random() < 0.7) for _ in range(400)] for t in ("t1", "t2", "t3")}
    worse = dict(base, t1=_flip(base["t1"], rng, 60))  # t1: 0.7 -> ~0.55
    same = {t: _flip(xs, rng, 2) for t, xs in base.items()}  # 2 flips per task: noise
    better = {t: [1 - x if x == 0 and rng.random() < 0.5 else x for x in xs] for t, xs in base.items()}
    ids = ["2026-11-30T10-00-00.000001", "2026-11-30T11-00-00.000001", "2026-11-30T12-00-00.000001",
           "2026-11-30T13-00-00.000001"]
    return (_write_run(tmp_path / "base", ids[0], base), _write_run(tmp_path / "worse", ids[1], worse),
            _write_run(tmp_path / "same", ids[2], same), _write_run(tmp_path / "better", ids[3], better))


def test_gate_flags_only_the_real_regression(runs: tuple[Path, Path, Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    base, worse, same, better = runs
    report_path = tmp_path / "gate.json"
    rc = main(["compare", str(base), str(worse), str(same), str(better), "--fail-on-regression",
               "--report", str(report_path)])
    assert rc == 1
    assert "FAIL: 1 significant regression" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["n_tests"] == 9 and report["correction"] == "holm"
    [reg] = report["regressions"]
    assert (reg["task"], reg["metric"], reg["candidate"]) == ("t1", "acc", "worse@2026-11-30T11-00-00.000001")
    assert reg["p_adjusted"] <= ALPHA and reg["estimate"] == pytest.approx(-60 / 400)
    improved = [r for r in report["rows"] if r["candidate"].startswith("better")]
    assert all(not r["regression"] and r["p_adjusted"] <= ALPHA for r in improved)  # better is not a failure


def test_gate_passes_without_regression_and_respects_min_effect(runs: tuple[Path, Path, Path, Path],
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    base, worse, same, _ = runs
    assert main(["compare", str(base), str(same), "--fail-on-regression", "--fmt", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["failed"] is False
    assert main(["compare", str(base), str(worse), "--fail-on-regression", "--min-effect", "0.2"]) == 0
    assert main(["compare", str(base), str(worse), "--fail-on-regression", "--correction", "bh"]) == 1
    # without the gate flags, compare behaves as before (a report, exit 0)
    capsys.readouterr()
    assert main(["compare", str(base), str(worse)]) == 0
    assert "right→wrong" in capsys.readouterr().out


def test_gate_library(runs: tuple[Path, Path, Path, Path]) -> None:
    base, worse, same, _ = runs
    report = gate(base, [worse, same], correction="none")
    assert report.failed and [r.task for r in report.regressions] == ["t1"]
    assert report.n_tests == 6 and "REGRESSION" in report.render()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30))
def test_adjusted_p_values_properties(ps: list[float]) -> None:
    holm, bh = adjust_p_values(ps, "holm"), adjust_p_values(ps, "bh")
    for p, h, b in zip(ps, holm, bh, strict=True):
        assert p <= b + 1e-12 and b <= h + 1e-12 and h <= 1.0  # raw <= BH <= Holm <= 1
        assert h <= min(1.0, len(ps) * p) + 1e-12  # Holm never exceeds Bonferroni
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    for seq in (holm, bh):  # adjusted p-values keep the order of the raw ones
        adj = [seq[i] for i in order]
        assert all(x <= y + 1e-12 for x, y in itertools.pairwise(adj))

"""make_table speed: evallog vs lm-eval 0.4.13, side by side, and `evallog table` wall time.

Run it with the interpreter of a venv that has lm-eval 0.4.13 (see bench/README.md):

    bench/.venv-table/bin/python bench/bench_table.py

evallog is imported from ../src (no install needed in that venv); the CLI is run
with the `evallog` executable of the project venv (``--evallog-bin``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evallog import make_table as evallog_make_table  # noqa: E402

CATEGORIES = ("stem", "humanities", "social_sciences", "other")


def mmlu_like(rows: int = 300) -> dict:
    """An lm-eval-shaped results dict: mmlu -> 4 categories -> subjects, acc + acc_norm each.

    Every key gives two rows (acc, acc_norm): 1 + 4 groups and rows/2 - 5 subjects.
    """
    n_subjects = rows // 2 - 1 - len(CATEGORIES)
    results, versions, n_shot, hib, group_subtasks = {}, {}, {}, {}, {}
    group_subtasks["mmlu"] = [f"mmlu_{c}" for c in CATEGORIES]

    def entry(name: str, alias: str, i: int, group: bool = False) -> dict:
        d = {"name": name, "alias": alias, "sample_len": 100 + i}
        acc = (i * 37 % 100) / 100 + 0.00123
        d["acc,none"] = acc
        d["acc_stderr,none"] = "N/A" if i % 17 == 0 else 0.01 + (i % 7) / 1000
        d["acc_norm,none"] = acc / 2
        d["acc_norm_stderr,none"] = 0.02 + (i % 5) / 1000
        if group:
            d["sample_count"] = {"acc,none": 100 + i, "acc_norm,none": 100 + i}
        return d

    for c in CATEGORIES:
        group_subtasks[f"mmlu_{c}"] = []
    for i in range(n_subjects):
        c = CATEGORIES[i % len(CATEGORIES)]
        name = f"mmlu_subject_{i:03d}"
        group_subtasks[f"mmlu_{c}"].append(name)
        results[name] = entry(name, f"subject_{i:03d}", i)
    for j, name in enumerate(["mmlu", *(f"mmlu_{c}" for c in CATEGORIES)]):
        results[name] = entry(name, name.removeprefix("mmlu_"), j, group=True)
    for name in results:
        versions[name] = 1.0 if name.startswith("mmlu_subject") else "1.0"
        n_shot[name] = 5
        hib[name] = {"acc": True, "acc_norm": True}
    return {
        "results": results,
        "groups": {k: v for k, v in results.items() if not k.startswith("mmlu_subject")},
        "group_subtasks": group_subtasks,
        "versions": versions,
        "n-shot": n_shot,
        "higher_is_better": hib,
    }


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--repeat-anchor", type=int, default=7, help="lm-eval make_table calls timed")
    ap.add_argument("--repeat-evallog", type=int, default=200, help="evallog make_table calls timed")
    ap.add_argument("--cli-runs", type=int, default=21, help="`evallog table` processes timed")
    ap.add_argument("--evallog-bin", default=str(ROOT / ".venv" / "bin" / "evallog"))
    args = ap.parse_args()

    data = mmlu_like(args.rows)
    n_rows = sum(1 for ln in evallog_make_table(data).splitlines()[2:] if ln.startswith("|"))
    print(f"dict: {len(data['results'])} keys, {n_rows} table rows")

    from importlib.metadata import version

    from lm_eval.utils import make_table as lm_make_table

    lm_make_table(data)  # warm up (imports pytablewriter on first call)
    evallog_make_table(data)
    anchor = timed(lambda: lm_make_table(data), args.repeat_anchor)
    ours = timed(lambda: evallog_make_table(data), args.repeat_evallog)
    a_med, o_med = statistics.median(anchor), statistics.median(ours)
    print(f"lm-eval {version('lm_eval')} make_table: median {a_med * 1e3:8.2f} ms  (min {min(anchor) * 1e3:.2f}, n={len(anchor)})")
    print(f"evallog make_table:         median {o_med * 1e3:8.2f} ms  (min {min(ours) * 1e3:.2f}, n={len(ours)})")
    print(f"speed-up (median/median):   {a_med / o_med:8.1f}x   (target >= 50x)")
    for fmt in ("latex", "csv", "html", "json"):
        t = statistics.median(timed(lambda fmt=fmt: evallog_make_table(data, fmt=fmt), 50))
        print(f"evallog make_table fmt={fmt:5s}: median {t * 1e3:6.2f} ms")

    if not os.path.exists(args.evallog_bin):
        print(f"skipping the CLI timing: {args.evallog_bin} not found")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results_2026-01-01T00-00-00.json"
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        cmd = [args.evallog_bin, "table", str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"`evallog table` failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
            return 1
        wall = timed(lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True), args.cli_runs)
        base = timed(lambda: subprocess.run([sys.executable, "-S", "-c", "pass"], check=True), args.cli_runs)
        w = statistics.median(wall)
        print(
            f"`evallog table FILE` ({path.stat().st_size // 1024} KiB, {n_rows}+ rows): median {w * 1e3:.0f} ms "
            f"(min {min(wall) * 1e3:.0f}, max {max(wall) * 1e3:.0f}, n={len(wall)}; target < 300 ms; "
            f"bare `python -S -c pass`: {statistics.median(base) * 1e3:.0f} ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Parquet store against the obvious alternatives, side by side in one run.

    .venv/bin/python bench/bench_store.py [--dir DIR] [--n 200000] [--rows 10000000] [--runs 1000]
                                          [--only export,groupby,leaderboard]

Needs ``pip install -e ".[test]"`` (pyarrow, duckdb, pandas via datasets).

1. **export**: one lm-eval run of ``--n`` samples (``bench_compare.write_run``:
   2.1 KB lines, ~410 MiB JSONL) exported with ``evallog export --to parquet``
   vs pandas ``read_json(lines=True)`` + ``to_parquet`` (pyarrow engine); each
   in a fresh process: wall time and the child's peak RSS (``wait4``). Plus
   the store's size vs the JSONL's.
2. **groupby**: ``--rows`` sample lines (compact lines, 20 models x 25 tasks)
   exported once; ``SELECT task, model, count(*), avg(acc) ... GROUP BY task,
   model`` in DuckDB over the store (``evallog.sql``, fresh process, median of 3)
   vs the same numbers computed with evallog's line-by-line readers
   (``list_runs`` + ``Run.samples``), checked equal.
3. **leaderboard**: ``--runs`` results files of 60 tasks (2 metrics each),
   exported; ``leaderboard(store)`` vs ``leaderboard(folder)``, each in a
   fresh process, median of 3, checked equal.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

MiB = 1 << 20


def run_child(code: str) -> tuple[float, int, str]:
    """Run ``code`` in a fresh interpreter: (wall seconds, peak RSS bytes, stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"child failed: {code[:200]}")
    return dt, usage.ru_maxrss * 1024, out


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------- 1. export


def bench_export(base: Path, n: int) -> dict[str, float]:
    from bench_compare import write_run

    run_dir = base / "export_run" / "bench__model"
    if not any(run_dir.glob("samples_*.jsonl")):
        write_run(run_dir, "lm-eval", "2026-11-26T10-00-00.000001", n, 0.6, 1)
    jsonl = next(run_dir.glob("samples_*.jsonl"))
    store = base / "export_store"
    pandas_out = base / "export_pandas.parquet"
    ours = textwrap.dedent(f"""
        import shutil; shutil.rmtree({str(store)!r}, ignore_errors=True)
        from evallog.store import export_parquet
        export_parquet({str(run_dir)!r}, {str(store)!r})
    """)
    theirs = textwrap.dedent(f"""
        import pandas as pd
        df = pd.read_json({str(jsonl)!r}, lines=True)
        df.to_parquet({str(pandas_out)!r}, engine="pyarrow")
    """)
    t_ours, rss_ours, _ = run_child(ours)
    t_pd, rss_pd, _ = run_child(theirs)
    size_jsonl, size_store = jsonl.stat().st_size, du(store / "samples")
    res = {"jsonl_mib": size_jsonl / MiB, "evallog_s": t_ours, "evallog_rss_mib": rss_ours / MiB,
           "pandas_s": t_pd, "pandas_rss_mib": rss_pd / MiB, "speedup": t_pd / t_ours,
           "store_mib": size_store / MiB, "store_ratio": size_store / size_jsonl,
           "pandas_parquet_mib": pandas_out.stat().st_size / MiB}
    print(f"export {n} samples ({res['jsonl_mib']:.0f} MiB JSONL): evallog {t_ours:.1f} s, peak RSS "
          f"{res['evallog_rss_mib']:.0f} MiB | pandas {t_pd:.1f} s, peak RSS {res['pandas_rss_mib']:.0f} MiB | "
          f"{res['speedup']:.1f}x faster")
    print(f"store size {res['store_mib']:.1f} MiB = 1/{1 / res['store_ratio']:.1f} of the JSONL "
          f"(pandas' Parquet: {res['pandas_parquet_mib']:.1f} MiB)")
    return res


# ---------------------------------------------------------------- 2. group by


def write_compact_runs(root: Path, rows: int, models: int = 20, tasks: int = 25) -> None:
    per = rows // (models * tasks)
    dumps = json.dumps
    for m in range(models):
        folder = root / f"org__model-{m:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        run_id = f"2026-11-{(m % 28) + 1:02d}T10-00-00.000001"
        rng = random.Random(m)
        results: dict[str, dict[str, object]] = {}
        for t in range(tasks):
            task = f"task_{t:02d}"
            s = 0.0
            with open(folder / f"samples_{task}_{run_id}.jsonl", "w", encoding="utf-8") as fh:
                for i in range(per):
                    acc = 1.0 if rng.random() < 0.3 + m / 50 else 0.0
                    s += acc
                    fh.write(dumps({"doc_id": i, "target": str(i % 4), "filtered_resps": [str(i % 3)],
                                    "filter": "none", "doc_hash": f"{i:016x}", "acc": acc}) + "\n")
            results[task] = {"alias": task, "acc,none": s / per, "acc_stderr,none": 0.01}
        doc = {"results": results, "model_name": f"org/model-{m:02d}",
               "n-samples": {t: {"original": per, "effective": per} for t in results}}
        (folder / f"results_{run_id}.json").write_text(json.dumps(doc))


GROUPBY_SQL = "SELECT task, model, count(*) AS n, avg(acc) AS acc FROM samples GROUP BY task, model ORDER BY task, model"


def bench_groupby(base: Path, rows: int) -> dict[str, float]:
    runs = base / f"groupby_runs_{rows}"
    store = base / f"groupby_store_{rows}"
    if not (runs / ".done").exists():
        write_compact_runs(runs, rows)
        (runs / ".done").write_text("")
    if not (store / ".done").exists():
        t0 = time.perf_counter()
        from evallog.store import export_parquet

        export_parquet(runs, store)
        (store / ".done").write_text("")
        print(f"(exported {rows} rows in {time.perf_counter() - t0:.1f} s)")
    duck = textwrap.dedent(f"""
        import json, time
        from evallog.query import sql
        t0 = time.perf_counter()
        t = sql({GROUPBY_SQL!r}, {str(store)!r})
        dt = time.perf_counter() - t0
        print(json.dumps({{"s": dt, "rows": [[r["task"], r["model"], r["n"], round(r["acc"], 9)] for r in t.to_pylist()]}}))
    """)
    lines = textwrap.dedent(f"""
        import json, time
        from evallog.readers import list_runs
        t0 = time.perf_counter()
        agg = {{}}
        for run in list_runs({str(runs)!r}):
            for task in run.sample_files:
                n = s = 0
                for rec in run.samples(task):
                    n += 1
                    s += rec["acc"]
                agg[(task, run.name)] = (n, s)
        out = [[t, m, n, round(s / n, 9)] for (t, m), (n, s) in sorted(agg.items())]
        print(json.dumps({{"s": time.perf_counter() - t0, "rows": out}}))
    """)
    times = []
    for _ in range(3):
        _, _, out = run_child(duck)
        d = json.loads(out)
        times.append(d["s"])
    _, rss_lines, out_lines = run_child(lines)
    l_res = json.loads(out_lines)
    assert d["rows"] == l_res["rows"], "DuckDB and the line-by-line readers disagree"
    res = {"rows": rows, "duckdb_s": statistics.median(times), "lines_s": l_res["s"],
           "speedup": l_res["s"] / statistics.median(times), "store_mib": du(store) / MiB,
           "jsonl_mib": du(runs) / MiB}
    print(f"GROUP BY task, model over {rows:,} rows: DuckDB on the store {res['duckdb_s']:.2f} s (median of 3) | "
          f"line-by-line readers {res['lines_s']:.1f} s | {res['speedup']:.0f}x | "
          f"store {res['store_mib']:.0f} MiB vs JSONL {res['jsonl_mib']:.0f} MiB")
    return res


# ---------------------------------------------------------------- 3. leaderboard


def write_results_runs(root: Path, runs: int, tasks: int = 60) -> None:
    for r in range(runs):
        model = f"org__model-{r % 250:03d}"
        run_id = f"2026-{(r // 250) % 12 + 1:02d}-01T10-00-00.{r:06d}"
        folder = root / model
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(r)
        results = {f"task_{t:02d}": {"alias": f"task_{t:02d}", "acc,none": rng.random(),
                                     "acc_stderr,none": 0.01, "acc_norm,none": rng.random(),
                                     "acc_norm_stderr,none": 0.01} for t in range(tasks)}
        doc = {"results": results, "model_name": model.replace("__", "/"), "versions": dict.fromkeys(results, 1.0),
               "n-shot": dict.fromkeys(results, 0),
               "higher_is_better": {t: {"acc": True, "acc_norm": True} for t in results}}
        (folder / f"results_{run_id}.json").write_text(json.dumps(doc, indent=2))


def bench_leaderboard(base: Path, runs: int) -> dict[str, float]:
    folder = base / f"lb_runs_{runs}"
    store = base / f"lb_store_{runs}"
    if not (folder / ".done").exists():
        write_results_runs(folder, runs)
        (folder / ".done").write_text("")
    if not (store / ".done").exists():
        from evallog.store import export_parquet

        t0 = time.perf_counter()
        export_parquet(folder, store)
        (store / ".done").write_text("")
        print(f"(exported {runs} runs in {time.perf_counter() - t0:.1f} s)")
    code = textwrap.dedent("""
        import json, time
        from evallog.leaderboard import leaderboard
        t0 = time.perf_counter()
        lb = leaderboard({root!r}, metric="acc", latest={latest})
        dt = time.perf_counter() - t0
        print(json.dumps({{"s": dt, "shape": [len(lb.labels), len(lb.columns)], "md": lb.render("json")}}))
    """)
    out: dict[str, float] = {}
    for latest in (False, True):
        res = {}
        for name, root in (("store", store), ("folders", folder)):
            times, md = [], None
            for _ in range(3):
                _, _, o = run_child(code.format(root=str(root), latest=latest))
                d = json.loads(o)
                times.append(d["s"])
                md, shape = d["md"], d["shape"]
            res[name] = (statistics.median(times), md, shape)
        assert res["store"][1] == res["folders"][1], "leaderboards differ"
        tag = "latest" if latest else "all_runs"
        out[f"{tag}_store_s"], out[f"{tag}_folders_s"] = res["store"][0], res["folders"][0]
        print(f"leaderboard over {runs} runs x 60 tasks ({'latest run per model' if latest else 'every run'}, "
              f"{res['store'][2][0]} rows x {res['store'][2][1]} columns): store {res['store'][0]:.2f} s | "
              f"run folders {res['folders'][0]:.2f} s (median of 3, in-process call)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, help="work folder (kept and reused; default: a temporary one)")
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--only", default="export,groupby,leaderboard")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        base = args.dir or Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        results = {}
        if "export" in parts:
            results["export"] = bench_export(base, args.n)
        if "groupby" in parts:
            results["groupby"] = bench_groupby(base, args.rows)
        if "leaderboard" in parts:
            results["leaderboard"] = bench_leaderboard(base, args.runs)
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

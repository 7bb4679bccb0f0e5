"""Time and peak memory of comparing two runs of 200k samples each.

    .venv/bin/python bench/bench_compare.py [--n 200000] [--flavor lm-eval|lmms-eval] [--dir DIR] [--repeat 3]

Writes two runs (A, B) of one multiple-choice task with ``--n`` samples each
into a temporary folder (or ``--dir``, reused when already there): lm-eval
lines of about 2.1 KB (400 MiB per file) with ``doc``, ``arguments``, ``resps``, hashes and three
metrics (``acc`` and ``acc_norm`` 0/1 -> exact McNemar, ``likelihood``
continuous -> paired bootstrap with 10,000 resamples). Then, each in a fresh
process:

* ``compare(A, B)`` through the library: wall time of the call, and the rise
  of peak RSS (``VmHWM``) from just before the call to just after it;
* ``evallog compare A B`` through the CLI: wall time from process start to
  exit, and the process's peak RSS (``ru_maxrss`` of the child);
* ``evallog leaderboard`` over both runs, for reference.

Targets (issue 6): under 10 s and under 200 MiB peak-RSS increase.
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
RUN_IDS = {"lm-eval": ("2026-11-26T10-00-00.000001", "2026-11-27T10-00-00.000001"),
           "lmms-eval": ("20261126_100000", "20261127_100000")}
QUESTION = ("Which of the following best describes the relation between the two statements given in the "
            "passage above, taking into account the context of the original experiment number {i}?")


def write_run(folder: Path, flavor: str, run_id: str, n: int, skill: float, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    shared = random.Random(12345)  # the same "difficulty" per document in both runs
    sums = {"acc": 0.0, "acc_norm": 0.0, "likelihood": 0.0}
    name = f"samples_mc_{run_id}.jsonl" if flavor == "lm-eval" else f"{run_id}_samples_mc.jsonl"
    dumps = json.dumps
    with open(folder / name, "w", encoding="utf-8") as fh:
        for i in range(n):
            difficulty = shared.random()
            acc = 1.0 if rng.random() < skill * (1.2 - difficulty) else 0.0
            acc_norm = acc if rng.random() < 0.9 else 1.0 - acc
            lik = -difficulty * 3 + skill + rng.gauss(0, 0.5)
            sums["acc"] += acc
            sums["acc_norm"] += acc_norm
            sums["likelihood"] += lik
            q = QUESTION.format(i=i)
            choices = [f"option {c} for item {i}" for c in "ABCD"]
            rec = {"doc_id": i}
            if flavor == "lm-eval":
                rec["doc"] = {"question": q, "choices": choices, "answer": i % 4, "subject": "bench"}
            rec["target"] = str(i % 4)
            if flavor == "lm-eval":
                rec["arguments"] = {f"gen_args_{j}": {"arg_0": f"Question: {q}\nAnswer:", "arg_1": f" {c}"}
                                    for j, c in enumerate(choices)}
            rec["resps"] = [[[repr(-rng.random() * 5), "False"]] for _ in range(4)]
            rec["filtered_resps"] = [[repr(-rng.random() * 5), "False"] for _ in range(4)]
            if flavor == "lm-eval":
                rec["filter"] = "none"
                rec["metrics"] = ["acc", "acc_norm", "likelihood"]
            rec["doc_hash"] = f"{i:064x}"
            if flavor == "lm-eval":
                rec["prompt_hash"] = f"{i * 7919:064x}"
                rec["target_hash"] = f"{i % 4:064x}"
            rec["acc"] = acc
            rec["acc_norm"] = acc_norm
            rec["likelihood"] = lik
            if flavor == "lmms-eval":
                rec["input"] = f"Question: {q}\nAnswer:"
            fh.write(dumps(rec, ensure_ascii=False) + "\n")
    entry = {"alias": "mc"}
    for m, s in sums.items():
        mean = s / n
        entry[f"{m},none"] = mean
        entry[f"{m}_stderr,none"] = 0.001
    results = {
        "results": {"mc": entry},
        "group_subtasks": {"mc": []},
        "versions": {"mc": 1.0},
        "n-shot": {"mc": 0},
        "higher_is_better": {"mc": {"acc": True, "acc_norm": True, "likelihood": True}},
        "n-samples": {"mc": {"original": n, "effective": n}},
        "model_name": f"bench/model-{seed}",
    }
    rname = f"results_{run_id}.json" if flavor == "lm-eval" else f"{run_id}_results.json"
    (folder / rname).write_text(json.dumps(results, indent=2))


LIB_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    sys.path.insert(0, {src!r})
    from evallog.compare import compare
    from evallog.readers import load_run

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    a, b = load_run({a!r}), load_run({b!r})
    before = hwm()
    t0 = time.perf_counter()
    cmp = compare(a, b)
    dt = time.perf_counter() - t0
    after = hwm()
    rows = {{r.metric: (r.method, r.n_matched, r.p_value, r.ci_low, r.ci_high) for r in cmp.rows}}
    print(json.dumps({{"seconds": dt, "rss_before": before, "rss_increase": after - before, "rows": rows}}))
    """
)


def run_lib(src: Path, a: Path, b: Path) -> dict:
    script = LIB_SCRIPT.format(src=str(src), a=str(a), b=str(b))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_cli(evallog_bin: str, args: list[str]) -> tuple[float, int, str]:
    """Wall time, peak RSS (this child only, from wait4) and stdout of one CLI call."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([evallog_bin, *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        dt = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"evallog {' '.join(args)} failed: {err.read()}")
        return dt, usage.ru_maxrss * 1024, out.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--flavor", choices=sorted(RUN_IDS), default="lm-eval")
    ap.add_argument("--dir", type=Path, help="where to write the runs (default: a temporary folder)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--evallog-bin", default=str(ROOT / ".venv" / "bin" / "evallog"))
    args = ap.parse_args()

    tmp = None
    base = args.dir
    if base is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_compare_")
        base = Path(tmp.name)
    id_a, id_b = RUN_IDS[args.flavor]
    a, b = base / args.flavor / "model-a", base / args.flavor / "model-b"
    if not any(a.glob("*.jsonl")) if a.exists() else True:
        t0 = time.perf_counter()
        write_run(a, args.flavor, id_a, args.n, 0.60, 1)
        write_run(b, args.flavor, id_b, args.n, 0.62, 2)
        print(f"wrote 2 x {args.n} samples in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    size = sum(p.stat().st_size for p in a.glob("*.jsonl"))
    print(f"{args.flavor}: 2 runs x {args.n} samples, {size / 2**20:.0f} MiB per samples file "
          f"({size / args.n:.0f} B/line), Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")

    lib = [run_lib(ROOT / "src", a, b) for _ in range(args.repeat)]
    secs = [r["seconds"] for r in lib]
    incs = [r["rss_increase"] / 2**20 for r in lib]
    print(f"compare() library call: median {statistics.median(secs):.2f} s (min {min(secs):.2f}, "
          f"max {max(secs):.2f}); peak RSS increase median {statistics.median(incs):.1f} MiB "
          f"(max {max(incs):.1f}); RSS before the call {lib[0]['rss_before'] / 2**20:.0f} MiB")
    for metric, (method, n, p, lo, hi) in lib[0]["rows"].items():
        print(f"  {metric:<11} {method:<24} n={n} p={p:.3g} CI=[{lo:+.4f}, {hi:+.4f}]")

    cli = [run_cli(args.evallog_bin, ["compare", str(a), str(b), "--flips", "3"]) for _ in range(args.repeat)]
    print(f"evallog compare (process start to exit): median {statistics.median(c[0] for c in cli):.2f} s; "
          f"peak RSS of the process {max(c[1] for c in cli) / 2**20:.0f} MiB")
    dt, _, out = run_cli(args.evallog_bin, ["leaderboard", str(base / args.flavor)])
    print(f"evallog leaderboard: {dt:.2f} s")
    print("\n--- evallog compare output ---\n" + cli[0][2] + "\n--- evallog leaderboard output ---\n" + out)
    if tmp is not None:
        tmp.cleanup()
    ok = statistics.median(secs) < 10 and max(incs) < 200
    print("targets (< 10 s, < 200 MiB):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

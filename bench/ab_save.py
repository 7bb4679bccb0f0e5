"""Interleaved A/B of evallog's own save time: two source trees, the same bench workers, the same data.

    git archive <old commit> | tar -x -C /tmp/base      # a tree to compare against
    python bench/ab_save.py --base /tmp/base --branch . --n 20000 --rounds 7 [--data mixed text]

Both trees run this checkout's workers and data (bench/_save_workers.py), with their own ``src``
first on ``PYTHONPATH``. Each round runs, for every worker (batch save and streaming, both flavors), the two trees one after
the other in fresh processes of the bench venv (``bench/.venv-anchors``, made by ``bench_save.py``),
alternating which goes first, so that the load of a shared machine hits both alike. Prints the
median save time of each side (wall, and the CPU time of the process during the save: less
sensitive to the load of a shared machine) and the ratio of samples/s by CPU time (branch over
base; > 1: the branch is faster). The anchors are not run: this measures evallog against itself (``bench_save.py`` measures
it against the anchors).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKERS = ("evallog-lm-eval", "evallog-lmms-eval", "stream-lm-eval", "stream-lmms-eval")


def run_once(py: Path, tree: Path, worker: str, n: int, out: Path, data: str = "mixed") -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    proc = subprocess.run([str(py), str(HERE / "_save_workers.py"), worker, "--n", str(n), "--out", str(out), "--data", data],
                          capture_output=True, text=True, env=env, check=True)
    shutil.rmtree(out, ignore_errors=True)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if "error" in info:
        raise RuntimeError(f"{worker} in {tree}: {info['error']}")
    return float(info["seconds"]), float(info.get("cpu_seconds", "nan"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="source tree to compare against")
    ap.add_argument("--branch", type=Path, default=HERE.parent, help="source tree measured (default: this checkout)")
    ap.add_argument("--venv", type=Path, default=HERE / ".venv-anchors", help="the bench venv (see bench_save.py)")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--workers", nargs="+", default=list(WORKERS), choices=WORKERS)
    ap.add_argument("--data", nargs="+", default=["mixed"], choices=["mixed", "text"], help="data sets (bench/_save_data.py)")
    a = ap.parse_args()
    py = a.venv / "bin" / "python"
    trees = {"base": a.base.resolve(), "branch": a.branch.resolve()}
    keys = [(d, w) for d in a.data for w in a.workers]
    times: dict[tuple[str, str, str], list[tuple[float, float]]] = {(d, w, t): [] for d, w in keys for t in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for d, w in keys:
                for side in (("base", "branch") if r % 2 == 0 else ("branch", "base")):
                    times[(d, w, side)].append(run_once(py, trees[side], w, a.n, Path(tmp) / side, d))
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    print(f"{a.n:,} samples, {a.rounds} interleaved rounds: median save time (wall) and median CPU time of the save")
    print("| data | worker | base wall (s) | branch wall (s) | base CPU (s) | branch CPU (s) | branch / base samples/s (CPU) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for d, w in keys:
        bw, bc, cw, cc = [statistics.median(x[i] for x in times[(d, w, side)]) for side in ("base", "branch") for i in (0, 1)]
        print(f"| {d} | {w} | {bw:.3f} | {cw:.3f} | {bc:.3f} | {cc:.3f} | {bc / cc:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

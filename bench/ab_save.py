"""Interleaved A/B of evallog's own save time: two source trees, the same bench workers, the same data.

    git archive <old commit> | tar -x -C /tmp/base      # a tree to compare against
    python bench/ab_save.py --base /tmp/base --branch . --n 20000 --rounds 7

Each round runs, for every worker (batch save and streaming, both flavors), the two trees one after
the other in fresh processes of the bench venv (``bench/.venv-anchors``, made by ``bench_save.py``),
alternating which goes first, so that the load of a shared machine hits both alike. Prints the
median save time of each side and the ratio of samples/s (branch over base; > 1: the branch is
faster). The anchors are not run: this measures evallog against itself (``bench_save.py`` measures
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


def run_once(py: Path, tree: Path, worker: str, n: int, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    proc = subprocess.run([str(py), str(tree / "bench" / "_save_workers.py"), worker, "--n", str(n), "--out", str(out)],
                          capture_output=True, text=True, env=env, check=True)
    shutil.rmtree(out, ignore_errors=True)
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if "error" in info:
        raise RuntimeError(f"{worker} in {tree}: {info['error']}")
    return float(info["seconds"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="source tree to compare against")
    ap.add_argument("--branch", type=Path, default=HERE.parent, help="source tree measured (default: this checkout)")
    ap.add_argument("--venv", type=Path, default=HERE / ".venv-anchors", help="the bench venv (see bench_save.py)")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--workers", nargs="+", default=list(WORKERS), choices=WORKERS)
    a = ap.parse_args()
    py = a.venv / "bin" / "python"
    trees = {"base": a.base.resolve(), "branch": a.branch.resolve()}
    times: dict[tuple[str, str], list[float]] = {(w, t): [] for w in a.workers for t in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for w in a.workers:
                for side in (("base", "branch") if r % 2 == 0 else ("branch", "base")):
                    times[(w, side)].append(run_once(py, trees[side], w, a.n, Path(tmp) / side))
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    print(f"{a.n:,} samples, {a.rounds} interleaved rounds, median save time")
    print("| worker | base (s) | branch (s) | branch / base samples/s |")
    print("|---|---:|---:|---:|")
    for w in a.workers:
        b, c = statistics.median(times[(w, "base")]), statistics.median(times[(w, "branch")])
        print(f"| {w} | {b:.3f} | {c:.3f} | {b / c:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A data-parallel harness run (2 processes, torchrun, CPU): the harness's gather of samples vs `evallog run`.

lmms-eval 0.7.3 (its ``dummy`` model, data-parallel by itself under torchrun,
see ``tests/harness_scripts/lmms_eval_dp.py``) on a generated generation task
of ``--docs`` documents of ``--doc-kib`` KiB with two filters (2 x docs
samples). Side by side, on the same command line:

* ``torchrun ... lmms_eval_dp.py ...``: lmms-eval alone; at the end it
  ``gather_object``-s every logged sample to rank 0, which writes them;
* ``evallog run -- torchrun ... lmms_eval_dp.py ...``: each rank streams its
  samples into its own shard, the gather carries empty lists, the last rank
  to finish a task merges the shards.

Printed per side: each rank's peak RSS, the bytes every rank sent through
object collectives and how many logged samples were in them (a spy on
``torch.distributed``'s object collectives), the wall time; and whether the
two runs' samples files hold the same records.

    EVALLOG_HARNESS_VENV=... python bench/bench_run_dp.py [--docs 20000] [--doc-kib 4]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness_support import SCRIPTS, harness_env, harness_venv  # noqa: E402

TASK_YAML = """task: bench_dp_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
output_type: generate_until
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs:
  until: ["\\n"]
  do_sample: false
filter_list:
  - name: "strict-match"
    filter:
      - function: "regex"
        regex_pattern: "The answer is (\\\\-?[0-9]+)"
      - function: "take_first"
  - name: "flexible-extract"
    filter:
      - function: "regex"
        group_select: -1
        regex_pattern: "(-?[0-9]+)"
      - function: "take_first"
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def make_task(folder: Path, docs: int, doc_kib: int) -> Path:
    rng = random.Random(7)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    data = folder / "test.jsonl"
    with open(data, "w", encoding="utf-8") as fh:
        for i in range(docs):
            text = " ".join(rng.choice(words) for _ in range(doc_kib * 1024 // 6))
            fh.write(json.dumps({"question": f"{i}: {text}", "answer": str(i % 97)}) + "\n")
    tasks = folder / "tasks"
    tasks.mkdir()
    (tasks / "bench_dp_gen.yaml").write_text(TASK_YAML.format(data=data), encoding="utf-8")
    return tasks


def run_side(venv: Path, work: Path, name: str, tasks: Path, with_evallog: bool) -> dict[str, Any]:
    folder = work / name
    spy = folder / "spy"
    spy.mkdir(parents=True)
    cmd = [str(venv / "bin" / "torchrun"), "--nproc_per_node", "2", str(SCRIPTS / "lmms_eval_dp.py"),
           "--model", "dummy", "--tasks", "bench_dp_gen", "--include_path", str(tasks),
           "--output_path", "out", "--log_samples"]
    if with_evallog:
        cmd = [str(venv / "bin" / "evallog"), "run", "--", *cmd]
    env = {**harness_env(), "EVALLOG_TEST_SPY_DIR": str(spy)}
    start = time.perf_counter()
    with open(work / f"{name}.log", "wb") as log:
        code = subprocess.run(cmd, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"{name} failed ({code}): see {work / f'{name}.log'}")
    ranks = [json.loads(p.read_text()) for p in sorted(spy.glob("rank*.json"))]
    samples_files = sorted((folder / "out").rglob("*samples_bench_dp_gen*.jsonl"))
    return {
        "wall": wall,
        "rss": [r["peak_rss_mib"] for r in ranks],
        "sent_bytes": sum(c["bytes"] for r in ranks for c in r["calls"]),
        "sent_samples": sum(c["samples"] for r in ranks for c in r["calls"]),
        "collectives": sum(len(r["calls"]) for r in ranks),
        "file": samples_files[-1] if samples_files else None,
    }


def records(path: Path) -> list[tuple[Any, str]]:
    with open(path, "rb") as fh:
        return sorted((json.loads(line)["doc_id"], json.loads(line).get("filter", "")) for line in fh)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--doc-kib", type=int, default=4)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    venv = harness_venv()
    if venv is None:
        raise SystemExit("set EVALLOG_HARNESS_VENV (made by .ci/harness_venv.sh)")
    work = Path(tempfile.mkdtemp(prefix="bench-run-dp-"))
    try:
        tasks = make_task(work, args.docs, args.doc_kib)
        print(f"lmms-eval dummy, 2 processes (torchrun, CPU), {args.docs} docs of {args.doc_kib} KiB, 2 filters "
              f"({2 * args.docs} samples)")
        own = run_side(venv, work, "harness", tasks, with_evallog=False)
        ours = run_side(venv, work, "evallog", tasks, with_evallog=True)
        size = own["file"].stat().st_size / 2**20 if own["file"] else 0.0
        print(f"samples file: {size:.1f} MiB")
        print(f"{'side':<28}{'rank 0 peak RSS':>16}{'rank 1 peak RSS':>16}{'collective bytes':>18}{'samples sent':>14}{'wall':>8}")
        for label, side in (("lmms-eval gather", own), ("evallog run (per-rank)", ours)):
            print(f"{label:<28}{side['rss'][0]:>12.0f} MiB{side['rss'][1]:>12.0f} MiB{side['sent_bytes']:>18,}"
                  f"{side['sent_samples']:>14,}{side['wall']:>7.1f}s")
        print(f"rank 0 peak RSS: evallog - harness = {ours['rss'][0] - own['rss'][0]:+.0f} MiB")
        same = own["file"] is not None and ours["file"] is not None and records(own["file"]) == records(ours["file"])
        print(f"same (doc_id, filter) records in both samples files: {same}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

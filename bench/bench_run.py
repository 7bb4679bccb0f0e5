"""`evallog run` against the plain harness, side by side on the same run (lm-eval 0.4.13, `dummy` model).

Measures, on a generated 50k-document generation task (50k samples):

* wall time of ``lm_eval ...`` vs ``evallog run -- lm_eval ...`` (interleaved repeats);
* peak RSS of the harness process with and without evallog (samples no longer
  accumulate in memory);
* the journal's cost per response (``JournalLM`` + ``JournalWriter`` per request);
* resume: a run killed once every answer is journaled, then ``--resume``
  (answered from the journal vs sent to the model, wall time).

Needs the harness venv (``EVALLOG_HARNESS_VENV``, see ``.ci/harness_venv.sh``)::

    EVALLOG_HARNESS_VENV=... python bench/bench_run.py [--docs 50000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from harness_support import harness_env, harness_venv  # noqa: E402

TASK_YAML = """task: bench_gen
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
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""

MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "wall = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print('BENCH', code, wall, u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)\n"
)


def make_task(folder: Path, docs: int) -> Path:
    data = folder / "bench_gen.jsonl"
    with open(data, "w", encoding="utf-8") as fh:
        for i in range(docs):
            answer = "lol" if i % 3 == 0 else str(i + 1)
            fh.write(json.dumps({"question": f"What is {i} + 1? (doc {i})", "answer": answer}) + "\n")
    (folder / "bench_gen.yaml").write_text(TASK_YAML.format(data=data), encoding="utf-8")
    return folder


def measured(cmd: list[str], cwd: Path, log: Path) -> tuple[int, float, int, float]:
    """(exit code, wall s, peak RSS MiB of the biggest process, CPU s of all processes) of ``cmd``."""
    with open(log, "wb") as fh:
        subprocess.run([sys.executable, "-c", MEASURE, *cmd], cwd=cwd, env=harness_env(), stdout=fh, stderr=subprocess.STDOUT, check=False)
    line = [ln for ln in log.read_text(errors="replace").splitlines() if ln.startswith("BENCH ")][-1]
    _, code, wall, rss, cpu = line.split()
    return int(code), float(wall), int(rss) // 1024, float(cpu)


def harness_cmd(venv: Path, tasks: Path, out: str) -> list[str]:
    return [str(venv / "bin" / "lm_eval"), "--model", "dummy", "--tasks", "bench_gen", "--include_path", str(tasks),
            "--output_path", out, "--log_samples", "--seed", "1"]


def evallog_cmd(venv: Path, *options: str) -> list[str]:
    return [str(venv / "bin" / "evallog"), "run", *options, "--"]


def journal_cost(n: int = 100_000) -> dict[str, float]:
    """Microseconds per response added by the journal (key, bookkeeping, encoding, write)."""
    from dataclasses import dataclass

    from evallog.integrations.journal import JournalLM, JournalWriter

    @dataclass
    class Req:
        task_name: str
        doc_id: int
        idx: int
        args: tuple[str, dict[str, object]]

    class Model:
        def generate_until(self, requests: list[Req]) -> list[str]:
            return ["lol" for _ in requests]

    reqs = [Req("bench_gen", i, 0, (f"Question: What is {i} + 1? (doc {i})\nAnswer:", {"until": ["\n"]})) for i in range(n)]
    t = time.perf_counter()
    Model().generate_until(reqs)
    bare = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        writer = JournalWriter(Path(tmp), 0, every=64, interval=2.0)
        lm = JournalLM(Model(), writer, {})
        t = time.perf_counter()
        lm.generate_until(reqs)
        writer.close()
        journaled = time.perf_counter() - t
        size = writer.path.stat().st_size
    return {"us_per_response": (journaled - bare) / n * 1e6, "bytes_per_response": size / n}


def journal_lines(folder: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in folder.rglob(".evallog/journal/*/*.jsonl"))


def resume_figures(venv: Path, tasks: Path, work: Path, docs: int) -> dict[str, object]:
    """Kill -9 once every answer is journaled (scoring phase), then resume."""
    out = work / "resume-out"
    cmd = evallog_cmd(venv, "--journal-every", "64") + harness_cmd(venv, tasks, str(out))
    with open(work / "resume-killed.log", "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=work, env=harness_env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    t = time.perf_counter()
    while proc.poll() is None and journal_lines(out) < docs:
        time.sleep(0.05)
    killed_after = time.perf_counter() - t
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    journaled = journal_lines(out)
    code, wall, _rss, cpu = measured(evallog_cmd(venv, "--resume") + harness_cmd(venv, tasks, str(out)), work, work / "resume.log")
    text = (work / "resume.log").read_text()
    m = re.search(r"(\d+) requests answered from the journal, (\d+) sent to the model", text)
    return {
        "killed_after_s": round(killed_after, 1),
        "journaled_at_kill": journaled,
        "resume_exit": code,
        "resume_wall_s": round(wall, 1),
        "resume_cpu_s": round(cpu, 1),
        "from_journal": int(m.group(1)) if m else None,
        "recomputed": int(m.group(2)) if m else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    venv = harness_venv()
    if venv is None:
        print("set EVALLOG_HARNESS_VENV (see .ci/harness_venv.sh)", file=sys.stderr)
        return 2
    print(f"journal cost: {journal_cost()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        (work / "tasks").mkdir()
        tasks = make_task(work / "tasks", args.docs)
        rows: dict[str, list[tuple[float, int, float]]] = {"plain": [], "evallog": []}
        for r in range(args.repeats):
            for name in ("plain", "evallog"):
                out = f"out-{name}-{r}"
                cmd = harness_cmd(venv, tasks, out)
                if name == "evallog":
                    cmd = evallog_cmd(venv) + cmd
                code, wall, rss, cpu = measured(cmd, work, work / f"{out}.log")
                if code != 0:
                    print((work / f"{out}.log").read_text()[-3000:])
                    return 1
                rows[name].append((wall, rss, cpu))
                print(f"  {name:8s} run {r}: {wall:7.1f} s wall  {cpu:7.1f} s CPU  peak RSS {rss:6d} MiB", flush=True)
        for i, label in ((0, "wall time"), (2, "CPU time (all processes)")):
            plain = statistics.median(row[i] for row in rows["plain"])
            ours = statistics.median(row[i] for row in rows["evallog"])
            print(f"{label}, median of {args.repeats}: plain {plain:.1f} s, evallog run {ours:.1f} s, "
                  f"overhead {100 * (ours / plain - 1):+.1f} %")
        print(f"peak RSS: plain {max(r[1] for r in rows['plain'])} MiB, evallog run {max(r[1] for r in rows['evallog'])} MiB")
        print(f"resume: {resume_figures(venv, tasks, work, args.docs)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

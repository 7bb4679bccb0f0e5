#!/usr/bin/env python3
"""Saving samples: lm-eval 0.4.13 / lmms-eval 0.7.3 trackers (the anchors) vs evallog.

    python bench/bench_save.py --sizes 20000 200000 [--repeat N] [--write-readme] [--profile]

On first use this creates ``bench/.venv-anchors`` (gitignored) with lm-eval and lmms-eval
installed ``--no-deps`` plus only what their ``loggers.evaluation_tracker`` modules import
(bench/requirements-anchors.txt), and evallog itself (editable), so every worker runs on the same
interpreter.  Each measurement runs in its own process (bench/_save_workers.py):

* anchor-<flavor>   the anchor's EvaluationTracker: save_results_aggregated + save_results_samples per task
* evallog-<flavor>  evallog.EvaluationTracker(flavor=...), the same calls (batch save)
* stream-<flavor>   evallog.EvaluationTracker.log_sample() for each record of a lazy generator, then
                    save_results_aggregated(results) and close()
* gen-<flavor>      iterating the lazy generator alone (subtracted to get the streaming net rate)

Records are seeded and deterministic (bench/_save_data.py).  Reported per worker: wall time of the
save phase, samples/s, MiB/s (bytes on disk / time), peak RSS increase over the pre-save RSS,
and the ratios evallog / anchor of the same flavor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = HERE / ".venv-anchors"
REQS = HERE / "requirements-anchors.txt"
WORKERS_PY = HERE / "_save_workers.py"
README = HERE / "README.md"
ANCHORS = ("lm-eval==0.4.13", "lmms-eval==0.7.3")
FLAVORS = ("lm-eval", "lmms-eval")
KINDS = ("anchor", "evallog", "stream", "gen")
DATASETS = ("mixed", "text")  # as _save_data.DATASETS (that module runs in the anchors' venv)
SECTION = "## Saving samples: anchors vs evallog"
BEGIN = "<!-- bench_save:results:begin -->"
END = "<!-- bench_save:results:end -->"
MiB = 1024 * 1024


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the anchors' venv ------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, reinstall: bool = False) -> Path:
    """Create/refresh the venv when missing or when the requirements changed (stamp file)."""
    py = venv_python(venv)
    stamp = venv / ".bench-stamp"
    want = hashlib.sha256((REQS.read_text() + "\n".join(ANCHORS)).encode()).hexdigest()
    if py.exists() and not reinstall and stamp.exists() and stamp.read_text() == want:
        return py
    if not py.exists():
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    log("installing the anchors (--no-deps) and their tracker-import requirements")
    subprocess.run(pip + ["--no-deps", *ANCHORS], check=True)
    subprocess.run(pip + ["-r", str(REQS)], check=True)
    log(f"installing evallog (editable) from {ROOT}")
    subprocess.run(pip + ["-e", str(ROOT)], check=True)
    stamp.write_text(want)
    return py


def worker_env() -> dict[str, str]:
    """The workers import evallog from this checkout's ``src`` (also with a venv made elsewhere)."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])))


def probe(py: Path) -> dict:
    """Which evallog entry points exist, and package versions, as seen by the venv."""
    code = r"""
import json, importlib.metadata as md, sys
out = {"python": sys.version.split()[0], "versions": {}}
for d in ("lm_eval", "lmms_eval", "evallog", "orjson", "numpy", "datasets", "huggingface_hub"):
    try: out["versions"][d] = md.version(d)
    except Exception: out["versions"][d] = None
try:
    import inspect
    import evallog
    from evallog import EvaluationTracker
    out["evallog_path"] = evallog.__file__
    out["evallog_batch"] = "flavor" in inspect.signature(EvaluationTracker).parameters
    out["evallog_stream"] = hasattr(EvaluationTracker, "log_sample") and hasattr(EvaluationTracker, "close")
except Exception as e:
    out["evallog_batch"] = out["evallog_stream"] = False
    out["evallog_error"] = repr(e)
print(json.dumps(out))
"""
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True, env=worker_env())
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- running workers --------------------------------------------------------------------------


def run_worker(py: Path, worker: str, n: int, seed: int, out: Path, timeout: float, profile: Path | None = None, tracker_kwargs: str = "{}", dataset: str = "mixed") -> dict:
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    cmd = [str(py), str(WORKERS_PY), worker, "--n", str(n), "--seed", str(seed), "--out", str(out), "--data", dataset]
    if profile:
        cmd += ["--profile", str(profile)]
    if tracker_kwargs != "{}" and not worker.startswith(("anchor-", "gen-")):
        cmd += ["--tracker-kwargs", tracker_kwargs]
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=worker_env())
    except subprocess.TimeoutExpired:
        shutil.rmtree(out, ignore_errors=True)
        return {"worker": worker, "n": n, "error": f"timeout after {timeout:.0f} s"}
    finally:
        wall = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-25:])
        return {"worker": worker, "n": n, "error": f"exit {r.returncode}", "traceback": tail}
    info = json.loads(r.stdout.strip().splitlines()[-1])
    info["process_seconds"] = wall
    return info


def merge_repeats(runs: list[dict]) -> dict:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    ok.sort(key=lambda r: r["seconds"])
    best = dict(ok[len(ok) // 2])  # the median run
    best["seconds_all"] = [r["seconds"] for r in ok]
    best["rss_increase"] = max(r["rss_increase"] for r in ok)
    return best


# --- reporting --------------------------------------------------------------------------------

LABEL = {
    "anchor": "anchor save_results_*",
    "evallog": "evallog batch save",
    "stream": "evallog streaming",
    "gen": "lazy generator only",
}


def rate(r: dict) -> float | None:
    if "error" in r or not r.get("seconds"):
        return None
    return r["samples"] / r["seconds"]


def fmt(x: float | None, spec: str = ",.0f") -> str:
    return "n/a" if x is None else format(x, spec)


def table(results: dict, sizes: list[int], datasets: list[str]) -> str:
    rows = [
        "| data | samples | flavor | writer | save time (s) | CPU time (s) | samples/s | MiB/s | MiB written | peak RSS increase (MiB) | vs anchor (samples/s) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ds in datasets:
        for n in sizes:
            for fl in FLAVORS:
                anchor = results.get((ds, n, fl, "anchor"))
                gen = results.get((ds, n, fl, "gen"))
                for kind in KINDS:
                    r = results.get((ds, n, fl, kind))
                    if r is None:
                        continue
                    if "error" in r:
                        rows.append(f"| {ds} | {n:,} | {fl} | {LABEL[kind]} | {r['error']} | | | | | | |")
                        continue
                    sps = rate(r)
                    mibs = r["bytes"] / MiB / r["seconds"] if r["bytes"] else None
                    ratio = ""
                    if kind in ("evallog", "stream") and anchor and rate(anchor):
                        ratio = f"{sps / rate(anchor):.2f}x"
                        if kind == "stream" and gen and "error" not in gen and r["seconds"] > gen["seconds"]:
                            net = r["samples"] / (r["seconds"] - gen["seconds"])
                            ratio += f" ({net / rate(anchor):.2f}x net of generation)"
                    rows.append(
                        f"| {ds} | {n:,} | {fl} | {LABEL[kind]} | {r['seconds']:.2f} | {fmt(r.get('cpu_seconds'), '.2f')} | {fmt(sps)} | {fmt(mibs, ',.1f')} | "
                        f"{fmt(r['bytes'] / MiB if r['bytes'] else None, ',.0f')} | {r['rss_increase'] / MiB:,.1f} | {ratio} |"
                    )
    return "\n".join(rows)


def targets(results: dict, sizes: list[int], datasets: list[str]) -> list[str]:
    """The issue's targets at every size: batch >= 3x the anchor (samples/s by wall time; the
    ratio by CPU time beside it), streaming within 2x of batch, streaming peak RSS < 50 MiB."""
    lines = []
    for ds in datasets:
        for n in sizes:
            for fl in FLAVORS:
                lines += _targets_of(results, ds, n, fl)
    return lines


def _targets_of(results: dict, ds: str, n: int, fl: str) -> list[str]:
    a, e, s, g = (results.get((ds, n, fl, k)) for k in ("anchor", "evallog", "stream", "gen"))
    where = f"{ds} data, {fl}, {n:,} samples"
    lines = []
    if a and e and rate(a) and rate(e):
        x = rate(e) / rate(a)
        cpu = ""
        if a.get("cpu_seconds") and e.get("cpu_seconds"):
            cpu = f"; by CPU time {a['cpu_seconds'] / e['cpu_seconds']:.2f}x"
        lines.append(f"- {where}: evallog batch save = {x:.2f}x the anchor's samples/s{cpu} (target >= 3x): {'MET' if x >= 3 else 'NOT MET'}")
    else:
        lines.append(f"- {where}: batch ratio not measured")
    if s and "error" not in s and e and rate(e):
        gen_ok = g is not None and "error" not in g
        net = s["seconds"] - (g["seconds"] if gen_ok else 0.0)
        y = net / e["seconds"]
        lines.append(
            f"- {where}: streaming save time net of generation = {y:.2f}x the batch save time "
            f"({s['seconds'] / e['seconds']:.2f}x with generation; target <= 2x): {'MET' if y <= 2 else 'NOT MET'}"
        )
        m = s["rss_increase"] / MiB
        alone = f"; the lazy generator alone: {g['rss_increase'] / MiB:.1f} MiB" if gen_ok else ""
        lines.append(f"- {where}: streaming peak RSS increase = {m:.1f} MiB{alone} (target < 50 MiB): {'MET' if m < 50 else 'NOT MET'}")
    else:
        lines.append(f"- {where}: streaming not measured")
    return lines


def environment(info: dict) -> str:
    if "_env" in info:  # computed once per invocation (commits may land while it runs)
        return info["_env"]
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    v = info["versions"]
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        rev = "?"
    info["_env"] = (
        f"Python {info['python']}, {os.cpu_count()} cores ({cpu}), Linux {platform.release()}; "
        f"lm_eval {v['lm_eval']}, lmms_eval {v['lmms_eval']}, evallog {v['evallog']} (git {rev}), "
        f"orjson {v['orjson']}, numpy {v['numpy']}, datasets {v['datasets']}, huggingface_hub {v['huggingface_hub']}"
    )
    return info["_env"]


def write_readme(block: str) -> None:
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        text = pre + BEGIN + "\n" + block + "\n" + END + post
    else:
        if SECTION not in text:
            text = text.rstrip("\n") + f"\n\n{SECTION}\n"
        text = text.replace(SECTION, SECTION + f"\n\n{BEGIN}\n{block}\n{END}", 1)
    README.write_text(text)


def print_profile(path: Path, top: int) -> str:
    import io
    import pstats

    buf = io.StringIO()
    st = pstats.Stats(str(path), stream=buf)
    st.sort_stats("tottime").print_stats(top)
    return buf.getvalue()


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 200000])
    ap.add_argument("--flavors", nargs="+", choices=FLAVORS, default=list(FLAVORS))
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the median time is kept")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per worker process")
    ap.add_argument("--out", type=Path, default=HERE / "out" / "save", help="scratch output dir (deleted after each worker)")
    ap.add_argument("--venv", type=Path, default=VENV)
    ap.add_argument("--reinstall", action="store_true", help="re-run the venv installation")
    ap.add_argument("--write-readme", action="store_true", help=f"replace the results block of {SECTION!r} in bench/README.md")
    ap.add_argument("--profile", action="store_true", help="cProfile evallog's batch save at the largest size and print the top functions")
    ap.add_argument("--tracker-kwargs", default="{}", help='extra evallog EvaluationTracker keywords as JSON, e.g. \'{"redact_secrets": false}\'')
    ap.add_argument("--json", type=Path, default=None, help="also dump all raw measurements here")
    ap.add_argument("--data", nargs="+", choices=DATASETS, default=list(DATASETS),
                    help="data sets: mixed (MMLU/GSM8K-like plus image tasks) and text (MMLU/GSM8K-like only)")
    a = ap.parse_args(argv)

    py = ensure_venv(a.venv, a.reinstall)
    info = probe(py)
    log(environment(info))
    log(f"evallog imported from {info.get('evallog_path')}")
    if not info.get("evallog_batch"):
        log(f"evallog batch save not available ({info.get('evallog_error', 'no flavor= parameter')}); skipping evallog workers")
    if not info.get("evallog_stream"):
        log("evallog streaming (log_sample/close) not available; skipping stream workers")

    results: dict = {}
    sizes = sorted(a.sizes)
    for ds, n in [(ds, n) for ds in a.data for n in sizes]:
        for fl in a.flavors:
            for kind in a.kinds:
                if kind == "evallog" and not info.get("evallog_batch"):
                    continue
                if kind == "stream" and not info.get("evallog_stream"):
                    continue
                if kind == "gen" and (not info.get("evallog_stream") or "stream" not in a.kinds):
                    continue
                worker = f"{kind}-{fl}"
                runs = []
                for i in range(a.repeat):
                    log(f"[{ds} {n:,}] {worker} run {i + 1}/{a.repeat} ...")
                    r = run_worker(py, worker, n, a.seed, a.out / worker, a.timeout, tracker_kwargs=a.tracker_kwargs, dataset=ds)
                    if "error" in r:
                        log(f"    FAILED: {r['error']}\n{r.get('traceback', '')}")
                    else:
                        log(f"    {r['seconds']:.2f} s, {rate(r):,.0f} samples/s, {r['bytes'] / MiB:,.0f} MiB, peak RSS +{r['rss_increase'] / MiB:,.1f} MiB")
                    runs.append(r)
                results[(ds, n, fl, kind)] = merge_repeats(runs)

    cmd = "python bench/bench_save.py " + " ".join(
        x for x in [
            "--sizes " + " ".join(map(str, a.sizes)),
            f"--repeat {a.repeat}" if a.repeat != 1 else "",
            "--flavors " + " ".join(a.flavors) if list(a.flavors) != list(FLAVORS) else "",
            "--kinds " + " ".join(a.kinds) if list(a.kinds) != list(KINDS) else "",
            "--data " + " ".join(a.data) if list(a.data) != list(DATASETS) else "",
            f"--seed {a.seed}" if a.seed != 1234 else "",
            f"--tracker-kwargs '{a.tracker_kwargs}'" if a.tracker_kwargs != "{}" else "",
            "--write-readme" if a.write_readme else "",
        ] if x
    )
    block = "\n".join(
        [
            f"Command: `{cmd}` ({time.strftime('%Y-%m-%d')}, {environment(info)}).",
            "",
            table(results, sizes, a.data),
            "",
            "Targets:",
            "",
            *targets(results, sizes, a.data),
        ]
    )
    print(block)
    errors = [r for r in results.values() if "error" in r]
    for r in errors:
        print(f"\n{r['worker']} at {r['n']:,}: {r['error']}\n{r.get('traceback', '')}")

    if a.profile and info.get("evallog_batch"):
        n = max(sizes)
        for fl in a.flavors:
            prof = a.out.parent / f"profile-evallog-{fl}-{n}.pstats"
            prof.parent.mkdir(parents=True, exist_ok=True)
            r = run_worker(py, f"evallog-{fl}", n, a.seed, a.out / "profile", a.timeout, profile=prof, tracker_kwargs=a.tracker_kwargs, dataset=a.data[-1])
            if "error" in r:
                print(f"profile run failed: {r['error']}\n{r.get('traceback', '')}")
                continue
            print(f"\ncProfile of evallog batch save, flavor {fl}, {n:,} samples (sorted by own time):")
            print(print_profile(prof, 25))

    if a.json:
        a.json.write_text(json.dumps([{"key": list(k), **v} for k, v in results.items()], indent=1, default=str))
    if a.write_readme:
        write_readme(block)
        log(f"updated {README}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

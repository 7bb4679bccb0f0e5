"""Benchmark of `evallog view`, side by side with `evallog report` on the same run.

    .venv/bin/python bench/bench_view.py                 # 3 GB samples file, 2,000 runs, 50 clients
    .venv/bin/python bench/bench_view.py --gb 0.3        # a quicker run

Measured (each against a real `evallog view --port 0` process):

1. time to the first page of a task whose samples file is ``--gb`` GB
   (first `/api/meta` + first `/api/samples` page, cold server), and the
   server's RSS after it, after the total is known, and after step 3;
2. listing a root of ``--runs`` runs: server start to URL (the first scan),
   then `/api/meta` (the run list the page draws);
3. ``--clients`` concurrent clients paging the big file at random pages
   (p50 / p95 / max latency, errors);
4. `evallog report` on the same run (the static page reads the whole file:
   time and peak RSS), ratio to (1).

Inspect's `inspect view` reads Inspect's own `.eval` / `.json` logs only: it
cannot open lm-eval / lmms-eval samples files, so the comparison is with
`evallog report`. The big file is written in a temp dir and deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "data" / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
RUN_ID = "2026-01-02T03-04-05.000001"


def write_big_run(folder: Path, gb: float) -> tuple[Path, int]:
    """An lm-eval run with one generation task whose samples file is ``gb`` GB (about 3 kB a line)."""
    folder.mkdir(parents=True)
    filler = ("The quick brown fox jumps over the lazy dog. " * 60)[:2400]
    path = folder / f"samples_big_{RUN_ID}.jsonl"
    target = int(gb * 1e9)
    n = 0
    with open(path, "wb", buffering=16 << 20) as fh:
        written = 0
        while written < target:
            block = []
            for _ in range(1000):
                rec = {
                    "doc_id": n,
                    "doc": {"q": n},
                    "target": str(n % 7),
                    "arguments": {
                        "gen_args_0": {"arg_0": f"Question {n}: {filler}\nAnswer:", "arg_1": {"until": ["\n"]}}
                    },
                    "resps": [[f"The answer is {n % 5}."]],
                    "filtered_resps": [str(n % 5)],
                    "filter": "none",
                    "metrics": ["exact_match"],
                    "doc_hash": "h",
                    "prompt_hash": "p",
                    "target_hash": "t",
                    "exact_match": float(n % 7 == n % 5),
                }
                block.append(json.dumps(rec))
                n += 1
            data = ("\n".join(block) + "\n").encode()
            fh.write(data)
            written += len(data)
    results = {
        "results": {"big": {"alias": "big", "exact_match,none": 0.2, "exact_match_stderr,none": 0.0}},
        "n-samples": {"big": {"original": n, "effective": n}},
        "model_name": "bench/big",
        "versions": {"big": 1},
        "n-shot": {"big": 0},
        "higher_is_better": {"big": {"exact_match": True}},
        "config": {"model": "hf", "model_args": "pretrained=bench/big"},
    }
    (folder / f"results_{RUN_ID}.json").write_text(json.dumps(results))
    return path, n


def write_many_runs(root: Path, n: int) -> None:
    """``n`` copies of the fixture lm-eval run, 10 runs per model folder (each model its own name)."""
    files = [f for f in FIXTURE.iterdir() if f.is_file()]
    for i in range(n):
        model = f"org/model-{i // 10:04d}"
        folder = root / model.replace("/", "__")
        folder.mkdir(parents=True, exist_ok=True)
        rid = f"2026-01-{1 + i % 10:02d}T00-00-00.{i:06d}"
        for f in files:
            name = f.name.replace("2026-11-26T14-50-01.009042", rid)
            if name.startswith("results_"):
                results = json.loads(f.read_bytes())
                results["model_name"] = model
                (folder / name).write_text(json.dumps(results))
            else:
                shutil.copyfile(f, folder / name)


class View:
    def __init__(self, root: Path) -> None:
        t0 = time.perf_counter()
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evallog", "view", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.proc.wait()
            self.log.seek(0)
            raise RuntimeError(f"evallog view did not start: {self.log.read()}")
        self.start_s = time.perf_counter() - t0
        self.ps = psutil.Process(self.proc.pid)

    def get(self, path: str) -> tuple[float, Any]:
        t0 = time.perf_counter()
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=600) as resp:
            data = json.loads(resp.read())
        return time.perf_counter() - t0, data

    def rss_mib(self) -> float:
        return float(self.ps.memory_info().rss) / 2**20

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()


def peak_rss_of(cmd: list[str]) -> tuple[float, float, int]:
    """(seconds, peak RSS MiB, exit code) of a command, RSS sampled every 50 ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    return time.perf_counter() - t0, peak / 2**20, proc.wait()


def bench_big(tmp: Path, gb: float, clients: int, requests_each: int, report: bool) -> None:
    t0 = time.perf_counter()
    path, n = write_big_run(tmp / "big" / "bench__big", gb)
    size = path.stat().st_size
    print(f"wrote {size / 1e9:.2f} GB, {n:,} samples in {time.perf_counter() - t0:.0f} s")
    os.sync()
    view = View(tmp / "big")
    try:
        t_meta, meta = view.get("/api/meta")
        key = meta["runs"][0]["key"]
        t_page, page = view.get(f"/api/samples?run={key}&task=big&page=0")
        assert len(page["samples"]) == 50
        rss_first = view.rss_mib()
        print(
            f"[1] first page of a {size / 1e9:.2f} GB file: meta {t_meta * 1000:.0f} ms + page {t_page * 1000:.0f} ms "
            f"= {(t_meta + t_page) * 1000:.0f} ms (goal < 2000 ms); server start {view.start_s:.2f} s; "
            f"RSS {rss_first:.0f} MiB"
        )
        t0 = time.perf_counter()
        last = view.get(f"/api/samples?run={key}&task=big&page={n // 50 - 1}")[1]
        print(
            f"    last page (index over the whole file): {time.perf_counter() - t0:.2f} s, total {last['total']:,}, "
            f"RSS {view.rss_mib():.0f} MiB"
        )
        t0 = time.perf_counter()
        found = view.get(f"/api/samples?run={key}&task=big&q=question+{n - 3}%3A")[1]
        print(
            f"    search for the third-last doc (streaming scan of the file): {time.perf_counter() - t0:.2f} s, "
            f"{found['matched']} match"
        )

        lat: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        pages = n // 50

        def client(seed: int) -> None:
            rnd = random.Random(seed)
            for _ in range(requests_each):
                p = rnd.randrange(pages)
                try:
                    dt, data = view.get(f"/api/samples?run={key}&task=big&page={p}")
                    ok = len(data["samples"]) == 50 and data["samples"][0]["n"] == p * 50
                    with lock:
                        lat.append(dt)
                        if not ok:
                            errors.append(f"page {p}: wrong records")
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(repr(exc))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        peak = 0.0
        while any(t.is_alive() for t in threads):
            peak = max(peak, view.rss_mib())
            time.sleep(0.05)
        wall = time.perf_counter() - t0
        lat.sort()
        q = statistics.quantiles(lat, n=20) if len(lat) >= 2 else lat * 19
        print(
            f"[3] {clients} clients x {requests_each} random pages: p50 {statistics.median(lat) * 1000:.0f} ms, "
            f"p95 {q[18] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms, {len(lat) / wall:.0f} pages/s, "
            f"errors {len(errors)}, server RSS peak {peak:.0f} MiB"
        )
        for e in errors[:5]:
            print("    error:", e)
    finally:
        view.stop()
    if report:
        out = tmp / "report.html"
        secs, rss, code = peak_rss_of([sys.executable, "-m", "evallog", "report", str(tmp / "big"), "-o", str(out)])
        print(
            f"[4] evallog report on the same run: {secs:.1f} s, peak RSS {rss:.0f} MiB, exit {code}, "
            f"page {out.stat().st_size / 1e6 if out.exists() else 0:.1f} MB (first 5,000 samples embedded); "
            f"view's first page is {secs / (t_meta + t_page):.0f}x sooner"
        )


def bench_many(tmp: Path, runs: int, repeat: int = 5) -> None:
    t0 = time.perf_counter()
    write_many_runs(tmp / "many", runs)
    print(f"wrote {runs:,} runs in {time.perf_counter() - t0:.0f} s")
    totals = []
    for k in range(repeat):
        load = os.getloadavg()[0]
        view = View(tmp / "many")
        try:
            t_meta, meta = view.get("/api/meta")
            assert len(meta["runs"]) == runs, len(meta["runs"])
            t_again, _ = view.get("/api/meta")
            t_status, _ = view.get("/api/status")
            totals.append(view.start_s + t_meta)
            print(
                f"[2.{k}] {runs:,} runs: server start (process start to URL: imports + first scan) "
                f"{view.start_s:.2f} s, "
                f"run list /api/meta {t_meta * 1000:.0f} ms (again {t_again * 1000:.0f} ms; live poll /api/status "
                f"{t_status * 1000:.0f} ms); start + list {view.start_s + t_meta:.2f} s; RSS {view.rss_mib():.0f} MiB; "
                f"load average {load:.1f}"
            )
        finally:
            view.stop()
    print(
        f"[2] start + list of {runs:,} runs: min {min(totals):.2f} s, median {statistics.median(totals):.2f} s, "
        f"max {max(totals):.2f} s (goal < 2 s)"
    )


def bench_live(tmp: Path, rounds: int = 20) -> None:
    """Server-side latency of the live figures: bytes on disk -> /api/status (the page polls every 1 s)."""
    root = tmp / "live"
    folder = root / "org__live"
    folder.mkdir(parents=True)
    view = View(root)
    try:
        rid = "2026-01-02T03-04-05.000002"
        path = folder / f"samples_t_{rid}.jsonl.partial"
        t0 = time.perf_counter()
        with open(path, "ab") as fh:
            fh.write(b'{"doc_id": 0, "acc": 1.0, "metrics": ["acc"]}\n')
        while True:
            runs = view.get("/api/meta")[1]["runs"]
            if runs:
                break
            time.sleep(0.02)
        appear = time.perf_counter() - t0
        lat = []
        for i in range(1, rounds):
            with open(path, "ab") as fh:
                fh.write(json.dumps({"doc_id": i, "acc": float(i % 2), "metrics": ["acc"]}).encode() + b"\n")
            t0 = time.perf_counter()
            while True:
                st = view.get("/api/status")[1]
                if st["runs"] and st["runs"][0]["tasks"]["t"]["n"] == i + 1:
                    break
                time.sleep(0.02)
            lat.append(time.perf_counter() - t0)
        print(
            f"[5] live: a new run is listed {appear * 1000:.0f} ms after its first line reaches disk; "
            f"a new line is counted by /api/status within p50 {statistics.median(lat) * 1000:.0f} ms, "
            f"max {max(lat) * 1000:.0f} ms; the page polls every 1000 ms, so it shows them within "
            f"{(max(appear, max(lat)) + 1.0):.1f} s at worst (goal 2 s)"
        )
    finally:
        view.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20, help="pages per client")
    ap.add_argument("--no-report", action="store_true", help="skip `evallog report` on the big run")
    ap.add_argument("--dir", help="work folder (default: a temp dir, deleted at the end)")
    ap.add_argument("--only", choices=("many", "big", "live"), help="run one part only")
    args = ap.parse_args()
    tmp = Path(args.dir or tempfile.mkdtemp(prefix="bench_view_"))
    try:
        if args.only in (None, "live"):
            bench_live(tmp)
        if args.only in (None, "many"):
            bench_many(tmp, args.runs)
        if args.only in (None, "big"):
            bench_big(tmp, args.gb, args.clients, args.requests, not args.no_report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

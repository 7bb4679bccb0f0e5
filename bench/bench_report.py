"""Benchmark `evallog report` on a big synthetic run: build time, page size, and how the page behaves in Chromium.

    python bench/bench_report.py                     # 200,000 sample lines over 40 tasks
    python bench/bench_report.py --samples 20000 --tasks 8 --keep /tmp/bench-report

Writes an lm-eval run folder (half multiple-choice tasks shaped like MMLU with
4 loglikelihood requests and a 5-shot prompt per line, half generation tasks
shaped like GSM8K with an 8-shot prompt and two filters), renders it with
the default limits and with "everything embedded", and opens each page in
headless Chromium (Debian's chromium + chromium-driver) from a file:// URL:

* open: navigation start -> the app sets ``data-ready`` (read from the page's
  ``data-ready-ms``, i.e. ``performance.now()`` at that moment);
* task: click a task -> its block decoded (gzip+base64), parsed and the first
  page of rows rendered (``data-samples-ready``);
* search / filter / next page: the synchronous re-filter and re-render, then
  one animation frame (the search box's 120 ms debounce is not counted).

Figures go to stdout as a Markdown table; see bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from evallog import layout as naming
from evallog.report import build_report

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
         "you were her she there been one all we their has would when if so what no out up said about into than them "
         "can only other new some could time these two may then do first any my now such like our over man me even most "
         "made after also did many before must through back years where much your way well down should because each "
         "just those people how too little state good very make world still own see men work long get here between both "
         "life being under never day same another know while last might us great old year off come since against go "
         "came right used take three").split()

RUN_ID = "2026-03-01T12-00-00.000000"


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "?"


def mc_line(rng: random.Random, doc_id: int, shots: list[str]) -> dict:
    question = sentence(rng, rng.randint(12, 40))
    choices = [sentence(rng, rng.randint(1, 6)).rstrip("?") for _ in range(4)]
    answer = rng.randrange(4)
    prompt = "".join(rng.sample(shots, 5)) + f"{question}\nA. {choices[0]}\nB. {choices[1]}\nC. {choices[2]}\nD. {choices[3]}\nAnswer:"
    lls = [round(-rng.random() * 5, 6) for _ in range(4)]
    pred = max(range(4), key=lambda k: lls[k])
    return {
        "doc_id": doc_id,
        "doc": {"question": question, "choices": choices, "answer": answer, "subject": "synthetic"},
        "target": answer,
        "arguments": {f"gen_args_{k}": {"arg_0": prompt, "arg_1": f" {'ABCD'[k]}"} for k in range(4)},
        "resps": [[[str(ll), "False"]] for ll in lls],
        "filtered_resps": [[str(ll), "False"] for ll in lls],
        "filter": "none",
        "metrics": ["acc"],
        "doc_hash": f"{rng.getrandbits(128):032x}",
        "prompt_hash": f"{rng.getrandbits(128):032x}",
        "target_hash": f"{rng.getrandbits(128):032x}",
        "acc": float(pred == answer),
    }


def gen_lines(rng: random.Random, doc_id: int, shots: list[str]) -> list[dict]:
    a, b = rng.randint(1, 999), rng.randint(1, 999)
    question = sentence(rng, rng.randint(20, 60)) + f" What is {a} + {b}?"
    prompt = "".join(rng.sample(shots, 8)) + f"Question: {question}\nAnswer:"
    ok = rng.random() < 0.55
    answer = a + b if ok else a + b + rng.randint(1, 9)
    reasoning = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90)))
    response = f" {reasoning}. The answer is {answer}."
    base = {
        "doc_id": doc_id,
        "doc": {"question": question, "answer": str(a + b)},
        "target": str(a + b),
        "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["Question:", "\n\n"], "do_sample": False}}},
        "resps": [[response]],
        "metrics": ["exact_match"],
        "doc_hash": f"{rng.getrandbits(128):032x}",
        "prompt_hash": f"{rng.getrandbits(128):032x}",
        "target_hash": f"{rng.getrandbits(128):032x}",
    }
    out = []
    for name in ("strict-match", "flexible-extract"):
        extracted = str(answer) if name == "flexible-extract" or rng.random() < 0.9 else "[invalid]"
        out.append({**base, "filtered_resps": [extracted], "filter": name,
                    "exact_match": float(extracted == str(a + b))})
    return out


def write_run(folder: Path, n_samples: int, n_tasks: int, seed: int = 0) -> tuple[int, int]:
    """Write the synthetic run; returns (sample lines, bytes of sample files)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    per_task = n_samples // n_tasks
    results: dict = {"results": {}, "group_subtasks": {}, "configs": {}, "versions": {}, "n-shot": {},
                     "higher_is_better": {}, "n-samples": {}, "model_name": "bench/synthetic-7b",
                     "config": {"model": "hf", "model_args": "pretrained=bench/synthetic-7b", "batch_size": 8}}
    lines_written = size = 0
    for t in range(n_tasks):
        mc = t % 2 == 0
        task = f"{'mc' if mc else 'gen'}_task_{t:02d}"
        shots = [sentence(rng, rng.randint(10, 30)) + ("\nAnswer: B\n\n" if mc else "\nAnswer: 42. The answer is 42.\n\n")
                 for _ in range(40)]
        path = folder / naming.samples_filename("lm-eval", task, RUN_ID)
        values: dict[str, list[float]] = {}
        with open(path, "w", encoding="utf-8") as fh:
            if mc:
                for i in range(per_task):
                    rec = mc_line(rng, i, shots)
                    values.setdefault("none", []).append(rec["acc"])
                    fh.write(json.dumps(rec) + "\n")
                n_lines = per_task
            else:
                docs = per_task // 2
                by_filter: dict[str, list[str]] = {"strict-match": [], "flexible-extract": []}
                for i in range(docs):
                    for rec in gen_lines(rng, i, shots):
                        by_filter[rec["filter"]].append(json.dumps(rec) + "\n")
                        values.setdefault(rec["filter"], []).append(rec["exact_match"])
                for chunk in by_filter.values():  # lm-eval writes all docs of a filter, then the next filter
                    fh.writelines(chunk)
                n_lines = 2 * docs
        lines_written += n_lines
        size += path.stat().st_size
        metric = "acc" if mc else "exact_match"
        entry: dict = {"alias": task}
        for filt, vals in values.items():
            mean = sum(vals) / len(vals)
            entry[f"{metric},{filt}"] = mean
            entry[f"{metric}_stderr,{filt}"] = (mean * (1 - mean) / len(vals)) ** 0.5
        results["results"][task] = entry
        results["group_subtasks"][task] = []
        results["versions"][task] = 1.0
        results["n-shot"][task] = 5 if mc else 8
        results["higher_is_better"][task] = {metric: True}
        results["n-samples"][task] = {"original": n_lines // len(values), "effective": n_lines // len(values)}
        results["configs"][task] = {"task": task, "filter_list": [{"name": f} for f in values]}
    (folder / naming.results_filename("lm-eval", RUN_ID)).write_text(json.dumps(results), encoding="utf-8")
    return lines_written, size


# --------------------------------------------------------------------------- browser


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='bench-chromium-')}")
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"))


TIMED = """
var done = arguments[arguments.length - 1];
var action = arguments[0], value = arguments[1];
var view = document.getElementById('view-samples');
var t0 = performance.now();
if (view) view.removeAttribute('data-samples-ready');
if (action === 'task') document.querySelector('.task-item[data-task="' + value + '"]').click();
if (action === 'search') { var el = document.getElementById('sample-search'); el.value = value; el.dispatchEvent(new Event('input')); }
if (action === 'correct') { var s = document.getElementById('filter-correct'); s.value = value; s.dispatchEvent(new Event('change')); }
if (action === 'next') document.getElementById('page-next').click();  // needs more than one page
(function poll() {
  if (view && view.getAttribute('data-samples-ready')) requestAnimationFrame(function () { done(performance.now() - t0); });
  else setTimeout(poll, 2);
})();
"""


def attr(drv, name: str) -> str:
    return drv.execute_script("return document.getElementById('view-samples').getAttribute(arguments[0])", name)


def measure_page(page: Path, task: str, repeats: int) -> dict[str, float]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out: dict[str, list[float]] = {}
    for _ in range(repeats):
        drv = chromium()
        try:
            drv.set_script_timeout(300)
            t0 = time.perf_counter()
            drv.get(page.as_uri())
            WebDriverWait(drv, 300).until(lambda d: d.execute_script(
                "return document.documentElement.getAttribute('data-ready')") == "1")
            out.setdefault("get_s", []).append(time.perf_counter() - t0)
            out.setdefault("open_ms", []).append(float(drv.execute_script(
                "return document.documentElement.getAttribute('data-ready-ms')")))
            drv.find_element(By.ID, "tab-samples").click()
            out.setdefault("task_ms", []).append(drv.execute_async_script(TIMED, "task", task))
            out.setdefault("task_app_ms", []).append(float(attr(drv, "data-load-ms")))
            # search: the page's own filter + render time (after the box's 120 ms debounce)
            drv.execute_async_script(TIMED, "search", "answer is 1")
            out.setdefault("search_ms", []).append(float(attr(drv, "data-render-ms")))
            drv.execute_async_script(TIMED, "search", "")
            out.setdefault("filter_ms", []).append(drv.execute_async_script(TIMED, "correct", "incorrect"))
            out.setdefault("next_page_ms", []).append(drv.execute_async_script(TIMED, "next", ""))
            out.setdefault("heap_mb", []).append(drv.execute_script(
                "return performance.memory ? performance.memory.usedJSHeapSize / 1e6 : null") or 0.0)
        finally:
            drv.quit()
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=200_000, help="sample lines in the run (default 200000)")
    ap.add_argument("--tasks", type=int, default=40, help="tasks (default 40)")
    ap.add_argument("--keep", type=Path, help="write the run and pages here and keep them")
    ap.add_argument("--repeats", type=int, default=3, help="browser runs per page (median; default 3)")
    ap.add_argument("--no-browser", action="store_true", help="only build the pages")
    ap.add_argument("--no-full", action="store_true", help="skip the 'everything embedded' page")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        run_dir = work / "run" / "bench__synthetic-7b"
        t0 = time.perf_counter()
        lines, size = write_run(run_dir, args.samples, args.tasks)
        print(f"run: {lines:,} sample lines in {args.tasks} tasks, {size / 1e6:.0f} MB of JSONL "
              f"(written in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        configs = [("defaults", {})]
        if not args.no_full:
            configs.append(("everything embedded", {"max_samples": args.samples, "max_bytes": 10**10}))
        rows = []
        for name, options in configs:
            t0 = time.perf_counter()
            report = build_report(run_dir, **options)
            build_s = time.perf_counter() - t0
            page = work / f"report-{name.split()[0]}.html"
            report.write(page)
            st = report.stats
            row = {"config": name, "embedded": st.samples_embedded, "total": st.samples_total,
                   "page_mb": st.page_bytes / 1e6, "json_mb": st.sample_json_bytes / 1e6, "build_s": build_s}
            print(f"{name}: {row}", file=sys.stderr)
            if not args.no_browser:
                row.update(measure_page(page, "gen_task_01" if args.tasks > 1 else "mc_task_00", args.repeats))
                print(f"{name}: {row}", file=sys.stderr)
            rows.append(row)
        cols = ["config", "embedded", "total", "page_mb", "json_mb", "build_s", "open_ms", "get_s", "task_ms",
                "task_app_ms", "search_ms", "filter_ms", "next_page_ms", "heap_mb"]
        cols = [c for c in cols if any(c in r for r in rows)]
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for r in rows:
            cells = []
            for c in cols:
                v = r.get(c, "")
                cells.append(f"{v:,}" if isinstance(v, int) else f"{v:,.2f}" if isinstance(v, float) else str(v))
            print("| " + " | ".join(cells) + " |")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

"""`evallog view` in a real headless Chromium (Debian chromium + chromium-driver), against a real server.

Checked: the app over a folder of lm-eval and lmms-eval runs shows the run
list; a run's results table; a task's samples (paged by the server), a
sample's detail; a comparison of two runs and a flip opening both responses
side by side; corrupt lines shown as such; script planted in a sample shown
as text; and live: a tracker in another process streams samples into a new
run and the page shows the run and its growing count without a reload, then
the run turning complete.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="evallog[view] is not installed")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402
from test_report import LMEVAL, XSS, read_jsonl  # noqa: E402
from test_report_browser import CHROMEDRIVER, CHROMIUM, driver, errors, rows, wait  # noqa: E402,F401
from test_view import Server, copy_tree  # noqa: E402


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = copy_tree(tmp_path_factory.mktemp("view-browser"))
    math_file = base / "lm-eval" / LMEVAL.name / "samples_gt_gen_math_2026-11-26T14-50-01.009042.jsonl"
    lines = math_file.read_text(encoding="utf-8").splitlines(keepends=True)
    rec = json.loads(lines[0])
    rec["resps"], rec["filtered_resps"] = [[XSS]], [XSS]
    lines[0] = json.dumps(rec) + "\n"
    lines.insert(1, '{"doc_id": 42, "this line is cut\n')
    math_file.write_text("".join(lines), encoding="utf-8")
    # the lmms-eval run disagrees with the lm-eval run on docs 0-2 of gt_mc_arith: flips to open
    arith = base / "lmms-eval" / "lmms_output" / "20261126_120000_samples_gt_mc_arith.jsonl"
    recs = read_jsonl(arith)
    for r in recs:
        if r["doc_id"] in (0, 1, 2):
            r["acc"] = 1.0 - r["acc"]
    arith.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return base


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    srv = Server([root])
    yield srv
    srv.stop()


def open_app(drv: Any, srv: Server, fragment: str = "") -> None:
    drv.get("about:blank")
    drv.get_log("browser")  # drop what an earlier page (polling a stopped server) logged
    drv.get(srv.url + fragment)
    wait(drv, lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")


def ready_samples(drv: Any) -> str | None:
    return drv.execute_script(
        "var v = document.getElementById('view-samples'); return v && v.getAttribute('data-samples-ready');"
    )


def open_task(drv: Any, task: str, run_label: str | None = None) -> None:
    drv.find_element(By.ID, "tab-samples").click()
    drv.find_element(By.CSS_SELECTOR, f'.task-item[data-task="{task}"]').click()
    wait(drv, lambda d: (ready_samples(d) or "").endswith("\u0001" + task))


def test_run_list_results_task_and_sample(driver: Any, server: Server, root: Path) -> None:  # noqa: F811
    open_app(driver, server)
    table = driver.find_element(By.ID, "run-list")
    trs = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    flavors = sorted(tr.find_elements(By.TAG_NAME, "td")[5].text for tr in trs)
    assert flavors == ["lm-eval", "lmms-eval"]
    assert {tr.get_attribute("data-status") for tr in trs} == {"complete"}
    # open a run: its results table comes from /api/run
    lm = next(i for i, tr in enumerate(trs) if tr.find_elements(By.TAG_NAME, "td")[5].text == "lm-eval")
    trs[lm].click()
    wait(driver, lambda d: d.find_elements(By.ID, f"results-table-{lm}"))
    tasks = [
        r.get_attribute("data-task") for r in driver.find_elements(By.CSS_SELECTOR, f"#results-table-{lm} tbody tr")
    ]
    assert "gt_mc_arith" in tasks
    # a task: samples paged by the server, in file order
    open_task(driver, "gt_mc_arith")
    Select(driver.find_element(By.ID, "run-select")).select_by_value(str(lm))
    wait(driver, lambda d: d.find_element(By.ID, "run-select").get_attribute("value") == str(lm) and rows(d))
    want = [str(r["doc_id"]) for r in read_jsonl(LMEVAL / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl")]
    wait(driver, lambda d: [r.get_attribute("data-doc") for r in rows(d)] == want)
    assert driver.find_element(By.ID, "samples-summary").text.startswith(f"{len(want)} samples")
    # server-side filter
    Select(driver.find_element(By.ID, "filter-correct")).select_by_value("incorrect")
    wrong = [
        str(r["doc_id"])
        for r in read_jsonl(LMEVAL / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl")
        if r["acc"] == 0
    ]
    wait(driver, lambda d: [r.get_attribute("data-doc") for r in rows(d)] == wrong)
    # counts of the finished search, per filter, as the static report words them
    summary = driver.find_element(By.ID, "samples-summary").text
    assert summary == f"{len(wrong)} of {len(want)} samples match \u00b7 0 correct (0.0% by acc)"
    # a sample: the whole record from /api/sample
    rows(driver)[0].click()
    wait(driver, lambda d: d.find_elements(By.ID, "detail-title"))
    assert driver.find_element(By.ID, "detail-title").text.startswith(f"gt_mc_arith \u00b7 doc {wrong[0]}")
    rec = next(
        r
        for r in read_jsonl(LMEVAL / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl")
        if str(r["doc_id"]) == wrong[0]
    )
    assert driver.find_element(By.ID, "detail-input").text == rec["arguments"]["gen_args_0"]["arg_0"].strip()
    driver.find_element(By.ID, "detail-close").click()
    assert not errors(driver)


def test_corrupt_lines_and_planted_script_are_text(driver: Any, server: Server) -> None:  # noqa: F811
    open_app(driver, server)
    lm = driver.execute_script(
        "return Array.from(document.querySelectorAll('#run-list tbody tr'))"
        ".findIndex(function (tr) { return tr.cells[5].textContent === 'lm-eval'; });"
    )
    open_task(driver, "gt_gen_math")
    Select(driver.find_element(By.ID, "run-select")).select_by_value(str(lm))
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#sample-rows tr.corrupt"))
    bad = driver.find_element(By.CSS_SELECTOR, "#sample-rows tr.corrupt")
    assert "corrupt line: not valid JSON" in bad.text and "this line is cut" in bad.text
    bad.click()
    wait(driver, lambda d: d.find_elements(By.ID, "detail-raw-line"))
    assert driver.find_element(By.ID, "detail-raw-line").text.startswith('{"doc_id": 42')
    driver.find_element(By.ID, "detail-close").click()
    rows(driver)[0].click()
    wait(driver, lambda d: d.find_elements(By.ID, "detail-response"))
    assert driver.find_element(By.ID, "detail-response").text == XSS
    assert driver.execute_script("return window.__pwned === undefined")
    assert not errors(driver)


def test_compare_any_two_runs(driver: Any, server: Server) -> None:  # noqa: F811
    open_app(driver, server, "#/compare")
    wait(
        driver,
        lambda d: (
            (d.find_element(By.ID, "view-compare").get_attribute("data-compare-ready") or "") not in ("", "error")
        ),
    )
    a = Select(driver.find_element(By.ID, "compare-a"))
    b = Select(driver.find_element(By.ID, "compare-b"))
    labels = [o.text for o in a.options]
    lm = next(i for i, t in enumerate(labels) if "T14-50-01" in t)
    lmms = next(i for i, t in enumerate(labels) if "20261126_120000" in t)
    a.select_by_value(str(lm))
    b.select_by_value(str(lmms))
    wait(driver, lambda d: d.find_element(By.ID, "view-compare").get_attribute("data-compare-ready") == f"{lm}|{lmms}")
    table = driver.find_element(By.ID, "compare-table")
    assert "gt_mc_arith" in table.text
    assert driver.current_url.endswith(f"#/compare?a={lm}&b={lmms}")
    flips = driver.find_elements(By.CSS_SELECTOR, "#compare-flips .doc-link")
    assert sorted(f.get_attribute("data-doc") for f in flips) == ["0", "1", "2"]
    flips[1].click()  # opens the sample of both runs side by side
    wait(driver, lambda d: d.find_elements(By.ID, "side-by-side"))
    assert driver.find_element(By.ID, "detail-title").text.startswith(
        f"gt_mc_arith \u00b7 doc {flips[1].get_attribute('data-doc')}"
    )
    assert "20261126_120000" in driver.find_element(By.ID, "sbs-b").text
    assert not errors(driver)


STREAMER = textwrap.dedent("""
    import sys, time
    from evallog import EvaluationTracker
    out, go, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t = EvaluationTracker(output_path=out, flush_every=1, flush_interval=0.1, flavor="lm-eval")
    t.general_config_tracker.log_experiment_args("hf", "pretrained=live/model", None, None, False)
    for i in range(n):
        t.log_sample("live_task", {"doc_id": i, "target": "1", "resps": [["1"]], "filtered_resps": ["1"],
                                   "metrics": ["acc"], "acc": 1.0 if i % 2 == 0 else 0.0,
                                   "arguments": {"gen_args_0": {"arg_0": f"Question {i}", "arg_1": {}}}})
        t.flush()
        if i == 4:
            print("five", flush=True)
            while True:  # wait for the test to look at the page
                try:
                    open(go).close()
                    break
                except FileNotFoundError:
                    time.sleep(0.05)
    t.save_results_aggregated({"results": {"live_task": {"alias": "live_task", "acc,none": 0.5}},
                               "n-samples": {"live_task": {"original": n, "effective": n}}}, None)
    t.close()
    print("done", flush=True)
""")


@pytest.mark.parametrize("empty", [False, True], ids=["beside-a-run", "empty-root"])
def test_live_run_appears_and_grows_without_reload(driver: Any, tmp_path: Path, empty: bool) -> None:  # noqa: F811
    root = tmp_path / "root"
    root.mkdir()
    if not empty:
        shutil.copytree(LMEVAL, root / "old" / LMEVAL.name)
    srv = Server([root])
    go = tmp_path / "go"
    proc = None
    try:
        open_app(driver, srv)
        driver.execute_script("window.__marker = 1")  # survives only without a reload
        assert len(driver.find_elements(By.CSS_SELECTOR, "#run-list tbody tr")) == (0 if empty else 1)
        if empty:
            assert driver.find_element(By.ID, "no-runs").text.startswith("No runs under these folders yet")
        proc = subprocess.Popen(
            [sys.executable, "-c", STREAMER, str(root / "live"), str(go), "12"], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "five"
        t0 = time.monotonic()

        def live_row(d: Any) -> Any:
            found = d.find_elements(By.CSS_SELECTOR, '#run-list tbody tr[data-status="running"]')
            return found[0] if found else None

        def count(d: Any) -> str | None:
            row = live_row(d)
            return row.find_element(By.CSS_SELECTOR, ".run-samples").get_attribute("textContent") if row else None

        wait(driver, lambda d: count(d) == "5", timeout=10)
        seen_after = time.monotonic() - t0
        means = live_row(driver).find_element(By.CSS_SELECTOR, ".run-means").text
        assert "acc 0.600 (5)" in means  # docs 0, 2, 4 right out of 5
        # the growing count in the sample browser too
        open_task(driver, "live_task")
        wait(driver, lambda d: len(rows(d)) == 5)
        go.touch()
        assert proc.stdout.readline().strip() == "done"
        assert proc.wait(30) == 0
        wait(driver, lambda d: len(rows(d)) == 12, timeout=10)
        driver.find_element(By.ID, "tab-overview").click()
        wait(
            driver,
            lambda d: (
                d.find_elements(By.CSS_SELECTOR, '#run-list tbody tr[data-status="complete"]')
                and len(d.find_elements(By.CSS_SELECTOR, '#run-list tbody tr[data-status="complete"]')) == 2 - empty
            ),
            timeout=10,
        )
        assert driver.execute_script("return window.__marker") == 1
        assert seen_after < 4  # polled every second: well within 2 s of the bytes, plus the test's own waits
        assert not errors(driver)
    finally:
        driver.get("about:blank")  # stop polling before the server goes
        go.touch()
        if proc is not None:
            proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        srv.stop()


def test_browser_with_token_and_refused_paths(driver: Any, tmp_path: Path) -> None:  # noqa: F811
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET\n")
    root = copy_tree(tmp_path / "root")
    (root / "escape.txt").symlink_to(outside / "secret.txt")
    srv = Server([root], "--host", "0.0.0.0")
    try:
        base = f"http://127.0.0.1:{srv.port}/"
        driver.get("about:blank")
        driver.get(base)  # no token: refused
        assert "valid token is required" in driver.find_element(By.TAG_NAME, "body").text
        driver.get("about:blank")
        driver.get(f"{base}?token={srv.token}")
        wait(driver, lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#run-list tbody tr")) == 2
        assert "token" not in driver.current_url  # taken out of the address bar; the cookie carries it
        driver.refresh()
        wait(driver, lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#run-list tbody tr")) == 2
        # from inside the page: traversal and a symlink out of the root are refused, a file inside is served
        statuses = driver.execute_async_script("""
            var done = arguments[arguments.length - 1];
            var paths = ['raw/0/%2e%2e/outside/secret.txt', 'raw/0/..%2foutside%2fsecret.txt', 'raw/0/escape.txt',
                         'raw/0/%2fetc%2fpasswd', 'raw/0/lm-eval/bu6tyawv/results_2026-11-26T14-50-01.009042.json'];
            Promise.all(paths.map(function (p) {
              return fetch(p).then(function (r) {
                return r.text().then(function (t) { return [r.status, t.indexOf('TOP SECRET') >= 0]; });
              });
            })).then(done);
        """)
        # (the browser itself resolves %2e%2e: that request reaches no route at all)
        assert [s for s, _ in statuses[:4]] == [404, 403, 403, 403] and not any(leak for _, leak in statuses)
        assert statuses[4][0] == 200
        driver.get("about:blank")
        driver.get(base + "raw/0/escape.txt")
        assert "TOP SECRET" not in driver.page_source
    finally:
        driver.get("about:blank")
        srv.stop()


def test_an_unreadable_file_is_reported_and_hides_nothing_else(driver: Any, tmp_path: Path) -> None:  # noqa: F811
    root = tmp_path / "root"
    shutil.copytree(LMEVAL, root / "good" / LMEVAL.name)
    (root / "broken").mkdir()
    (root / "broken" / "results_2026-01-01T00-00-00.000001.json").write_text("{<script>window.__pwned=7</script>")
    srv = Server([root])
    try:
        open_app(driver, srv)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#run-list tbody tr")) == 1
        notice = driver.find_element(By.ID, "scan-errors").text
        assert "results_2026-01-01T00-00-00.000001.json" in notice and "not valid JSON" in notice
        assert driver.execute_script("return window.__pwned === undefined")
        assert not errors(driver)
    finally:
        driver.get("about:blank")
        srv.stop()

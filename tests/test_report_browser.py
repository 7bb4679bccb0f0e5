"""evallog report pages opened in a real headless Chromium (Debian's chromium + chromium-driver).

The pages are loaded from file:// URLs, as a user opening an attachment would.
Checked: the page renders with no console error and fetches nothing; the
results table shows make_table's rows; leaderboard and comparison tables;
the sample browser's search, correctness filter, filter-name filter, sort and
pagination; opening a sample shows its prompt, target and responses, side by
side with the other run; the capping notice; state restored from the URL hash;
and that `<script>` / `<img onerror>` planted in samples, aliases, model names
and the title never run and show as text.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install evallog[test])")

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402
from test_report import LMEVAL, XSS, copy_run, read_jsonl, write_synthetic_run  # noqa: E402

from evallog.compare import compare  # noqa: E402
from evallog.readers import load_run  # noqa: E402
from evallog.report import render_report  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)", allow_module_level=True)

EVIL_MODEL = "evil<script>window.__pwned=5</script>"
EVIL_ALIAS = "<img src=x onerror=window.__pwned=4>arith"
TABLE_MD = LMEVAL.parents[1] / "table_results.md"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def driver():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1400,1000"):
        options.add_argument(arg)
    profile = tempfile.mkdtemp(prefix="evallog-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _evil_sample(task: str, rec: dict[str, Any]) -> dict[str, Any]:
    """Run B: a few flips, a better answer for doc 1, and script injections in doc 3."""
    if task == "gt_mc_arith" and rec["doc_id"] in (0, 1, 2):
        rec["acc"] = 1.0 - rec["acc"]
    if task == "gt_gen_math" and rec["doc_id"] == 1:
        rec["resps"], rec["filtered_resps"], rec["exact_match"] = [["The answer is 63."]], ["63"], 1.0
    if task == "gt_gen_math" and rec["doc_id"] == 3:
        rec["resps"], rec["filtered_resps"] = [[XSS]], [XSS]
        rec["arguments"]["gen_args_0"]["arg_0"] = XSS + " pwned prompt"
    return rec


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-pages")

    def edit_results(results: dict[str, Any]) -> None:
        results["results"]["gt_mc_arith"]["alias"] = EVIL_ALIAS

    evil = copy_run(LMEVAL, root / "runs" / "evil", model_name=EVIL_MODEL, edit_sample=_evil_sample,
                    edit_results=edit_results)
    main = root / "main.html"
    render_report([LMEVAL, evil], main, title="Report <script>window.__pwned=6</script>")
    big = write_synthetic_run(root / "runs" / "big", {"big_task": 130})
    big_page = root / "big.html"
    render_report(big, big_page, max_samples=120)
    return {"main": main, "big": big_page, "evil": evil}


# --------------------------------------------------------------------------- helpers


def wait(drv, condition, timeout: float = 15):
    return WebDriverWait(drv, timeout, poll_frequency=0.05).until(lambda d: condition(d))


def open_page(drv, page: Path, fragment: str = "") -> None:
    drv.get("about:blank")
    drv.get(page.as_uri() + fragment)
    wait(drv, lambda d: d.execute_script("return document.documentElement.getAttribute('data-ready')") == "1")


def errors(drv) -> list[dict[str, Any]]:
    return [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def rows(drv) -> list[Any]:
    return drv.find_elements(By.CSS_SELECTOR, "#sample-rows tr")


def row_keys(drv) -> list[tuple[str, str]]:
    return [(r.get_attribute("data-doc"), r.get_attribute("data-filter")) for r in rows(drv)]


def wait_rows(drv, n: int) -> None:
    wait(drv, lambda d: len(rows(d)) == n or (n == 0 and d.find_elements(By.ID, "samples-none")))


def samples_ready(drv) -> str | None:
    return drv.execute_script("var v = document.getElementById('view-samples'); "
                              "return v && v.getAttribute('data-samples-ready');")


def open_task(drv, task: str) -> None:
    drv.find_element(By.ID, "tab-samples").click()
    drv.find_element(By.CSS_SELECTOR, f'.task-item[data-task="{task}"]').click()
    wait(drv, lambda d: samples_ready(d) not in (None, "") and
         d.find_element(By.ID, "samples-title").text == task)


def pwned(drv) -> Any:
    return drv.execute_script("return typeof window.__pwned === 'undefined' ? null : window.__pwned;")


def md_rows(path: Path) -> list[list[str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("|")][2:]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


# --------------------------------------------------------------------------- tests


def test_page_opens_offline_and_shows_the_results_table(driver, pages):
    driver.get_log("browser")  # drop earlier entries
    open_page(driver, pages["main"])
    assert errors(driver) == []
    # nothing was fetched: no script, style, font or image resource at all
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    table = driver.find_element(By.ID, "results-table-0")
    shown = [[td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    for row in shown:
        row[0] = row[0].removeprefix("- ")
    expected = md_rows(TABLE_MD)
    for row in expected:
        row[0] = row[0].removeprefix("- ")
    assert shown == expected
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers == ["Tasks", "Version", "Filter", "n-shot", "Metric", "", "Value", "", "Stderr"]
    assert driver.find_element(By.ID, "groups-table-0").find_element(By.CSS_SELECTOR, "tbody td").text == \
        "GT Knowledge (group alias)"


def test_leaderboard_and_comparison(driver, pages):
    open_page(driver, pages["main"])
    driver.find_element(By.ID, "tab-leaderboard").click()
    board = driver.find_element(By.ID, "leaderboard-table")
    names = [tr.find_element(By.TAG_NAME, "td").text for tr in board.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert sorted(names) == sorted(["bu6tyawv", EVIL_MODEL])

    driver.find_element(By.ID, "tab-compare").click()
    table = driver.find_element(By.ID, "compare-table")
    comp = compare(load_run(LMEVAL), load_run(pages["evil"]))
    body = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(body) == len(comp.rows)
    assert [tr.find_elements(By.TAG_NAME, "td")[0].text for tr in body] == [r.task for r in comp.rows]
    # the flipped samples are listed; one click opens the sample with both runs side by side
    flip = next(f for f in comp.flips() if f.task == "gt_gen_math" and f.filter == "strict-match")
    assert (flip.doc_id, flip.direction) == (1, "wrong_to_right")
    links = driver.find_elements(By.CSS_SELECTOR, "#compare-flips .doc-link")
    assert len(links) == len(comp.flips())
    target = next(a for a in driver.find_elements(By.CSS_SELECTOR, "#compare-flips .flip-line")
                  if a.text.startswith("gt_gen_math \u00b7 strict-match"))
    target.find_element(By.CSS_SELECTOR, '.doc-link[data-doc="1"]').click()
    wait(driver, lambda d: d.find_element(By.ID, "detail").is_displayed())
    assert driver.find_element(By.ID, "detail-title").text == "gt_gen_math \u00b7 doc 1 \u00b7 strict-match"
    assert driver.find_element(By.ID, "detail-response").text == "[invalid]"
    assert driver.find_element(By.ID, "other-response").text == "63"
    assert driver.find_element(By.ID, "other-raw").text == "The answer is 63."


def test_search_filters_and_sort(driver, pages):
    open_page(driver, pages["main"])
    open_task(driver, "gt_gen_math")
    wait_rows(driver, 20)
    search = driver.find_element(By.ID, "sample-search")
    search.send_keys("Compute 44 + 19")
    wait_rows(driver, 2)
    assert row_keys(driver) == [("1", "strict-match"), ("1", "flexible-extract")]
    search.send_keys(Keys.CONTROL, "a")
    search.send_keys(Keys.DELETE)
    wait_rows(driver, 20)

    Select(driver.find_element(By.ID, "filter-name")).select_by_value("strict-match")
    wait_rows(driver, 10)
    assert {f for _, f in row_keys(driver)} == {"strict-match"}
    Select(driver.find_element(By.ID, "filter-name")).select_by_value("")
    wait_rows(driver, 20)

    open_task(driver, "gt_mc_arith")
    lines = read_jsonl(next(LMEVAL.glob("samples_gt_mc_arith_*.jsonl")))
    right = sorted(str(r["doc_id"]) for r in lines if r["acc"] == 1.0)
    wrong = sorted(str(r["doc_id"]) for r in lines if r["acc"] == 0.0)
    correctness = Select(driver.find_element(By.ID, "filter-correct"))
    correctness.select_by_value("correct")
    wait_rows(driver, len(right))
    assert sorted(d for d, _ in row_keys(driver)) == right
    correctness.select_by_value("incorrect")
    wait_rows(driver, len(wrong))
    assert sorted(d for d, _ in row_keys(driver)) == wrong
    # the other run (side by side by default) disagrees on docs 0, 1 and 2
    correctness.select_by_value("all")
    Select(driver.find_element(By.ID, "filter-agree")).select_by_value("differs")
    wait_rows(driver, 3)
    assert [d for d, _ in row_keys(driver)] == ["0", "1", "2"]
    Select(driver.find_element(By.ID, "filter-agree")).select_by_value("all")
    Select(driver.find_element(By.ID, "sort")).select_by_value("doc-desc")
    wait(driver, lambda d: row_keys(d)[0] == ("9", "none"))
    assert [d for d, _ in row_keys(driver)] == [str(i) for i in range(9, -1, -1)]


def test_opening_a_sample_shows_prompt_target_and_responses(driver, pages):
    open_page(driver, pages["main"])
    open_task(driver, "gt_gen_math")
    wait_rows(driver, 20)
    rec = read_jsonl(next(LMEVAL.glob("samples_gt_gen_math_*.jsonl")))[0]
    rows(driver)[0].click()
    wait(driver, lambda d: d.find_element(By.ID, "detail").is_displayed())
    assert driver.find_element(By.ID, "detail-input").text == rec["arguments"]["gen_args_0"]["arg_0"]
    assert driver.find_element(By.ID, "detail-target").text == rec["target"] == "-7"
    assert driver.find_element(By.ID, "detail-response").text == "[invalid]"
    assert driver.find_element(By.ID, "detail-raw").text == "lol"
    chips = driver.find_element(By.ID, "detail-metrics").text
    assert "exact_match" in chips
    # both runs side by side for the same (doc, filter)
    side = driver.find_element(By.ID, "side-by-side")
    cols = side.find_elements(By.CSS_SELECTOR, ".sbs-col h3")
    assert cols[0].text.startswith("bu6tyawv@") and cols[1].text.startswith(EVIL_MODEL)
    assert driver.find_element(By.ID, "other-response").text == "[invalid]"
    # next sample, then Esc closes
    driver.find_element(By.ID, "detail-next").click()
    wait(driver, lambda d: d.find_element(By.ID, "detail-title").text.endswith("doc 0 \u00b7 flexible-extract"))
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    wait(driver, lambda d: not d.find_element(By.ID, "detail").is_displayed())


def test_injected_scripts_never_run_and_show_as_text(driver, pages):
    open_page(driver, pages["main"])
    # every view renders strings from the results: the title, the evil model name, the alias
    for tab in ("overview", "leaderboard", "compare", "samples"):
        driver.find_element(By.ID, f"tab-{tab}").click()
    assert driver.title == "Report <script>window.__pwned=6</script>"
    assert driver.find_element(By.ID, "report-title").text == "Report <script>window.__pwned=6</script>"
    assert driver.find_element(By.CSS_SELECTOR, "#run-card-1 h3").get_attribute("textContent") == EVIL_MODEL
    aliases = [td.get_attribute("textContent") for td in driver.find_elements(By.CSS_SELECTOR, "#results-table-1 td.task")]
    assert EVIL_ALIAS in aliases

    open_task(driver, "gt_gen_math")
    Select(driver.find_element(By.ID, "run-select")).select_by_visible_text(EVIL_MODEL)
    wait(driver, lambda d: d.find_element(By.ID, "run-select").get_attribute("value") == "1" and len(rows(d)) == 20)
    driver.find_element(By.ID, "sample-search").send_keys("pwned")
    wait_rows(driver, 2)
    assert row_keys(driver) == [("3", "strict-match"), ("3", "flexible-extract")]
    cells = rows(driver)[0].find_elements(By.TAG_NAME, "td")
    assert any(XSS[:30] in c.text for c in cells)
    rows(driver)[0].click()
    wait(driver, lambda d: d.find_element(By.ID, "detail").is_displayed())
    assert driver.find_element(By.ID, "detail-response").text == XSS
    assert driver.find_element(By.ID, "detail-input").text == XSS + " pwned prompt"
    assert pwned(driver) is None
    assert driver.execute_script("return document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert len(driver.find_elements(By.TAG_NAME, "script")) == 1 + len(
        driver.find_elements(By.CSS_SELECTOR, 'script[type="application/json"]'))
    assert errors(driver) == []


def test_big_task_is_paginated_and_says_it_is_capped(driver, pages):
    open_page(driver, pages["big"])
    driver.find_element(By.ID, "tab-samples").click()
    wait(driver, lambda d: samples_ready(d) not in (None, ""))
    notice = driver.find_element(By.ID, "samples-notice")
    assert notice.is_displayed()
    assert "first 120 of 130 samples" in notice.text and "--max-samples" in notice.text
    assert driver.find_element(By.ID, "cap-notice").get_attribute("textContent").startswith("Sample logs were capped")
    wait_rows(driver, 50)
    assert driver.find_element(By.ID, "page-info").text.startswith("1\u201350 of 120")
    assert driver.find_element(By.ID, "page-prev").get_attribute("disabled") is not None
    driver.find_element(By.ID, "page-next").click()
    wait(driver, lambda d: row_keys(d)[0][0] == "50")
    driver.find_element(By.ID, "page-next").click()
    wait_rows(driver, 20)
    assert [d for d, _ in row_keys(driver)] == [str(i) for i in range(100, 120)]
    assert driver.find_element(By.ID, "page-next").get_attribute("disabled") is not None
    # correctness across pages: every third doc is right
    Select(driver.find_element(By.ID, "filter-correct")).select_by_value("correct")
    wait_rows(driver, 40)
    assert driver.find_element(By.ID, "samples-summary").text.startswith("40 of 120 samples match")


def test_state_is_restored_from_the_url(driver, pages):
    open_page(driver, pages["main"], "#/samples?task=gt_mc_arith&correct=incorrect&other=none")
    wait(driver, lambda d: samples_ready(d) not in (None, ""))
    wait_rows(driver, 5)
    assert Select(driver.find_element(By.ID, "filter-correct")).first_selected_option.get_attribute("value") == "incorrect"
    assert driver.find_element(By.ID, "samples-title").text == "gt_mc_arith"
    rows(driver)[0].click()
    wait(driver, lambda d: d.find_element(By.ID, "detail").is_displayed())
    assert not driver.find_elements(By.ID, "side-by-side")
    href = driver.execute_script("return location.hash")
    assert "open=" in href and "task=gt_mc_arith" in href
    # the same link opens the same sample
    open_page(driver, pages["main"], href)
    wait(driver, lambda d: d.find_element(By.ID, "detail").is_displayed())
    assert driver.find_element(By.ID, "detail-title").text.startswith("gt_mc_arith \u00b7 doc 2")
    json.loads(driver.find_element(By.ID, "evallog-meta").get_attribute("textContent"))

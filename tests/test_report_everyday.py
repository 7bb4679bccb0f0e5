"""The report as a new user reads it (issue 16), in headless Chromium.

Dates in one ISO 8601 rendering with the zone and the run id labelled as such,
per-filter counts in the sample browser, the CLI's column names, and the
prompt column showing the end of the prompt with the whole text on hover.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install evallog[test])")

import test_report_browser  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from test_report_browser import open_page, open_task, rows, wait  # noqa: E402

browser = test_report_browser.driver  # the headless Chromium fixture of the report's browser tests

from evallog.readers import load_run  # noqa: E402

DATA = Path(__file__).parent / "data"
LMEVAL = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS = DATA / "lmms_run1" / "lmms_output"
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("everyday")
    exe = Path(sys.executable).parent / "evallog"
    cmd = [str(exe) if exe.exists() else shutil.which("evallog") or "evallog"]
    subprocess.run([*cmd, "demo", "--output", str(root / "demo")], check=True, capture_output=True)
    out = root / "report.html"
    subprocess.run([*cmd, "report", str(_small(root)), str(LMEVAL), str(LMMS), "-o", str(out)],
                   check=True, capture_output=True)
    return out


def _small(root: Path) -> Path:
    """The demo's weakest model (its only one, in versions with one toy model)."""
    folders = sorted(p for p in (root / "demo").iterdir() if p.is_dir())
    return next((p for p in folders if p.name.endswith("small")), folders[0])


def config_of(drv, i: int) -> dict[str, str]:
    card = drv.find_element(By.ID, f"run-card-{i}")
    dts = [e.text for e in card.find_elements(By.TAG_NAME, "dt")]
    dds = [e.text for e in card.find_elements(By.TAG_NAME, "dd")]
    return dict(zip(dts, dds, strict=True))


def test_dates_are_iso_with_zone_and_run_ids_are_labelled(browser, page):
    open_page(browser, page)
    dates = []
    for i, run_id in enumerate([None, "2026-11-26T14-50-01.009042", "20261126_225343"]):
        cfg = config_of(browser, i)
        assert ISO.match(cfg["date"]), cfg
        if run_id:
            assert cfg["run id"] == run_id
            assert f"run id {run_id}" in browser.find_element(By.ID, f"run-card-{i}").text
        dates.append(cfg["date"])
    # lm-eval's start (epoch 1795704599) and lmms-eval's id in its default zone (UTC+08:00), both in UTC
    assert dates[1] == "2026-11-26T14:49:59Z"
    assert dates[2] == "2026-11-26T14:53:43Z"
    assert "generated" in browser.find_element(By.TAG_NAME, "body").text


def test_counts_are_per_filter(browser, page):
    open_page(browser, page)
    open_task(browser, "demo_gen_math")
    wait(browser, lambda d: len(rows(d)) > 0)
    summary = browser.find_element(By.ID, "samples-summary").text
    run = load_run(_small(page.parent))
    shown = re.findall(r"(strict-match|flexible-extract): (\d+) samples, (\d+) correct \(([\d.]+)% by exact_match\)",
                       summary)
    assert [f for f, *_ in shown] == ["strict-match", "flexible-extract"], summary
    for filt, n, right, pct in shown:
        recs = [r for r in run.samples("demo_gen_math") if r["filter"] == filt]
        correct = sum(1 for r in recs if r["exact_match"] == 1.0)
        assert (int(n), int(right)) == (len(recs), correct)
        assert abs(float(pct) - 100 * correct / len(recs)) <= 0.0501  # rounded to one decimal
    rates = {f: int(r) / int(n) for f, n, r, _ in shown}
    assert rates["strict-match"] != rates["flexible-extract"]  # mixing them would hide this


def test_results_table_headers_are_the_clis(browser, page):
    open_page(browser, page)
    table = browser.find_element(By.ID, "results-table-0")
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert "Stderr_CLT" in headers and "stderr_clt" not in headers
    md = subprocess.run([sys.executable, "-m", "evallog", "table", str(_small(page.parent))],
                        capture_output=True, text=True, check=True).stdout
    assert "Stderr_CLT" in md.splitlines()[0]


def test_prompt_column_shows_the_end_and_the_whole_prompt_on_hover(browser, page):
    open_page(browser, page)
    for task, question, path in (
        ("gt_mc_arith", "What is 23 + 11?", next(LMEVAL.glob("samples_gt_mc_arith_*.jsonl"))),
        ("demo_gen_math", "Compute ", next(_small(page.parent).glob("*_samples_demo_gen_math.jsonl"))),
    ):
        open_task(browser, task)
        wait(browser, lambda d: len(rows(d)) > 0)
        heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#view-samples thead th")]
        cell = rows(browser)[0].find_elements(By.TAG_NAME, "td")[heads.index("Prompt")]
        rec = json.loads(path.read_text().splitlines()[0])
        prompt = rec["arguments"]["gen_args_0"]["arg_0"] if "arguments" in rec else rec["input"]  # lm-eval, lmms-eval
        assert cell.get_attribute("title") == prompt  # the whole prompt on hover
        text = browser.execute_script("return arguments[0].textContent", cell)
        # the end of the prompt, up to the ending all prompts of the task share ("\nAnswer:", an
        # instruction): the question is what shows at the right end of the cell, not a middle fragment
        core = text.removesuffix(" \u2026").replace(" \u23ce ", "\n")
        assert core.lstrip("\u2026") in prompt
        assert question in text and text.index(question) > len(text) - 60, text
        assert not text.startswith("\u2026") or len(prompt) > 240

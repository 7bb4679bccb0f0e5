"""evallog report: the data that goes into the page, its escaping and its limits.

The browser side (the page really rendering, searching, filtering, and not
running injected scripts) is in test_report_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog import layout as naming
from evallog.cli import main
from evallog.errors import ConfigError
from evallog.readers import list_runs, load_run
from evallog.report import (
    build_report,
    compact_sample,
    compact_text,
    compact_value,
    iter_blocks,
    read_block,
    render_report,
)
from evallog.table import make_table

DATA = Path(__file__).parent / "data"
LMEVAL = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS = DATA / "lmms_run1" / "lmms_output"
LMMS_FROM = DATA / "lmms_from_run1" / "lmms_output"

XSS = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">"


# --------------------------------------------------------------------------- helpers (also used by the browser tests)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def copy_run(
    src: Path,
    dst: Path,
    *,
    model_name: str | None = None,
    edit_sample: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
    edit_results: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Copy a real run folder, editing its samples and results on the way."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.iterdir()):
        parsed = naming.parse_filename(f.name)
        if parsed is None:
            continue
        if parsed.kind == "results":
            results = json.loads(f.read_text(encoding="utf-8"))
            if model_name is not None:
                results["model_name"] = model_name
            if edit_results:
                edit_results(results)
            (dst / f.name).write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
        elif edit_sample is None:
            shutil.copy(f, dst / f.name)
        else:
            recs = [edit_sample(parsed.task, r) for r in read_jsonl(f)]
            (dst / f.name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return dst


def write_synthetic_run(
    folder: Path,
    tasks: dict[str, int],
    *,
    filters: tuple[str, ...] = ("none",),
    run_id: str = "2026-01-02T03-04-05.000001",
    model_name: str = "synthetic/model",
    prompt: Callable[[int], str] = lambda i: f"Question {i}: what is {i} + {i}?\nAnswer:",
) -> Path:
    """An lm-eval run folder with generation tasks of ``n`` docs each (every third doc right)."""
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"results": {}, "configs": {}, "versions": {}, "n-shot": {},
                               "higher_is_better": {}, "n-samples": {}, "model_name": model_name,
                               "config": {"model": "hf", "model_args": "pretrained=x,token=hf_secret"}}
    for task, n in tasks.items():
        entry: dict[str, Any] = {"alias": task}
        lines = []
        for f in filters:
            right = 0
            for i in range(n):
                ok = i % 3 == 0
                right += ok
                lines.append(json.dumps({
                    "doc_id": i, "doc": {"q": i}, "target": str(2 * i),
                    "arguments": {"gen_args_0": {"arg_0": prompt(i), "arg_1": {"until": ["\n"]}}},
                    "resps": [[f"The answer is {2 * i if ok else -1}."]],
                    "filtered_resps": [str(2 * i) if ok else "-1"],
                    "filter": f, "metrics": ["exact_match"], "doc_hash": f"h{i}", "prompt_hash": "p",
                    "target_hash": "t", "exact_match": 1.0 if ok else 0.0,
                }) + "\n")
            entry[f"exact_match,{f}"] = right / n
            entry[f"exact_match_stderr,{f}"] = 0.01
        results["results"][task] = entry
        results["versions"][task] = 1.0
        results["n-shot"][task] = 0
        results["higher_is_better"][task] = {"exact_match": True}
        results["n-samples"][task] = {"original": n, "effective": n}
        results["configs"][task] = {"task": task, "filter_list": [{"name": f} for f in filters]}
        (folder / naming.samples_filename("lm-eval", task, run_id)).write_text("".join(lines), encoding="utf-8")
    (folder / naming.results_filename("lm-eval", run_id)).write_text(json.dumps(results), encoding="utf-8")
    return folder


def blocks_of(page: str) -> dict[str, Any]:
    return {bid: read_block(page, bid) for bid, _, _ in iter_blocks(page)}


def meta_of(page: str) -> dict[str, Any]:
    return read_block(page, "evallog-meta")


# --------------------------------------------------------------------------- text compaction


def test_compact_text_keeps_short_text_and_cuts_the_middle_of_long_text():
    assert compact_text("Question: 2+2?\nAnswer:", 100) == "Question: 2+2?\nAnswer:"
    prompt = "Q: 1+1?\nA: 2\n\n" * 300 + "Q: 40+2?\nA:"
    out = compact_text(prompt, 300)
    assert out.startswith(prompt[:100]) and out.endswith(prompt[-200:])  # the real question is kept
    assert f" \u2026 [{len(prompt) - 300:,} characters cut] \u2026 " in out
    assert compact_text("ab12" * 2000, 300).startswith("ab12ab12")  # hex-like text is text, cut as usual


def test_compact_text_labels_inline_media():
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + bytes(3000)).decode()
    assert compact_text(png) == "[image/png, 3.0 kB inline]"
    blob = base64.b64encode(bytes(range(256)) * 15).decode()
    assert compact_text(blob) == f"[binary data, {len(blob):,} characters]"
    embedded = "look: <img src='" + png + "'> what is it?"
    out = compact_text(embedded)
    assert "[image/png, 3.0 kB inline]" in out and "base64" not in out and out.endswith("what is it?")


@given(st.text(max_size=400), st.integers(min_value=16, max_value=300))
def test_compact_text_never_exceeds_the_limit_plus_marker(text, limit):
    out = compact_text(text, limit)
    if len(text) <= limit and not text.startswith("data:"):
        assert out == text
    assert len(out) <= limit + len(" \u2026 [1,000,000 characters cut] \u2026 ")


def test_compact_value_labels_described_media_and_caps_containers():
    value = {
        "image": {"type": "image", "mode": "RGB", "size": [640, 480], "sha256": "ab" * 32},
        "hf_image": {"bytes": "x" * 10, "path": "cat.png"},
        "many": list(range(500)),
    }
    out = compact_value(value)
    assert out["image"] == "[image, 640\u00d7480, RGB, sha256 abababababab]"
    assert out["hf_image"].startswith("[image cat.png")
    assert len(out["many"]) == 65 and out["many"][-1] == "\u2026 436 more items"


# --------------------------------------------------------------------------- sample records


def test_compact_sample_lm_eval_multiple_choice_real_line():
    rec = read_jsonl(next(LMEVAL.glob("samples_gt_mc_arith_*.jsonl")))[0]
    out = compact_sample(rec, metrics=["acc", "acc_norm"], filter_index=0)
    assert out["d"] == 0 and out["f"] == 0
    assert out["i"] == "Question: What is 23 + 11?\nAnswer:"
    assert out["ch"] == [" 31", " 41", " 34", " 39"]
    assert out["t"] == "2" and out["ti"] == 2
    assert out["p"] == 2 and out["r"] == " 34"  # highest log-likelihood: -0.37
    assert out["ll"] == [-0.576, -0.3912, -0.3701, -0.9805]
    assert out["v"] == [1.0, 1.0] and out["c"] == 1
    assert out["x"]["doc"]["id"] == "arith-100"


def test_compact_sample_lm_eval_generation_keeps_raw_response():
    rec = read_jsonl(next(LMEVAL.glob("samples_gt_gen_math_*.jsonl")))[0]
    out = compact_sample(rec, metrics=["exact_match"], filter_index=1)
    assert out["r"] == "[invalid]" and out["rr"] == "lol"
    assert out["t"] == "-7" and out["c"] == 0 and out["v"] == [0.0]
    assert out["i"].startswith("Question: Compute 65 - 72.")
    assert "ch" not in out and "p" not in out


def test_compact_sample_lmms_shapes():
    recs = read_jsonl(LMMS / "20261126_225343_samples_gt_gen_math.jsonl")
    out = compact_sample(recs[0], metrics=["exact_match"], filter_index=0)
    assert out["i"] == recs[0]["input"] and out["r"] == "[invalid]" and out["rr"] == "A"
    assert out["x"] == {"token_counts": [None]}
    # lmms-eval multiple choice: `input` holds the first request's (context, continuation)
    mc = read_jsonl(LMMS_FROM / "20261126_120000_samples_gt_mc_arith.jsonl")[0]
    out = compact_sample(mc, metrics=["acc", "acc_norm"], filter_index=0)
    assert out["i"] == "Question: What is 23 + 11?\nAnswer:" and out["p"] == 2 and out["r"] == "choice 2"


def test_compact_sample_media_and_dict_metrics():
    rec = {
        "doc_id": 7, "target": "Yes", "resps": "<think>hmm</think> Yes", "filtered_resps": "Yes",
        "input": "<image>Is it red?", "input_media": ["data:image/jpeg;base64," + "A" * 4000],
        "mme_score": {"question_id": 7, "score": 1},
    }
    out = compact_sample(rec, metrics=["mme_score"], filter_index=0)
    assert out["i"] == "<image>Is it red?" and out["r"] == "Yes" and out["rr"] == "<think>hmm</think> Yes"
    assert out["x"]["input_media"] == ["[image/jpeg, 3.0 kB inline]"]
    assert json.loads(out["v"][0]) == {"question_id": 7, "score": 1} and out["c"] is None


# --------------------------------------------------------------------------- whole pages


def test_report_of_the_real_runs(tmp_path):
    out = tmp_path / "r.html"
    html = render_report([LMEVAL, LMMS, LMMS_FROM], out)
    assert out.read_text(encoding="utf-8") == html
    meta = meta_of(html)
    runs = [load_run(LMEVAL), load_run(LMMS), load_run(LMMS_FROM)]
    assert [r["run_id"] for r in meta["runs"]] == [r.run_id for r in runs]
    # the results table is make_table's data
    for r, run in zip(meta["runs"], runs):
        expected = json.loads(make_table(run.results, fmt="json"))
        assert [{k: v for k, v in rec.items() if k != "depth"} for rec in r["results_table"]] == expected
    depth = {rec["task"]: rec["depth"] for rec in meta["runs"][0]["results_table"]}
    assert depth == {"gt_group": 0, "gt_sub_history": 1, "gt_sub_science": 1, "gt_gen_math": 0, "gt_mc_arith": 0}
    assert meta["runs"][0]["groups_table"][0]["group"] == "gt_group"
    # every sample line of every run is embedded, under its filter
    blocks = blocks_of(html)
    total = 0
    for task in meta["tasks"]:
        for entry in task["runs"]:
            run = runs[entry["run"]]
            if not run.has_samples(task["name"]):
                assert entry["block"] is None
                continue
            block = blocks[entry["block"]]
            lines = list(run.samples(task["name"]))
            assert entry["n_total"] == entry["n_embedded"] == len(block["samples"]) == len(lines)
            assert [(s["d"], block["filters"][s["f"]]) for s in block["samples"]] == [
                (rec["doc_id"], rec["filter"]) for rec in lines]
            total += len(lines)
    assert total == 132
    lmms_math = next(t for t in meta["tasks"] if t["name"] == "gt_gen_math")["runs"][1]
    assert blocks[lmms_math["block"]]["filters"] == ["strict-match", "flexible-extract"]
    # two models: a leaderboard; pairs compared with the first run by default
    assert meta["leaderboard"]["headers"][0] == "Model" and len(meta["leaderboard"]["rows"]) == 2
    assert [(c["a"], c["b"]) for c in meta["comparisons"]] == [(0, 1), (0, 2)]
    assert all(row[0] == "gt_gen_math" for row in meta["comparisons"][0]["rows"])


def test_model_args_secrets_are_not_in_the_page(tmp_path):
    run = write_synthetic_run(tmp_path / "m", {"t": 3})
    html = render_report(run)
    assert "hf_secret" not in html
    assert ["model_args", "pretrained=x,token=[REDACTED]"] in meta_of(html)["runs"][0]["config"]


def _csp(html: str) -> str:
    return re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_is_self_contained_with_a_strict_csp():
    html = render_report(LMEVAL)
    csp = _csp(html)
    assert "default-src 'none'" in csp and "img-src data:" in csp and "unsafe" not in csp
    script = re.findall(r"<script>(.*?)</script>", html, re.S)
    style = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(script) == 1 and len(style) == 1
    assert f"script-src {_sha(script[0])}" in csp and f"style-src {_sha(style[0])}" in csp
    # nothing to fetch: no URLs, no external references
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I)
    assert re.findall(r"\b(?:src|href)=\"([^\"]*)\"", html) == ["data:,"]
    assert "@import" not in style[0] and "url(" not in style[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("<>&/!-'\"\u2028\u2029 scriptSCRIPT=\\"))
               | st.characters(exclude_categories=("Cs",)), max_size=60))  # lone surrogates: tested below
def test_no_string_from_the_results_can_break_out_of_the_data(tmp_path_factory, evil):
    evil = evil + "</script><!--<script>" + XSS
    root = tmp_path_factory.mktemp("evil")

    def edit(task: str, rec: dict[str, Any]) -> dict[str, Any]:
        rec["target"] = evil
        rec["filtered_resps"] = [evil]
        return rec

    def edit_results(results: dict[str, Any]) -> None:
        results["results"]["gt_mc_arith"]["alias"] = evil

    copy_run(LMEVAL, root / "m", model_name=evil, edit_sample=edit, edit_results=edit_results)
    html = render_report(root, title=evil, compress=False)
    # the page's own markup is all there is: one style, one script, the data blocks
    assert len(re.findall(r"<script", html, re.I)) == 1 + len(list(iter_blocks(html)))
    assert len(re.findall(r"</script", html, re.I)) == 1 + len(list(iter_blocks(html)))
    for _bid, _, payload in iter_blocks(html):
        assert "<" not in payload and ">" not in payload and "&" not in payload
        assert "\u2028" not in payload and "\u2029" not in payload
    meta = meta_of(html)
    assert meta["title"] == evil and meta["runs"][0]["model"] == evil
    arith = [r for r in meta["runs"][0]["results_table"] if r["task"] == "gt_mc_arith"]
    assert arith[0]["alias"] == evil
    for block in blocks_of(html).values():
        if "samples" in block:
            assert all(s["t"] == compact_text(evil) for s in block["samples"])


def test_caps_keep_whole_documents_and_say_why(tmp_path):
    run = write_synthetic_run(tmp_path / "m", {"big": 50, "small": 5}, filters=("strict", "flex"))
    report = build_report(run, max_samples=20)
    meta = meta_of(report.html)
    big = next(t for t in meta["tasks"] if t["name"] == "big")["runs"][0]
    assert (big["n_embedded"], big["n_total"], big["capped"]) == (20, 100, "max_samples")
    block = read_block(report.html, big["block"])
    docs = sorted({s["d"] for s in block["samples"]})
    assert docs == list(range(10))
    assert sorted((s["d"], block["filters"][s["f"]]) for s in block["samples"]) == sorted(
        (d, f) for d in range(10) for f in ("strict", "flex"))
    assert report.stats.capped == [{"run": 0, "task": "big", "embedded": 20, "total": 100, "reason": "max_samples"}]
    assert report.stats.samples_total == 110 and report.stats.samples_embedded == 30

    # a byte budget: fewer documents, still whole ones, and the small task still gets its share
    report = build_report(run, max_bytes=12_000, compress=False)
    meta = meta_of(report.html)
    big, small = (next(t for t in meta["tasks"] if t["name"] == n)["runs"][0] for n in ("big", "small"))
    assert big["capped"] == "max_bytes" and 0 < big["n_embedded"] < 100 and big["n_embedded"] % 2 == 0
    assert small["capped"] is None and small["n_embedded"] == 10
    assert report.stats.sample_bytes == sum(len(p) for b, _, p in iter_blocks(report.html) if b != "evallog-meta")
    assert report.stats.sample_bytes <= 12_000


def test_the_byte_budget_counts_compressed_bytes(tmp_path):
    def noise(i: int) -> str:  # prompts that compress about 2x
        rng = random.Random(i)
        return " ".join("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9))) for _ in range(250))

    run = write_synthetic_run(tmp_path / "m", {"a": 400, "b": 400}, prompt=noise)
    full = build_report(run)
    assert full.stats.capped == [] and full.stats.sample_bytes < full.stats.sample_json_bytes
    report = build_report(run, max_bytes=full.stats.sample_bytes // 4)
    assert [c["reason"] for c in report.stats.capped] == ["max_bytes", "max_bytes"]
    assert 0 < report.stats.samples_embedded < 800
    # within the budget, give or take what zlib still buffered when the last document was admitted
    assert report.stats.sample_bytes <= full.stats.sample_bytes // 4 + 2 * 65_536


def test_long_texts_are_cut_in_the_page(tmp_path):
    run = write_synthetic_run(tmp_path / "m", {"long": 3}, prompt=lambda i: "context " * 5000)
    html = render_report(run, max_text=500)
    block = blocks_of(html)["evallog-samples-0"]
    assert all(len(s["i"]) < 560 and "characters cut]" in s["i"] for s in block["samples"])


def test_compressed_and_plain_blocks_hold_the_same_data(tmp_path):
    run = write_synthetic_run(tmp_path / "m", {"a": 30})
    packed, plain = render_report(run), render_report(run, compress=False)
    assert [e for _, e, _ in iter_blocks(packed)] == ["json", "gzip-base64"]
    assert [e for _, e, _ in iter_blocks(plain)] == ["json", "json"]
    assert read_block(packed, "evallog-samples-0") == read_block(plain, "evallog-samples-0")


def test_samples_can_be_left_out_and_comparisons_chosen(tmp_path):
    a = write_synthetic_run(tmp_path / "a", {"t": 6}, model_name="model-a")
    b = write_synthetic_run(tmp_path / "b", {"t": 6}, model_name="model-b", run_id="2026-01-03T00-00-00.000001")
    meta = meta_of(render_report([a, b], samples=False, compare=("model-b", "model-a")))
    assert [bid for bid, _, _ in iter_blocks(render_report([a, b], samples=False))] == ["evallog-meta"]
    assert meta["tasks"][0]["runs"][0]["block"] is None and meta["tasks"][0]["runs"][0]["capped"] == "disabled"
    assert [(c["a"], c["b"]) for c in meta["comparisons"]] == [(1, 0)]
    assert meta_of(render_report([a, b], compare=[]))["comparisons"] == []
    with pytest.raises(ConfigError, match="itself"):
        build_report([a, b], compare=(0, 0))
    with pytest.raises(ConfigError, match="no run match"):
        build_report([a, b], compare=("model-a", "nope"))
    with pytest.raises(ConfigError):
        build_report([])


def test_one_model_has_no_leaderboard_and_an_output_root_gives_every_run(tmp_path):
    write_synthetic_run(tmp_path / "out" / "m", {"t": 4})
    write_synthetic_run(tmp_path / "out" / "m", {"t": 4}, run_id="2026-02-02T00-00-00.000001")
    meta = meta_of(render_report(tmp_path / "out"))
    assert len(meta["runs"]) == len(list_runs(tmp_path / "out")) == 2
    assert meta["leaderboard"] is None
    assert meta["runs"][0]["short"] != meta["runs"][1]["short"]  # same model: labels tell them apart


def test_cli_writes_the_page(tmp_path, capsys):
    out = tmp_path / "sub" / "report.html"
    assert main(["report", str(LMEVAL), str(LMMS), "-o", str(out), "--title", "CI run", "--max-samples", "5"]) == 0
    printed = capsys.readouterr()
    assert f"wrote {out}" in printed.out and "samples embedded" in printed.out
    assert "capped gt_gen_math" in printed.err
    html = out.read_text(encoding="utf-8")
    assert "<title>CI run</title>" in html
    assert meta_of(html)["limits"]["max_samples"] == 5

    run_id = load_run(LMMS).run_id
    assert main(["report", f"{LMMS}@{run_id}", "-o", str(out), "--no-samples", "--no-compare"]) == 0
    assert [bid for bid, _, _ in iter_blocks(out.read_text(encoding="utf-8"))] == ["evallog-meta"]
    assert main(["report", str(tmp_path / "missing"), "-o", str(out)]) == 1


def test_corrupt_sample_lines_are_skipped_and_counted(tmp_path):
    run = write_synthetic_run(tmp_path / "m", {"t": 5})
    path = next(run.glob("samples_t_*.jsonl"))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(lines[0] + "{not json\n" + "".join(lines[1:]), encoding="utf-8")
    meta = meta_of(render_report(run))
    entry = meta["tasks"][0]["runs"][0]
    assert (entry["n_total"], entry["n_embedded"], entry["skipped"]) == (5, 5, 1)


def test_a_lone_surrogate_in_a_sample_does_not_break_the_page(tmp_path):
    run = write_synthetic_run(tmp_path / "m", {"t": 2})
    path = next(run.glob("samples_t_*.jsonl"))
    rec = read_jsonl(path)[0]
    rec["target"] = "bad \ud800 text"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")  # ensure_ascii: written as an escape
    block = read_block(render_report(run), "evallog-samples-0")
    assert block["samples"][0]["t"] == "bad \ud800 text"

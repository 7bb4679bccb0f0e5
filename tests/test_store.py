"""The Parquet store: export, read back through DuckDB, idempotence, SQL, frames, CLI."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

import pyarrow.parquet as pq  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from evallog import frames  # noqa: E402
from evallog.cli import main  # noqa: E402
from evallog.query import sql  # noqa: E402
from evallog.readers import NON_METRIC_SAMPLE_KEYS, list_runs  # noqa: E402
from evallog.store import export_parquet, partition_value  # noqa: E402

DATA = Path(__file__).parent / "data"
FIXTURES = [
    DATA / "lmeval_run1" / "lmeval_output",
    DATA / "lmms_run1" / "lmms_output",
    DATA / "lmms_from_run1" / "lmms_output",
]
FIXED = ("run_id", "model", "task", "doc_id", "filter", "target", "response", "doc_hash", "prompt_hash",
         "target_hash", "record")


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _expected_rows(root: Path) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """(model, run_id, task) -> the file's lines parsed with the stdlib, in file order."""
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in list_runs(root):
        for task, path in run.sample_files.items():
            lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            filters = [rec["filter"] for rec in run.samples(task)]  # the reader's inference
            rows = []
            for line, filt in zip(lines, filters, strict=True):
                rec = json.loads(line)
                rows.append({"line": line.rstrip(), "rec": rec, "filter": filt})
            out[(run.name, run.run_id, task)] = rows
    return out


def _check_sample_row(row: dict[str, Any], exp: dict[str, Any]) -> None:
    rec = exp["rec"]
    assert row["record"] == exp["line"]
    assert json.loads(row["record"]) == rec
    assert row["doc_id"] == rec["doc_id"]
    assert row["filter"] == exp["filter"]
    assert row["target"] == _as_text(rec.get("target"))
    resp = rec.get("filtered_resps")
    if isinstance(resp, list) and len(resp) == 1 and isinstance(resp[0], str):
        resp = resp[0]
    assert (row["response"] if isinstance(resp, str) or resp is None else json.loads(row["response"])) == resp
    for key in ("doc_hash", "prompt_hash", "target_hash"):
        assert row[key] == rec.get(key)
    for key, value in rec.items():
        if key in NON_METRIC_SAMPLE_KEYS or key in FIXED:
            continue
        if isinstance(value, (int, float)):
            assert row[key] == float(value), key
        else:
            assert row.get(key) is None, key


@pytest.mark.parametrize("root", FIXTURES, ids=lambda p: p.parent.name)
def test_round_trip_samples_and_results(root: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    report = export_parquet(root, store)
    assert [r.status for r in report.runs] == ["exported"] * len(list_runs(root))
    expected = _expected_rows(root)
    table = sql("SELECT * FROM samples", store)
    got: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        got.setdefault((row["model"], row["run_id"], row["task"]), []).append(row)
    assert set(got) == set(expected)
    for key, exp_rows in expected.items():
        rows = sorted(got[key], key=lambda r: r["record"])
        exp_sorted = sorted(exp_rows, key=lambda e: e["line"])
        assert len(rows) == len(exp_sorted) > 0
        for row, exp in zip(rows, exp_sorted):
            _check_sample_row(row, exp)

    results = sql("SELECT * FROM results", store).to_pylist()
    want = []
    for run in list_runs(root):
        raw = json.loads(run.results_file.read_text(encoding="utf-8"))
        for task, entry in raw["results"].items():
            for key, value in entry.items():
                metric, sep, filt = key.partition(",")
                if not sep or "_stderr" in metric or not isinstance(value, (int, float)):
                    continue
                stderr = entry.get(f"{metric}_stderr,{filt}")
                want.append((run.name, run.run_id, task, filt, metric, float(value),
                             stderr if isinstance(stderr, (int, float)) else None,
                             raw.get("n-shot", {}).get(task),
                             raw.get("higher_is_better", {}).get(task, {}).get(metric)))
    have = [(r["model"], r["run_id"], r["task"], r["filter"], r["metric"], r["value"], r["stderr"], r["n_shot"],
             r["higher_is_better"]) for r in results]
    assert sorted(have, key=repr) == sorted(want, key=repr)


def test_layout_types_and_compression(tmp_path: Path) -> None:
    export_parquet(FIXTURES[0], tmp_path)
    files = sorted(tmp_path.glob("samples/model=*/task=*/run=*/*.parquet"))
    assert len(files) == 4
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    schema = pq.read_schema(files[0])
    assert schema.field("doc_id").type == "int64"
    assert schema.names[:10] == list(FIXED[:10]) and schema.names[-1] == "record"
    res = sorted(tmp_path.glob("results/model=*/run=*/*.parquet"))
    assert len(res) == 1
    assert pq.read_schema(res[0]).names == ["run_id", "model", "task", "filter", "metric", "value", "stderr",
                                            "n", "n_shot", "version", "higher_is_better"]
    # pyarrow reads the same store as a Hive-partitioned dataset
    import pyarrow.dataset as ds

    dataset = ds.dataset(tmp_path / "samples", format="parquet", partitioning="hive")
    assert dataset.count_rows() == 44


def test_idempotent_and_changed_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(FIXTURES[1], runs)
    store = tmp_path / "store"
    assert [r.status for r in export_parquet(runs, store).runs] == ["exported"]
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")}
    assert [r.status for r in export_parquet(runs, store).runs] == ["skipped"]
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")} == before
    # drop one task's samples file: the run is re-exported and the stale file removed
    victim = next(runs.glob("*_samples_gt_gen_history.jsonl"))
    victim.unlink()
    assert [r.status for r in export_parquet(runs, store).runs] == ["exported"]
    assert not list(store.glob("samples/*/task=gt_gen_history/*/*.parquet"))
    assert sql("SELECT count(*) AS n FROM samples", store).to_pylist() == [{"n": 38}]
    assert [r.status for r in export_parquet(runs, store, force=True).runs] == ["exported"]
    assert not list(store.rglob("*.tmp"))


def test_sql_directly_over_run_folders_equals_store(tmp_path: Path) -> None:
    query = "SELECT model, task, filter, count(*) AS n, avg(acc) AS acc FROM samples GROUP BY ALL ORDER BY ALL"
    export_parquet(FIXTURES[:2], tmp_path / "store")
    direct = sql(query, *FIXTURES[:2])
    assert direct.to_pylist() == sql(query, tmp_path / "store").to_pylist()
    assert direct.num_rows > 0


def test_empty_store_views_and_query_error(tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    assert sql("SELECT count(*) AS n FROM samples", tmp_path).to_pylist() == [{"n": 0}]
    assert "metric" in sql("SELECT * FROM results", tmp_path).column_names
    from evallog.errors import ConfigError

    with pytest.raises(ConfigError, match="nope"):
        sql("SELECT nope FROM samples", tmp_path)


def test_frames(tmp_path: Path) -> None:
    export_parquet(FIXTURES[0], tmp_path)
    t = frames.samples(tmp_path, task="gt_mc_arith", columns=["doc_id", "acc"])
    assert t.column_names == ["doc_id", "acc"]
    assert sorted(t.column("doc_id").to_pylist()) == list(range(10))
    r = frames.results(tmp_path, metric=["acc", "acc_norm"])
    assert set(r.column("metric").to_pylist()) == {"acc", "acc_norm"}
    df = t.to_pandas()
    assert len(df) == 10


def test_cli_export_and_sql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "store")
    assert main(["export", str(FIXTURES[0]), str(FIXTURES[1]), "--to", "parquet", store]) == 0
    assert "2 run(s) exported, 0 skipped" in capsys.readouterr().out
    assert main(["export", str(FIXTURES[0]), "--to", "parquet", store]) == 0
    assert "0 run(s) exported, 1 skipped" in capsys.readouterr().out
    assert main(["sql", "SELECT task, count(*) AS n FROM samples GROUP BY task ORDER BY task", store,
                 "--fmt", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0] == {"task": "gt_gen_history", "n": 6}
    assert main(["sql", "SELECT 1 AS x", store, "--fmt", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["x", "1"]
    assert main(["export", str(FIXTURES[0]), "--to", "nope", store]) == 2
    assert main(["sql", "SELEC nonsense", store]) == 1


def test_partition_value_escapes() -> None:
    assert partition_value("org/model name") == "org%2Fmodel%20name"
    assert partition_value("2026-11-26T14-50-01.009042") == "2026-11-26T14-50-01.009042"


# ------------------------------------------------------------ property test

_metric = st.sampled_from(["acc", "f1", "exact_match", "bleu"])
_value = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.integers(-10**6, 10**6),
                   st.booleans(), st.none(), st.lists(st.integers(), max_size=2))
_line = st.fixed_dictionaries(
    {"doc_id": st.integers(0, 10**9), "target": st.one_of(st.text(max_size=20), st.integers()),
     "filtered_resps": st.lists(st.text(max_size=20), min_size=1, max_size=2)},
    optional={m: _value for m in ["acc", "f1", "exact_match", "bleu"]},
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=30))
def test_property_any_lines_round_trip(lines: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Small row groups force several batches and new metrics mid-file (new part files)."""
    base = tmp_path_factory.mktemp("prop")
    out = base / "model"
    out.mkdir()
    run_id = "2026-01-02T03-04-05.000001"
    text = "".join(json.dumps(rec) + "\n" for rec in lines)
    (out / f"samples_t_{run_id}.jsonl").write_text(text, encoding="utf-8")
    export_parquet(out, base / "store", row_group_bytes=200)
    rows = sql("SELECT * FROM samples", base / "store").to_pylist()
    assert sorted(r["record"] for r in rows) == sorted(json.dumps(rec) for rec in lines)
    for row in rows:
        rec = json.loads(row["record"])
        assert row["doc_id"] == rec["doc_id"]
        for m in ["acc", "f1", "exact_match", "bleu"]:
            v = rec.get(m)
            want = float(v) if isinstance(v, (int, float)) else None
            got = row.get(m)
            assert got == want or (got is not None and want is not None and math.isclose(got, want))
    assert not list(base.rglob("*.tmp"))


# ------------------------------------------------------------ remote stores


@pytest.fixture(scope="module")
def s3_options() -> Any:
    """An S3-compatible server (moto) on 127.0.0.1 for this module, with a bucket."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": f"http://{host}:{port}",
                                                                          "region_name": "us-east-1"}}
        import boto3

        boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="evallog-test")
        yield options
    finally:
        server.stop()


def test_s3_store_round_trip(s3_options: dict[str, Any], tmp_path: Path) -> None:
    url = "s3://evallog-test/store"
    report = export_parquet(FIXTURES, url, storage_options=s3_options)
    assert [r.status for r in report.runs] == ["exported"] * 3
    assert [r.status for r in export_parquet(FIXTURES, url, storage_options=s3_options).runs] == ["skipped"] * 3
    query = "SELECT model, run_id, task, filter, record FROM samples ORDER BY ALL"
    export_parquet(FIXTURES, tmp_path / "local")
    remote = sql(query, url, storage_options=s3_options)
    assert remote.num_rows == 44 * 3
    assert remote.to_pylist() == sql(query, tmp_path / "local").to_pylist()
    res = frames.results(url, storage_options=s3_options, metric="acc")
    assert res.num_rows == frames.results(tmp_path / "local", metric="acc").num_rows > 0


def test_memory_store_round_trip(tmp_path: Path) -> None:
    import fsspec

    url = "memory://evallog-test-store"
    fsspec.filesystem("memory").rm(url, recursive=True) if fsspec.filesystem("memory").exists(url) else None
    export_parquet(FIXTURES[1], url)
    export_parquet(FIXTURES[1], tmp_path)
    query = "SELECT * FROM samples ORDER BY record, filter"
    assert sql(query, url).to_pylist() == sql(query, tmp_path).to_pylist()
    query = "SELECT * FROM results ORDER BY task, filter, metric"
    assert sql(query, url).to_pylist() == sql(query, tmp_path).to_pylist()


# ------------------------------------------------------------ leaderboard and compare on a store


@pytest.mark.parametrize("groups", [False, True])
def test_leaderboard_from_store_equals_folders(tmp_path: Path, groups: bool) -> None:
    from evallog.leaderboard import leaderboard

    runs = tmp_path / "runs"
    for i, root in enumerate(FIXTURES):
        shutil.copytree(root, runs / f"m{i}")
    export_parquet(runs, tmp_path / "store")
    for latest in (True, False):
        a = leaderboard(runs, groups=groups, latest=latest)
        b = leaderboard(tmp_path / "store", groups=groups, latest=latest)
        assert a.render("json") == b.render("json")
        assert a.render("markdown") == b.render("markdown")
    acc = leaderboard(tmp_path / "store", metric="acc", sort_by="gt_mc_arith")
    assert acc.columns and acc.values


def test_compare_from_store_equals_folders(tmp_path: Path) -> None:
    from evallog.compare import compare
    from evallog.store_runs import load_run as load_stored_run

    export_parquet([FIXTURES[1], FIXTURES[2]], tmp_path)
    a_dir, b_dir = list_runs(FIXTURES[2])[0], list_runs(FIXTURES[1])[0]
    a = load_stored_run(tmp_path, a_dir.run_id)
    b = load_stored_run(tmp_path, b_dir.run_id)
    assert a.n_samples("gt_gen_math") == a_dir.n_samples("gt_gen_math") == 20
    from_store = compare(a, b, n_resamples=200)
    from_files = compare(a_dir, b_dir, n_resamples=200)
    assert from_store.table_rows() == from_files.table_rows()
    assert main(["compare", f"{tmp_path}@{a_dir.run_id}", f"{tmp_path}@{b_dir.run_id}", "--fmt", "csv",
                 "--resamples", "100"]) == 0


# ------------------------------------------------------------ index, API, extras


def test_results_index_is_used_only_when_current(tmp_path: Path) -> None:
    from evallog.leaderboard import leaderboard
    from evallog.store import (
        INDEX_PATH,
        read_results_docs,
        results_docs_from_files,
        store_files,
    )
    from evallog.store import filesystem as fs_of

    runs = tmp_path / "runs"
    for i, root in enumerate(FIXTURES):
        shutil.copytree(root, runs / f"m{i}")
    store = tmp_path / "store"
    export_parquet(runs, store)
    index = json.loads((store / INDEX_PATH).read_text())
    assert len(index["runs"]) == 3
    fs, _ = fs_of(str(store))
    from_files = results_docs_from_files(fs, store_files(str(store), "results"))
    assert read_results_docs(str(store)) == from_files
    # a results file removed behind evallog's back: the index no longer matches and is ignored
    victim = sorted(store.glob("results/*/*/*.parquet"))[0]
    victim.unlink()
    assert len(read_results_docs(str(store))) == 2
    assert len(leaderboard(store, latest=False).labels) == 2
    # a changed run: the index is dropped while writing and rebuilt after
    results = next((runs / "m1").glob("*_results.json"))
    doc = json.loads(results.read_text())
    first = next(iter(doc["results"].values()))
    key = next(k for k, v in first.items() if "," in k and isinstance(v, (int, float)))
    first[key] = 0.123
    results.write_text(json.dumps(doc))
    export_parquet(runs, store)
    assert 0.123 in [v for d in read_results_docs(str(store)).values() for e in d["results"].values()
                     for v in e.values()]


def test_top_level_api_and_missing_extra() -> None:
    import evallog
    from evallog._extras import require
    from evallog.errors import MissingExtraError

    assert evallog.sql("SELECT 42 AS x", FIXTURES[1]).to_pylist() == [{"x": 42}]
    assert callable(evallog.frames.samples) and callable(evallog.export_parquet)
    with pytest.raises(MissingExtraError, match=r'pip install "evallog\[parquet\]"') as info:
        require("evallog_no_such_module", "parquet", "evallog sql")
    assert isinstance(info.value, ImportError)


@pytest.mark.parametrize("flavor", ["lm-eval", "lmms-eval"])
def test_runs_written_by_the_tracker_round_trip(tmp_path: Path, flavor: str) -> None:
    """evallog's own runs (streamed through the tracker, with a manifest) export like the harnesses'."""
    from evallog.demo import run_demo

    demo = run_demo(tmp_path / "out", flavor=flavor)
    export_parquet(tmp_path / "out", tmp_path / "store")
    expected = _expected_rows(tmp_path / "out")
    assert expected
    rows = sql("SELECT * FROM samples", tmp_path / "store").to_pylist()
    assert sum(len(v) for v in expected.values()) == len(rows) > 0
    by_line = {}
    for row in rows:
        by_line.setdefault((row["task"], row["record"]), []).append(row)
    for (_, _, task), exp_rows in expected.items():
        for exp in exp_rows:
            _check_sample_row(by_line[(task, exp["line"])][0], exp)
    n_results = sql("SELECT count(*) AS n FROM results", tmp_path / "store").to_pylist()[0]["n"]
    assert n_results == sum(len(r.metrics(t)) for r in list_runs(tmp_path / "out") for t in r.tasks) > 0
    assert demo  # the demo wrote at least one run

"""Opt-in: Spark reads the Parquet store unchanged and gets the aggregate ``evallog sql`` gets.

Runs when ``EVALLOG_SPARK_TESTS=1`` (``.ci/run`` sets it after installing a
Java runtime and pyspark) and ``pyspark`` and ``java`` are present. Slow
(a local Spark session starts: ~20 s).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("EVALLOG_SPARK_TESTS") != "1",
                                reason="Spark test is opt-in: EVALLOG_SPARK_TESTS=1 (set by .ci/run)")

DATA = Path(__file__).parent / "data"
FIXTURES = [DATA / "lmeval_run1" / "lmeval_output", DATA / "lmms_run1" / "lmms_output",
            DATA / "lmms_from_run1" / "lmms_output"]

# the README's example: the same query in evallog sql and in Spark SQL
QUERY = ("SELECT task, model, count(*) AS n, avg(acc) AS acc, avg(exact_match) AS exact_match "
         "FROM samples GROUP BY task, model ORDER BY task, model")


def test_spark_reads_the_store_like_evallog_sql(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("duckdb")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime")
    from evallog.query import sql
    from evallog.store import export_parquet

    runs = tmp_path / "runs"
    for i, root in enumerate(FIXTURES):
        shutil.copytree(root, runs / f"m{i}")
    # a model name that needs escaping in the partition path (Spark decodes model=org%2Fmodel%20x)
    results = next((runs / "m1").glob("*_results.json"))
    doc = json.loads(results.read_text(encoding="utf-8"))
    doc["model_name"] = "org/model x"
    results.write_text(json.dumps(doc), encoding="utf-8")
    export_parquet(runs, tmp_path / "store")
    expected = sql(QUERY, tmp_path / "store").to_pylist()

    spark = (pyspark_sql.SparkSession.builder.master("local[1]").appName("evallog-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
             .getOrCreate())
    try:
        spark.read.option("mergeSchema", "true").parquet(str(tmp_path / "store" / "samples")) \
            .createOrReplaceTempView("samples")
        spark.read.parquet(str(tmp_path / "store" / "results")).createOrReplaceTempView("results")
        got = [row.asDict() for row in spark.sql(QUERY).collect()]
        res = spark.sql("SELECT count(*) AS n FROM results").collect()[0]["n"]
    finally:
        spark.stop()
    assert got == expected
    assert "org/model x" in {row["model"] for row in got}
    assert res == sql("SELECT count(*) AS n FROM results", tmp_path / "store").to_pylist()[0]["n"]

"""Details published as Parquet on the (fake, local) Hub, read back by ``datasets``."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from evallog.hub import RetryPolicy, push_run, settings_for_repos  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from hubserver import FakeHub  # noqa: E402

DATA = Path(__file__).parent / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"
ROOT = Path(__file__).resolve().parents[1]


def _policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=0.5, jitter=0.0, timeout=20.0,
                       sleep=lambda _s: None)


LOAD = textwrap.dedent("""
    import json, sys
    import datasets
    datasets.config.USE_PARQUET_EXPORT = False
    datasets.disable_progress_bars()
    out = {}
    for repo, name, split in json.loads(sys.argv[1]):
        ds = datasets.load_dataset(repo, name=name, split=split)
        out[f"{name}|{split}"] = {"rows": ds.num_rows, "columns": ds.column_names,
                                  "records": sorted(ds["record"]), "filters": sorted(ds["filter"])}
    print(json.dumps(out))
""")


def test_push_details_as_parquet_loads_with_datasets(hub: FakeHub, tmp_path: Path) -> None:
    settings = settings_for_repos("test-org/evals", token="hf_write", details_format="parquet")
    kw = {"model_name": "bu6tyawv", "model_dir_name": "bu6tyawv",
          "results_file": LMEVAL_DIR / "results_2026-11-26T14-50-01.009042.json",
          "sample_files": sorted(LMEVAL_DIR.glob("samples_*.jsonl")), "flavor": "lm-eval", "retry": _policy()}
    assert push_run(settings, **kw).commits == 1
    files = hub.files("test-org/evals")
    parquet = sorted(p for p in files if p.endswith(".parquet"))
    assert len(parquet) == 4 and not [p for p in files if p.endswith(".jsonl")]
    card = files["README.md"].decode()
    assert "path:\n    - bu6tyawv/samples_gt_mc_arith_2026-11-26T14-50-01.009042.parquet" in card
    # the Parquet files are deterministic: pushing again commits nothing
    assert push_run(settings, **kw).commits == 0
    # lmms-eval (multi-filter task without a filter key: the reader's inference is stored)
    push_run(settings, model_name="", model_dir_name="lmms_model",
             results_file=LMMS_DIR / "20261126_225343_results.json",
             sample_files=sorted(LMMS_DIR.glob("*_samples_*.jsonl")), flavor="lmms-eval", retry=_policy())

    wanted = [("test-org/evals", "bu6tyawv__gt_mc_arith", "latest"),
              ("test-org/evals", "lmms_model__gt_gen_math", "latest")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.url, HF_TOKEN="hf_write", HF_HOME=str(tmp_path / "hf"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    r = subprocess.run([sys.executable, "-c", LOAD, json.dumps(wanted)], env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-4000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    mc = got["bu6tyawv__gt_mc_arith|latest"]
    lines = (LMEVAL_DIR / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl").read_text().splitlines()
    assert mc["rows"] == len(lines) == 10
    assert mc["records"] == sorted(line.rstrip() for line in lines)
    assert {"acc", "acc_norm", "doc_id", "response", "record"} <= set(mc["columns"])
    gm = got["lmms_model__gt_gen_math|latest"]
    assert gm["rows"] == 20 and set(gm["filters"]) == {"strict-match", "flexible-extract"}


def test_cli_push_format_parquet(hub: FakeHub, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=hub.url, HF_TOKEN="hf_write", HF_HOME=str(tmp_path / "hf"),
               HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    r = subprocess.run([sys.executable, "-m", "evallog", "push", str(LMEVAL_DIR), "--repo", "test-org/det",
                        "--format", "parquet"], env=env, capture_output=True, text=True, timeout=120,
                       cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    assert len([p for p in hub.files("test-org/det") if p.endswith(".parquet")]) == 4

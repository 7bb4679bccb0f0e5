"""What a new user trips over in the first hour (issue 16), through the real console script.

Every test here runs the installed ``evallog`` entry point in a subprocess
(the script next to the running interpreter), never ``main()`` in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
DATA = HERE / "data"
LMEVAL_DIR = DATA / "lmeval_run1" / "lmeval_output" / "bu6tyawv"
LMMS_DIR = DATA / "lmms_run1" / "lmms_output"


def _script() -> str:
    exe = Path(sys.executable).parent / ("evallog.exe" if os.name == "nt" else "evallog")
    found = str(exe) if exe.exists() else shutil.which("evallog")
    if not found:
        pytest.skip("the evallog console script is not installed (pip install -e .)")
    return found


def evallog(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    full_env.update({"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
    full_env.update(env or {})
    return subprocess.run([_script(), *args], env=full_env, capture_output=True, text=True,
                          timeout=timeout, cwd=str(cwd) if cwd else None)


# ------------------------------------------------------------- 5. push offline
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is: nothing listens


@pytest.mark.parametrize("endpoint", [f"http://127.0.0.1:{_closed_port()}", "http://nonexistent.invalid"])
def test_push_without_network_fails_fast_naming_the_endpoint(tmp_path, endpoint):
    start = time.monotonic()
    r = evallog("push", str(LMEVAL_DIR), "--repo", "test-org/evals",
                env={"HF_ENDPOINT": endpoint, "HF_TOKEN": "hf_write", "HF_HOME": str(tmp_path / "hf")})
    took = time.monotonic() - start
    assert r.returncode == 1, r.stderr
    assert f"cannot connect to {endpoint}" in r.stderr
    assert "retrying" not in r.stderr
    assert r.stdout == ""
    # the whole process, interpreter start-up included, well under the 32 s of backoff it took
    assert took < 10, took


@pytest.mark.parametrize("endpoint", [f"http://127.0.0.1:{_closed_port()}", "http://nonexistent.invalid"])
def test_a_connection_that_cannot_be_opened_is_not_retried(endpoint, monkeypatch):
    from evallog.errors import HubError
    from evallog.hub import RetryPolicy, hub_settings

    slept: list[float] = []
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(HubError, match=f"cannot connect to {endpoint}"):
        hub_settings(push_results_to_hub=True, token="hf_x", retry=RetryPolicy(sleep=slept.append))
    assert slept == []


# ------------------------------------------------------------- 1. the demo
@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    r = evallog("demo", "--output", str(out))
    assert r.returncode == 0, r.stderr
    (out / "stdout.txt").write_text(r.stdout)
    return out


def test_demo_writes_three_models_and_says_what_to_try_next(demo):
    folders = sorted(p.name for p in demo.iterdir() if p.is_dir())
    assert folders == ["evallog__toy-large", "evallog__toy-medium", "evallog__toy-small"]
    out = (demo / "stdout.txt").read_text()
    tail = out.rstrip().splitlines()[-6:]
    assert tail[0].startswith("  # ") and "evallog leaderboard" in out.rstrip().splitlines()[-5]
    assert any(line.strip().startswith("evallog compare") for line in tail)
    assert tail[-1].strip().startswith("evallog report")


def test_demo_leaderboard_ranks_the_models(demo):
    r = evallog("leaderboard", str(demo), "--metric", "acc", "--fmt", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    models = [row["Model"] for row in rows]
    assert len(models) == 3
    arith = {row["Model"]: row["demo_arith"] for row in rows}
    assert arith["evallog/toy-small"] < arith["evallog/toy-medium"] < arith["evallog/toy-large"]


def test_demo_compare_shows_deltas_and_flips_both_ways(demo):
    r = evallog("compare", str(demo / "evallog__toy-medium"), str(demo / "evallog__toy-large"), "--fmt", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["rows"]
    assert all(row["diff"] is not None for row in rows)
    assert sum(1 for row in rows if row["diff"] > 0) > len(rows) / 2  # the larger model is better
    assert sum(row["wrong_to_right"] or 0 for row in rows) > 0
    assert sum(row["right_to_wrong"] or 0 for row in rows) > 0  # and yet some samples flip the other way


def test_demo_seed_changes_the_numbers(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, "0"), (b, "0"), (c, "7")):
        assert evallog("demo", "--output", str(out), "--seed", seed).returncode == 0

    def scores(root: Path) -> list[float]:
        r = evallog("leaderboard", str(root), "--metric", "acc", "--fmt", "json")
        return [row["demo_arith"] for row in json.loads(r.stdout)]

    assert scores(a) == scores(b) != scores(c)

"""What a new user trips over in the first hour (issue 16), through the real console script.

Every test here runs the installed ``evallog`` entry point in a subprocess
(the script next to the running interpreter), never ``main()`` in-process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
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


# ------------------------------------------------------------- 4. misleading answers
def test_show_refuses_an_unknown_metric_like_compare_and_leaderboard(demo):
    run = str(demo / "evallog__toy-small")
    for args in (("show", run, "--task", "demo_arith", "--wrong", "--metric", "bogus"),
                 ("show", run, "--wrong", "--metric", "bogus"),
                 ("compare", run, run, "--metric", "bogus"),
                 ("leaderboard", str(demo), "--metric", "bogus")):
        r = evallog(*args)
        assert r.returncode == 1, (args, r.stdout)
        assert r.stdout == "" and r.stderr.startswith("evallog: error:") and "bogus" in r.stderr
    # a known metric of another task, named for this task, is refused too
    r = evallog("show", run, "--task", "demo_arith", "--metric", "exact_match")
    assert r.returncode == 1 and "exact_match" in r.stderr and "acc" in r.stderr


def test_show_with_metric_and_filter_counts_only_that(demo):
    r = evallog("show", str(demo / "evallog__toy-small"), "--wrong", "--metric", "exact_match,strict-match",
                "--limit", "0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("== ") == 1 and "== demo_gen_math" in r.stdout  # tasks without the metric left out
    assert "[flexible-extract]" not in r.stdout and "[strict-match]" in r.stdout


def test_show_of_one_samples_file_shows_only_its_task(demo):
    folder = demo / "evallog__toy-small"
    path = next(folder.glob("*_samples_demo_history.jsonl"))
    r = evallog("show", str(path), "--limit", "0")
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("== ")] == ["== demo_history"]
    # the results file of the run still shows every task
    r = evallog("show", str(next(folder.glob("*_results.json"))), "--limit", "1")
    assert r.stdout.count("\n== ") == 4


def test_ls_counts_tasks_and_groups_consistently(demo):
    r = evallog("ls", str(demo), "--fmt", "json")
    assert r.returncode == 0, r.stderr
    for rec in json.loads(r.stdout):
        tasks = rec["Tasks"].split(", ")
        assert rec["#Tasks"] == len(tasks) == 4
        assert rec["Groups"] == "demo_knowledge" and "demo_knowledge" not in tasks


def test_ls_of_an_empty_folder_is_done_with_a_note_on_stderr(tmp_path):
    r = evallog("ls", str(tmp_path))
    assert (r.returncode, r.stdout) == (0, "")
    assert "no runs under" in r.stderr


COMMANDS_WITH_A_PATH = {
    "ls": ["ls", "{missing}"],
    "show": ["show", "{missing}"],
    "table": ["table", "{missing}"],
    "report": ["report", "{missing}", "-o", "{tmp}/r.html"],
    "compare": ["compare", "{missing}", "{missing}"],
    "leaderboard": ["leaderboard", "{missing}"],
    "push": ["push", "{missing}", "--repo", "org/name", "--dry-run"],
    "recover": ["recover", "{missing}"],
    "demo": ["demo", "--output", "{file}"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS_WITH_A_PATH))
def test_exit_codes_follow_one_rule(command, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    fill = {"missing": str(tmp_path / "missing"), "tmp": str(tmp_path), "file": str(tmp_path / "a-file")}
    # 1: what was asked cannot be done, one "evallog: error:" line on stderr and nothing on stdout
    r = evallog(*[a.format(**fill) for a in COMMANDS_WITH_A_PATH[command]])
    assert r.returncode == 1, (command, r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("evallog: error:") and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.strip() == "" or command == "push", r.stdout
    # 2: the command line is wrong
    r = evallog(command, "--no-such-option")
    assert r.returncode == 2 and r.stderr.startswith("usage: evallog") and r.stdout == ""


def test_exit_code_rule_is_documented():
    r = evallog("--help")
    assert r.returncode == 0
    assert "Exit codes: 0 done" in r.stdout and "1 error" in r.stdout and "2 usage" in r.stdout
    readme = (HERE.parent / "README.md").read_text()
    assert "Exit codes" in readme


# ------------------------------------------------------------- 7. help texts
def test_every_command_and_option_has_a_one_line_help():
    import argparse

    from evallog.cli import COMMAND_TABLE, build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {c.name for c in COMMAND_TABLE}
    for name, sp in sub.choices.items():
        assert sp.description, name
        for action in sp._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.option_strings or action.dest)
            assert "\n" not in action.help
    for command in ("demo", "recover"):
        r = evallog(command, "--help")
        text = r.stdout.split("options:")[0]
        assert r.returncode == 0 and len(text.splitlines()) > 3, r.stdout  # a description, not just usage


def test_top_level_help_groups_the_commands_with_an_example_each():
    from evallog.cli import COMMAND_TABLE, GROUPS

    r = evallog("--help")
    out = r.stdout
    for group in GROUPS:
        assert f"\n{group}:\n" in out
    for command in COMMAND_TABLE:
        assert f"$ {command.example}" in out
        # listed under its group: the group's heading is the nearest one above the command
        above = out[: out.index(f"\n  {command.name} ") + 1]
        assert max(GROUPS, key=lambda g: above.rfind(f"\n{g}:\n")) == command.group


def test_examples_in_the_help_run(demo):
    """The examples of `evallog --help` work on the demo's output (the Hub one as a dry run)."""
    from evallog.cli import COMMAND_TABLE

    for command in COMMAND_TABLE:
        # run needs a harness (tests/test_run_e2e.py); view serves until stopped (tests/test_view.py)
        if command.name in ("demo", "recover", "run", "view"):
            continue
        args = shlex.split(command.example)[1:]  # examples are shell command lines
        r = evallog(*args, cwd=demo.parent)
        assert r.returncode == 0, (command.example, r.stderr)


# ------------------------------------------------------------- 2. dates
def test_ls_shows_one_date_rendering_with_the_zone():
    r = evallog("ls", str(DATA), "--fmt", "json")
    assert r.returncode == 0, r.stderr
    by_id = {rec["Run id"]: rec["Date (UTC)"] for rec in json.loads(r.stdout)}
    # lm-eval: its start time (epoch in the results); lmms-eval: the id in its default zone, UTC+08:00
    assert by_id["2026-11-26T14-50-01.009042"] == "2026-11-26T14:49:59Z"
    assert by_id["20261126_225343"] == "2026-11-26T14:53:43Z"
    assert all(v.endswith("Z") for v in by_id.values())


# ------------------------------------------------------------- 3. filters
def test_ls_counts_samples_per_filter():
    r = evallog("ls", str(LMMS_DIR), "--fmt", "json")
    rec = json.loads(r.stdout)[0]
    lines = sum(len(p.read_text().splitlines()) for p in LMMS_DIR.glob("*_samples_*.jsonl"))
    assert lines == 44 and rec["Samples"] == 34  # gt_gen_math: 10 documents under each of 2 filters


def test_show_counts_per_filter(demo):
    from evallog.readers import load_run

    run = load_run(demo / "evallog__toy-small")
    r = evallog("show", str(run.path), "--task", "demo_gen_math", "--limit", "0")
    line = r.stdout.strip().splitlines()[-1]
    for filt in ("strict-match", "flexible-extract"):
        recs = [x for x in run.samples("demo_gen_math") if x["filter"] == filt]
        right = sum(1 for x in recs if x["exact_match"] == 1.0)
        assert f"{filt}: {len(recs)} samples, {right} correct ({100 * right / len(recs):.1f}% by exact_match)" in line


# ------------------------------------------------------------- 6. progress
def _with_tty_stderr(*args: str) -> tuple[int, str, bytes]:
    """Run the console script with stderr on a pseudo-terminal; (exit code, stdout, terminal bytes)."""
    import fcntl
    import pty
    import struct
    import termios

    try:
        master, slave = pty.openpty()
    except OSError as exc:  # no /dev/ptmx in this container
        pytest.skip(f"no pseudo-terminal: {exc}")
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a 120x40 terminal
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    proc = subprocess.Popen([_script(), *args], stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out = proc.stdout.read().decode() if proc.stdout else ""
    code = proc.wait(timeout=120)
    os.close(master)
    return code, out, seen


@pytest.fixture(scope="module")
def big_run(tmp_path_factory) -> Path:
    """A run with 20000 samples: long enough (well over tqdm's 0.2 s refresh) for the exporter's progress."""
    from evallog import EvaluationTracker

    out = tmp_path_factory.mktemp("big")
    with EvaluationTracker(output_path=str(out), flavor="lm-eval") as tracker:
        tracker.general_config_tracker.log_experiment_args("hf", "pretrained=org/big", None, None, False)
        tracker.log_samples("big", [{"doc_id": i, "doc": {}, "target": "1", "arguments": [["q", {}]],
                                     "resps": [["1"]], "filtered_resps": ["1"], "filter": "none",
                                     "metrics": ["acc"], "acc": float(i % 2)} for i in range(20000)])
        tracker.close_task("big")
        results = {"results": {"big": {"alias": "big", "acc,none": 0.5, "acc_stderr,none": 0.01}},
                   "configs": {"big": {"task": "big"}}, "versions": {"big": 1}, "n-shot": {"big": 0},
                   "higher_is_better": {"big": {"acc": True}}, "config": {"model": "hf"}}
        tracker.save_results_aggregated(results, None)
    return next(p.parent for p in out.rglob("results_*.json"))


@pytest.mark.parametrize("command", ["compare", "report", "export"])
def test_progress_on_a_terminal_only_and_quiet_with_quiet(demo, big_run, tmp_path, command):
    small, large = str(demo / "evallog__toy-small"), str(demo / "evallog__toy-large")
    args = {"compare": ["compare", small, large],
            "report": ["report", str(demo), "-o", str(tmp_path / "r.html")],
            "export": ["export", str(big_run), "--to", "eee", str(tmp_path / "eee")]}[command]
    code, out, term = _with_tty_stderr(*args)
    assert code == 0, term
    assert b"sample/s" in term, term  # a tqdm bar
    # moved by the library's progress callback: compare's stages, the exporter's count
    moved = {"compare": rb"demo_arith: run A", "report": rb"demo_arith: run A", "export": rb"[1-9]\d*000 ?sample"}
    assert re.search(moved[command], term), term
    assert "\r" not in out  # never on stdout
    code, out, term = _with_tty_stderr(*args, "--quiet")
    assert code == 0 and b"/s]" not in term, term
    r = evallog(*args)  # stderr is a pipe: no bar
    assert r.returncode == 0 and "/s]" not in r.stderr and "\r" not in r.stderr


# ------------------------------------------------------------- 8. README
def test_readme_setup_commands_each_make_a_fresh_environment_and_list_the_differences():
    readme = (HERE.parent / "README.md").read_text()
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    venvs = [re.match(r"python3 -m venv (\S+) && \. (\S+)/bin/activate && ", c) for c in commands]
    assert all(m and m.group(1) == m.group(2) for m in venvs)
    assert venvs[0].group(1) != venvs[1].group(1)  # type: ignore[union-attr]
    assert commands[0].endswith("evallog demo --output demo-output")
    table = readme.split("What changes compared with the anchors", 1)[1].split("\n\n## ", 1)[0]
    for needle in ("start_time", "end_time", "perf_counter", "separators", "Version column", "0.5000", "blanked"):
        assert needle in table, needle

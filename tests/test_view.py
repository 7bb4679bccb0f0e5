"""`evallog view` over HTTP: a real server process (`python -m evallog view --port 0`) and real requests.

Checked: the URL is the first stdout line; the run list of both harnesses;
sample pages equal the file's records (read by byte offset); server-side
search and filters against a direct computation; corrupt lines shown as
such; a growing file followed; traversal, absolute paths and symlinks out of
a root refused; a foreign Host header refused; a non-loopback bind refuses
requests without its token; SIGTERM and Ctrl-C stop it cleanly. The line
index is also checked directly (property test over random files written in
random pieces).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_report import LMEVAL, LMMS_FROM, read_jsonl

from evallog.readers import list_runs
from evallog.report import compact_sample, sample_metrics
from evallog.view.lineindex import LineIndex
from evallog.view.samples import Query

pytest.importorskip("starlette", reason="evallog[view] is not installed")
pytest.importorskip("uvicorn", reason="evallog[view] is not installed")


# --------------------------------------------------------------------------- a real server


class Server:
    def __init__(self, roots: list[Any], *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "evallog", "view", *map(str, roots), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            raise AssertionError(
                f"no URL on stdout: {self.url!r} {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname or "", parsed.port or 0
        self.token = urllib.parse.parse_qs(parsed.query).get("token", [None])[0]

    def request(
        self, path: str, *, headers: dict[str, str] | None = None, host: str | None = None, token: bool = True
    ) -> tuple[int, bytes, dict[str, str]]:
        """GET ``path`` sent exactly as given (no normalisation of ``..``)."""
        if token and self.token:
            path += ("&" if "?" in path else "?") + "token=" + self.token
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{self.port}")
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}

    def json(self, path: str, **params: Any) -> Any:
        if params:
            path += "?" + urllib.parse.urlencode(params)
        status, body, _ = self.request(path)
        assert status == 200, (status, body[:500])
        return json.loads(body)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


def copy_tree(dst: Path) -> Path:
    """A root holding the lm-eval run and the lmms-eval run of the fixtures."""
    shutil.copytree(LMEVAL, dst / "lm-eval" / LMEVAL.name)
    shutil.copytree(LMMS_FROM, dst / "lmms-eval" / "lmms_output")
    return dst


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = copy_tree(tmp_path_factory.mktemp("view-root"))
    run_dir = base / "lm-eval" / LMEVAL.name
    bad = run_dir / "samples_gt_gen_math_2026-11-26T14-50-01.009042.jsonl"
    lines = bad.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(2, '{"doc_id": 99, "cut in the midd\n')
    lines.insert(4, "[1, 2, 3]\n")
    bad.write_text("".join(lines), encoding="utf-8")
    # lmms-eval itself writes no "filter" key: the k-th line of a doc belongs to the k-th filter
    lmms = base / "lmms-eval" / "lmms_output" / "20261126_120000_samples_gt_gen_math.jsonl"
    recs = read_jsonl(lmms)
    assert len({r["filter"] for r in recs}) == 2
    lmms.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "filter"}) + "\n" for r in recs), encoding="utf-8"
    )
    return base


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[Server]:
    srv = Server([root])
    yield srv
    srv.stop()


def run_key(server: Server, flavor: str) -> str:
    meta = server.json("/api/meta")
    return next(r["key"] for r in meta["runs"] if r["flavor"] == flavor)


# --------------------------------------------------------------------------- listing and samples


def test_url_first_and_run_list_of_both_harnesses(server: Server, root: Path) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/"
    meta = server.json("/api/meta")
    runs = list_runs(root)
    assert sorted((r["flavor"], r["run_id"]) for r in meta["runs"]) == sorted((r.flavor, r.run_id) for r in runs)
    for r in meta["runs"]:
        run = next(x for x in runs if x.run_id == r["run_id"] and x.flavor == r["flavor"])
        assert r["status"] == "complete"
        assert r["tasks"] == run.tasks
        for task in run.sample_files:
            assert r["counts"][task] == run.reported_samples(task)
    status, body, headers = server.request("/")
    assert status == 200 and b"evallog-meta" in body
    assert "connect-src 'self'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]


def test_pages_are_the_file_records_in_order(server: Server, root: Path) -> None:
    key = run_key(server, "lmms-eval")
    run = next(r for r in list_runs(root) if r.flavor == "lmms-eval")
    task = "gt_mc_arith"
    lines = read_jsonl(run.sample_files[task])
    metrics = sample_metrics(lines[0], [m for m, _ in run.metrics(task)])
    got = []
    for page in range(4):
        data = server.json("/api/samples", run=key, task=task, page=page, size=3)
        assert data["total"] == len(lines) and data["complete"]
        got.extend(data["samples"])
    assert len(got) == len(lines)
    for n, (rec, line) in enumerate(zip(got, lines, strict=True)):
        line.setdefault("filter", run.filters(task)[0])
        want = compact_sample(line, metrics=metrics, filter_index=0)
        assert rec == {**want, "n": n}


def test_every_task_pages_like_the_reader(server: Server, root: Path) -> None:
    """Doc ids and filter names (inferred for lmms-eval's multi-filter lines) agree with readers.TaskSamples."""
    meta = server.json("/api/meta")
    for run in list_runs(root):
        key = next(r["key"] for r in meta["runs"] if r["run_id"] == run.run_id and r["flavor"] == run.flavor)
        for task in run.sample_files:
            want = [(s["doc_id"], s["filter"]) for s in run.samples(task, skip_corrupt=True)]
            data = server.json("/api/samples", run=key, task=task, size=500)
            got = [(r["d"], data["filters"][r["f"]]) for r in data["samples"] if not r.get("bad")]
            assert got == want, (run.flavor, task)
            for name in set(data["filters"]):
                only = server.json("/api/samples", run=key, task=task, size=500, filter=name)
                assert [r["d"] for r in only["samples"]] == [d for d, f in want if f == name]


def test_search_and_filters_run_on_the_server(server: Server, root: Path) -> None:
    key = run_key(server, "lm-eval")
    run = next(r for r in list_runs(root) if r.flavor == "lm-eval")
    task = "gt_mc_arith"
    lines = read_jsonl(run.sample_files[task])
    wrong = [i for i, s in enumerate(lines) if s["acc"] == 0]
    data = server.json("/api/samples", run=key, task=task, correct="incorrect")
    assert [r["n"] for r in data["samples"]] == wrong
    assert data["matched"] == len(wrong) and data["complete"]
    assert data["tallies"] == [{"f": 0, "n": len(wrong), "scored": len(wrong), "correct": 0}]
    needle = lines[3]["doc"]["question"].lower()
    hits = [i for i, s in enumerate(lines) if needle in s["arguments"]["gen_args_0"]["arg_0"].lower()]
    data = server.json("/api/samples", run=key, task=task, q=needle.upper())
    assert [r["n"] for r in data["samples"]] == hits and hits
    data = server.json("/api/samples", run=key, task=task, sort="doc-desc")
    assert [r["d"] for r in data["samples"]] == sorted((s["doc_id"] for s in lines), reverse=True)
    # paired with the other run: the other's record for the same doc and filter
    other = run_key(server, "lmms-eval")
    data = server.json("/api/samples", run=key, task=task, other=other, size=4)
    assert [o["d"] for o in data["others"]] == [r["d"] for r in data["samples"]]


def test_corrupt_lines_are_records_marked_bad(server: Server) -> None:
    key = run_key(server, "lm-eval")
    data = server.json("/api/samples", run=key, task="gt_gen_math", size=100)
    bad = [r for r in data["samples"] if r.get("bad")]
    assert [(r["n"], r["bad"]) for r in bad] == [(2, "corrupt line: not valid JSON"), (4, "not a JSON object")]
    assert bad[0]["raw"].startswith('{"doc_id": 99')
    assert data["total"] == len(read_jsonl(LMEVAL / "samples_gt_gen_math_2026-11-26T14-50-01.009042.jsonl")) + 2
    one = server.json("/api/sample", run=key, task="gt_gen_math", n=2)
    assert one["sample"]["bad"]
    data = server.json("/api/samples", run=key, task="gt_gen_math", q="cut in the")
    assert [r["n"] for r in data["samples"]] == [2]


def test_whole_sample_and_the_other_runs(server: Server, root: Path) -> None:
    a, b = run_key(server, "lm-eval"), run_key(server, "lmms-eval")
    one = server.json("/api/sample", run=a, task="gt_mc_arith", n=5, other=b)
    assert one["sample"]["d"] == 5 and one["other"]["d"] == 5
    comp = server.json("/api/compare", a=a, b=b)["comparison"]
    assert comp["rows"] and {"gt_mc_arith"} <= set(comp["tasks"])
    detail = server.json("/api/run", run=a)
    assert detail["results_table"] and detail["results_table"][0]["task"]


def test_unknown_run_task_and_bad_parameters(server: Server) -> None:
    key = run_key(server, "lm-eval")
    assert server.request("/api/samples?run=nope&task=x")[0] == 404
    assert server.request(f"/api/samples?run={key}&task=nope")[0] == 404
    assert server.request(f"/api/samples?run={key}&task=gt_mc_arith&sort=__class__")[0] == 400
    assert server.request(f"/api/sample?run={key}&task=gt_mc_arith&n=100000")[0] == 404


def test_an_unreadable_results_file_hides_only_its_folder(tmp_path: Path) -> None:
    root = copy_tree(tmp_path / "root")
    srv = Server([root])
    try:
        before = {r["key"]: r for r in srv.json("/api/meta")["runs"]}
        assert len(before) == 2
        lm_results = next((root / "lm-eval" / LMEVAL.name).glob("results_*.json"))
        good = lm_results.read_text()
        lm_results.write_text(good[: len(good) // 2])  # rewritten in place: no folder changes
        deadline = time.monotonic() + 10
        while not srv.json("/api/meta")["errors"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any(lm_results.name in e for e in srv.json("/api/meta")["errors"])
        broken = root / "broken" / "org__x"
        broken.mkdir(parents=True)
        (broken / "results_2026-01-01T00-00-00.000001.json").write_text('{"results": {"t": ')  # being written
        deadline = time.monotonic() + 10
        while True:
            meta = srv.json("/api/meta")
            if len(meta["errors"]) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert set(before) == {r["key"] for r in meta["runs"]}  # both runs stay listed
        assert any("org__x" in e for e in meta["errors"]) and any(lm_results.name in e for e in meta["errors"])
        lm_results.write_text(good)
        (broken / "results_2026-01-01T00-00-00.000001.json").unlink()
        deadline = time.monotonic() + 10
        while srv.json("/api/meta")["errors"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert srv.json("/api/meta")["errors"] == []
    finally:
        srv.stop()


# --------------------------------------------------------------------------- security


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, Path]]:
    base = tmp_path_factory.mktemp("guarded")
    outside = base / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("TOP SECRET\n")
    root = copy_tree(base / "root")
    (root / "escape.txt").symlink_to(secret)
    (root / "escape_dir").symlink_to(outside, target_is_directory=True)
    (root / "inside.txt").write_text("fine\n")
    # a run whose samples file is a symlink to a file outside the root
    run = root / "sneaky"
    run.mkdir()
    rid = "2026-01-01T00-00-00.000001"
    (run / f"results_{rid}.json").write_text(json.dumps({"results": {"t": {"acc,none": 1.0}}}))
    (run / f"samples_t_{rid}.jsonl").symlink_to(secret)
    srv = Server([root])
    yield srv, root, secret
    srv.stop()


@pytest.mark.parametrize(
    "path",
    [
        "/raw/0/../outside/secret.txt",
        "/raw/0/%2e%2e/outside/secret.txt",
        "/raw/0/..%2foutside%2fsecret.txt",
        "/raw/0//etc/passwd",
        "/raw/0/%2fetc%2fpasswd",
        "/raw/0/escape.txt",
        "/raw/0/escape_dir/secret.txt",
        "/raw/0/~/secret.txt",
        "/raw/1/inside.txt",
        "/raw/0/inside.txt%00.json",
        "/../outside/secret.txt",
    ],
)
def test_nothing_outside_the_roots_is_served(guarded: tuple[Server, Path, Path], path: str) -> None:
    srv, _, _ = guarded
    status, body, _ = srv.request(path)
    assert status in (400, 403, 404), (path, status)
    assert b"TOP SECRET" not in body and b"root:" not in body


def test_files_inside_are_served_as_downloads(guarded: tuple[Server, Path, Path]) -> None:
    srv, _, _ = guarded
    status, body, headers = srv.request("/raw/0/inside.txt")
    assert status == 200 and body == b"fine\n"
    assert headers["content-disposition"] == "attachment" and headers["x-content-type-options"] == "nosniff"


def test_a_samples_file_linked_out_of_the_root_is_refused(guarded: tuple[Server, Path, Path]) -> None:
    srv, _, _ = guarded
    meta = srv.json("/api/meta")
    key = next(r["key"] for r in meta["runs"] if r["model"] == "sneaky")
    status, body, _ = srv.request(f"/api/samples?run={key}&task=t")
    assert status == 403 and b"TOP SECRET" not in body
    assert srv.request(f"/api/sample?run={key}&task=t&n=0")[0] == 403


def test_a_foreign_host_header_is_refused(guarded: tuple[Server, Path, Path]) -> None:
    srv, _, _ = guarded
    assert srv.request("/api/meta", host="attacker.example:80")[0] == 421
    assert srv.request("/api/meta", host=f"localhost:{srv.port}")[0] == 200


def test_non_loopback_bind_needs_the_token(tmp_path: Path) -> None:
    srv = Server([copy_tree(tmp_path)], "--host", "0.0.0.0")
    try:
        assert srv.token and len(srv.token) >= 24
        assert srv.url.endswith(f"/?token={srv.token}")
        for path in ("/", "/api/meta", "/raw/0/lm-eval"):
            assert srv.request(path, token=False)[0] == 401
        assert srv.request("/api/meta?token=" + "x" * len(srv.token), token=False)[0] == 401
        assert srv.request("/api/meta", token=False, headers={"X-Evallog-Token": srv.token})[0] == 200
        status, _, headers = srv.request("/")
        assert status == 200
        cookie = headers["set-cookie"].split(";")[0]
        assert "httponly" in headers["set-cookie"].lower() and "samesite=strict" in headers["set-cookie"].lower()
        assert srv.request("/api/meta", token=False, headers={"Cookie": cookie})[0] == 200
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_sigterm_and_ctrl_c(tmp_path: Path, sig: int) -> None:
    srv = Server([copy_tree(tmp_path)])
    assert srv.json("/api/meta")["runs"]
    t0 = time.monotonic()
    assert srv.stop(sig) == 0
    assert time.monotonic() - t0 < 5


def test_port_in_use_is_an_error_and_missing_extra_names_it(tmp_path: Path) -> None:
    srv = Server([copy_tree(tmp_path)])
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "evallog", "view", str(tmp_path), "--port", str(srv.port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 1 and "cannot listen" in proc.stderr
    finally:
        srv.stop()
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "import evallog, evallog.cli; assert 'starlette' not in sys.modules\n"
        "sys.exit(evallog.cli.main(['view', '.', '--port', '0']))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "evallog[view]" in proc.stderr


# --------------------------------------------------------------------------- the line index


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.one_of(st.just(""), st.just("  "), st.text('ab{}"é ', min_size=1, max_size=40)), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
    final_newline=st.booleans(),
)
def test_line_index_follows_a_file_written_in_pieces(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], cuts: list[int], final_newline: bool
) -> None:
    data = "\n".join(lines).encode("utf-8") + (b"\n" if final_newline and lines else b"")
    path = tmp_path_factory.mktemp("idx") / "f.jsonl"
    path.write_bytes(b"")
    index = LineIndex(path, growing=True)
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        path.write_bytes(data[:cut])
        index.extend()
        done = data[:cut].rsplit(b"\n", 1)[0] if b"\n" in data[:cut] else b""
        want = [ln for ln in done.split(b"\n") if ln.strip()] if b"\n" in data[:cut] else []
        assert index.read_range(0, index.count) == want
    path.write_bytes(data)
    index.growing = False  # the writer finished: an unterminated last line is a record
    index.extend()
    want = [ln for ln in data.split(b"\n") if ln.strip()]
    assert index.count == len(want) and index.complete
    assert index.read_range(0, len(want)) == want
    assert [raw for _, raw in index.iter_from(0, chunk=7)] == want


# --------------------------------------------------------------------------- fsspec roots


def test_remote_root_is_copied_and_kept_in_step() -> None:
    import fsspec

    from evallog.view.app import ViewState

    fs = fsspec.filesystem("memory")
    base = "/bucket-view/out"
    for f in LMEVAL.iterdir():
        fs.pipe(f"{base}/org__a/{f.name}", f.read_bytes())
    state = ViewState([f"memory://{base}"])
    try:
        meta = state.meta()
        assert [r["path"] for r in meta["runs"]] == [f"memory://{base}/org__a"]
        entry = state.catalog.entries[0]
        page = state.source(entry, "gt_mc_arith").page(Query())
        assert page["total"] == len(read_jsonl(LMEVAL / "samples_gt_mc_arith_2026-11-26T14-50-01.009042.jsonl"))
        # a run pushed later appears; a run deleted remotely goes
        remote = state.catalog.remotes[0]
        remote.interval = 0
        for f in LMMS_FROM.iterdir():
            fs.pipe(f"{base}/org__b/{f.name}", f.read_bytes())
        assert state.catalog.refresh(force=True)
        assert sorted(e.run.flavor for e in state.catalog.entries) == ["lm-eval", "lmms-eval"]
        fs.rm(f"{base}/org__a", recursive=True)
        state.catalog.refresh(force=True)
        assert [e.run.flavor for e in state.catalog.entries] == ["lmms-eval"]
        cache = remote.cache
        assert cache.is_dir()
    finally:
        state.catalog.close()
        fs.rm("/bucket-view", recursive=True)
    assert not cache.exists()


def test_server_over_an_fsspec_url(tmp_path: Path) -> None:
    root = copy_tree(tmp_path / "bucket")
    srv = Server([f"local://{root}"])  # fsspec's "local" protocol goes through the remote path
    try:
        meta = srv.json("/api/meta")
        assert sorted(r["path"] for r in meta["runs"]) == sorted(
            [f"local://{root}/lm-eval/{LMEVAL.name}", f"local://{root}/lmms-eval/lmms_output"]
        )
        key = meta["runs"][0]["key"]
        task = meta["runs"][0]["tasks"][0]
        assert srv.json("/api/samples", run=key, task=task)["samples"]
    finally:
        assert srv.stop() == 0


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(st.text("abAB\u00e9 x", max_size=30), max_size=30),
    needle=st.text("abx", min_size=1, max_size=3),
    chunk=st.integers(min_value=1, max_value=64),
    start=st.integers(min_value=0, max_value=5),
)
def test_grep_finds_the_records_containing_the_needle(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], needle: str, chunk: int, start: int
) -> None:
    path = tmp_path_factory.mktemp("grep") / "f.jsonl"
    path.write_bytes("".join(line + "\n" for line in lines).encode())
    index = LineIndex(path)
    records = [ln.encode() for ln in lines if ln.strip()]
    want = [n for n, raw in enumerate(records) if n >= start and needle.encode() in raw.lower()]
    assert list(index.grep(needle.encode(), start, chunk=chunk)) == want

"""A small fake Hugging Face Hub for tests: a real HTTP server on 127.0.0.1.

Written from docs/hub.md (endpoint table, error headers). It is driven by the
real ``huggingface_hub`` client (and by ``datasets`` for reads), so what the
tests assert is what the client really sent.

State is kept in memory: repos -> list of commits, each commit holding the full
snapshot ``{path: bytes}``. Tokens map to users; users belong to orgs with a
role. Every request is logged (``hub.log``), and faults can be injected
(``hub.inject(...)``): an error status with headers, a delay before the request
is handled, or a delay after it was handled (the work is done, the answer is
late).

Only what evallog and ``datasets`` use is implemented; files are always
``regular`` (inline base64 in the commit), never LFS/Xet.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FakeHub", "Fault", "git_blob_oid"]


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass
class Fault:
    method: str
    path_re: re.Pattern
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Injected fault"
    delay: float = 0.0
    after: bool = False  # delay the answer after the request was handled
    times: int = 1
    action: Any = None  # called with the FakeHub before the request is handled
    hits: int = 0


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    description: str
    files: dict[str, bytes]
    author: str
    date: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    owner: str
    private: bool
    gated: Any = False
    commits: list[Commit] = field(default_factory=list)

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def find(self, rev: str) -> Commit | None:
        rev = unquote(rev)
        if rev in ("main", "refs/heads/main"):
            return self.head
        if re.fullmatch(r"[0-9a-f]{5,40}", rev):
            for c in reversed(self.commits):
                if c.oid.startswith(rev):
                    return c
        return None


@dataclass
class TokenInfo:
    user: str
    role: str = "write"  # write | read | fineGrained
    scoped: dict[str, list[str]] | None = None  # fineGrained: namespace -> permissions


class FakeHub:
    """In-memory Hub served over HTTP on 127.0.0.1 (port chosen by the OS)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.memberships: dict[str, dict[str, str]] = {}  # user -> {org: roleInOrg}
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.answers: list[tuple[str, str, int]] = []  # (method, path, status) of every answer
        self.auth_seen: list[tuple[str, str, str | None]] = []  # (method, path, token)
        self.settings_calls: list[tuple[str, dict, str | None]] = []  # (repo_id, payload, token)
        self._busy = 0
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ setup
    def add_user(self, name: str, *, orgs: dict[str, str] | None = None) -> None:
        self.memberships[name] = dict(orgs or {})

    def add_token(self, token: str, user: str, *, role: str = "write",
                  scoped: dict[str, list[str]] | None = None) -> None:
        self.memberships.setdefault(user, {})
        self.tokens[token] = TokenInfo(user, role, scoped)

    def inject(self, method: str, path_regex: str, *, status: int | None = None,
               headers: dict[str, str] | None = None, message: str = "Injected fault",
               delay: float = 0.0, after: bool = False, times: int = 1,
               action: Any = None) -> Fault:
        """Make the next ``times`` matching requests fail, wait, or run ``action(hub)`` first."""
        fault = Fault(method.upper(), re.compile(path_regex), status, dict(headers or {}),
                      message, delay, after, times, action)
        with self.lock:
            self.faults.append(fault)
        return fault

    def start(self) -> str:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-hub")
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (e.g. a delayed one)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if self._busy == 0:
                    return
            time.sleep(0.01)
        raise TimeoutError("fake hub still busy")

    def commit_direct(self, repo_id: str, files: dict[str, bytes], *, author: str = "someone-else",
                      title: str = "concurrent commit") -> str:
        """Commit as another writer would (no HTTP), returning the new head."""
        with self.lock:
            repo = self.repo(repo_id)
            head = repo.head
            merged = dict(head.files)
            merged.update(files)
            oid = self._new_oid(head.oid.encode(), title.encode())
            repo.commits.append(Commit(oid, head.oid, title, "", merged, author, _utc_now()))
            return oid

    # ---------------------------------------------------------------- queries
    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id.lower())]

    def has_repo(self, repo_id: str, repo_type: str = "dataset") -> bool:
        return (repo_type, repo_id.lower()) in self.repos

    def files(self, repo_id: str) -> dict[str, bytes]:
        return dict(self.repo(repo_id).head.files)

    def count(self, method: str, path_regex: str) -> int:
        rx = re.compile(path_regex)
        with self.lock:
            return sum(1 for m, p in self.log if m == method and rx.search(p))

    def commit_posts(self, repo_id: str) -> int:
        return self.count("POST", rf"^/api/datasets/{re.escape(repo_id)}/commit/")

    def user_commits(self, repo_id: str) -> list[Commit]:
        """Commits after the initial ``.gitattributes`` commit made at creation."""
        return self.repo(repo_id).commits[1:]

    # --------------------------------------------------------------- internals
    def _new_oid(self, *parts: bytes) -> str:
        with self.lock:
            self._counter += 1
            n = self._counter
        h = hashlib.sha1(str(n).encode())
        for p in parts:
            h.update(p)
        return h.hexdigest()

    def _user_of(self, token: str | None) -> TokenInfo | None:
        return self.tokens.get(token) if token else None

    def can_write(self, info: TokenInfo | None, namespace: str) -> bool:
        if info is None:
            return False
        user = info.user
        member = namespace == user or self.memberships.get(user, {}).get(namespace) in (
            "admin", "write", "contributor")
        if not member:
            return False
        if info.role == "write":
            return True
        if info.role == "fineGrained":
            return "repo.write" in (info.scoped or {}).get(namespace, [])
        return False

    def can_read(self, info: TokenInfo | None, repo: Repo) -> bool:
        if not repo.private:
            return True
        if info is None:
            return False
        ns = repo.repo_id.split("/")[0]
        return ns == info.user or ns in self.memberships.get(info.user, {})


_INITIAL_GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n*.arrow filter=lfs diff=lfs merge=lfs -text\n"


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.body = body


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # ------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return out
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return None

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
              raw: bytes | None = None, content_type: str = "application/json") -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        with self.fake.lock:
            self.fake.answers.append((self.command, urlsplit(self.path).path, status))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("X-Request-Id", uuid.uuid4().hex[:12])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_error(self, err: _HTTPError) -> None:
        headers = {"X-Error-Message": err.message, **err.headers}
        if err.code:
            headers["X-Error-Code"] = err.code
        self._send(err.status, err.body if err.body is not None else {"error": err.message}, headers)

    def _handle(self) -> None:
        fake = self.fake
        body = self._read_body()
        split = urlsplit(self.path)
        raw_path = split.path
        query = parse_qs(split.query)
        token = self._token()
        with fake.lock:
            fake.log.append((self.command, raw_path))
            fake.auth_seen.append((self.command, raw_path, token))
            fake._busy += 1
            fault = None
            for f in fake.faults:
                if f.method == self.command and f.hits < f.times and f.path_re.search(raw_path):
                    f.hits += 1
                    fault = f
                    break
        try:
            if fault is not None and fault.action is not None:
                fault.action(fake)
            if fault is not None and not fault.after:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status:
                    self._send_error(_HTTPError(fault.status, fault.message, headers=fault.headers))
                    return
            try:
                result = self._route(raw_path, query, body, token)
            except _HTTPError as err:
                if fault is not None and fault.after and fault.delay:
                    time.sleep(fault.delay)
                self._send_error(err)
                return
            if fault is not None and fault.after and fault.delay:
                time.sleep(fault.delay)
            status, payload, headers, raw = result
            self._send(status, payload, headers, raw,
                       content_type="application/octet-stream" if raw is not None else "application/json")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with fake.lock:
                fake._busy -= 1

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    # --------------------------------------------------------------- routing
    def _route(self, raw_path: str, query: dict, body: bytes, token: str | None):
        fake = self.fake
        info = fake._user_of(token)
        if token and info is None and raw_path != "/api/validate-yaml":
            raise _HTTPError(401, "Invalid credentials in Authorization header")
        seg = [unquote(s) for s in raw_path.strip("/").split("/")]
        m = self.command

        if raw_path == "/api/whoami-v2" and m == "GET":
            return self._whoami(info)
        if raw_path == "/api/agent-harnesses":
            return 200, {"standardEnvVars": [], "harnesses": {}}, None, None
        if raw_path == "/api/validate-yaml" and m == "POST":
            return self._validate_yaml(body)
        if raw_path == "/api/repos/create" and m == "POST":
            return self._create_repo(info, json.loads(body or b"{}"))
        if raw_path == "/api/repos/delete" and m == "DELETE":
            data = json.loads(body or b"{}")
            rid = f"{data.get('organization') or info.user}/{data['name']}"
            with fake.lock:
                fake.repos.pop((data.get("type", "model"), rid.lower()), None)
            return 200, {}, None, None

        # /api/{T}s/{ns}/{name}[/...]
        if len(seg) >= 4 and seg[0] == "api" and seg[1] in ("datasets", "models", "spaces"):
            repo_type = seg[1][:-1]
            repo_id = f"{seg[2]}/{seg[3]}"
            rest = seg[4:]
            repo = self._get_repo(repo_type, repo_id, info)
            if not rest and m == "GET":
                return self._repo_info(repo, repo.head, query)
            action = rest[0]
            if action == "revision" and m == "GET":
                commit = self._rev(repo, rest[1])
                return self._repo_info(repo, commit, query)
            if action == "settings" and m == "PUT":
                return self._settings(repo, info, token, json.loads(body or b"{}"))
            if action == "preupload" and m == "POST":
                self._check_write(repo, info)
                self._rev(repo, rest[1])
                return self._preupload(repo, json.loads(body))
            if action == "commit" and m == "POST":
                self._check_write(repo, info)
                return self._commit(repo, info, rest[1], body)
            if action == "tree" and m == "GET":
                commit = self._rev(repo, rest[1])
                sub = "/".join(rest[2:])
                return self._tree(repo, commit, sub, query)
            if action == "paths-info" and m == "POST":
                commit = self._rev(repo, rest[1])
                form = parse_qs(body.decode())
                paths = form.get("paths", [])
                return 200, self._entries(commit, paths), None, None
            if action == "commits" and m == "GET":
                commit = self._rev(repo, rest[1])
                out = []
                c: Commit | None = commit
                by_oid = {x.oid: x for x in repo.commits}
                while c is not None:
                    out.append({"id": c.oid, "title": c.title, "message": c.description,
                                "authors": [{"user": c.author}], "date": c.date})
                    c = by_oid.get(c.parent) if c.parent else None
                return 200, out, None, None
            if action == "refs" and m == "GET":
                return 200, {"branches": [{"name": "main", "ref": "refs/heads/main",
                                           "targetCommit": repo.head.oid}],
                             "tags": [], "converts": []}, None, None

        # /{prefix}{ns}/{name}/resolve/{rev}/{path}
        if seg and seg[0] in ("datasets", "spaces") and len(seg) >= 6 and seg[3] == "resolve":
            repo_type = seg[0][:-1]
            return self._resolve(repo_type, f"{seg[1]}/{seg[2]}", seg[4], "/".join(seg[5:]), info)
        if len(seg) >= 5 and seg[2] == "resolve":
            return self._resolve("model", f"{seg[0]}/{seg[1]}", seg[3], "/".join(seg[4:]), info)
        raise _HTTPError(404, f"Not found: {m} {raw_path}")

    # ------------------------------------------------------------- handlers
    def _whoami(self, info: TokenInfo | None):
        if info is None:
            raise _HTTPError(401, "Invalid credentials in Authorization header")
        orgs = [{"type": "org", "name": o, "roleInOrg": r}
                for o, r in self.fake.memberships.get(info.user, {}).items()]
        access: dict[str, Any] = {"displayName": "test token", "role": info.role,
                                  "createdAt": "2025-01-01T00:00:00.000Z"}
        if info.role == "fineGrained":
            access["fineGrained"] = {
                "canReadGatedRepos": True,
                "global": [],
                "scoped": [{"entity": {"_id": ns, "type": "org", "name": ns}, "permissions": perms}
                           for ns, perms in (info.scoped or {}).items()],
            }
        return 200, {"type": "user", "id": info.user, "name": info.user, "fullname": info.user.title(),
                     "email": f"{info.user}@example.invalid", "orgs": orgs,
                     "auth": {"type": "access_token", "accessToken": access}}, None, None

    def _validate_yaml(self, body: bytes):
        import yaml

        data = json.loads(body or b"{}")
        content = data.get("content", "")
        errors = []
        if content.startswith("---"):
            parts = content.split("\n---", 1)
            front = parts[0][3:] if parts else ""
            try:
                meta = yaml.safe_load(front) or {}
            except yaml.YAMLError as exc:
                errors.append({"message": f"Invalid YAML: {exc}"})
                meta = {}
            if not isinstance(meta, dict):
                errors.append({"message": "metadata must be a mapping"})
            elif "configs" in meta:
                cfgs = meta["configs"]
                if not isinstance(cfgs, list) or not all(
                        isinstance(c, dict) and "config_name" in c for c in cfgs):
                    errors.append({"message": '"configs" must be a list of objects with "config_name"'})
        if errors:
            raise _HTTPError(400, errors[0]["message"], body={"errors": errors, "warnings": []})
        return 200, {"errors": [], "warnings": []}, None, None

    def _create_repo(self, info: TokenInfo | None, data: dict):
        fake = self.fake
        if info is None:
            raise _HTTPError(401, "You must be authenticated")
        ns = data.get("organization") or info.user
        name = data["name"]
        repo_type = data.get("type") or "model"
        repo_id = f"{ns}/{name}"
        url = f"{fake.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        with fake.lock:
            if (repo_type, repo_id.lower()) in fake.repos:
                raise _HTTPError(409, "You already created this dataset repo",
                                 body={"error": "You already created this dataset repo", "url": url})
            if not fake.can_write(info, ns):
                raise _HTTPError(403, f"You don't have the rights to create a repo under the namespace {ns!r}")
            if "visibility" in data:
                private = data["visibility"] == "private"
            else:
                private = bool(data.get("private", False))
            repo = Repo(repo_type, repo_id, ns, private)
            oid = fake._new_oid(repo_id.encode())
            repo.commits.append(Commit(oid, None, "initial commit", "",
                                       {".gitattributes": _INITIAL_GITATTRIBUTES}, info.user, _utc_now()))
            fake.repos[(repo_type, repo_id.lower())] = repo
        return 200, {"url": url, "name": repo_id, "id": oid}, None, None

    def _get_repo(self, repo_type: str, repo_id: str, info: TokenInfo | None) -> Repo:
        repo = self.fake.repos.get((repo_type, repo_id.lower()))
        if repo is None or not self.fake.can_read(info, repo):
            raise _HTTPError(404 if info else 401, "Repository not found", code="RepoNotFound")
        return repo

    def _check_write(self, repo: Repo, info: TokenInfo | None) -> None:
        if not self.fake.can_write(info, repo.repo_id.split("/")[0]):
            raise _HTTPError(403, "You don't have the rights to write to this repo")

    def _rev(self, repo: Repo, rev: str) -> Commit:
        c = repo.find(rev)
        if c is None:
            raise _HTTPError(404, f"Invalid rev id: {rev}", code="RevisionNotFound")
        return c

    def _repo_info(self, repo: Repo, commit: Commit, query: dict):
        blobs = query.get("blobs", ["False"])[0].lower() == "true"
        siblings = []
        for p, data in sorted(commit.files.items()):
            s: dict[str, Any] = {"rfilename": p}
            if blobs:
                s.update(size=len(data), blobId=git_blob_oid(data))
            siblings.append(s)
        card = {}
        if "README.md" in commit.files:
            card = _front_matter(commit.files["README.md"].decode("utf-8", "replace"))
        return 200, {"_id": repo.repo_id, "id": repo.repo_id, "author": repo.owner, "sha": commit.oid,
                     "private": repo.private, "gated": repo.gated, "disabled": False,
                     "lastModified": commit.date, "createdAt": repo.commits[0].date, "tags": [],
                     "downloads": 0, "likes": 0, "cardData": card, "siblings": siblings}, None, None

    def _settings(self, repo: Repo, info: TokenInfo | None, token: str | None, data: dict):
        self._check_write(repo, info)
        with self.fake.lock:
            self.fake.settings_calls.append((repo.repo_id, dict(data), token))
            if "gated" in data:
                repo.gated = data["gated"]
            if "visibility" in data:
                repo.private = data["visibility"] == "private"
            elif "private" in data:
                repo.private = bool(data["private"])
        return 200, {}, None, None

    def _preupload(self, repo: Repo, data: dict):
        head = repo.head
        out = []
        for f in data.get("files", []):
            existing = head.files.get(f["path"])
            out.append({"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                        "oid": git_blob_oid(existing) if existing is not None else None})
        return 200, {"files": out, "commitOid": head.oid}, None, None

    def _commit(self, repo: Repo, info: TokenInfo | None, rev: str, body: bytes):
        fake = self.fake
        lines = [json.loads(x) for x in body.splitlines() if x.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _HTTPError(400, "First line must be the header")
        header = lines[0]["value"]
        ops = lines[1:]
        if not ops:
            raise _HTTPError(400, "Add a line with the key `lfsFile`, `file` or `deletedFile`")
        with fake.lock:
            head = self._rev(repo, rev)
            if head is not repo.head:
                raise _HTTPError(400, "Can only commit to the head of a branch")
            parent = header.get("parentCommit")
            if parent and not head.oid.startswith(parent):
                raise _HTTPError(412, "The branch was updated since you opened this page. Please refresh and try again.")
            files = dict(head.files)
            for op in ops:
                key, val = op["key"], op["value"]
                path = val["path"]
                if ".." in path.split("/") or path.startswith("/"):
                    raise _HTTPError(422, f"Invalid path {path!r}")
                if key == "file":
                    files[path] = base64.b64decode(val["content"]) if val.get("encoding") == "base64" \
                        else val["content"].encode()
                elif key == "deletedFile":
                    if path not in files:
                        raise _HTTPError(404, "A file with this name doesn't exist", code="EntryNotFound")
                    del files[path]
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    for p in [p for p in files if p.startswith(prefix)]:
                        del files[p]
                else:
                    raise _HTTPError(400, f"Unsupported commit line {key!r} in the fake hub")
            oid = fake._new_oid(head.oid.encode(), body)
            repo.commits.append(Commit(oid, head.oid, header.get("summary", ""),
                                       header.get("description", ""), files, info.user, _utc_now()))
        prefix = "" if repo.repo_type == "model" else repo.repo_type + "s/"
        return 200, {"success": True, "commitOid": oid,
                     "commitUrl": f"{fake.url}/{prefix}{repo.repo_id}/commit/{oid}",
                     "hookOutput": "", "pullRequestUrl": None}, None, None

    @staticmethod
    def _entry(path: str, data: bytes) -> dict:
        return {"type": "file", "oid": git_blob_oid(data), "size": len(data), "path": path}

    def _entries(self, commit: Commit, paths: list[str]) -> list[dict]:
        out = []
        for p in paths:
            p = p.strip("/")
            if p in commit.files:
                out.append(self._entry(p, commit.files[p]))
            elif any(f.startswith(p + "/") for f in commit.files):
                out.append({"type": "directory", "oid": hashlib.sha1(p.encode()).hexdigest(),
                            "size": 0, "path": p})
        return out

    def _tree(self, repo: Repo, commit: Commit, sub: str, query: dict):
        recursive = query.get("recursive", ["False"])[0].lower() == "true"
        sub = sub.strip("/")
        prefix = sub + "/" if sub else ""
        if sub and sub not in commit.files and not any(f.startswith(prefix) for f in commit.files):
            raise _HTTPError(404, f"{sub} does not exist on main", code="EntryNotFound")
        out: list[dict] = []
        dirs: set[str] = set()
        for p in sorted(commit.files):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            parts = rest.split("/")
            for i in range(1, len(parts)):
                d = prefix + "/".join(parts[:i])
                if (recursive or i == 1) and d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(),
                                "size": 0, "path": d})
            if recursive or len(parts) == 1:
                out.append(self._entry(p, commit.files[p]))
        return 200, out, None, None

    def _resolve(self, repo_type: str, repo_id: str, rev: str, path: str, info: TokenInfo | None):
        fake = self.fake
        repo = self._get_repo(repo_type, repo_id, info)
        commit = self._rev(repo, rev)
        if repo.gated and (info is None or not fake.can_read(info, Repo(repo_type, repo_id, "", True))):
            raise _HTTPError(403 if info else 401, "Access to this gated repo is restricted", code="GatedRepo")
        data = commit.files.get(path)
        if data is None:
            raise _HTTPError(404, "Entry not found", code="EntryNotFound",
                             headers={"X-Repo-Commit": commit.oid})
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_oid(data)}"',
                   "Accept-Ranges": "bytes"}
        rng = self.headers.get("Range")
        if rng:
            mt = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if mt:
                start = int(mt.group(1) or 0)
                end = int(mt.group(2)) if mt.group(2) else len(data) - 1
                if start >= len(data):
                    raise _HTTPError(416, "Range not satisfiable",
                                     headers={"Content-Range": f"bytes */{len(data)}"})
                end = min(end, len(data) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                chunk = data[start:end + 1]
                headers["Content-Length"] = str(len(chunk))
                return 206, None, headers, chunk
        headers["Content-Length"] = str(len(data))
        return 200, None, headers, data


def _front_matter(text: str) -> dict:
    import yaml

    if not text.startswith("---"):
        return {}
    front = text.split("\n---", 1)[0][3:]
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}

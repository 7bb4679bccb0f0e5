"""The Starlette application of ``evallog view``: the report's page and its JSON endpoints.

::

    GET /                       the report's page (template, CSS, script), data from the endpoints below
    GET /api/meta               runs (model, date, status, tasks, sample counts), tasks, leaderboard
    GET /api/status             catalog version + live figures of the runs being written
    GET /api/run?run=K          configuration and results / groups tables of run K
    GET /api/samples?run=K&task=T[&other=K2&q=&correct=&filter=&agree=&sort=&page=&size=]
    GET /api/sample?run=K&task=T&n=N[&other=K2]     one whole sample (and the other run's)
    GET /api/compare?a=K1&b=K2  paired comparison of two runs
    GET /raw/I/PATH             a file under root I (results and samples files, as stored)

Every request passes :class:`Guard`: a ``Host`` header naming the bound
address (no DNS rebinding), and the token when the server has one (query
``token``, header ``X-Evallog-Token`` or the cookie set by the first page).
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from evallog.errors import ReadError, UnsafePathError
from evallog.view.catalog import Catalog, Entry, check_inside, resolve_under
from evallog.view.lineindex import IndexCache
from evallog.view.samples import SORTS, Query, TaskSource

__all__ = ["create_app", "ViewState", "Guard", "TOKEN_COOKIE"]

log = logging.getLogger(__name__)

TOKEN_COOKIE = "evallog_token"
_LIVE_BUDGET_S = 0.2

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ViewState:
    """The catalog and the per-file sources shared by all requests."""

    def __init__(self, roots: list[Any], *, title: str | None = None) -> None:
        self.catalog = Catalog(roots)
        self.indexes = IndexCache()
        self.title = title
        self._sources: dict[tuple[str, str, str], TaskSource] = {}
        self._meta: tuple[int, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self.catalog.refresh(force=True)

    def source(self, entry: Entry, task: str) -> TaskSource:
        path = self.catalog.samples_path(entry, task)
        growing = path.name.endswith(".partial")
        key = (entry.key, task, os.fspath(path))
        with self._lock:
            src = self._sources.get(key)
            if src is None:
                run = entry.run
                src = TaskSource(
                    self.indexes.get(path, growing=growing),
                    task=task,
                    filters=run.filters(task),
                    result_metrics=[m for m, _ in run.metrics(task)],
                    infer_filters=run.flavor == "lmms-eval",
                )
                self._sources[key] = src
            return src

    # ------------------------------------------------------------------ data shapes

    def task_count(self, entry: Entry, task: str) -> int | None:
        run = entry.run
        if task not in run.sample_files:
            return None
        if not run.in_progress:
            reported: int | None = run.reported_samples(task)
            if reported is not None:
                return reported
        try:
            src = self.source(entry, task)
            src.index.extend(deadline=time.monotonic() + 0.05)
        except (KeyError, OSError, UnsafePathError):
            return None
        return src.index.count

    def meta(self) -> dict[str, Any]:
        """The page's data (the static report's shape): computed once per catalog version."""
        with self._lock:
            cached = self._meta
        if cached is not None and cached[0] == self.catalog.version:
            return cached[1]
        version = self.catalog.version
        meta = self._build_meta()
        with self._lock:
            self._meta = (version, meta)
        return meta

    def _build_meta(self) -> dict[str, Any]:
        from collections import Counter

        from evallog import __version__
        from evallog.report import leaderboard_data, main_score, run_summary

        entries = self.catalog.entries
        names = Counter(e.run.name for e in entries)
        runs = []
        tasks: dict[str, dict[str, Any]] = {}
        for i, e in enumerate(entries):
            run = e.run
            summary = run_summary(run, short=run.name if names[run.name] == 1 else run.label)
            summary["path"] = self.catalog.location(e)
            counts = {t: self.task_count(e, t) for t in run.tasks}
            summary.update(key=e.key, status=e.status, counts=counts)
            runs.append(summary)
            for t in run.tasks:
                entry = tasks.setdefault(t, {"name": t, "runs": []})
                has = t in run.sample_files
                entry["runs"].append({"run": i, "score": main_score(run, t), "block": "live" if has else None,
                                      "n_total": counts.get(t) or 0, "n_embedded": counts.get(t) or 0,
                                      "capped": None})
        return {
            "live": {"version": self.catalog.version, "poll_ms": 1000},
            "title": self.title or "evallog view",
            "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "version": __version__,
            "limits": {"max_samples": 0, "max_bytes": 0, "max_text": 2000},
            "runs": runs,
            "tasks": list(tasks.values()),
            "leaderboard": leaderboard_data([e.run for e in entries]),
            "comparisons": [],
            "errors": self.catalog.errors,
        }

    def status(self) -> dict[str, Any]:
        """Catalog version and, for each run being written, its per-task counts and running means."""
        self.catalog.refresh()
        live = []
        deadline = time.monotonic() + _LIVE_BUDGET_S
        for e in self.catalog.entries:
            if not e.run.in_progress:
                continue
            tasks = {}
            for t in e.run.sample_files:
                try:
                    tasks[t] = self.source(e, t).live_stats(deadline=deadline)
                except (KeyError, OSError, UnsafePathError):
                    continue
            live.append({"key": e.key, "status": e.status, "tasks": tasks})
        return {"version": self.catalog.version, "runs": live}


# ------------------------------------------------------------------ request guard


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


class Guard:
    """ASGI middleware: Host header check and token check on every request."""

    def __init__(self, app: ASGIApp, *, token: str | None, hosts: set[str] | None) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse

        request = Request(scope)
        if self.hosts is not None:
            host = (request.headers.get("host") or "").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host not in self.hosts and name.strip("[]") not in self.hosts:
                await PlainTextResponse("unknown Host header", status_code=421)(scope, receive, send)
                return
        if self.token is not None:
            given = (request.query_params.get("token") or request.headers.get("x-evallog-token")
                     or request.cookies.get(TOKEN_COOKIE) or "")
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                await PlainTextResponse("a valid token is required: open the URL that `evallog view` printed",
                                        status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ------------------------------------------------------------------ endpoints


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def create_app(state: ViewState, *, token: str | None = None, hosts: set[str] | None = None) -> Any:
    """The ASGI application over ``state`` (needs the ``evallog[view]`` extra)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from evallog.report import render_app_page

    security_headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }

    class OrjsonResponse(JSONResponse):
        def render(self, content: Any) -> bytes:
            import orjson

            try:
                return orjson.dumps(content, default=str)
            except (TypeError, orjson.JSONEncodeError):
                import json

                return json.dumps(_finite(content), default=str).encode()

    def json(data: Any, status: int = 200) -> Response:
        return OrjsonResponse(data, status_code=status, headers=security_headers)

    def error(status: int, message: str) -> Response:
        return json({"error": message}, status)

    def entry_of(request: Request, name: str = "run") -> Entry:
        key = request.query_params.get(name, "")
        try:
            return state.catalog.get(key)
        except KeyError:
            state.catalog.refresh(force=True)
            return state.catalog.get(key)

    def wrap(fn: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await run_in_threadpool(fn, request)
            except UnsafePathError as exc:
                return error(403, str(exc))
            except KeyError as exc:
                return error(404, f"not found: {exc.args[0] if exc.args else ''}")
            except (ValueError, ReadError) as exc:
                return error(400, str(exc))
            except OSError as exc:
                return error(404, f"cannot read: {exc.strerror or exc}")

        return endpoint

    def page(request: Request) -> Response:
        meta = {"live": {"api": "api/"}, "title": state.title or "evallog view", "version": "", "runs": [],
                "tasks": []}
        html, csp = render_app_page(meta)
        resp = HTMLResponse(html, headers={**security_headers, "Content-Security-Policy": csp})
        if token is not None and request.query_params.get("token"):
            resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
        return resp

    def meta(request: Request) -> Response:
        state.catalog.refresh()
        return json(state.meta())

    def status(request: Request) -> Response:
        return json(state.status())

    def run_detail(request: Request) -> Response:
        from evallog.report import run_tables

        entry = entry_of(request)
        return json({"key": entry.key, **run_tables(entry.run)})

    def _query(request: Request) -> Query:
        p = request.query_params
        sort = p.get("sort", "doc")
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        return Query(q=p.get("q", "")[:500], correct=p.get("correct", "all"), filter=p.get("filter", ""),
                     agree=p.get("agree", "all"), sort=sort, page=int(p.get("page", "0") or 0),
                     size=int(p.get("size", "50") or 50))

    def _other(request: Request, task: str) -> TaskSource | None:
        if not request.query_params.get("other") or request.query_params.get("other") == "none":
            return None
        other = entry_of(request, "other")
        return state.source(other, task) if task in other.run.sample_files else None

    def samples(request: Request) -> Response:
        entry = entry_of(request)
        task = request.query_params.get("task", "")
        src = state.source(entry, task)
        return json(src.page(_query(request), _other(request, task)))

    def sample(request: Request) -> Response:
        entry = entry_of(request)
        task = request.query_params.get("task", "")
        src = state.source(entry, task)
        key = request.query_params.get("key")
        if key is not None:  # doc id + "\x01" + filter name
            found = src.find(key)
            if found is None:
                raise KeyError(f"no sample for doc {key.partition(chr(1))[0]!r}")
            n = int(found["n"])
        else:
            n = int(request.query_params.get("n", "-1"))
        if n < 0:
            raise ValueError("n must be a record number")
        try:
            rec = src.detail(n)
        except IndexError:
            raise KeyError(f"record {n}") from None
        out: dict[str, Any] = {"sample": rec, "metrics": src.metrics or [], "filters": src.filters}
        other = _other(request, task)
        if other is not None and not rec.get("bad"):
            o = other.find(src.key_of(rec))
            out["other"] = other.detail(o["n"]) if o is not None else None
            out["other_metrics"] = other.metrics or []
            out["other_filters"] = other.filters
        return json(out)

    def comparison(request: Request) -> Response:
        from evallog.report import comparisons_data

        a, b = entry_of(request, "a"), entry_of(request, "b")
        if a.key == b.key:
            raise ValueError("cannot compare a run with itself")
        keys = [e.key for e in state.catalog.entries]
        found = comparisons_data([a.run, b.run], [(0, 1)], max_flip_ids=2000)
        if not found:
            return json({"comparison": None, "message": "these two runs share no task with comparable results"})
        comp = found[0]
        comp["a"], comp["b"] = keys.index(a.key), keys.index(b.key)
        return json({"comparison": comp})

    def raw(request: Request) -> Response:
        index = int(request.path_params["root"])
        if not 0 <= index < len(state.catalog.roots):
            raise KeyError(f"root {index}")
        root = state.catalog.roots[index]
        path = resolve_under(root, request.path_params["path"])
        if not path.is_file():
            raise KeyError(request.path_params["path"])
        check_inside(root, path)
        return FileResponse(path, headers={**security_headers, "Content-Security-Policy": "default-src 'none'",
                                           "Content-Disposition": "attachment"},
                            media_type="application/octet-stream")

    routes = [
        Route("/", wrap(page)),
        Route("/api/meta", wrap(meta)),
        Route("/api/status", wrap(status)),
        Route("/api/run", wrap(run_detail)),
        Route("/api/samples", wrap(samples)),
        Route("/api/sample", wrap(sample)),
        Route("/api/compare", wrap(comparison)),
        Route("/raw/{root:int}/{path:path}", wrap(raw)),
    ]
    app = Starlette(routes=routes)
    return Guard(app, token=token, hosts=hosts)

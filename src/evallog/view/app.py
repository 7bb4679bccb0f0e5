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
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from evallog.errors import ReadError, UnsafePathError
from evallog.view.catalog import Catalog, Entry, resolve_under
from evallog.view.lineindex import IndexCache
from evallog.view.samples import SORTS, Query, TaskSource

__all__ = ["create_app", "Api", "ViewState", "Guard", "TOKEN_COOKIE"]

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
            src.index.extend(deadline=time.monotonic() + 0.05, wait=False)
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

        from evallog._version import __version__
        from evallog.dates import format_time
        from evallog.report import column_headers, leaderboard_data, main_score, run_summary

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
            "generated": format_time(time.time()),
            "column_headers": column_headers(),
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


_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _json(data: Any, status: int = 200) -> Any:
    """A JSON response (orjson; non-finite floats as strings), with the security headers."""
    import orjson
    from starlette.responses import Response

    try:
        body = orjson.dumps(data, default=str)
    except (TypeError, orjson.JSONEncodeError):
        import json

        body = json.dumps(_finite(data), default=str).encode()
    return Response(body, status_code=status, media_type="application/json", headers=_SECURITY_HEADERS)


def _query(params: Mapping[str, str]) -> Query:
    sort = params.get("sort", "doc")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    return Query(q=params.get("q", "")[:500], correct=params.get("correct", "all"), filter=params.get("filter", ""),
                 agree=params.get("agree", "all"), sort=sort, page=int(params.get("page", "0") or 0),
                 size=int(params.get("size", "50") or 50))


class Api:
    """The endpoints; each takes the query parameters and returns a response (run in a worker thread)."""

    def __init__(self, state: ViewState, token: str | None) -> None:
        self.state = state
        self.token = token

    def entry(self, params: Mapping[str, str], name: str = "run") -> Entry:
        key = params.get(name, "")
        try:
            return self.state.catalog.get(key)
        except KeyError:
            self.state.catalog.refresh(force=True)
            return self.state.catalog.get(key)

    def other(self, params: Mapping[str, str], task: str) -> TaskSource | None:
        if params.get("other", "none") in ("", "none"):
            return None
        other = self.entry(params, "other")
        return self.state.source(other, task) if task in other.run.sample_files else None

    def page(self, params: Mapping[str, str]) -> Any:
        from starlette.responses import HTMLResponse

        from evallog.report import render_app_page

        meta = {"live": {"api": "api/"}, "title": self.state.title or "evallog view", "version": "", "runs": [],
                "tasks": []}
        html, csp = render_app_page(meta)
        resp = HTMLResponse(html, headers={**_SECURITY_HEADERS, "Content-Security-Policy": csp})
        if self.token is not None and params.get("token"):
            resp.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict", path="/")
        return resp

    def meta(self, params: Mapping[str, str]) -> Any:
        self.state.catalog.refresh()
        return _json(self.state.meta())

    def status(self, params: Mapping[str, str]) -> Any:
        return _json(self.state.status())

    def run(self, params: Mapping[str, str]) -> Any:
        from evallog.report import run_tables

        entry = self.entry(params)
        return _json({"key": entry.key, **run_tables(entry.run)})

    def samples(self, params: Mapping[str, str]) -> Any:
        task = params.get("task", "")
        src = self.state.source(self.entry(params), task)
        return _json(src.page(_query(params), self.other(params, task)))

    def sample(self, params: Mapping[str, str]) -> Any:
        task = params.get("task", "")
        src = self.state.source(self.entry(params), task)
        key = params.get("key")
        if key is not None:  # doc id + "\x01" + filter name
            found = src.find(key)
            if found is None:
                raise KeyError(f"no sample for doc {key.partition(chr(1))[0]!r}")
            n = int(found["n"])
        else:
            n = int(params.get("n", "-1"))
        if n < 0:
            raise ValueError("n must be a record number")
        try:
            rec = src.detail(n)
        except IndexError:
            raise KeyError(f"record {n}") from None
        out: dict[str, Any] = {"sample": rec, "metrics": src.metrics or [], "filters": src.filters}
        other = self.other(params, task)
        if other is not None and not rec.get("bad"):
            o = other.find(src.key_of(rec))
            out["other"] = other.detail(o["n"]) if o is not None else None
            out["other_metrics"] = other.metrics or []
            out["other_filters"] = other.filters
        return _json(out)

    def compare(self, params: Mapping[str, str]) -> Any:
        from evallog.report import comparisons_data

        a, b = self.entry(params, "a"), self.entry(params, "b")
        if a.key == b.key:
            raise ValueError("cannot compare a run with itself")
        found = comparisons_data([a.run, b.run], [(0, 1)], max_flip_ids=2000)
        if not found:
            return _json({"comparison": None, "message": "these two runs share no task with comparable results"})
        keys = [e.key for e in self.state.catalog.entries]
        comp = found[0]
        comp["a"], comp["b"] = keys.index(a.key), keys.index(b.key)
        return _json({"comparison": comp})

    def raw(self, root: int, relative: str) -> Any:
        from starlette.responses import FileResponse

        if not 0 <= root < len(self.state.catalog.roots):
            raise KeyError(f"root {root}")
        base = self.state.catalog.roots[root]
        path = resolve_under(base, relative)
        if not path.is_file():
            raise KeyError(relative)
        headers = {**_SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'",
                   "Content-Disposition": "attachment"}
        return FileResponse(path, headers=headers, media_type="application/octet-stream")


def _endpoint(call: Callable[[Any], Any]) -> Callable[[Any], Awaitable[Any]]:
    """An async endpoint running ``call(request)`` in a worker thread, errors as JSON with their status."""
    from starlette.concurrency import run_in_threadpool

    async def endpoint(request: Any) -> Any:
        try:
            return await run_in_threadpool(call, request)
        except UnsafePathError as exc:
            return _json({"error": str(exc)}, 403)
        except KeyError as exc:
            return _json({"error": f"not found: {exc.args[0] if exc.args else ''}"}, 404)
        except (ValueError, ReadError) as exc:
            return _json({"error": str(exc)}, 400)
        except OSError as exc:
            return _json({"error": f"cannot read: {exc.strerror or exc}"}, 404)

    return endpoint


def create_app(state: ViewState, *, token: str | None = None, hosts: set[str] | None = None) -> Any:
    """The ASGI application over ``state`` (needs the ``evallog[view]`` extra)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    api = Api(state, token)
    routes = [Route("/", _endpoint(lambda r: api.page(r.query_params)))]

    def with_params(method: Callable[[Mapping[str, str]], Any]) -> Callable[[Any], Any]:
        return lambda request: method(request.query_params)

    for name in ("meta", "status", "run", "samples", "sample", "compare"):
        routes.append(Route(f"/api/{name}", _endpoint(with_params(getattr(api, name)))))
    routes.append(Route("/raw/{root:int}/{path:path}",
                        _endpoint(lambda r: api.raw(int(r.path_params["root"]), r.path_params["path"]))))
    return Guard(Starlette(routes=routes), token=token, hosts=hosts)

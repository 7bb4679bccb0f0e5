"""Publish evaluation runs to the Hugging Face Hub (formats.md §2.2-2.3, §4.5, §5, §13.4).

What differs from the anchors (formats.md §12 #1-5, #25, #26, #43):

* the token and the write access are checked when the settings are built
  (:func:`hub_settings`, called by the tracker's constructor), so a bad setup
  fails before any evaluation runs, with :class:`~evallog.errors.HubAuthError`;
* one ``create_commit`` per run and repo holds the results file, every sample
  file of the run and the regenerated dataset card (nothing else from the
  output folder), under one folder per model, the same in both repos;
* files already on the Hub with the same content are skipped, and nothing is
  committed when nothing changed;
* transient failures (429 with ``Retry-After``, 5xx, timeouts, a concurrent
  commit) are retried with backoff; every attempt re-reads the repo and
  commits with ``parent_commit``, so a retry never overwrites another writer's
  commit nor duplicates its own;
* a push that finally fails raises :class:`~evallog.errors.HubPushError`
  naming the repo; local files are never touched;
* the token is passed explicitly to every call (gating included), never
  logged and never written to disk.

``huggingface_hub`` is imported inside the functions only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallog.errors import ConfigError, HubAuthError, HubError, HubPushError
from evallog.naming import parse_filename, sanitize_model_name

__all__ = [
    "RetryPolicy",
    "HubSettings",
    "RepoPush",
    "PushReport",
    "LocalRun",
    "hub_settings",
    "settings_for_repos",
    "push_run",
    "find_local_runs",
    "resolve_token",
]

logger = logging.getLogger(__name__)

CARD_PATH = "README.md"
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_CONFLICT_STATUSES = {409, 412}


# --------------------------------------------------------------------- retries
@dataclass
class RetryPolicy:
    """How Hub calls are retried.

    ``timeout`` bounds each Hub call (the commit gets ``timeout`` plus the time
    to send its files at ``min_throughput`` bytes/s); ``None`` disables it.
    Delays grow as ``base_delay * 2**(attempt-1)`` up to ``max_delay``, with
    ``jitter`` (a fraction) added; a ``Retry-After`` header is honoured up to
    ``max_retry_after`` seconds. ``sleep`` is what waits (tests record it).
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0
    jitter: float = 0.1
    timeout: float | None = 120.0
    min_throughput: float = 256 * 1024
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        d = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        if self.jitter:
            d += d * self.jitter * random.random()
        return d


class _Deadline(TimeoutError):
    """A Hub call did not answer in time."""


def _with_deadline(fn: Callable[[], Any], timeout: float | None, what: str) -> Any:
    """Run ``fn`` and give up waiting after ``timeout`` seconds.

    huggingface_hub's HTTP client has no timeout by default; a slow answer
    would block forever. The abandoned call finishes in the background: every
    commit carries ``parent_commit``, so a late commit can't clash with a retry.
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"evallog-hub:{what}", daemon=True).start()
    if not done.wait(timeout):
        raise _Deadline(f"no answer from the Hub within {timeout:g}s ({what})")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) if response is not None else None


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("Retry-After")
    if value:
        try:
            return float(value)
        except ValueError:
            pass  # an HTTP date: fall back to the backoff
    ratelimit = headers.get("RateLimit")
    if ratelimit:
        m = re.search(r"\bt=(\d+)", ratelimit)
        if m:
            return float(m.group(1))
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (causes, then contexts)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 20:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def cannot_connect(exc: BaseException) -> str | None:
    """Why no connection could be opened at all (refused, name not resolved), else ``None``.

    Such a failure is not transient: a retry would fail the same way, so it is
    reported at once instead of after the backoff.
    """
    import socket

    for e in _chain(exc):
        if isinstance(e, socket.gaierror):
            return f"the host name does not resolve ({e.strerror or e})"
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
    try:
        import httpx2
    except ImportError:  # pragma: no cover - older huggingface_hub
        return None
    if any(type(e) is httpx2.ConnectError for e in _chain(exc)):
        return _describe(exc)
    return None


def _is_transient(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        return status in _RETRY_STATUSES or status in _CONFLICT_STATUSES
    if cannot_connect(exc) is not None:
        return False
    if isinstance(exc, (_Deadline, TimeoutError, ConnectionError)):
        return True
    try:
        import httpx2
    except ImportError:  # pragma: no cover - older huggingface_hub
        return False
    return isinstance(exc, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    status = _status(exc)
    if status is not None and str(status) not in first:
        first = f"HTTP {status}: {first}"
    return first


def _retrying(policy: RetryPolicy, what: str, fn: Callable[[int], Any]) -> Any:
    """Call ``fn(attempt)`` until it succeeds, retrying transient failures."""
    attempt = 1
    while True:
        try:
            return fn(attempt)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit, HubError)):
                raise
            if not _is_transient(exc) or attempt >= policy.max_attempts:
                raise
            delay = policy.delay(attempt, _retry_after(exc))
            logger.warning("%s failed (%s); retrying in %.1fs (attempt %d of %d)",
                           what, _describe(exc), delay, attempt + 1, policy.max_attempts)
            policy.sleep(delay)
            attempt += 1


# -------------------------------------------------------------------- settings
def _endpoint(explicit: str | None = None) -> str:
    """The Hub URL: ``endpoint=``, else ``HF_ENDPOINT`` (read now), else huggingface_hub's default."""
    if explicit:
        return explicit.rstrip("/")
    env = os.environ.get("HF_ENDPOINT")
    if env:
        return env.rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def resolve_token(token: str | None = None) -> tuple[str | None, str | None]:
    """``(token, where it came from)``: the argument, else ``HF_TOKEN``, else the saved login."""
    if token:
        return token, "the token= argument"
    env = os.environ.get("HF_TOKEN")
    if env:
        return env.strip(), "the HF_TOKEN environment variable"
    try:
        from huggingface_hub import get_token

        saved = get_token()
    except Exception:  # pragma: no cover - broken install or unreadable token file
        saved = None
    if saved:
        return saved, "the saved login (hf auth login)"
    return None, None


@dataclass
class HubSettings:
    """Where and how a run is published. Built by :func:`hub_settings` (the
    tracker's parameters) or :func:`settings_for_repos` (exact repo ids)."""

    org: str
    details_repo: str
    details_repo_private: str
    results_repo: str
    results_repo_private: str
    details_target: str  # the repo ids actually used
    results_target: str
    push_results: bool = False
    push_samples: bool = False
    public: bool = False
    gated: bool = False
    leaderboard_url: str = ""
    point_of_contact: str = ""
    endpoint: str | None = None
    token: str | None = field(default=None, repr=False)
    token_source: str | None = None
    user: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    details_format: str = "jsonl"  # or "parquet": sample files converted (evallog.store.samples_to_parquet)

    @property
    def enabled(self) -> bool:
        return self.push_results or self.push_samples

    @property
    def api(self) -> Any:
        """An ``HfApi`` bound to the endpoint and token (``None`` without a token)."""
        if not self.token:
            return None
        return _make_api(self)

    def targets(self) -> list[str]:
        out = []
        if self.push_results:
            out.append(self.results_target)
        if self.push_samples and self.details_target not in out:
            out.append(self.details_target)
        return out


def _make_api(settings: HubSettings) -> Any:
    from huggingface_hub import HfApi

    from evallog import __version__

    return HfApi(endpoint=_endpoint(settings.endpoint), token=settings.token,
                 library_name="evallog", library_version=__version__)


def hub_settings(
    *,
    hub_results_org: str = "",
    hub_repo_name: str = "",
    details_repo_name: str = "",
    results_repo_name: str = "",
    push_results_to_hub: bool = False,
    push_samples_to_hub: bool = False,
    public_repo: bool = False,
    token: str | None = "",
    leaderboard_url: str = "",
    point_of_contact: str = "",
    gated: bool = False,
    default_repo_name: str = "lm-eval-results",
    endpoint: str | None = None,
    retry: RetryPolicy | None = None,
    details_format: str = "jsonl",
) -> HubSettings:
    """The tracker's Hub settings (formats.md §2.2-2.3).

    No push flag: no network call, repo ids as the anchors build them
    (``"/lm-eval-results"`` when the org is empty). A push flag: the token is
    resolved (argument, ``HF_TOKEN``, saved login) and checked with
    ``whoami``, the org defaults to the token's user, and write access to it
    is verified; otherwise :class:`HubAuthError` says what to fix.
    """
    _check_details_format(details_format)
    org = hub_results_org or ""
    pushing = bool(push_results_to_hub or push_samples_to_hub)
    tok: str | None = None
    source: str | None = None
    user: str | None = None
    policy = retry or RetryPolicy()
    if pushing:
        tok, source = resolve_token(token or None)
        if not tok:
            raise HubAuthError(
                "Pushing to the Hugging Face Hub needs a token with write access: pass token=..., "
                "set HF_TOKEN, or log in with `hf auth login`"
            )
        info = _whoami(tok, source, endpoint, policy)
        user = info.get("name") or ""
        if not org:
            org = user
            logger.warning("hub_results_org is empty: publishing under the token's user %r", org)
        _check_write(info, org, source)
    if hub_repo_name:
        logger.warning("hub_repo_name is deprecated: use details_repo_name and results_repo_name")
        details = results = hub_repo_name
    else:
        details = details_repo_name or default_repo_name
        results = results_repo_name or details
    details_repo, results_repo = f"{org}/{details}", f"{org}/{results}"
    return HubSettings(
        org=org,
        details_repo=details_repo,
        details_repo_private=f"{details_repo}-private",
        results_repo=results_repo,
        results_repo_private=f"{results_repo}-private",
        details_target=details_repo if public_repo else f"{details_repo}-private",
        results_target=results_repo if public_repo else f"{results_repo}-private",
        push_results=bool(push_results_to_hub),
        push_samples=bool(push_samples_to_hub),
        public=bool(public_repo),
        gated=bool(gated),
        leaderboard_url=leaderboard_url or "",
        point_of_contact=point_of_contact or "",
        endpoint=endpoint,
        token=tok,
        token_source=source,
        user=user,
        retry=policy,
        details_format=details_format,
    )


DETAILS_FORMATS = ("jsonl", "parquet")


def _check_details_format(details_format: str) -> None:
    if details_format not in DETAILS_FORMATS:
        raise ConfigError(f"details_format must be one of {', '.join(DETAILS_FORMATS)}, got {details_format!r}")


_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def settings_for_repos(
    repo: str,
    *,
    details_repo: str | None = None,
    public: bool = False,
    gated: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    leaderboard_url: str = "",
    point_of_contact: str = "",
    check: bool = True,
    retry: RetryPolicy | None = None,
    details_format: str = "jsonl",
) -> HubSettings:
    """Settings with the repo ids used exactly as given (``evallog push``).

    Results go to ``repo``, samples to ``details_repo`` (default: ``repo``).
    ``check=False`` (dry runs) makes no network call and needs no token.
    """
    _check_details_format(details_format)
    details = details_repo or repo
    for rid in {repo, details}:
        if not _REPO_ID_RE.match(rid) or ".." in rid:
            raise ConfigError(f"not a repo id of the form ORG/NAME: {rid!r}")
    policy = retry or RetryPolicy()
    tok, source = resolve_token(token) if check else (None, None)
    user = None
    if check:
        if not tok:
            raise HubAuthError(
                "Pushing to the Hugging Face Hub needs a token with write access: set HF_TOKEN "
                "or log in with `hf auth login`"
            )
        info = _whoami(tok, source, endpoint, policy)
        user = info.get("name")
        for ns in sorted({repo.split("/")[0], details.split("/")[0]}):
            _check_write(info, ns, source)
    org = repo.split("/")[0]
    return HubSettings(
        org=org,
        details_repo=details,
        details_repo_private=details,
        results_repo=repo,
        results_repo_private=repo,
        details_target=details,
        results_target=repo,
        push_results=True,
        push_samples=True,
        public=public,
        gated=gated,
        leaderboard_url=leaderboard_url,
        point_of_contact=point_of_contact,
        endpoint=endpoint,
        token=tok,
        token_source=source,
        user=user,
        retry=policy,
        details_format=details_format,
    )


def _whoami(token: str, source: str | None, endpoint: str | None, policy: RetryPolicy) -> dict:
    from huggingface_hub import HfApi

    url = _endpoint(endpoint)
    api = HfApi(endpoint=url, token=token)
    try:
        return _retrying(policy, "checking the Hub token",
                         lambda _n: _with_deadline(lambda: api.whoami(token=token), policy.timeout, "whoami"))
    except HubError:
        raise
    except Exception as exc:
        status = _status(exc)
        if status == 401:
            raise HubAuthError(
                f"The Hugging Face token from {source} was rejected by {url} (invalid or expired): "
                "create a new token with write access and pass it with token=..., HF_TOKEN or "
                "`hf auth login`"
            ) from exc
        reason = cannot_connect(exc)
        if reason is not None:
            raise HubError(
                f"Could not check the Hugging Face token against {url}: cannot connect to {url}: "
                f"{reason}. Check the network connection and HF_ENDPOINT"
            ) from exc
        raise HubError(
            f"Could not check the Hugging Face token against {url}: {_describe(exc)}. "
            "Check the network connection and HF_ENDPOINT"
        ) from exc


def _check_write(info: dict, namespace: str, source: str | None) -> None:
    """Raise :class:`HubAuthError` unless whoami's answer grants writing to ``namespace``."""
    user = info.get("name") or ""
    orgs = {o.get("name"): o.get("roleInOrg") for o in info.get("orgs") or [] if isinstance(o, dict)}
    access = ((info.get("auth") or {}).get("accessToken")) or {}
    role = access.get("role")
    where = f"the Hugging Face token from {source}"
    if namespace != user and namespace not in orgs:
        raise HubAuthError(
            f"{where} belongs to user {user!r}, who is not a member of the organisation {namespace!r}: "
            f"publish under your user or one of your organisations ({', '.join(sorted(map(str, orgs))) or 'none'}) "
            "with hub_results_org=..., or ask to join it"
        )
    if namespace in orgs and orgs[namespace] == "read":
        raise HubAuthError(
            f"user {user!r} only has the 'read' role in the organisation {namespace!r}: "
            "ask an admin for the 'write' role, or publish elsewhere with hub_results_org=..."
        )
    if role == "read":
        raise HubAuthError(
            f"{where} is read-only: create a token with the 'write' role (or a fine-grained token "
            f"with write access to {namespace!r}) and pass it with token=..., HF_TOKEN or `hf auth login`"
        )
    if role == "fineGrained":
        fine = access.get("fineGrained") or {}
        ok = False
        for scope in fine.get("scoped") or []:
            entity = (scope or {}).get("entity") or {}
            if entity.get("name") == namespace and "repo.write" in (scope.get("permissions") or []):
                ok = True
        if not ok:
            raise HubAuthError(
                f"{where} is a fine-grained token without write access to the repos of {namespace!r}: "
                f"give it the 'repo.write' permission on {namespace!r}, or use a token with the 'write' role"
            )
    elif role not in ("write", "admin", None):
        logger.debug("unknown token role %r: write access will be checked by the push itself", role)


# ---------------------------------------------------------------------- report
@dataclass
class RepoPush:
    """What a push did (or would do, in a dry run) to one repo."""

    repo_id: str
    files: list[str] = field(default_factory=list)  # repo paths of this run's files (+ card)
    uploaded: list[str] = field(default_factory=list)  # sent in the commit
    unchanged: list[str] = field(default_factory=list)  # already on the Hub, same content
    commit: str | None = None  # the new commit; None when nothing changed
    commit_url: str | None = None
    created: bool = False
    gated: bool = False
    private: bool | None = None
    attempts: int = 0
    sizes: dict[str, int] = field(default_factory=dict, repr=False)


@dataclass
class PushReport:
    repos: list[RepoPush]
    dry_run: bool = False

    @property
    def commits(self) -> int:
        return sum(1 for r in self.repos if r.commit)

    def lines(self) -> list[str]:
        out = []
        for r in self.repos:
            if self.dry_run:
                out.append(f"{r.repo_id}: create if missing ({'private' if r.private else 'public'})"
                           + (", gate (auto-approved access requests)" if r.gated else ""))
                for p in r.files:
                    size = r.sizes.get(p)
                    out.append(f"  add {p}" + (f" ({size} bytes)" if size is not None else ""))
                out.append("  one commit; files already on the Hub with the same content are skipped")
            elif r.commit:
                out.append(f"{r.repo_id}: committed {len(r.uploaded)} file(s) in {r.commit[:12]}"
                           + (f" ({len(r.unchanged)} unchanged)" if r.unchanged else "")
                           + (f" {r.commit_url}" if r.commit_url else ""))
            else:
                out.append(f"{r.repo_id}: up to date, nothing to commit")
        return out


# ----------------------------------------------------------------------- push
@dataclass
class _LocalFile:
    repo_path: str
    local: Path
    size: int
    sha1: str  # git blob oid
    sha256: str


def _hash_file(path: Path) -> tuple[int, str, str]:
    size = path.stat().st_size
    sha1 = hashlib.sha1(b"blob %d\0" % size)
    sha256 = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha1.update(chunk)
            sha256.update(chunk)
    return size, sha1.hexdigest(), sha256.hexdigest()


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _RepoPlan:
    repo_id: str
    files: list[_LocalFile] = field(default_factory=list)
    details: bool = False
    results: bool = False


@dataclass
class _RemoteState:
    sha: str
    files: dict[str, tuple[str | None, str | None]]  # path -> (git oid, lfs sha256)
    card_data: dict[str, Any]
    gated: Any
    private: bool | None


def _unescape_glob(pattern: str) -> str:
    return re.sub(r"\[([*?\[])\]", r"\1", pattern)


def push_run(
    settings: HubSettings,
    *,
    model_name: str,
    model_dir_name: str,
    results_file: Path | str | None,
    sample_files: Sequence[Path | str],
    flavor: str,
    model_source: str | None = None,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
) -> PushReport:
    """Publish one run: one commit per repo with its files and the regenerated card.

    The results file goes to the results repo and the sample files to the
    details repo, both under ``<model_dir_name>/``; when both are the same
    repo, everything is one commit. Files already on the Hub with the same
    content are skipped; when nothing changes no commit is made.
    ``dry_run`` sends nothing and reports the planned operations.
    ``flavor`` is the run's naming scheme; both are recognised from the file
    names, so it only documents the call.
    """
    policy = retry or settings.retry
    model_dir = sanitize_model_name(model_dir_name or model_name or "") or "model"
    if model_dir.strip(".") == "":
        model_dir = "model"

    with contextlib.ExitStack() as stack:  # holds the Parquet details until pushed
        return _push_run(settings, policy, model_name, model_dir, results_file, sample_files,
                         model_source, dry_run, stack)


def _details_files(settings: HubSettings, sample_files: Sequence[Path | str],
                   stack: contextlib.ExitStack) -> list[Path | str]:
    """The sample files as pushed: as they are, or converted to Parquet in a temporary folder."""
    if settings.details_format != "parquet" or not sample_files:
        return list(sample_files)
    import tempfile

    from evallog.store import samples_to_parquet

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="evallog-push-"))
    return [samples_to_parquet(sf, tmp) for sf in sample_files]


def _push_run(settings: HubSettings, policy: RetryPolicy, model_name: str, model_dir: str,
              results_file: Path | str | None, sample_files: Sequence[Path | str],
              model_source: str | None, dry_run: bool, stack: contextlib.ExitStack) -> PushReport:
    plans: dict[str, _RepoPlan] = {}

    def add(repo: str, path: Path | str, *, details: bool) -> None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("the file to push does not exist", path=p)
        size, sha1, sha256 = _hash_file(p)
        plan = plans.setdefault(repo, _RepoPlan(repo))
        repo_path = f"{model_dir}/{p.name}"
        for other in plan.files:
            if other.repo_path == repo_path:
                if other.local.resolve() == p.resolve():
                    return
                raise ConfigError(f"two files would both be pushed as {repo_path!r} ({other.local})", path=p)
        if details:
            plan.details = True
        else:
            plan.results = True
        plan.files.append(_LocalFile(repo_path, p, size, sha1, sha256))

    if settings.push_results and results_file is not None:
        add(settings.results_target, results_file, details=False)
    if settings.push_samples:
        for sf in _details_files(settings, sample_files, stack):
            add(settings.details_target, sf, details=True)
    if not plans:
        logger.info("nothing to push for %s (no results file and no sample files)", model_name)
        return PushReport([], dry_run=dry_run)

    local_results = None
    if results_file is not None:
        try:
            local_results = json.loads(Path(results_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("could not read %s for the dataset card: %s", results_file, exc)

    ctx = _PushContext(settings, policy, model_name, model_dir, model_source, local_results)
    reports = []
    for plan in plans.values():
        if dry_run:
            reports.append(ctx.dry_run(plan))
        else:
            reports.append(ctx.push(plan))
    return PushReport(reports, dry_run=dry_run)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _run_ids(files: Sequence[_LocalFile]) -> list[str]:
    from evallog.hub_card import parse_published_name

    ids = []
    for f in files:
        parsed = parse_published_name(f.local.name)
        if parsed is not None and parsed.run_id not in ids:
            ids.append(parsed.run_id)
    return ids


@dataclass
class _PushContext:
    settings: HubSettings
    policy: RetryPolicy
    model_name: str
    model_dir: str
    model_source: str | None
    local_results: Any

    # -------------------------------------------------------------- the card
    def card(self, plan: _RepoPlan, paths: set[str], remote: _RemoteState | None, api: Any) -> str:
        from evallog import hub_card

        configs = hub_card.plan_configs(paths)
        local_by_path = {f.repo_path: f for f in plan.files}
        old_cfgs: dict[str, dict] = {}
        for entry in (remote.card_data.get("configs") if remote else None) or []:
            if isinstance(entry, dict) and "config_name" in entry:
                old_cfgs[str(entry["config_name"])] = entry
        for cfg in configs.values():
            if cfg.kind == "results":
                cfg.features = self._results_features(plan.repo_id, cfg, local_by_path,
                                                      old_cfgs.get(cfg.name), remote, api)
        latest = None
        results_cfgs = [c for c in configs.values() if c.kind == "results"]
        if results_cfgs:
            newest = max(results_cfgs, key=lambda c: (hub_card.run_sort_key(c.latest_run), c.name))
            path = newest.runs[newest.latest_run]
            if path in local_by_path and isinstance(self.local_results, dict):
                latest = (path, self.local_results)
        endpoint = _endpoint(self.settings.endpoint)
        text = hub_card.render_card(
            plan.repo_id,
            configs,
            model_names={self.model_dir: self.model_name} if self.model_name else {},
            latest_results=latest,
            leaderboard_url=self.settings.leaderboard_url,
            point_of_contact=self.settings.point_of_contact,
            endpoint=endpoint,
            model_source=self.model_source,
        )
        other = self.settings.results_target
        if plan.details and not plan.results and self.settings.push_results and other != plan.repo_id:
            text += (f"The aggregated results of these runs are in the dataset "
                     f"[{other}]({endpoint}/datasets/{other}).\n")
        return text

    def _results_features(self, repo_id: str, cfg: Any, local_by_path: dict[str, _LocalFile],
                          old: dict | None, remote: _RemoteState | None, api: Any) -> list[dict] | None:
        """Declared columns of a results config: the union over all its runs.

        Runs described by the previous card (written by evallog) are not read
        again; other remote results files are downloaded (they are small).
        """
        from evallog import hub_card

        schemas = []
        covered: set[str] = set()
        if old is not None:
            old_types = hub_card.types_from_features(old.get("features"))
            if old_types is not None:
                for df in old.get("data_files") or []:
                    if isinstance(df, dict):
                        paths = df.get("path")
                        for p in [paths] if isinstance(paths, str) else (paths or []):
                            covered.add(_unescape_glob(str(p)))
                schemas.append(old_types)
        for path in cfg.runs.values():
            lf = local_by_path.get(path)
            if lf is not None:
                data = _read_json(lf.local)
            elif path in covered:
                continue
            elif remote is not None and api is not None:
                data = self._download_json(api, repo_id, remote.sha, path)
            else:
                data = None
            if not isinstance(data, dict):
                logger.warning("cannot read %s: the card leaves the columns of %s to datasets", path, cfg.name)
                return None
            schemas.append(hub_card.infer_column_types(data))
        return hub_card.features_from_types(hub_card.merge_column_types(*schemas))

    def _download_json(self, api: Any, repo_id: str, revision: str, path: str) -> Any:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="evallog-hub-") as tmp:
            try:
                local = _retrying(self.policy, f"downloading {path} from {repo_id}", lambda _n: _with_deadline(
                    lambda: api.hf_hub_download(repo_id, path, repo_type="dataset", revision=revision,
                                                local_dir=tmp),
                    self.policy.timeout, "download"))
            except Exception as exc:
                logger.warning("could not download %s from %s: %s", path, repo_id, _describe(exc))
                return None
            return _read_json(Path(local))

    # -------------------------------------------------------------- dry run
    def dry_run(self, plan: _RepoPlan) -> RepoPush:
        files = sorted(f.repo_path for f in plan.files)
        return RepoPush(
            plan.repo_id,
            files=files + [CARD_PATH],
            gated=bool(self.settings.gated and plan.details),
            private=not self.settings.public,
            sizes={f.repo_path: f.size for f in plan.files},
        )

    # ------------------------------------------------------------ the remote
    def _read_remote(self, api: Any, repo_id: str, report: RepoPush, want_gate: bool) -> _RemoteState:
        from huggingface_hub.errors import RepositoryNotFoundError
        from huggingface_hub.hf_api import RepoFile

        timeout = self.policy.timeout

        def info() -> Any:
            return _with_deadline(lambda: api.repo_info(repo_id, repo_type="dataset", timeout=timeout),
                                  timeout, "repo info")

        try:
            repo = info()
        except RepositoryNotFoundError:
            _with_deadline(lambda: api.create_repo(repo_id, repo_type="dataset", private=not self.settings.public,
                                                   exist_ok=True), timeout, "create repo")
            report.created = True
            logger.info("created the %s dataset repo %s", "public" if self.settings.public else "private", repo_id)
            repo = info()
        report.private = getattr(repo, "private", None)
        if report.private is False and not self.settings.public and not report.created:
            logger.warning("%s already exists and is public: the run is published publicly", repo_id)
        if want_gate:
            if not getattr(repo, "gated", False):
                # before any file is committed, and with the given token (formats.md §12 #26)
                _with_deadline(lambda: api.update_repo_settings(repo_id, gated="auto", repo_type="dataset"),
                               timeout, "gate repo")
                logger.info("gated %s (access requests approved automatically)", repo_id)
            report.gated = True
        entries = _with_deadline(
            lambda: list(api.list_repo_tree(repo_id, repo_type="dataset", revision=repo.sha, recursive=True)),
            timeout, "list files")
        files: dict[str, tuple[str | None, str | None]] = {}
        for e in entries:
            if isinstance(e, RepoFile):
                files[e.path] = (e.blob_id, e.lfs.sha256 if e.lfs is not None else None)
        card_data = getattr(repo, "card_data", None)
        card_dict = card_data.to_dict() if card_data is not None and hasattr(card_data, "to_dict") else {}
        return _RemoteState(repo.sha, files, card_dict or {}, getattr(repo, "gated", None), report.private)

    # ------------------------------------------------------------------ push
    def push(self, plan: _RepoPlan) -> RepoPush:
        from huggingface_hub import CommitOperationAdd

        settings, policy = self.settings, self.policy
        api = _make_api(settings)
        repo_id = plan.repo_id
        report = RepoPush(repo_id, files=sorted(f.repo_path for f in plan.files) + [CARD_PATH],
                          private=not settings.public, sizes={f.repo_path: f.size for f in plan.files})
        want_gate = bool(settings.gated and plan.details)
        run_ids = _run_ids(plan.files)
        run_text = f"run {', '.join(run_ids)}" if run_ids else "a run"
        model = self.model_name or self.model_dir
        if plan.results and plan.details:
            message = f"Add {run_text} of {model} (results and samples)"
        elif plan.results:
            message = f"Add the aggregated results of {run_text} of {model}"
        else:
            message = f"Add the samples of {run_text} of {model}"
        sent_unknown = False  # a commit was sent but its answer never came

        def attempt(n: int) -> Any:
            nonlocal sent_unknown
            report.attempts = n
            remote = self._read_remote(api, repo_id, report, want_gate)
            ops = []
            report.uploaded, report.unchanged = [], []
            total = 0
            for f in plan.files:
                oid, sha256 = remote.files.get(f.repo_path, (None, None))
                if oid == f.sha1 or (sha256 is not None and sha256 == f.sha256):
                    report.unchanged.append(f.repo_path)
                    continue
                ops.append(CommitOperationAdd(path_in_repo=f.repo_path, path_or_fileobj=str(f.local)))
                report.uploaded.append(f.repo_path)
                total += f.size
            paths = set(remote.files) | {f.repo_path for f in plan.files}
            card = self.card(plan, paths, remote, api).encode("utf-8")
            if remote.files.get(CARD_PATH, (None, None))[0] != _git_oid(card):
                ops.append(CommitOperationAdd(path_in_repo=CARD_PATH, path_or_fileobj=card))
                report.uploaded.append(CARD_PATH)
                total += len(card)
            else:
                report.unchanged.append(CARD_PATH)
            if not ops:
                if sent_unknown:  # the earlier, timed-out commit did land
                    report.commit = remote.sha
                logger.info("%s is up to date: nothing to commit", repo_id)
                return None
            description = "Files:\n" + "\n".join(f"- {p}" for p in report.uploaded) + "\n\nPushed by evallog."
            timeout = None if policy.timeout is None else policy.timeout + total / policy.min_throughput
            sent_unknown = True
            try:
                info = _with_deadline(lambda: api.create_commit(
                    repo_id, ops, commit_message=message, commit_description=description,
                    repo_type="dataset", parent_commit=remote.sha), timeout, "commit")
            except BaseException as exc:
                if _status(exc) is not None:  # the Hub answered: the commit was refused
                    sent_unknown = False
                raise
            sent_unknown = False
            report.commit = info.oid
            report.commit_url = getattr(info, "commit_url", None)
            logger.info("pushed %d file(s) to %s in commit %s", len(report.uploaded), repo_id, info.oid)
            return info

        try:
            _retrying(policy, f"pushing to {repo_id}", attempt)
        except HubError:
            raise
        except Exception as exc:
            status = _status(exc)
            hint = "Nothing was deleted locally: push the run again later with `evallog push`."
            if status in (401, 403):
                raise HubAuthError(
                    f"The Hub refused to write to {repo_id} ({_describe(exc)}): check that the token from "
                    f"{settings.token_source} has write access to {repo_id.split('/')[0]!r}. {hint}",
                    repo_id=repo_id,
                ) from exc
            raise HubPushError(
                f"Pushing {message!r} failed after {report.attempts} attempt(s): {_describe(exc)}. {hint}",
                repo_id=repo_id,
            ) from exc
        return report


# ----------------------------------------------------------- local run folders
@dataclass
class LocalRun:
    """A run found in a folder written by evallog, lm-eval or lmms-eval."""

    model_dir_name: str
    model_name: str
    run_id: str
    flavor: str
    folder: Path
    results_file: Path | None
    sample_files: list[Path]
    model_source: str | None = None


def find_local_runs(path: Path | str) -> list[LocalRun]:
    """Runs under ``path`` (a run folder, an output folder of model folders, or a results file),
    oldest first. In-progress (``.partial``) and hidden files are skipped."""
    from evallog import hub_card

    root = Path(path)
    if not root.exists():
        raise ConfigError("no such file or folder", path=root)
    only_file = None
    if root.is_file():
        only_file = root
        root = root.parent
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    runs: dict[tuple[Path, str], LocalRun] = {}
    for folder in folders:
        for f in sorted(folder.iterdir()):
            if not f.is_file():
                continue
            parsed = parse_filename(f.name)
            if parsed is None:
                continue
            if parsed.in_progress:
                logger.warning("skipping %s: still being written (or interrupted; see `evallog recover`)", f)
                continue
            key = (folder, parsed.run_id)
            run = runs.get(key)
            if run is None:
                run = runs[key] = LocalRun("", "", parsed.run_id, parsed.flavor, folder, None, [])
            if parsed.kind == "results":
                run.results_file = f
            else:
                run.sample_files.append(f)
    if only_file is not None:
        parsed = parse_filename(only_file.name)
        runs = {k: v for k, v in runs.items()
                if parsed is not None and k == (only_file.parent, parsed.run_id)}
    out = []
    for (folder, _), run in runs.items():
        meta = _read_json(run.results_file) if run.results_file is not None else None
        meta = meta if isinstance(meta, dict) else {}
        if folder != root:
            dir_name = folder.name
        else:
            dir_name = str(meta.get("model_name_sanitized") or "") or folder.resolve().name
        run.model_dir_name = sanitize_model_name(dir_name) or "model"
        run.model_name = str(meta.get("model_name") or "") or run.model_dir_name
        src = meta.get("model_source")
        run.model_source = str(src) if src else None
        out.append(run)
    out.sort(key=lambda r: (hub_card.run_sort_key(r.run_id), str(r.folder)))
    return out

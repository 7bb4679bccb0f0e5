"""Hub access: retry policy, token resolution, repo settings and the write-access check (formats.md §2.2-2.3).

Split from :mod:`evallog.hub` (which re-exports the public names); ``huggingface_hub`` is
imported inside the functions only.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evallog.errors import ConfigError, HubAuthError, HubError

logger = logging.getLogger(__name__)


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
        return float(d)


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

    from evallog._version import __version__

    return HfApi(endpoint=_endpoint(settings.endpoint), token=settings.token,
                 library_name="evallog", library_version=__version__)


def _authenticate(
    org: str, token: str | None, endpoint: str | None, policy: RetryPolicy
) -> tuple[str, str, str | None, str]:
    """(org, token, token source, user) once the token is resolved and may write to ``org``."""
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
    return org, tok, source, user


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
    policy = retry or RetryPolicy()
    org, tok, source, user = hub_results_org or "", None, None, None
    if push_results_to_hub or push_samples_to_hub:
        org, tok, source, user = _authenticate(org, token, endpoint, policy)
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


def _whoami(token: str, source: str | None, endpoint: str | None, policy: RetryPolicy) -> dict[str, Any]:
    from huggingface_hub import HfApi

    url = _endpoint(endpoint)
    api = HfApi(endpoint=url, token=token)
    try:
        info: dict[str, Any] = _retrying(policy, "checking the Hub token",
                                         lambda _n: _with_deadline(lambda: api.whoami(token=token), policy.timeout, "whoami"))
        return info
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


def _check_write(info: dict[str, Any], namespace: str, source: str | None) -> None:
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

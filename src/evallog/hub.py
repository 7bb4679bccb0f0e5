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
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallog.encoding import decode
from evallog.errors import ConfigError, HubAuthError, HubError, HubPushError, ReadError
from evallog.hub_auth import (  # noqa: F401 - re-exported
    HubSettings,
    RetryPolicy,
    _describe,
    _endpoint,
    _make_api,
    _retrying,
    _status,
    _with_deadline,
    hub_settings,
    resolve_token,
    settings_for_repos,
)
from evallog.layout import find_runs, parse_filename
from evallog.naming import sanitize_model_name
from evallog.paths import open_regular, read_regular

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
    with open_regular(path) as f:
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


def _plan_files(
    settings: HubSettings, model_dir: str, results_file: Path | str | None, sample_files: Sequence[Path | str]
) -> dict[str, _RepoPlan]:
    """The files of a run, per target repo, as ``<model_dir>/<name>``."""
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
        for sf in sample_files:
            add(settings.details_target, sf, details=True)
    return plans


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
        details = _details_files(settings, sample_files, stack) if settings.push_samples else []
        return _push_planned(settings, policy, model_name, model_dir, results_file, details, model_source, dry_run)


def _details_files(settings: HubSettings, sample_files: Sequence[Path | str],
                   stack: contextlib.ExitStack) -> list[Path | str]:
    """The sample files as pushed: as they are, or converted to Parquet in a temporary folder."""
    if settings.details_format != "parquet" or not sample_files:
        return list(sample_files)
    import tempfile

    from evallog.store import samples_to_parquet

    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="evallog-push-"))
    return [samples_to_parquet(sf, tmp) for sf in sample_files]


def _push_planned(settings: HubSettings, policy: RetryPolicy, model_name: str, model_dir: str,
                  results_file: Path | str | None, sample_files: Sequence[Path | str],
                  model_source: str | None, dry_run: bool) -> PushReport:
    plans = _plan_files(settings, model_dir, results_file, sample_files)
    if not plans:
        logger.info("nothing to push for %s (no results file and no sample files)", model_name)
        return PushReport([], dry_run=dry_run)

    local_results = None
    if results_file is not None:
        local_results = _read_json(Path(results_file))
        if local_results is None:
            logger.warning("could not read %s for the dataset card", results_file)

    ctx = _PushContext(settings, policy, model_name, model_dir, model_source, local_results)
    reports = []
    for plan in plans.values():
        if dry_run:
            reports.append(ctx.dry_run(plan))
        else:
            reports.append(ctx.push(plan))
    return PushReport(reports, dry_run=dry_run)


def _read_json(path: Path) -> Any:
    """The parsed JSON file, ``None`` if it cannot be read (not a regular file, not JSON,
    nested too deeply)."""
    try:
        return decode(read_regular(path))
    except (OSError, ValueError, RecursionError):  # ReadError is a ValueError
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
        old_cfgs: dict[str, dict[str, Any]] = {}
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
                          old: dict[str, Any] | None, remote: _RemoteState | None, api: Any) -> list[dict[str, Any]] | None:
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
    def _commit_message(self, plan: _RepoPlan) -> str:
        run_ids = _run_ids(plan.files)
        run_text = f"run {', '.join(run_ids)}" if run_ids else "a run"
        model = self.model_name or self.model_dir
        if plan.results and plan.details:
            return f"Add {run_text} of {model} (results and samples)"
        if plan.results:
            return f"Add the aggregated results of {run_text} of {model}"
        return f"Add the samples of {run_text} of {model}"

    def _operations(self, plan: _RepoPlan, remote: _RemoteState, api: Any, report: RepoPush) -> tuple[list[Any], int]:
        """The commit's operations (changed files and the card) and their bytes; fills ``report``."""
        from huggingface_hub import CommitOperationAdd

        ops: list[Any] = []
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
        return ops, total

    def push(self, plan: _RepoPlan) -> RepoPush:
        settings, policy = self.settings, self.policy
        api = _make_api(settings)
        repo_id = plan.repo_id
        report = RepoPush(repo_id, files=sorted(f.repo_path for f in plan.files) + [CARD_PATH],
                          private=not settings.public, sizes={f.repo_path: f.size for f in plan.files})
        want_gate = bool(settings.gated and plan.details)
        message = self._commit_message(plan)
        sent_unknown = False  # a commit was sent but its answer never came

        def attempt(n: int) -> Any:
            nonlocal sent_unknown
            report.attempts = n
            remote = self._read_remote(api, repo_id, report, want_gate)
            ops, total = self._operations(plan, remote, api, report)
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


def _valid_results(path: Path) -> dict[str, Any]:
    """The parsed results file; a :class:`ReadError` naming it if it is not a results document."""
    raw = read_regular(path)  # a FIFO or device named like a results file: ReadError, no hang
    try:
        data = decode(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReadError(f"invalid results file, not pushed: not valid JSON ({exc})", path=path) from exc
    if not isinstance(data, dict):
        raise ReadError("invalid results file, not pushed: not a JSON object", path=path)
    return data


def find_local_runs(path: Path | str) -> list[LocalRun]:
    """Runs under ``path`` (a run folder, an output folder of model folders, or a results file),
    oldest first. In-progress (``.partial``) and hidden files are skipped; a results file that
    is not a JSON object raises :class:`~evallog.errors.ReadError` naming it."""
    from evallog import hub_card

    root = Path(path)
    if not root.exists():
        raise ConfigError("no such file or folder", path=root)
    only_file = None
    if root.is_file():
        only_file = root
        root = root.parent
    runs: dict[tuple[Path, str], LocalRun] = {}
    for rf in find_runs(root, max_depth=0 if only_file is not None else 1):
        for task in sorted(rf.partial_files):
            logger.warning("skipping %s: still being written (or interrupted; see `evallog recover`)",
                           rf.partial_files[task])
        finals = sorted(rf.final_files.values())
        if rf.results_file is None and not finals:
            continue
        runs[(rf.folder, rf.run_id)] = LocalRun("", "", rf.run_id, rf.flavor, rf.folder, rf.results_file, finals)
    if only_file is not None:
        parsed = parse_filename(only_file.name)
        runs = {k: v for k, v in runs.items()
                if parsed is not None and k == (only_file.parent, parsed.run_id)}
    out = []
    for (folder, _), run in runs.items():
        meta = _valid_results(run.results_file) if run.results_file is not None else {}
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

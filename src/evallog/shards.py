"""Per-rank shards of a run: their names, their line framing and the ranks' markers.

When several processes evaluate one run, rank ``r`` of ``W`` streams the
samples of task ``t`` into its own shard beside the task's final file::

    <final samples file>.rank-<r>-of-<W>.partial

(the anchors' readers and evallog's scanners do not take it for a samples
file). A shard line is the sample's final line, exactly as a single process
writes it, framed by a small JSON prefix and a tab::

    {"s":0,"doc_id":12,"filter":"none","h":[..hash fields..]}\\t<final line>

``s`` is the line's *segment*: it starts at 0 and grows each time the filter
changes or the doc ids stop increasing, so a shard is sorted by
``(segment, doc id)``: the order one harness process writes (filter by filter,
doc ids ascending), which lets the merge (:mod:`evallog.merge`) be a streaming
k-way merge. The prefix also carries the flavor's task-hash fields
(``Flavor.hash_fields``), so the merged task hash is computed without decoding
the sample lines. Beside each shard the rank writes a binary side index
(:mod:`evallog.shard_index`: each line's key and where its hash field and final
line are), which lets the merge of finished ranks skip even the prefixes.

The ranks agree through files in the run's manifest area
(``<run folder>/.evallog/<run_id>.ranks/``)::

    rank-<r>.lock                      held (pid) by rank r while it runs
    <task>.rank-<r>-of-<W>.done.json   rank r finished the task (count, bytes, segments, index)
    <task>.rank-<r>-of-<W>.index       rank r's side index of its shard of the task
    <task>.rank-<r>.plan.json          doc ids rank r will log (optional, for recovery)
    <task>.merge.lock                  the process merging the task (pid)
    <task>.merged.json                 the merged file (name, count, task hash, per-rank counts)
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from evallog.atomic import atomic_write_bytes
from evallog.errors import ReadError, ShardError
from evallog.layout import MANIFEST_DIR, parse_shard_filename, shard_filename
from evallog.paths import safe_task_component
from evallog.shard_index import line_key

__all__ = [
    "KEY_FIELDS",
    "ShardKey",
    "Segmenter",
    "ranks_dir",
    "shard_path",
    "find_shards",
    "frame_line",
    "FramedLine",
    "index_path",
    "split_line",
    "unframe",
    "merge_key",
    "DoneMarker",
    "MergedMarker",
    "write_done",
    "read_done",
    "write_plan",
    "read_plans",
    "write_merged",
    "read_merged",
    "merge_lock_path",
    "rank_lock_path",
    "register_task",
    "registered_tasks",
    "write_closed",
    "closed_ranks",
    "ShardFile",
    "doc_kind",
]

# the sample fields a shard line's prefix carries for its place (with "h": the hash fields)
KEY_FIELDS = ("doc_id", "filter")
DEFAULT_FILTER = "none"

ShardKey = tuple[int, int, Any]  # (segment, kind of doc id, doc id)


# --------------------------------------------------------------------------- names
def ranks_dir(run_dir: Path, run_id: str) -> Path:
    return run_dir / MANIFEST_DIR / f"{run_id}.ranks"


def shard_path(final: Path, rank: int, world_size: int) -> Path:
    return final.with_name(shard_filename(final.name, rank, world_size))


@dataclass(frozen=True)
class ShardFile:
    path: Path
    final: Path
    rank: int
    world_size: int


def find_shards(folder: Path) -> dict[Path, list[ShardFile]]:
    """The shards in ``folder``, grouped by the final file they belong to, by rank."""
    found: dict[Path, list[ShardFile]] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return found
    for entry in entries:
        name = parse_shard_filename(entry.name)
        if name is not None and entry.is_file():
            final = Path(folder) / name.final
            found.setdefault(final, []).append(ShardFile(Path(entry.path), final, name.rank, name.world_size))
    for shards in found.values():
        shards.sort(key=lambda s: s.rank)
    return dict(sorted(found.items()))


def _task_part(task: str) -> str:
    return safe_task_component(task)


def index_path(rdir: Path, task: str, rank: int, world_size: int) -> Path:
    """Where rank ``rank``'s side index of its shard of ``task`` goes (:mod:`evallog.shard_index`)."""
    return rdir / f"{_task_part(task)}.rank-{rank}-of-{world_size}.index"


def merge_lock_path(rdir: Path, task: str) -> Path:
    return rdir / f"{_task_part(task)}.merge.lock"


def rank_lock_path(rdir: Path, rank: int) -> Path:
    return rdir / f"rank-{rank}.lock"


# --------------------------------------------------------------------------- framing
def doc_kind(doc_id: Any) -> tuple[int, Any]:
    """A total order over doc ids: numbers, then strings, then anything else as text."""
    if isinstance(doc_id, (int, float)) and not isinstance(doc_id, bool):
        return 0, doc_id
    if isinstance(doc_id, str):
        return 1, doc_id
    return 2, "" if doc_id is None else str(doc_id)


class Segmenter:
    """Numbers the segments of one shard as samples arrive (see the module docstring)."""

    __slots__ = ("segment", "labels", "_last", "_label")

    def __init__(self) -> None:
        self.segment = -1
        self.labels: list[str] = []
        self._last: tuple[int, Any] | None = None
        self._label: str | None = None

    def place(self, label: str, doc_id: Any) -> int:
        kind = doc_kind(doc_id)
        if label != self._label or self._last is None or not _greater(kind, self._last):
            self.segment += 1
            self.labels.append(label)
            self._label = label
        self._last = kind
        return self.segment


def _greater(a: tuple[int, Any], b: tuple[int, Any]) -> bool:
    try:
        return bool(a > b)
    except TypeError:
        return False


class FramedLine(NamedTuple):
    """A shard line and where its parts are (for the side index, :mod:`evallog.shard_index`)."""

    data: bytes
    key: int | None  # the line's merge key as one integer (None: its doc id does not fit one)
    blob: tuple[int, int] | None  # where the single hash field's UTF-8 bytes are in ``data`` (None: escaped or several)
    final_start: int  # where the sample's final line starts in ``data``


def frame_line(line: bytes, sample: Mapping[str, Any], segmenter: Segmenter, hash_fields: tuple[str, ...] = ()) -> FramedLine:
    """The shard line for ``line`` (the sample's final line) and where its parts are."""
    meta: dict[str, Any] = {"s": 0}
    for name in KEY_FIELDS:
        if name in sample:
            meta[name] = sample[name]
    label = meta.get("filter", DEFAULT_FILTER)
    doc_id = meta.get("doc_id")
    segment = meta["s"] = segmenter.place(label if isinstance(label, str) else str(label), doc_id)
    # the prefix is orjson.dumps({**meta, "h": hash_fields}), built so that the hash field's place is known
    head = orjson.dumps(meta, option=orjson.OPT_NON_STR_KEYS)[:-1] + b',"h":'
    fields = orjson.dumps(hash_fields)
    blob = None
    if len(hash_fields) == 1:
        field = hash_fields[0]
        if len(fields) - 4 == (len(field) if field.isascii() else len(field.encode("utf-8"))):  # nothing escaped
            blob = (len(head) + 2, len(head) + len(fields) - 2)
    final_start = len(head) + len(fields) + 2
    return FramedLine(b"".join((head, fields, b"}\t", line)), line_key(segment, doc_id), blob, final_start)


def split_line(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """(prefix, final line) of a shard line; ValueError if it is not one."""
    tab = raw.index(b"\t")
    meta = orjson.loads(raw[:tab])
    if not isinstance(meta, dict) or "s" not in meta:
        raise ValueError("shard line without a prefix")
    return meta, raw[tab + 1 :]


def unframe(raw: bytes) -> bytes | None:
    """The sample's final line inside a shard line (no prefix decoded); ``None`` if it has no prefix."""
    tab = raw.find(b"\t")
    return None if tab < 0 else raw[tab + 1 :]


def merge_key(meta: Mapping[str, Any]) -> ShardKey:
    kind, value = doc_kind(meta.get("doc_id"))
    return int(meta["s"]), kind, value


# --------------------------------------------------------------------------- markers
def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ReadError(f"unreadable rank marker: {exc}", path=path) from exc
    if not isinstance(data, dict):
        raise ReadError("rank marker is not a JSON object", path=path)
    return data


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


@dataclass
class DoneMarker:
    """Rank ``rank`` finished task ``task``: its shard holds ``count`` lines in ``size`` bytes."""

    task: str
    rank: int
    world_size: int
    shard: str
    count: int
    size: int
    segments: list[str] = field(default_factory=list)
    pid: int = 0
    host: str = ""
    index: str = ""  # the shard's side index in the ranks dir ("": none usable, the merge reads the prefixes)


def _done_path(rdir: Path, task: str, rank: int, world_size: int) -> Path:
    return rdir / f"{_task_part(task)}.rank-{rank}-of-{world_size}.done.json"


def write_done(rdir: Path, marker: DoneMarker) -> Path:
    marker.pid = marker.pid or os.getpid()
    marker.host = marker.host or socket.gethostname()
    path = _done_path(rdir, marker.task, marker.rank, marker.world_size)
    _write_json(path, marker.__dict__)
    return path


def read_done(rdir: Path, task: str, world_size: int) -> dict[int, DoneMarker]:
    """The completion markers of ``task``, by rank."""
    out: dict[int, DoneMarker] = {}
    for rank in range(world_size):
        data = _read_json(_done_path(rdir, task, rank, world_size))
        if data is not None:
            try:
                out[rank] = DoneMarker(**data)
            except TypeError as exc:
                raise ShardError(f"malformed completion marker of rank {rank}: {exc}", path=rdir, task=task) from exc
    return out


def write_plan(rdir: Path, task: str, rank: int, doc_ids: Iterable[Any]) -> Path:
    path = rdir / f"{_task_part(task)}.rank-{rank}.plan.json"
    _write_json(path, {"task": task, "rank": rank, "doc_ids": list(doc_ids)})
    return path


def read_plans(rdir: Path, task: str) -> dict[int, list[Any]]:
    """The doc ids each rank announced for ``task`` (ranks that announced nothing are absent)."""
    plans: dict[int, list[Any]] = {}
    prefix = f"{_task_part(task)}.rank-"
    try:
        names = os.listdir(rdir)
    except FileNotFoundError:
        return plans
    for name in names:
        if name.startswith(prefix) and name.endswith(".plan.json"):
            data = _read_json(rdir / name)
            if data is not None and data.get("task") == task:
                plans[int(data["rank"])] = list(data.get("doc_ids") or [])
    return plans


@dataclass
class MergedMarker:
    """The merged file of a task and what it holds."""

    task: str
    file: str
    samples: int
    task_hash: str
    per_rank: dict[int, int] = field(default_factory=dict)


def write_merged(rdir: Path, marker: MergedMarker) -> Path:
    path = rdir / f"{_task_part(marker.task)}.merged.json"
    _write_json(path, marker.__dict__)
    return path


def read_merged(rdir: Path, task: str) -> MergedMarker | None:
    data = _read_json(rdir / f"{_task_part(task)}.merged.json")
    if data is None:
        return None
    data["per_rank"] = {int(k): int(v) for k, v in (data.get("per_rank") or {}).items()}
    return MergedMarker(**data)


def register_task(rdir: Path, task: str) -> None:
    """Note that some rank logs ``task`` (the ranks without its docs learn of it here)."""
    path = rdir / f"{_task_part(task)}.task.json"
    if not path.exists():
        _write_json(path, {"task": task})


def registered_tasks(rdir: Path) -> list[str]:
    """Every task some rank logged, by the name it was logged under."""
    tasks: set[str] = set()
    try:
        names = os.listdir(rdir)
    except FileNotFoundError:
        return []
    for name in names:
        if name.endswith(".task.json"):
            data = _read_json(rdir / name)
            if data is not None and isinstance(data.get("task"), str):
                tasks.add(data["task"])
    return sorted(tasks)


def write_closed(rdir: Path, rank: int) -> None:
    """Rank ``rank`` closed its tracker: it will log nothing more in this run."""
    _write_json(rdir / f"rank-{rank}.closed.json", {"rank": rank, "pid": os.getpid()})


def closed_ranks(rdir: Path) -> set[int]:
    ranks: set[int] = set()
    try:
        names = os.listdir(rdir)
    except FileNotFoundError:
        return ranks
    for name in names:
        m = re.match(r"^rank-(\d+)\.closed\.json$", name)
        if m:
            ranks.add(int(m[1]))
    return ranks

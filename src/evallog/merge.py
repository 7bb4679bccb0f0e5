"""The streaming k-way merge of a task's rank shards into its final samples file.

Each shard is sorted by ``(segment, doc id)`` (:mod:`evallog.shards`), so the
merge holds one line per shard in a heap: memory stays constant whatever the
run's size. Lines are copied byte for byte (the shard holds each sample's
final line), the task hash is computed from the shard prefixes, and the
merged file replaces its target atomically: the result is the file one
process would have written for the same samples.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from evallog.atomic import atomic_writer
from evallog.errors import ShardError
from evallog.formats import TaskHasher
from evallog.shards import DEFAULT_FILTER, ShardKey, merge_key, split_line

__all__ = ["ShardSource", "MergeResult", "merge_shards"]

logger = logging.getLogger(__name__)

LineCallback = Callable[[int, dict[str, Any]], None]


@dataclass
class ShardSource:
    """One rank's shard as input of a merge."""

    path: Path
    rank: int
    size: int | None = None  # bytes that belong to the shard (a finished rank's marker); None: all
    count: int | None = None  # lines the finished rank wrote (checked); None: unknown
    salvage: bool = False  # an unfinished shard: drop torn or invalid lines instead of failing


@dataclass
class MergeResult:
    path: Path
    samples: int
    task_hash: str
    per_rank: dict[int, int] = field(default_factory=dict)
    dropped: dict[int, int] = field(default_factory=dict)


def _read(src: ShardSource, task: str, dropped: dict[int, int]) -> Iterator[tuple[ShardKey, dict[str, Any], bytes]]:
    remaining = src.size
    previous: ShardKey | None = None
    with open(src.path, "rb", buffering=1 << 20) as fh:
        for raw in fh:
            if remaining is not None:
                if remaining <= 0:
                    break
                remaining -= len(raw)
            try:
                if not raw.endswith(b"\n"):
                    raise ValueError("torn last line")
                meta, payload = split_line(raw)
                key = merge_key(meta)
                if src.salvage and not isinstance(orjson.loads(payload), dict):
                    raise ValueError("not a JSON object")
            except (ValueError, KeyError, TypeError) as exc:
                if not src.salvage:
                    raise ShardError(f"invalid line in the shard of rank {src.rank}: {exc}", path=src.path, task=task) from exc
                dropped[src.rank] = dropped.get(src.rank, 0) + 1
                continue
            if previous is not None and key < previous:
                raise ShardError(
                    f"the shard of rank {src.rank} is not in (filter, doc id) order at doc id {meta.get('doc_id')!r}",
                    path=src.path,
                    task=task,
                )
            previous = key
            yield key, meta, payload


def merge_shards(
    sources: Sequence[ShardSource],
    target: Path,
    flavor: str,
    *,
    task: str,
    fsync: bool = True,
    on_line: LineCallback | None = None,
) -> MergeResult:
    """Merge ``sources`` into ``target`` (atomically) in single-process order.

    ``on_line(rank, prefix)`` is called for every line written (recovery
    uses it to find missing doc ids). Raises :class:`ShardError` if a shard
    is out of order, if the shards disagree on the filters' order, or if a
    finished rank's shard does not hold what its marker says.
    """
    hasher = TaskHasher(flavor)
    per_rank = {src.rank: 0 for src in sources}
    dropped: dict[int, int] = {}
    labels: dict[int, str] = {}
    heap: list[tuple[ShardKey, int, dict[str, Any], bytes, Iterator[tuple[ShardKey, dict[str, Any], bytes]]]] = []
    for index, src in enumerate(sources):
        reader = _read(src, task, dropped)
        first = next(reader, None)
        if first is not None:
            heap.append((first[0], index, first[1], first[2], reader))
    heapq.heapify(heap)
    with atomic_writer(target, fsync=fsync, task=task) as out:
        write = out.write
        while heap:
            key, index, meta, payload, reader = heap[0]
            write(payload)
            hasher.update(meta)
            label = meta.get("filter", DEFAULT_FILTER)
            known = labels.setdefault(key[0], label)
            if known != label:
                raise ShardError(
                    f"the ranks disagree on the filters' order (segment {key[0]}: {known!r} and {label!r})",
                    path=sources[index].path,
                    task=task,
                )
            rank = sources[index].rank
            per_rank[rank] += 1
            if on_line is not None:
                on_line(rank, meta)
            following = next(reader, None)
            if following is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (following[0], index, following[1], following[2], reader))
        for src in sources:
            if src.count is not None and per_rank[src.rank] != src.count:
                raise ShardError(
                    f"rank {src.rank} reported {src.count} samples but its shard holds {per_rank[src.rank]}",
                    path=src.path,
                    task=task,
                )
    logger.info("merged %d shards of %s into %s (%d samples)", len(sources), task, target, hasher.count)
    return MergeResult(target, hasher.count, hasher.hexdigest(), per_rank, dropped)

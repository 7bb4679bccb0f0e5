"""The streaming k-way merge of a task's rank shards into its final samples file.

Each shard is sorted by ``(segment, doc id)`` (:mod:`evallog.shards`), so the
merge is a streaming k-way merge: memory stays constant whatever the run's
size. Lines are copied byte for byte (the shard holds each sample's final
line), the task hash is computed from the hash fields the shards carry, and
the merged file replaces its target atomically: the result is the file one
process would have written for the same samples.

Two paths give the same bytes. When every shard is a finished rank's with a
side index (:mod:`evallog.shard_index`), the merge decodes nothing per line
(:mod:`evallog.merge_indexed`): it orders whole batches of index keys and
writes the lines straight from the mapped shards. Otherwise (an unfinished
or killed rank, a missing or torn index, recovery) it reads each line's JSON
prefix and merges through a heap, checking everything as it goes; this is
also where a shard that is out of order or disagrees with the others is
refused, so the indexed path falls back to it on any doubt.
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
from evallog.flavors import TaskHasher
from evallog.merge_indexed import IndexUnusable, merge_indexed
from evallog.shards import DEFAULT_FILTER, doc_kind

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
    index: Path | None = None  # a finished rank's side index (with size, count and segments)
    segments: list[str] | None = None  # the filter of each segment (the rank's completion marker)


@dataclass
class MergeResult:
    path: Path
    samples: int
    task_hash: str
    per_rank: dict[int, int] = field(default_factory=dict)
    dropped: dict[int, int] = field(default_factory=dict)
    duplicates: int = 0  # lines skipped because another rank wrote the same (filter, doc id)
    indexed: bool = False  # merged through the shards' side indexes (else from the line prefixes)


Entry = tuple[int, int, Any, int, dict[str, Any], memoryview]  # segment, doc id kind, doc id, shard, prefix, line


def _read(src: ShardSource, index: int, task: str, dropped: dict[int, int], labels: dict[int, str]) -> Iterator[Entry]:
    """The shard's lines as heap entries, checked to be in order (the merge's hot loop)."""
    remaining = src.size
    prev: tuple[int, int, Any] = (-1, -1, None)
    loads = orjson.loads
    with open(src.path, "rb", buffering=1 << 20) as fh:
        for raw in fh:
            if remaining is not None:
                if remaining <= 0:
                    break
                remaining -= len(raw)
            try:
                if raw[-1:] != b"\n":
                    raise ValueError("torn last line")
                tab = raw.index(b"\t")
                meta = loads(raw[:tab])
                segment = meta["s"]
                doc_id = meta.get("doc_id")
                if type(doc_id) is int:
                    kind = 0
                else:
                    kind, doc_id = doc_kind(doc_id)
                if src.salvage and not isinstance(loads(raw[tab + 1 :]), dict):
                    raise ValueError("not a JSON object")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                if not src.salvage:
                    raise ShardError(f"invalid line in the shard of rank {src.rank}: {exc}", path=src.path, task=task) from exc
                dropped[src.rank] = dropped.get(src.rank, 0) + 1
                continue
            if segment != prev[0]:
                if segment < prev[0]:
                    raise ShardError(f"the shard of rank {src.rank} goes back to an earlier filter", path=src.path, task=task)
                label = meta.get("filter", DEFAULT_FILTER)
                if labels.setdefault(segment, label) != label:
                    raise ShardError(
                        f"the ranks disagree on the filters' order (segment {segment}: {labels[segment]!r} and {label!r})",
                        path=src.path,
                        task=task,
                    )
            elif (kind, doc_id) < prev[1:]:
                raise ShardError(
                    f"the shard of rank {src.rank} is not in doc id order at doc id {meta.get('doc_id')!r}",
                    path=src.path,
                    task=task,
                )
            prev = (segment, kind, doc_id)
            yield segment, kind, doc_id, index, meta, memoryview(raw)[tab + 1 :]


def _check_counts(sources: Sequence[ShardSource], read: list[int], task: str) -> None:
    """A finished rank's shard holds what its marker says (else the merge is not written)."""
    for i, src in enumerate(sources):
        if src.count is not None and read[i] != src.count:
            raise ShardError(
                f"rank {src.rank} reported {src.count} samples but its shard holds {read[i]}", path=src.path, task=task
            )


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
    if on_line is None and indexed_sources(sources):
        try:
            done = merge_indexed(sources, target, flavor, task=task, fsync=fsync)
        except IndexUnusable as exc:
            logger.warning("%s: the shards' side indexes are not usable (%s); merging from the line prefixes", task, exc)
        else:
            result = MergeResult(target, done.samples, done.task_hash, done.per_rank, {}, done.duplicates, indexed=True)
            _log_merged(result, len(sources), task)
            return result
    return _merge_prefixes(sources, target, flavor, task=task, fsync=fsync, on_line=on_line)


def _log_merged(result: MergeResult, shards: int, task: str) -> None:
    if result.duplicates:
        logger.warning("%s: %d samples were written by more than one rank; one copy of each is kept", task, result.duplicates)
    how = "through their side indexes" if result.indexed else "from their line prefixes"
    logger.info("merged %d shards of %s into %s (%d samples, %s)", shards, task, result.path, result.samples, how)


def indexed_sources(sources: Sequence[ShardSource]) -> bool:
    """Every source is a finished rank's shard with a side index."""
    return bool(sources) and all(
        s.index is not None and s.size is not None and s.count is not None and s.segments is not None and not s.salvage
        for s in sources
    )


def _merge_prefixes(
    sources: Sequence[ShardSource],
    target: Path,
    flavor: str,
    *,
    task: str,
    fsync: bool,
    on_line: LineCallback | None,
) -> MergeResult:
    """The merge through a heap of decoded line prefixes (any shards, torn ones included)."""
    hasher = TaskHasher(flavor)
    update = hasher.update_fields
    counts = [0] * len(sources)  # lines written, by shard
    read = [0] * len(sources)  # lines read, by shard (duplicates included)
    dropped: dict[int, int] = {}
    labels: dict[int, str] = {}
    readers = [_read(src, i, task, dropped, labels) for i, src in enumerate(sources)]
    heap = [entry for entry in (next(r, None) for r in readers) if entry is not None]
    heapq.heapify(heap)
    replace, pop = heapq.heapreplace, heapq.heappop
    duplicates = 0
    last: tuple[int, int, Any, int] = (-1, -1, None, -1)
    with atomic_writer(target, fsync=fsync, task=task) as out:
        write = out.write
        while heap:
            entry = heap[0]
            index = entry[3]
            read[index] += 1
            # a doc another rank wrote already (the ranks did not split the docs, as lm-eval's HF
            # model on CPU under torchrun): keep one copy
            if entry[2] == last[2] and entry[:2] == last[:2] and index != last[3]:
                duplicates += 1
            else:
                last = (entry[0], entry[1], entry[2], index)
                write(entry[5])
                update(tuple(entry[4].get("h") or ()))
                counts[index] += 1
                if on_line is not None:
                    on_line(sources[index].rank, entry[4])
            following = next(readers[index], None)
            if following is None:
                pop(heap)
            else:
                replace(heap, following)
        _check_counts(sources, read, task)
        per_rank = {src.rank: counts[i] for i, src in enumerate(sources)}
    result = MergeResult(target, hasher.count, hasher.hexdigest(), per_rank, dropped, duplicates)
    _log_merged(result, len(sources), task)
    return result

"""The shard merge through the shards' side indexes: no JSON decoded per line.

Used by :func:`evallog.merge.merge_shards` when every shard is a finished
rank's with a side index (:mod:`evallog.shard_index`). Each shard is mapped
into memory; per lane (shard) the index is read a block of records at a time
and turned into three lists: the lines' merge keys, views of their final
lines and views of their hash fields. A batch takes, from every lane, the
lines whose keys are at most the smallest last key of the lanes still
reading (so no later line can come before them), orders them and writes the
final lines with ``os.writev`` straight from the mapped shards; the hash
fields go to the task hash in the same order (``TaskHasher.update_block``).

Ordering a batch costs no Python per line either: the docs of a data-parallel
run are strided over the ranks, so a batch is usually the lanes' lines taken
in turn (checked with one comparison pass, then interleaved by slice
assignment); otherwise the keys, tagged with their lane, are sorted, and a
doc that several ranks wrote is kept once (the first lane's copy, as the
prefix path does). Any doubt about an index (not whole records, lines not
back to back, keys not increasing, a spot check of a line's framing failing,
counts or bytes that differ from the completion marker) raises
:class:`IndexUnusable`: the caller discards the output and merges from the
prefixes, which is also where out-of-order or disagreeing shards are refused.

Memory stays bounded: a lane reads blocks sized so that all lanes together
hold about ``MAPPED`` bytes of lines (fewer records when lines are long),
faults a block's pages in at once (``MADV_POPULATE_READ``: the kernel's write
path faulting them one by one was a quarter of the time) and gives the pages
behind it back every MiB (``MADV_DONTNEED``; the page cache keeps them). The
garbage collector is paused while the lists of views are built (they hold no
cycles; collecting them batch after batch was a third of the time).
"""

from __future__ import annotations

import mmap
import os
import sys
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import compress, islice, repeat
from operator import and_, eq, lshift, lt, ne, or_, rshift
from pathlib import Path
from typing import TYPE_CHECKING

from evallog.atomic import atomic_writer, gc_paused, write_all
from evallog.flavors import TaskHasher
from evallog.shard_index import RECORD, key_segment, read_columns

if TYPE_CHECKING:
    from evallog.merge import ShardSource

__all__ = ["IndexUnusable", "IndexedMerge", "merge_indexed"]

BLOCK = 4096  # index records a lane reads at a time, at most (fewer for long lines or many lanes)
MAPPED = 16 << 20  # bytes of shard lines all lanes together hold mapped, about
_GIVE_BACK = 1 << 20  # mapped bytes a lane leaves behind before it gives them back
_TAIL = b'"]}\t'  # between a line's hash field and its final line
# madvise(MADV_POPULATE_READ) (Linux 5.14; the mmap module has no name for it)
_POPULATE_READ: int | None = getattr(mmap, "MADV_POPULATE_READ", 22 if sys.platform == "linux" else None)


class IndexUnusable(Exception):
    """A side index cannot be trusted for this merge (the caller merges from the prefixes)."""


class IndexedMerge:
    """What the indexed merge wrote."""

    __slots__ = ("samples", "task_hash", "per_rank", "duplicates")

    def __init__(self, samples: int, task_hash: str, per_rank: dict[int, int], duplicates: int) -> None:
        self.samples = samples
        self.task_hash = task_hash
        self.per_rank = per_rank
        self.duplicates = duplicates


class _Lane:
    """One finished shard read through its side index."""

    def __init__(self, src: ShardSource, budget: int) -> None:
        assert src.index is not None and src.size is not None and src.count is not None
        self.rank = src.rank
        self.budget = budget  # bytes of lines this lane may hold mapped
        self.block = 64  # records read next: grows or shrinks with the lines' size
        self.size = src.size
        self.count = src.count
        self.segments = len(src.segments or ())
        self.keys: list[int] = []
        self.lines: list[memoryview] = []
        self.blobs: list[memoryview] = []
        self.done = False
        self.read = self.end = self.written = self.given_back = self.block_start = 0
        self.last_key = -1
        self.map: mmap.mmap | None = None
        self.view = memoryview(b"")
        try:
            self.fh = open(src.index, "rb")  # noqa: SIM115 (closed by close())
        except OSError as exc:
            raise IndexUnusable(f"the index of rank {src.rank} cannot be read: {exc}") from exc
        try:
            if os.fstat(self.fh.fileno()).st_size != src.count * RECORD.size:
                raise IndexUnusable(f"the index of rank {src.rank} does not hold {src.count} whole records")
            if src.size:
                with open(src.path, "rb") as shard:
                    if os.fstat(shard.fileno()).st_size < src.size:
                        raise IndexUnusable(f"the shard of rank {src.rank} is shorter than its marker says")
                    self.map = mmap.mmap(shard.fileno(), src.size, access=mmap.ACCESS_READ)
                self.view = memoryview(self.map)
        except OSError as exc:
            self.close()
            raise IndexUnusable(f"the shard of rank {src.rank} cannot be mapped: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def refill(self) -> None:
        """Read the next block of records (or note that there is none)."""
        try:
            cols = read_columns(self.fh.read(RECORD.size * self.block))
        except OSError as exc:
            raise IndexUnusable(f"the index of rank {self.rank} cannot be read: {exc}") from exc
        if cols is None:
            raise IndexUnusable(f"the index of rank {self.rank} is torn")
        keys, starts, blob_starts, blob_ends, final_starts, ends = cols
        if not keys:
            self.done = True
            return
        if not (
            starts[0] == self.end
            and keys[0] > self.last_key
            and ends[-1] <= self.size
            and key_segment(keys[-1]) < self.segments
            and all(map(eq, islice(starts, 1, None), ends))
            and all(map(lt, keys, islice(keys, 1, None)))
            and self._framed(blob_ends[0], final_starts[0], ends[0])
            and self._framed(blob_ends[-1], final_starts[-1], ends[-1])
        ):
            raise IndexUnusable(f"the index of rank {self.rank} does not match its shard")
        self._give_back(starts[0])
        self._map_in(starts[0], ends[-1])
        get = self.view.__getitem__
        self.lines += map(get, map(slice, final_starts, ends))
        self.blobs += map(get, map(slice, blob_starts, blob_ends))
        self.keys += keys
        self.read += len(keys)
        self.block = max(16, min(BLOCK, self.budget * len(keys) // (2 * max(1, ends[-1] - starts[0]))))
        self.end, self.last_key = ends[-1], keys[-1]

    def _framed(self, blob_end: int, final_start: int, end: int) -> bool:
        """A line's framing is where the index says (spot check of a block's first and last line)."""
        return final_start < end and self.view[blob_end:final_start] == _TAIL and self.view[end - 1] == 10

    def _map_in(self, start: int, end: int) -> None:
        """Fault the block's pages in at once (cheaper than ``writev`` faulting them one by one)."""
        if self.map is None:
            return
        start -= start % mmap.PAGESIZE
        if _POPULATE_READ is not None:
            try:
                self.map.madvise(_POPULATE_READ, start, end - start)
                return
            except OSError:  # a kernel before 5.14
                pass
        sum(map(self.view.__getitem__, range(start, end, mmap.PAGESIZE)))

    def _give_back(self, block_start: int) -> None:
        """Give the mapped pages before the previous block back (the page cache keeps them)."""
        behind = self.block_start - self.block_start % mmap.PAGESIZE
        self.block_start = block_start
        if self.map is not None and behind - self.given_back >= _GIVE_BACK and hasattr(self.map, "madvise"):
            self.map.madvise(mmap.MADV_DONTNEED, self.given_back, behind - self.given_back)
            self.given_back = behind

    def take(self, n: int) -> tuple[list[int], list[memoryview], list[memoryview]]:
        keys, lines, blobs = self.keys[:n], self.lines[:n], self.blobs[:n]
        del self.keys[:n], self.lines[:n], self.blobs[:n]
        return keys, lines, blobs

    def close(self) -> None:
        self.keys, self.lines, self.blobs = [], [], []
        self.fh.close()
        self.view.release()
        if self.map is not None:
            try:
                self.map.close()
            except BufferError:  # a view still referenced somewhere: unmapped when it goes
                pass


Batch = tuple[list[memoryview], list[memoryview], dict[int, int], int]  # lines, hash fields, per lane, duplicates


def _in_turn(live: list[_Lane], takes: list[int]) -> Batch | None:
    """The batch when the lanes' lines simply alternate (docs strided over the ranks), else None."""
    c = min(takes)
    if c == 0:
        return None
    order = sorted(range(len(live)), key=lambda i: live[i].keys[0])
    k = len(order)
    keys: list[int] = [0] * (k * c)
    for pos, i in enumerate(order):
        keys[pos::k] = live[i].keys[:c]
    last = keys[-1]
    if not all(map(lt, keys, islice(keys, 1, None))) or any(
        t > c and lane.keys[c] <= last for lane, t in zip(live, takes)
    ):
        return None
    lines: list[memoryview] = [memoryview(b"")] * (k * c)
    blobs = lines[:]
    for pos, i in enumerate(order):
        _, lines[pos::k], blobs[pos::k] = live[i].take(c)
    return lines, blobs, dict.fromkeys(range(k), c), 0


def _sorted(live: list[_Lane], takes: list[int]) -> Batch:
    """The batch in any other case: keys tagged with their lane, sorted; duplicates kept once."""
    bits = max(1, (len(live) - 1).bit_length())
    tagged: list[int] = []
    line_its: list[Iterator[memoryview]] = []
    blob_its: list[Iterator[memoryview]] = []
    for i, (lane, t) in enumerate(zip(live, takes)):
        keys, lines, blobs = lane.take(t)
        tagged += map(or_, map(lshift, keys, repeat(bits)), repeat(i))
        line_its.append(iter(lines))
        blob_its.append(iter(blobs))
    tagged.sort()
    lanes = list(map(and_, tagged, repeat((1 << bits) - 1)))
    ordered = list(map(next, map(line_its.__getitem__, lanes)))
    hashed = list(map(next, map(blob_its.__getitem__, lanes)))
    keys = list(map(rshift, tagged, repeat(bits)))
    if all(map(lt, keys, islice(keys, 1, None))):
        return ordered, hashed, dict(enumerate(takes)), 0
    keep = [True, *map(ne, islice(keys, 1, None), keys)]  # a doc several ranks wrote: the first lane's copy
    ordered, hashed = list(compress(ordered, keep)), list(compress(hashed, keep))
    return ordered, hashed, dict(Counter(compress(lanes, keep))), len(keep) - len(ordered)


def _run(lanes: list[_Lane], fd: int, hasher: TaskHasher) -> int:
    """Merge the lanes into ``fd``; returns the duplicates skipped."""
    duplicates = 0
    while True:
        for lane in lanes:
            if not lane.done and len(lane.keys) < lane.block // 2:
                lane.refill()
        live = [lane for lane in lanes if lane.keys]
        if not live:
            return duplicates
        bound = min((lane.keys[-1] for lane in lanes if not lane.done), default=None)
        takes = [len(lane.keys) if bound is None else bisect_right(lane.keys, bound) for lane in live]
        batch = (_in_turn(live, takes) if len(live) > 1 else None) or _sorted(live, takes)
        lines, blobs, per_lane, skipped = batch
        for i, n in per_lane.items():
            live[i].written += n
        duplicates += skipped
        write_all(fd, lines)
        hasher.update_block(blobs)


def _check_segments(sources: Sequence[ShardSource]) -> None:
    labels: dict[int, str] = {}
    for src in sources:
        for segment, label in enumerate(src.segments or ()):
            if labels.setdefault(segment, label) != label:
                raise IndexUnusable("the ranks' completion markers disagree on the filters' order")


def merge_indexed(sources: Sequence[ShardSource], target: Path, flavor: str, *, task: str, fsync: bool) -> IndexedMerge:
    """Merge finished shards through their side indexes (raises :class:`IndexUnusable` on any doubt,
    leaving ``target`` untouched)."""
    _check_segments(sources)
    hasher = TaskHasher(flavor)
    lanes: list[_Lane] = []
    try:
        for src in sources:
            lanes.append(_Lane(src, MAPPED // len(sources)))
        with atomic_writer(target, fsync=fsync, task=task) as out, gc_paused():
            out.flush()
            duplicates = _run(lanes, out.fileno(), hasher)
            for lane in lanes:
                if (lane.read, lane.end) != (lane.count, lane.size):
                    raise IndexUnusable(f"the index of rank {lane.rank} ends before its shard")
    finally:
        for lane in lanes:
            lane.close()
    per_rank = {lane.rank: lane.written for lane in lanes}
    return IndexedMerge(hasher.count, hasher.hexdigest(), per_rank, duplicates)

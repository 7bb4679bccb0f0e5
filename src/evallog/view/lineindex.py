"""Byte offsets of the lines of a JSONL file: built once, on demand, extended as the file grows.

A :class:`LineIndex` never reads more of a file than it has to: asking for
record 50 reads until the 51st line is found, so the first page of a 3 GB
file costs a few megabytes of reading. :meth:`LineIndex.extend` picks up
where the last call stopped, which is how a growing (``.partial``) file is
followed: only the new bytes are read. A file that shrinks or is replaced
(another inode) is indexed again from the start.

Blank lines are not records. The unterminated last line of a file that is
still being written is the record in flight and is not indexed; in a
finished file it is a record (and, if it is cut, shown as corrupt).

Memory: 12 bytes per record (``array`` of offsets and lengths), so a file
of a million samples costs 12 MB however big the samples are.
"""

from __future__ import annotations

import os
import threading
import time
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LineIndex", "IndexCache"]

_CHUNK = 4 << 20
_WS = frozenset(b" \t\r\n\x0b\x0c")


class LineIndex:
    """Offsets of the records (non-blank lines) of one file; thread-safe."""

    def __init__(self, path: str | os.PathLike[str], *, growing: bool = False) -> None:
        self.path = Path(path)
        self._growing = growing
        self._starts = array("Q")
        self._lens = array("I")
        self._scanned = 0  # bytes consumed (always just after a newline, or at a tail record's end)
        self._tail = False  # the last record has no newline (finished files only)
        self._ident: tuple[int, int] | None = None
        self._size = 0
        self._eof = False
        self._bg: threading.Thread | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ state

    @property
    def growing(self) -> bool:
        """True while the file is being written (its unterminated last line is not a record yet)."""
        return self._growing

    @growing.setter
    def growing(self, value: bool) -> None:
        if value == self._growing:
            return
        with self._lock:
            if self._growing and not value:
                self._eof = False  # look at the tail again: it is a record now
            self._growing = value

    @property
    def count(self) -> int:
        """Records indexed so far."""
        return len(self._starts)

    @property
    def complete(self) -> bool:
        """True when the index reached the end of the file as it was at the last look."""
        return self._eof

    @property
    def size(self) -> int:
        """Size of the file at the last look."""
        return self._size

    def _check_file(self) -> int:
        """Stat the file; reset the index when it was replaced or shrank. Returns its size."""
        st = os.stat(self.path)
        ident = (st.st_dev, st.st_ino)
        if self._ident is not None and (ident != self._ident or st.st_size < self._scanned):
            self._starts = array("Q")
            self._lens = array("I")
            self._scanned = 0
            self._tail = False
        self._ident = ident
        if st.st_size != self._size:
            self._eof = False
            if self._tail:  # a finished file grew after all: its last record was not the last
                self._starts.pop()
                self._lens.pop()
                self._tail = False
        self._size = st.st_size
        return st.st_size

    # ------------------------------------------------------------------ building

    def extend(self, until: int | None = None, *, deadline: float | None = None, wait: bool = True) -> int:
        """Index records until ``until`` are known (all when ``None``) or ``deadline`` passes.

        Returns the number of records indexed. Cheap when nothing changed. With
        ``wait=False`` nothing is done while another thread is extending the index.
        """
        if not self._lock.acquire(blocking=wait):
            return self.count
        try:
            return self._extend(until, deadline)
        finally:
            self._lock.release()

    def _extend(self, until: int | None, deadline: float | None) -> int:
        size = self._check_file()
        if self._eof or (until is not None and self.count >= until):
            return self.count
        with open(self.path, "rb") as fh:
            fh.seek(self._scanned)
            pos = self._scanned
            carry = b""
            while pos + len(carry) < size or carry:
                data = fh.read(_CHUNK)
                if not data:
                    break
                buf = carry + data if carry else data
                base = pos
                start = 0
                find = buf.find
                starts, lens = self._starts, self._lens
                while True:
                    nl = find(b"\n", start)
                    if nl < 0:
                        break
                    if nl > start and not (buf[start] in _WS and buf[start:nl].isspace()):
                        starts.append(base + start)
                        lens.append(nl - start)
                    start = nl + 1
                pos = base + start
                carry = buf[start:]
                self._scanned = pos
                if until is not None and self.count >= until:
                    return self.count
                if deadline is not None and time.monotonic() > deadline:
                    return self.count
            if carry and not self.growing and not carry.isspace():
                self._starts.append(pos)
                self._lens.append(len(carry))
                self._scanned = pos + len(carry)
                self._tail = True
            self._eof = True
        return self.count

    def finish_in_background(self) -> None:
        """Index the rest of the file in a daemon thread, in short slices (readers are not held up)."""
        with self._lock:
            if self._eof or self._bg is not None:
                return
            self._bg = threading.Thread(target=self._finish, name=f"index {self.path.name}", daemon=True)
            self._bg.start()

    def _finish(self) -> None:
        try:
            while not self._eof:
                self.extend(deadline=time.monotonic() + 0.05)
                time.sleep(0.001)  # let waiting requests take the lock
        except OSError:
            pass
        finally:
            with self._lock:
                self._bg = None

    # ------------------------------------------------------------------ reading

    def span(self, i: int) -> tuple[int, int]:
        """(offset, length) of record ``i`` (0-based); extends the index as needed."""
        if i >= self.count:
            self.extend(i + 1)
        if i < 0 or i >= self.count:
            raise IndexError(i)
        return self._starts[i], self._lens[i]

    def read(self, i: int) -> bytes:
        """The bytes of record ``i`` (without its newline)."""
        off, n = self.span(i)
        with open(self.path, "rb") as fh:
            return os.pread(fh.fileno(), n, off)

    def read_range(self, start: int, stop: int) -> list[bytes]:
        """Records ``start`` .. ``stop - 1`` (fewer at the end of the file)."""
        if stop > self.count:
            self.extend(stop)
        stop = min(stop, self.count)
        if start >= stop:
            return []
        out = []
        with open(self.path, "rb") as fh:
            fd = fh.fileno()
            for i in range(start, stop):
                out.append(os.pread(fd, self._lens[i], self._starts[i]))
        return out

    def iter_from(self, start: int = 0, *, chunk: int = 1 << 20) -> Iterator[tuple[int, bytes]]:
        """``(record number, bytes)`` from ``start`` to the end, reading sequentially in big blocks."""
        i = start
        with open(self.path, "rb") as fh:
            fd = fh.fileno()
            buf = b""
            buf_off = 0
            while True:
                if i >= self.count:
                    self.extend(i + 4096)
                    if i >= self.count:
                        return
                off, n = self._starts[i], self._lens[i]
                if off < buf_off or off + n > buf_off + len(buf):
                    buf_off = off
                    buf = os.pread(fd, max(chunk, n), off)
                    if len(buf) < n:
                        return
                rel = off - buf_off
                yield i, buf[rel:rel + n]
                i += 1

    def grep(self, needle: bytes, start: int = 0, *, chunk: int = 8 << 20) -> Iterator[int]:
        """Record numbers from ``start`` whose bytes, lower-cased, contain ``needle`` (lower-case, no newline).

        Reads blocks of whole records and searches each block at once: much
        faster than looking at every line. Extends the index to the end of the file.
        """
        i = start
        with open(self.path, "rb") as fh:
            fd = fh.fileno()
            while True:
                if i >= self.count:
                    self.extend(i + 1)
                    if i >= self.count:
                        return
                first = self._starts[i]
                while not self._eof and self._starts[-1] < first + chunk:
                    self.extend(self.count + 16384)
                j = max(i + 1, bisect_right(self._starts, first + chunk, lo=i) - 1)
                end = self._starts[j - 1] + self._lens[j - 1]
                block = os.pread(fd, end - first, first).lower()
                pos = block.find(needle)
                while pos >= 0:
                    n = bisect_right(self._starts, first + pos, lo=i, hi=j) - 1
                    yield n
                    pos = block.find(needle, self._starts[n] + self._lens[n] - first)
                i = j


class IndexCache:
    """At most ``capacity`` :class:`LineIndex` objects, least recently used dropped first."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Path, LineIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str], *, growing: bool = False) -> LineIndex:
        key = Path(path)
        with self._lock:
            idx = self._items.get(key)
            if idx is None:
                idx = self._items[key] = LineIndex(key, growing=growing)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
            else:
                idx.growing = growing
                self._items.move_to_end(key)
            return idx

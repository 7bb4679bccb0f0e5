"""A shard's side index: where each line, its final part and its hash field are.

The merge of a task's shards (:mod:`evallog.merge`) must not decode a JSON
prefix per line to stay close to a plain copy. So while a rank writes its
shard, it also writes one fixed-size binary record per line to
``<ranks dir>/<task>.rank-<r>-of-<W>.index``::

    key          (segment << 48) | doc id: the line's place in the merge order
    line start   where the shard line starts in the shard (bytes)
    blob start   where the sample's task-hash field starts (its UTF-8 bytes, raw in the prefix)
    blob end     where it ends
    final start  where the sample's final line starts (after the prefix and its tab)
    line end     where the shard line ends (after its newline)

six little-endian unsigned 64-bit integers, read back column by column with
``memoryview.cast``. The index only *accelerates*: the shard's JSON prefixes
stay the truth. A rank writes an index only while every line has a place that
fits the key (an integer doc id in ``[0, 2**48)``, fewer than ``2**15``
segments) and a hash made of one field whose JSON string has no escapes (both
built-in flavors); otherwise, after a write error, or when the shard does not
end where the index says, the index is dropped and the completion marker
names none. The merge uses an index only for a finished rank whose marker
names it and only if it holds exactly the marker's count and bytes, lines
back to back; anything else (an unfinished or killed rank, a torn or missing
index) takes the slower path that reads the prefixes.
"""

from __future__ import annotations

import logging
import os
import struct
import sys
from array import array
from pathlib import Path
from typing import BinaryIO

__all__ = ["RECORD", "DOC_BITS", "MAX_SEGMENT", "line_key", "key_segment", "IndexWriter", "read_columns"]

logger = logging.getLogger(__name__)

RECORD = struct.Struct("<6Q")
COLUMNS = 6
_FLUSH_WORDS = COLUMNS * 4096  # records kept before they are written
DOC_BITS = 48
MAX_SEGMENT = 1 << 15


def line_key(segment: int, doc_id: object) -> int | None:
    """The merge key of a line (``None`` when its doc id or segment does not fit one integer)."""
    if type(doc_id) is int and 0 <= doc_id < (1 << DOC_BITS) and 0 <= segment < MAX_SEGMENT:
        return (segment << DOC_BITS) | doc_id
    return None


def key_segment(key: int) -> int:
    return key >> DOC_BITS


class IndexWriter:
    """Writes the side index of one shard as the rank appends lines to it."""

    __slots__ = ("path", "fsync", "offset", "count", "_fh", "_words", "broken")

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.offset = 0  # bytes of shard lines appended so far
        self.count = 0
        self.broken = ""
        self._words = array("Q")
        self._fh: BinaryIO | None = None
        try:
            self._fh = open(path, "wb")  # noqa: SIM115 (closed by close/abandon)
        except OSError as exc:
            self.abandon(f"could not open it: {exc}")

    def add(self, size: int, key: int | None, blob: tuple[int, int] | None, final_start: int) -> None:
        """Record a line of ``size`` bytes just appended to the shard (offsets relative to the line)."""
        if self._fh is None:
            return
        if key is None or blob is None:
            self.abandon("a line has no integer place or no raw hash field")
            return
        off = self.offset
        self._words.extend((key, off, off + blob[0], off + blob[1], off + final_start, off + size))
        self.offset = off + size
        self.count += 1
        if len(self._words) >= _FLUSH_WORDS:
            self._write()

    def _write(self) -> None:
        words, self._words = self._words, array("Q")
        if sys.byteorder != "little":
            words.byteswap()
        try:
            assert self._fh is not None
            self._fh.write(words.tobytes())
        except OSError as exc:
            self.abandon(f"could not write it: {exc}")

    def abandon(self, reason: str) -> None:
        """Stop indexing this shard (the merge will read its prefixes) and remove the file."""
        if not self.broken:
            self.broken = reason
            logger.debug("no side index for %s: %s", self.path, reason)
        fh, self._fh = self._fh, None
        self._words = array("Q")
        if fh is not None:
            try:
                fh.close()
            except OSError:
                pass
        try:
            self.path.unlink()
        except OSError:
            pass

    def close(self, count: int, size: int) -> bool:
        """The shard is complete with ``count`` lines in ``size`` bytes: True if the index is usable."""
        if self._fh is None:
            return False
        if (self.count, self.offset) != (count, size):
            self.abandon(f"it holds {self.count} lines / {self.offset} bytes, the shard {count} / {size}")
            return False
        self._write()
        fh = self._fh
        if fh is None:
            return False
        try:
            fh.flush()
            if self.fsync:
                os.fsync(fh.fileno())
            fh.close()
        except OSError as exc:
            self.abandon(f"could not finish it: {exc}")
            return False
        self._fh = None
        return True


def read_columns(raw: bytes) -> list[list[int]] | None:
    """The six columns of a block of whole records (``None`` if the block is not whole records)."""
    if len(raw) % RECORD.size:
        return None
    if sys.byteorder != "little":
        return [list(col) for col in zip(*RECORD.iter_unpack(raw))] if raw else [[] for _ in range(COLUMNS)]
    words = memoryview(raw).cast("Q")
    return [words[i::COLUMNS].tolist() for i in range(COLUMNS)]

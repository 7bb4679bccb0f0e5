"""The samples' redaction pre-check: whether :func:`evallog.redact.redact` could change a record.

It is *complete* (whenever :func:`~evallog.redact.redact` would change a record it says so; property
tests hold it to that) and cheap, in two stages:

1. :func:`line_hints`, on the record's encoded JSON line: one multi-pattern pass for the ASCII
   hints every rule of :mod:`evallog.redact` needs (key hints, token starts, ``-----BEGIN``,
   ``://``). A hint inside a safe JSON key (``"token_counts":``, or a key stage 2 found safe),
   inside a media value (``"data:<type>;base64,..."``) or inside a short string stage 2 found
   safe (``"pass@1"``) does not count.
2. :func:`record_needs_redaction`, only for a line with hints: a walk over the record's keys and
   strings, with the exact checks of :func:`~evallog.redact.text_may_hold_secret` run for the hints
   found.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from evallog.redact import (
    _BASE64,
    _KEY_HINTS,
    _NONE,
    _TOKEN_STARTS,
    MAX_NESTING,
    _key_kind,
    is_media,
    text_may_hold_secret,
)
from evallog.schema import HARNESS_SAMPLE_KEYS

__all__ = ["clean_line_check", "line_hints", "line_is_clean", "line_may_hold_secret", "prepare", "record_needs_redaction"]

# Stage 1, on the encoded JSON line (bytes): every rule above needs one of these ASCII
# sequences (key hints, ASCII case ignored as the key rules do; the token, PEM and URL starts,
# case kept as their patterns do), and JSON encoding keeps them as they are. One pass of a
# multi-pattern search: Hyperscan (SIMD, x86-64) or Aho-Corasick (Rust, elsewhere), whichever
# is installed; the substring searches of the stdlib otherwise (correct, slower).
_CASELESS_NEEDLES = frozenset(h.encode() for h in _KEY_HINTS)
_LINE_NEEDLES = tuple(sorted(_CASELESS_NEEDLES | {t.encode() for t in _TOKEN_STARTS} | {b"-----BEGIN", b"://"}))


_MAX_LINE_HITS = 4096  # more occurrences than this in one line: every hint counts (stage 2 decides)
_QUICK_MISSES, _QUICK_WINDOW = 32, 4096  # clean_check's give-up rule: lines it could not clear, lines per window
_MEDIA_HEAD = len(_LINE_NEEDLES)  # the scanner's id of ';base64,', the end of a media value's head


_SPELLED_OUT = 4  # caseless needles this short are given to Hyperscan as all their ASCII case variants


def _case_variants(needle: bytes) -> list[bytes]:
    """Every ASCII upper/lower-case spelling of ``needle`` (``key`` -> ``key``, ``keY``, ... ``KEY``)."""
    spellings = [b""]
    for byte in needle:
        letters = {bytes([byte]).lower(), bytes([byte]).upper()}
        spellings = [s + c for s in spellings for c in sorted(letters)]
    return spellings


def _hyperscan_literals() -> list[tuple[bytes, int, bool]]:
    """``(literal, needle index, caseless)`` for Hyperscan, ``;base64,`` last (index :data:`_MEDIA_HEAD`).

    The short caseless needles (``key``, ``pwd``, ``pass``, ``auth``) are spelled out as exact
    literals with the needle's index: Hyperscan's literal matcher runs about twice as fast on
    English text that way (3.1 vs 1.6 GB/s measured on the save bench's lines) than with
    ``HS_FLAG_CASELESS`` on them; the matches are the same."""
    out: list[tuple[bytes, int, bool]] = []
    for index, needle in enumerate(_LINE_NEEDLES):
        if needle in _CASELESS_NEEDLES and len(needle) <= _SPELLED_OUT:
            out += [(spelling, index, False) for spelling in _case_variants(needle)]
        else:
            out.append((needle, index, needle in _CASELESS_NEEDLES))
    out.append((b";base64,", _MEDIA_HEAD, False))
    return out


class _ScanState:
    """The match handler's context: hits so far, the offset of the scanned part, the media head."""

    __slots__ = ("found", "offset", "head", "json_line")

    def __init__(self, json_line: bool) -> None:
        self.found: list[tuple[int, int]] = []
        self.offset = 0
        self.head = -1
        self.json_line = json_line


class _LineScanner:
    """Finds every occurrence of :data:`_LINE_NEEDLES` in a line (ASCII case ignored for the
    key hints of :data:`_CASELESS_NEEDLES`)."""

    def __init__(self) -> None:
        self.kind = "stdlib"
        self._local = threading.local()
        self._hs: Any = None
        self._ac: Any = None
        try:
            import hyperscan

            literals = _hyperscan_literals()
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            # literals only: Hyperscan reports their matches in the order of their end offsets
            db.compile(
                expressions=[re.escape(text.decode()).encode() for text, _i, _c in literals],
                ids=[index for _t, index, _c in literals],
                elements=len(literals),
                flags=[hyperscan.HS_FLAG_CASELESS if caseless else 0 for _t, _i, caseless in literals],
            )
            self._hs, self._hs_module, self.kind = db, hyperscan, "hyperscan"
            return
        except Exception as exc:  # noqa: BLE001 - not installed, or no SIMD support on this CPU
            logging.getLogger(__name__).debug("hyperscan unavailable (%s); trying aho-corasick", exc)
        try:
            import ahocorasick_rs

            self._ac = (ahocorasick_rs.BytesAhoCorasick([n for n in _LINE_NEEDLES if n in _CASELESS_NEEDLES]),
                        ahocorasick_rs.BytesAhoCorasick([n for n in _LINE_NEEDLES if n not in _CASELESS_NEEDLES]))
            self.kind = "aho-corasick"
        except ImportError:
            pass

    @staticmethod
    def _on_match(index: int, _start: int, end: int, _flags: int, state: _ScanState) -> bool:
        if index == _MEDIA_HEAD:
            if state.json_line:  # stop: the caller skips the media value that may be here
                state.head = state.offset + end
                return True
            return False
        state.found.append((index, state.offset + end))
        return len(state.found) > _MAX_LINE_HITS  # True ends the scan

    def clean_check(self) -> Callable[[bytes], bool] | None:
        """A check for one thread (it has its own scratch space): ``True`` when every needle in a
        line lies inside one of the usual safe keys (``"token_counts":``; none at all in most lines)
        and there is no media head (then :func:`line_hints` finds nothing), ``False`` when the line
        may hold more; ``None`` without Hyperscan.

        Where the check rarely clears a line (more than a quarter of the last lines, e.g. prose
        full of "author"s and "passage"s), it answers ``False`` without scanning for the next
        :data:`_QUICK_WINDOW` lines (:func:`line_hints` scans them anyway), then tries again."""
        if self._hs is None:
            return None
        scan, scratch, terminated = self._hs.scan, self._hs_module.Scratch(self._hs), self._hs_module.ScanTerminated
        safe_at = _SAFE_KEY_AT  # grows as stage 2 finds keys safe
        seen = missed = 0

        def in_safe_key(index: int, _start: int, end: int, _flags: int, context: list[Any]) -> bool:
            """Hyperscan's handler: ``False`` (go on) for a needle inside a safe key, ``True`` (stop) otherwise."""
            if index in safe_at and _in_safe_key(context[0], index, end):
                context[1] += 1
                return bool(context[1] > _MAX_LINE_HITS)
            return True

        def clean(line: bytes) -> bool:
            nonlocal seen, missed
            seen += 1
            if missed > _QUICK_MISSES and missed * 4 > seen:  # the check does not pay here: skip it a while
                if seen > _QUICK_WINDOW:
                    seen = missed = 0
                return False
            try:
                scan(line, match_event_handler=in_safe_key, context=[line, 0], scratch=scratch)
            except terminated:
                missed += 1
                return False
            if seen > _QUICK_WINDOW:
                seen = missed = 0
            return True

        return clean

    def matches(self, line: bytes, json_line: bool = False) -> list[tuple[int, int]] | None:
        """``(needle index, end offset)`` of every occurrence; ``None`` when there are more
        than :data:`_MAX_LINE_HITS` of them. ``json_line``: ``line`` is a JSON line, whose media
        values (see :func:`_media_value_end`) Hyperscan skips (the other scanners report the
        occurrences inside them, which :func:`_inert_hit` then discounts)."""
        if self._hs is not None:
            scratch = getattr(self._local, "scratch", None)
            if scratch is None:  # one scratch space per thread (log_sample is thread-safe)
                scratch = self._local.scratch = self._hs_module.Scratch(self._hs)
            state = _ScanState(json_line)
            data = line
            while True:
                try:
                    self._hs.scan(data, match_event_handler=self._on_match, context=state, scratch=scratch)
                    return state.found
                except self._hs_module.ScanTerminated:
                    if state.head < 0:
                        return None  # too many hits
                # every match ending up to the media head has been reported: go on after the media
                # value, or right after ';base64,' if it is not one (no needle holds a ',')
                head, state.head = state.head, -1
                opened = line.rfind(b'"', max(0, head - 210), head)
                closed = _media_value_end(line, opened) if opened >= 0 else None
                state.offset = head if closed is None else closed + 1
                data = line[state.offset :]
        low = line.lower()
        out: list[tuple[int, int]] = []
        if self._ac is not None:
            for ac, text, index in ((self._ac[0], low, _CASELESS_INDEX), (self._ac[1], line, _EXACT_INDEX)):
                out += [(index[i], e) for i, _s, e in ac.find_matches_as_indexes(text, overlapping=True)]
        else:
            for i, needle in enumerate(_LINE_NEEDLES):
                text = low if needle in _CASELESS_NEEDLES else line
                at = text.find(needle)
                while at != -1 and len(out) <= _MAX_LINE_HITS:
                    out.append((i, at + len(needle)))
                    at = text.find(needle, at + 1)
        return out if len(out) <= _MAX_LINE_HITS else None


# the fallback's automaton indexes -> _LINE_NEEDLES indexes
_CASELESS_INDEX = [i for i, n in enumerate(_LINE_NEEDLES) if n in _CASELESS_NEEDLES]
_EXACT_INDEX = [i for i, n in enumerate(_LINE_NEEDLES) if n not in _CASELESS_NEEDLES]
_SCANNER: _LineScanner | None = None
_NO_HINTS: frozenset[bytes] = frozenset()
_ALL_HINTS: frozenset[bytes] = frozenset(_LINE_NEEDLES)


# keys that hold a hint but name no credential (``token_counts``, ``max_new_tokens``,
# ``output_tokens``): a hint inside such a JSON key (``"token_counts":``) does not count; the
# harness's own sample keys (schema's key set) from the start, the others once stage 2 has
# found them safe. Only keys whose JSON form needs no escape (so every encoder writes them alike).
_HARNESS_KEYS = HARNESS_SAMPLE_KEYS
_MAX_SAFE_JSON_KEYS = 4096
_SAFE_JSON_KEY_SET: set[bytes] = set()


_SAFE_JSON_VALUE_SET: set[bytes] = set()  # short strings stage 2 found safe, as ``"text"``


def _json_string(text: str) -> bytes | None:
    """``"text"`` as it appears in a line, if ``text`` is short, printable ASCII, no ``"`` nor ``\\``
    (so that every encoder writes it alike), and holds a hint; else ``None``."""
    if len(text) > 64 or not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
        return None
    raw = text.encode("ascii")
    low = raw.lower()
    if any(n in (low if n in _CASELESS_NEEDLES else raw) for n in _LINE_NEEDLES):
        return b'"' + raw + b'"'
    return None


# needle index -> (safe JSON key, offset of the needle in it): a hit is checked against these
# first (a few ``startswith``), the general check of :func:`_inert_hit` follows if none match
_SAFE_KEY_AT: dict[int, list[tuple[bytes, int]]] = {}


def _remember_safe_hint_key(key: str) -> None:
    if len(_SAFE_JSON_KEY_SET) < _MAX_SAFE_JSON_KEYS:
        json_key = _json_string(key)
        if json_key is not None and json_key + b":" not in _SAFE_JSON_KEY_SET:
            json_key += b":"
            low = json_key.lower()
            for index, needle in enumerate(_LINE_NEEDLES):
                text = low if needle in _CASELESS_NEEDLES else json_key
                at = text.find(needle)
                while at != -1:
                    candidates = _SAFE_KEY_AT.setdefault(index, [])
                    if len(candidates) < 8:
                        candidates.append((json_key, at))
                    at = text.find(needle, at + 1)
            _SAFE_JSON_KEY_SET.add(json_key)


def _remember_safe_values(strings: list[str]) -> None:
    """Remember the short strings of a record stage 2 found safe (metric names like ``pass@1``):
    :func:`redact_text` leaves such a string as it is wherever it stands (a value under a
    credential key is caught by that key, whose hint counts)."""
    for text in strings:
        if len(text) <= 64 and len(_SAFE_JSON_VALUE_SET) < _MAX_SAFE_JSON_KEYS:
            json_value = _json_string(text)
            if json_value is not None and json_value not in _SAFE_JSON_VALUE_SET and not text_may_hold_secret(text):
                _SAFE_JSON_VALUE_SET.add(json_value)


for _key in sorted(_HARNESS_KEYS):
    _remember_safe_hint_key(_key)

_DATA_URI_HEAD_BYTES = re.compile(rb"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,")


def _media_value_end(line: bytes, q: int) -> int | None:
    """The offset of the closing quote of the media value string that opens at ``line[q]`` (an
    unescaped ``"`` followed by ``data:<type>;base64,`` and base64 only, then a quote not followed
    by ``:``: a value, not a key), else ``None``."""
    if not line.startswith(b'"data:', q) or (q > 0 and line[q - 1] == 0x5C):
        return None
    e = line.find(b'"', q + 1)
    if e < 0 or line[e + 1 : e + 2] == b":":
        return None
    head = _DATA_URI_HEAD_BYTES.match(line, q + 1, min(e, q + 201))
    # the payload base64 only (no escape: the closing quote is not escaped either)
    if head is None or line[head.end() : e].rstrip(b"=").translate(None, _BASE64):
        return None
    return e


_NEEDLE_LENGTHS = [len(n) for n in _LINE_NEEDLES]


def _in_safe_key(line: bytes, index: int, end: int) -> bool:
    """Whether the needle ``index`` ending at ``line[end]`` lies in one of the usual safe JSON keys
    (``"token_counts":``; :data:`_SAFE_KEY_AT`): the quick check, before :func:`_inert_hit`."""
    start = end - _NEEDLE_LENGTHS[index]
    for key, at in _SAFE_KEY_AT.get(index, ()):
        at = start - at
        # an unescaped quote opens the key (no needle occurs outside a JSON string)
        if at >= 0 and line.startswith(key, at) and (at == 0 or line[at - 1] != 0x5C):
            return True
    return False


def _inert_hit(line: bytes, start: int, end: int, media: list[tuple[int, int]]) -> bool:
    """Whether the hint at ``line[start:end]`` lies in a safe JSON key (``"token_counts":``) or in
    a media value string (``"data:image/png;base64,..."``, never edited by :func:`redact`).

    ``media``: the spans of the media strings found in this line so far (extended here).
    The string around a hit is delimited by the nearest ``"`` before it (it must not be escaped:
    then it opens the string, as no needle can occur outside a JSON string) and the first ``"``
    after it; a string followed by ``:`` is a key."""
    for opened, closed in media:
        if opened < start < closed:
            return True
    q = line.rfind(b'"', 0, start)
    if q < 0 or (q > 0 and line[q - 1] == 0x5C):  # no quote, or an escaped one: the hit counts
        return False
    e = line.find(b'"', end)
    if e < 0:
        return False
    if line[e + 1 : e + 2] == b":":  # a key (a media-like key may still name a credential)
        return line[q : e + 2] in _SAFE_JSON_KEY_SET
    if e - q <= 65 and line[q : e + 1] in _SAFE_JSON_VALUE_SET:
        return True
    if _media_value_end(line, q) == e:
        media.append((q, e))
        return True
    return False


def _scanner() -> _LineScanner:
    global _SCANNER
    scanner = _SCANNER
    if scanner is None:
        scanner = _SCANNER = _LineScanner()
    return scanner


def prepare() -> str:
    """Build the line scanner now rather than on the first line checked: the first time in a
    process it loads Hyperscan's library and compiles the needles (~30 ms). Returns the scanner's
    kind (``"hyperscan"``, ``"aho-corasick"`` or ``"stdlib"``)."""
    return _scanner().kind


def _text_hints(data: bytes) -> frozenset[bytes]:
    """Every hint in ``data`` (plain text: no occurrence is discounted)."""
    found = _scanner().matches(data)
    if found is None:
        return _ALL_HINTS
    return frozenset([_LINE_NEEDLES[index] for index, _end in found]) if found else _NO_HINTS


def line_hints(line: bytes) -> frozenset[bytes]:
    """Stage 1 of the pre-check: the hints of a credential the encoded record ``line``
    holds (empty: :func:`redact` would not change the record; never empty when it would).
    A hint inside one of the safe JSON keys (``"token_counts":``) or inside a media value
    (a ``data:<type>;base64,`` URI) does not count."""
    found = _scanner().matches(line, json_line=True)
    if not found:
        return _NO_HINTS if found is not None else _ALL_HINTS
    hints: set[bytes] = set()
    media: list[tuple[int, int]] = []
    for index, end in found:
        needle = _LINE_NEEDLES[index]
        if needle in hints:
            continue
        if not _in_safe_key(line, index, end) and not _inert_hit(line, end - len(needle), end, media):
            hints.add(needle)
    return frozenset(hints) if hints else _NO_HINTS


def clean_line_check() -> Callable[[bytes], bool] | None:
    """A quick pre-test of :func:`line_hints` for one thread: the function it returns answers
    ``True`` only for a line where :func:`line_hints` finds nothing (one scan that stops at the
    first needle outside the usual safe keys), ``False`` for a line :func:`line_hints` must look
    at; ``None`` when the scanner in use has no such test."""
    return _scanner().clean_check()


def _never_clean(_line: bytes) -> bool:
    return False


_QUICK = threading.local()


def line_is_clean(line: bytes) -> bool:
    """``True`` only when :func:`line_hints` would find nothing in ``line`` (most lines, found
    faster than :func:`line_hints` finds it); ``False``: ask :func:`line_hints`. Thread-safe
    (each thread has its own :func:`clean_line_check`)."""
    check = getattr(_QUICK, "check", None)
    if check is None:
        check = _QUICK.check = clean_line_check() or _never_clean
    return check(line)


def line_may_hold_secret(line: bytes) -> bool:
    """``bool(line_hints(line))``."""
    return bool(line_hints(line))


_SAFE_KEYS: set[Any] = set()
_PLAIN_LEAVES = (int, float, bytes, bytearray, memoryview, type(None))


def _keys_flagged(keys: Any) -> bool:
    """Whether any of ``keys`` names a credential or holds one; safe keys are remembered."""
    if keys <= _SAFE_KEYS:  # a C-level subset test: the common case
        return False
    for key in keys:
        if key not in _SAFE_KEYS:
            if isinstance(key, str):
                if _key_kind(key) != _NONE or text_may_hold_secret(key):
                    return True
                if len(_SAFE_KEYS) < 100_000:
                    _SAFE_KEYS.add(key)
                    _remember_safe_hint_key(key)
            elif not isinstance(key, _PLAIN_LEAVES):
                return True  # an unusual key (a tuple, an enum, ...): let redact() decide
    return False


def record_needs_redaction(record: Any, hints: frozenset[bytes] | None = None) -> bool:
    """Whether :func:`redact` could change ``record``: never False when it would.

    A walk over the record's containers (any depth; a cycle or too deep a
    nesting answers True, and :func:`redact` then raises): every mapping key is
    checked, every string is searched (all of them at once); values of other
    kinds than numbers, strings, bytes and the usual containers answer True.
    ``hints``: from :func:`line_hints` on the record's line (only those are searched).
    """
    strings: list[str] = []
    stack: list[tuple[Any, int]] = [((record,), 0)]
    while stack:
        values, depth = stack.pop()
        if depth > MAX_NESTING:
            return True
        for value in values:
            kind = type(value)
            if kind is str:
                if not (value[:5] == "data:" and is_media(value)):
                    strings.append(value)
            elif kind is dict:
                if _keys_flagged(value.keys()):
                    return True
                stack.append((value.values(), depth + 1))
            elif kind is list or kind is tuple:
                stack.append((value, depth + 1))
            elif kind in _PLAIN_LEAVES or kind is bool:
                continue
            elif isinstance(value, str):
                if not is_media(value):
                    strings.append(value)
            elif isinstance(value, Mapping):
                if _keys_flagged(set(value.keys())):
                    return True
                stack.append((list(value.values()), depth + 1))
            elif isinstance(value, (list, tuple, AbstractSet)):
                stack.append((list(value), depth + 1))
            elif isinstance(value, _PLAIN_LEAVES):
                continue
            elif getattr(getattr(value, "dtype", None), "kind", "O") not in ("U", "S", "O"):
                continue  # numeric numpy/torch scalars and arrays
            else:
                return True
    if not strings:
        return False
    text = "\n".join(strings)
    # the hints inside the strings themselves (a line's hints may come from its keys only)
    found = _text_hints(text.encode("utf-8", "surrogatepass"))
    if hints is not None:
        found &= hints
    if found and text_may_hold_secret(text, found):
        return True
    if hints:  # the line had hints, none of them a credential: learn its short strings
        _remember_safe_values(strings)
    return False

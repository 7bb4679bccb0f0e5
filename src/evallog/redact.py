"""Redaction of credentials before anything is written (formats.md §12 #17-18).

The rule (README, "Secrets"): a credential is

1. **a value under a credential key.** A key names a credential when its last
   words (``camelCase``, ``kebab-case`` and ``snake_case`` split alike) are
   ``password``/``passwd``/``passphrase``/``pwd``/``pass``, ``secret``,
   ``credential(s)``, ``auth``/``authorization``/``oauth``, ``bearer``, ``cookie``,
   ``<api|access|secret|private|auth|client|...> key`` (also ``apikey``),
   ``<hf|access|auth|api|refresh|session|github|openai|...> token`` or a bare
   ``token``. ``token_counts``, ``max_tokens``, ``tokenizer``, ``pad_token``,
   ``score_key`` are not credential keys. In a mapping every string under such a
   key is replaced (numbers and booleans are kept); in free text ``key=value``,
   ``key: value`` (quoted or not, ``Authorization: Bearer x`` included) and CLI
   flags ``--key value`` / ``--key=value`` have their value replaced. The
   English-word keys ``token``, ``secret``, ``pass``, ``auth``,
   ``credential(s)``, ``bearer``, ``cookie`` followed by ``:`` only count when the
   value looks like a token (8+ characters mixing letters and digits, or 24+
   token characters): ``"NER tag for token: Paris"`` is prose.
2. **a value of a known shape**, wherever it appears (strings, dict keys, set
   members, any depth): Hugging Face, OpenAI, Anthropic, AWS key ids, GitHub,
   GitLab, Google API and OAuth, Slack, Stripe, npm, PyPI, Replicate, Groq
   tokens, JWTs, ``Bearer <token>``, PEM blocks (``-----BEGIN ...``), the
   userinfo of URLs (``https://user:password@host``), and a 40-character AWS
   secret key in a string that also holds an AWS key id. ``data:<type>;base64,...`` URIs are
   media, not text, and are left as they are.

Redaction returns a new value and never modifies its input. Nesting deeper
than :data:`MAX_NESTING` and cyclic values raise
:class:`~evallog.errors.SerializationError` (JSON cannot hold them anyway).

:func:`record_needs_redaction` is the fast pre-check of the samples' hot path:
it is *complete* (whenever :func:`redact` would change a record it returns
True; a property test holds it to that) and costs a few substring searches
per record: one pass over the record's strings joined, with the exact checks
run only where a hint (``key``, ``token``, ``hf_``, ``://``, ...) occurs.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import re
import string
import threading
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from evallog.errors import SerializationError
from evallog.schema import HARNESS_SAMPLE_KEYS

__all__ = [
    "MAX_NESTING",
    "REDACTED",
    "is_credential_key",
    "line_hints",
    "line_may_hold_secret",
    "record_needs_redaction",
    "redact",
    "redact_text",
    "text_may_hold_secret",
]

REDACTED = "[REDACTED]"
MAX_NESTING = 255  # the deepest JSON nesting evallog writes (orjson's own limit)

# ------------------------------------------------------------------ credential keys
_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_PARTS = re.compile(r"[^a-z0-9]+")
# last words that make a credential key on their own (also as the end of a longer word)
_SECRET_ENDINGS = (
    "password", "passwords", "passwd", "passphrase", "apikey", "apikeys", "secret", "secrets",
    "credential", "credentials", "privatekey",
)  # fmt: skip
_SECRET_WORDS = frozenset({"pwd", "pass", "auth", "authorization", "oauth", "bearer", "cookie", "cookies"})
_KEY_QUALIFIERS = frozenset(
    {"api", "access", "secret", "private", "auth", "master", "signing", "encryption", "ssh", "client",
     "subscription", "session", "account", "app", "service", "admin"}
)  # fmt: skip
_TOKEN_QUALIFIERS = frozenset(
    {"hf", "hub", "access", "auth", "api", "bearer", "refresh", "session", "github", "gh", "openai",
     "wandb", "id", "oauth", "bot", "slack", "secret", "personal", "csrf", "xsrf", "security", "client",
     "app", "user", "pat", "jwt", "login", "service", "admin"}
)  # fmt: skip
# single English words: as ``word: value`` in prose they need a token-looking value
_AMBIGUOUS = frozenset(
    {"token", "secret", "secrets", "pass", "auth", "credential", "credentials", "bearer", "cookie", "cookies"}
)
# every credential key, lowercased, contains one of these (the pre-check's hints)
_KEY_HINTS = ("key", "token", "secret", "pass", "pwd", "auth", "bearer", "credential", "cookie")

_NONE, _WEAK, _STRONG = 0, 1, 2
_KEY_CACHE: dict[str, int] = {}


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _classify(key: str) -> int:
    # ASCII case only (as bytes.lower() on an encoded line: the line pre-check relies on it)
    words = [w for w in _PARTS.split(_CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", key)).translate(_ASCII_LOWER)) if w]
    if not words:
        return _NONE
    last = words[-1]
    prev = words[-2] if len(words) > 1 else ""
    if len(words) == 1 and last in _AMBIGUOUS:
        return _WEAK
    if last in _SECRET_WORDS or last.endswith(_SECRET_ENDINGS):
        return _STRONG
    if last == "key" and prev in _KEY_QUALIFIERS:
        return _STRONG
    if last.endswith("key") and last[:-3] in _KEY_QUALIFIERS:  # secretkey, accesskey
        return _STRONG
    if last == "id" and prev == "key" and len(words) > 2 and words[-3] in _KEY_QUALIFIERS:  # access_key_id
        return _STRONG
    if last == "token" and prev in _TOKEN_QUALIFIERS:
        return _STRONG
    if last.endswith("token") and last[:-5] in _TOKEN_QUALIFIERS:  # hftoken, accesstoken
        return _STRONG
    return _NONE


def _key_kind(key: str) -> int:
    kind = _KEY_CACHE.get(key)
    if kind is None:
        kind = _classify(key) if len(key) <= 64 else _NONE
        if len(_KEY_CACHE) > 50_000:
            _KEY_CACHE.clear()
        _KEY_CACHE[key] = kind
    return kind


def is_credential_key(key: Any) -> bool:
    """True when a mapping key (or an argument name) names a credential."""
    return isinstance(key, str) and _key_kind(key) != _NONE


# ------------------------------------------------------------------ credential values in text
_TOKEN_VALUE = (
    r"(?<![A-Za-z0-9])(?:"
    r"hf_[A-Za-z0-9]{30,}"
    r"|sk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-|admin-)?(?=[A-Za-z_\-]*\d)[A-Za-z0-9_\-]{20,}"
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|ya29\.[0-9A-Za-z_\-]{20,}"
    r"|xox[abprse]-[A-Za-z0-9\-]{10,}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|npm_[A-Za-z0-9]{36}"
    r"|pypi-[A-Za-z0-9_\-]{50,}"
    r"|r8_[A-Za-z0-9]{30,}"
    r"|gsk_[A-Za-z0-9]{40,}"
    r"|eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*"
    r")"
)
_TOKEN_RE = re.compile(_TOKEN_VALUE)
# the literal start of every alternative above (the pre-check looks for these first)
_TOKEN_STARTS = (
    "hf_", "sk-", "sk_", "rk_", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "AIza", "ya29.", "xox", "glpat-", "npm_", "pypi-", "r8_", "gsk_", "eyJ",
)  # fmt: skip
_NEEDLE_OF = {t: t.encode() for t in _TOKEN_STARTS} | {h: h.encode() for h in _KEY_HINTS}
_AWS_ID_RE = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}")
_AWS_SECRET_RE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_PEM_RE = re.compile(r"-----BEGIN[^\n]*?-----[\s\S]*?(?:-----END[^\n]*?-----|\Z)")
_USERINFO_RE = re.compile(r"(?<=://)[^\s/?#@:]+:[^\s/?#]*@")
_KV_RE = re.compile(
    r"(?<![A-Za-z0-9_\-])(?P<q>[\"']?)(?P<key>[A-Za-z][A-Za-z0-9_\-]{0,63})(?P=q)(?P<sep>[ \t]*[=:][ \t]*)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|(?ai:bearer|basic|token|digest)[ \t]+[^\s,;&\"'}\]]+|[^\s,;&\"'}\]]+)"
)
_FLAG_RE = re.compile(
    r"(?<![A-Za-z0-9_\-])--(?P<key>[A-Za-z][A-Za-z0-9_\-]{0,63})(?P<sep>[ \t]+|=)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|(?!-)[^\s\"']+)"
)
_BEARER_RE = re.compile(r"(?<![A-Za-z0-9_\-])(?P<scheme>(?ai:bearer))[ \t]+(?P<value>[A-Za-z0-9\-._~+/]+=*)")
_TOKENISH_CHARS = re.compile(r"[A-Za-z0-9\-._~+/=]+")
_SCHEME_VALUE = re.compile(r"(?ai:bearer|basic|token|digest)[ \t]+")


def _tokenish(value: str) -> bool:
    """Whether ``value`` looks like a token rather than a word."""
    if len(value) < 8 or _TOKENISH_CHARS.fullmatch(value) is None:
        return False
    if len(value) >= 24 or _TOKEN_RE.match(value) is not None:
        return True
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _redact_value(value: str) -> str:
    if value[:1] in "\"'" and len(value) >= 2:
        return f"{value[0]}{REDACTED}{value[0]}"
    scheme = _SCHEME_VALUE.match(value)
    return f"{scheme.group(0)}{REDACTED}" if scheme is not None else REDACTED


def _redact_pair(m: re.Match[str]) -> str:
    kind = _key_kind(m["key"])
    if kind == _NONE:
        return m.group(0)
    value = m["value"]
    if kind == _WEAK and "=" not in m["sep"]:
        bare = _SCHEME_VALUE.sub("", value.strip("\"'"), count=1)
        if not _tokenish(bare):
            return m.group(0)
    return m.group(0)[: m.start("value") - m.start()] + _redact_value(value)


def _redact_flag(m: re.Match[str]) -> str:
    if _key_kind(m["key"]) == _NONE:
        return m.group(0)
    return f"--{m['key']}{m['sep']}{_redact_value(m['value'])}"


def _redact_bearer(m: re.Match[str]) -> str:
    return f"{m['scheme']} {REDACTED}" if _tokenish(m["value"]) else m.group(0)


_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _assignment_at(text: str, low: str, i: int, hint: str) -> bool:
    """Whether the word around ``low[i:i+len(hint)]`` is a credential key used as one."""
    start = i
    while start > 0 and text[start - 1] in _WORD_CHARS:
        start -= 1
    end = i + len(hint)
    n = len(text)
    while end < n and text[end] in _WORD_CHARS:
        end += 1
    word = text[start:end]
    bare = word.lstrip("-_0123456789")
    if not bare or _key_kind(bare) == _NONE:
        return False
    j = end
    if j < n and text[j] in "\"'":
        j += 1
    while j < n and text[j] in " \t":
        j += 1
    if j < n and text[j] in "=:":
        return True
    if word.startswith("-") and end < n and text[end] in " \t=":
        return True  # --flag value
    return bare.translate(_ASCII_LOWER) == "bearer" and end < n and text[end] in " \t"


def text_may_hold_secret(text: str, needles: frozenset[bytes] | None = None) -> bool:
    """Whether :func:`redact_text` could change ``text`` (exact where it matters, never
    False when a rule applies): substring searches, then a check at each hit.

    ``needles``: only the hints of :data:`_LINE_NEEDLES` known to occur in ``text``
    (from the line pre-check); ``None``: all of them.
    """
    for start in _TOKEN_STARTS if needles is None else [t for t in _TOKEN_STARTS if _NEEDLE_OF[t] in needles]:
        i = text.find(start)
        while i != -1:
            if _TOKEN_RE.match(text, i) is not None:
                return True
            i = text.find(start, i + 1)
    if (needles is None or b"-----BEGIN" in needles) and "-----BEGIN" in text:
        return True
    if needles is None or b"://" in needles:
        i = text.find("://")
        while i != -1:
            if _USERINFO_RE.match(text, i + 3) is not None:
                return True
            i = text.find("://", i + 1)
    hints = _KEY_HINTS if needles is None else [h for h in _KEY_HINTS if _NEEDLE_OF[h] in needles]
    if not hints:
        return False
    # a lower-case copy with the same positions as text: str.lower() (fast; it may also map a
    # few non-ASCII letters to ASCII ones, which only adds candidates), else ASCII-only mapping
    low = text.lower()
    if len(low) != len(text):
        low = text.translate(_ASCII_LOWER)
    for hint in hints:
        i = low.find(hint)
        while i != -1:
            if _assignment_at(text, low, i, hint):
                return True
            i = low.find(hint, i + 1)
    return False


_DATA_URI_HEAD = re.compile(r"data:[\w.+-]+/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,")
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def is_media(text: str) -> bool:
    """A ``data:<type>;base64,<payload>`` URI: media, not text (its payload is never redacted:
    base64 holds no credential shapes to find, and editing it would corrupt the media)."""
    if not text.startswith("data:"):
        return False
    head = _DATA_URI_HEAD.match(text, 0, 200)
    if head is None:
        return False
    payload = text[head.end() :].rstrip("=")
    return payload.isascii() and not payload.encode("ascii").translate(None, _BASE64)


def redact_text(text: str) -> str:
    """``text`` with credentials replaced (the rule in the module docstring)."""
    if not text_may_hold_secret(text) or is_media(text):
        return text
    out = _PEM_RE.sub(REDACTED, text)
    out = _USERINFO_RE.sub(REDACTED + "@", out)
    out = _KV_RE.sub(_redact_pair, out)
    out = _FLAG_RE.sub(_redact_flag, out)
    out = _BEARER_RE.sub(_redact_bearer, out)
    if _AWS_ID_RE.search(out) is not None:
        out = _AWS_SECRET_RE.sub(REDACTED, out)
    out = _TOKEN_RE.sub(REDACTED, out)
    return text if out == text else out


# ------------------------------------------------------------------ walking values
class _Walk:
    """One redaction walk: knows the containers on the current path (cycles) and the depth."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active: set[int] = set()

    def enter(self, value: Any, depth: int) -> None:
        if depth > MAX_NESTING:
            raise SerializationError(f"value nested deeper than {MAX_NESTING} levels")
        if id(value) in self.active:
            raise SerializationError(f"value contains itself (a {type(value).__name__} cycle)")
        self.active.add(id(value))

    def value(self, value: Any, depth: int, under_key: bool = False) -> Any:
        if isinstance(value, str):
            if under_key:
                return REDACTED if value else value
            new = redact_text(value)
            return value if new == value else new
        if isinstance(value, (int, float, bytes, bytearray, memoryview)) or value is None:
            return value
        if isinstance(value, Mapping):
            return self.mapping(value, depth, under_key)
        if isinstance(value, (list, tuple, AbstractSet)):
            return self.sequence(value, depth, under_key)
        if isinstance(value, enum.Enum):
            new = self.value(value.value, depth + 1, under_key)
            return value if new is value.value else new
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            new = self.mapping(fields, depth, under_key)
            return value if new is fields else new
        dtype = getattr(value, "dtype", None)
        if getattr(dtype, "kind", "") in ("U", "S", "O") and hasattr(value, "tolist"):  # str/object arrays
            plain = value.tolist()
            new = self.value(plain, depth + 1, under_key)
            return value if new is plain or new == plain else new
        return value

    def mapping(self, value: Mapping[Any, Any], depth: int, under_key: bool) -> Any:
        self.enter(value, depth)
        changed = False
        out: dict[Any, Any] = {}
        for k, v in value.items():
            new_key = k
            if isinstance(k, str):
                new_key = redact_text(k)
                changed = changed or new_key != k
            new = self.value(v, depth + 1, under_key or is_credential_key(k))
            changed = changed or new is not v
            if new_key in out:  # two keys redacted alike: keep both
                n = 2
                while f"{new_key} ({n})" in out:
                    n += 1
                new_key = f"{new_key} ({n})"
            out[new_key] = new
        self.active.discard(id(value))
        return out if changed else value

    def sequence(self, value: Any, depth: int, under_key: bool) -> Any:
        self.enter(value, depth)
        items = [self.value(v, depth + 1, under_key) for v in value]
        self.active.discard(id(value))
        if all(a is b for a, b in zip(items, value)):
            return value
        if isinstance(value, tuple):
            return tuple(items)
        if isinstance(value, AbstractSet):
            return frozenset(items) if isinstance(value, frozenset) else set(items)
        return items


def redact(value: Any) -> Any:
    """A copy of ``value`` with credentials replaced by ``"[REDACTED]"``.

    Containers that need no change are returned as they are (not copied); the
    input is never modified. Mappings of any kind come back as ``dict``, sets
    as sets. Raises :class:`SerializationError` on cycles and on nesting deeper
    than :data:`MAX_NESTING`.
    """
    return _Walk().value(value, 0)


# ------------------------------------------------------------------ the samples' pre-check
# Stage 1, on the encoded JSON line (bytes): every rule above needs one of these ASCII
# sequences (key hints, ASCII case ignored as the key rules do; the token, PEM and URL starts,
# case kept as their patterns do), and JSON encoding keeps them as they are. One pass of a
# multi-pattern search: Hyperscan (SIMD, x86-64) or Aho-Corasick (Rust, elsewhere), whichever
# is installed; the substring searches of the stdlib otherwise (correct, slower).
_CASELESS_NEEDLES = frozenset(h.encode() for h in _KEY_HINTS)
_LINE_NEEDLES = tuple(sorted(_CASELESS_NEEDLES | {t.encode() for t in _TOKEN_STARTS} | {b"-----BEGIN", b"://"}))


_MAX_LINE_HITS = 4096  # more occurrences than this in one line: every hint counts (stage 2 decides)


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

            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            db.compile(
                expressions=[re.escape(n.decode()).encode() for n in _LINE_NEEDLES],
                ids=list(range(len(_LINE_NEEDLES))),
                elements=len(_LINE_NEEDLES),
                flags=[hyperscan.HS_FLAG_CASELESS if n in _CASELESS_NEEDLES else 0 for n in _LINE_NEEDLES],
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
    def _on_match(index: int, _start: int, end: int, _flags: int, found: list[tuple[int, int]]) -> bool:
        found.append((index, end))
        return len(found) > _MAX_LINE_HITS  # True ends the scan

    def matches(self, line: bytes) -> list[tuple[int, int]] | None:
        """``(needle index, end offset)`` of every occurrence; ``None`` when there are more
        than :data:`_MAX_LINE_HITS` of them."""
        if self._hs is not None:
            scratch = getattr(self._local, "scratch", None)
            if scratch is None:  # one scratch space per thread (log_sample is thread-safe)
                scratch = self._local.scratch = self._hs_module.Scratch(self._hs)
            found: list[tuple[int, int]] = []
            try:
                self._hs.scan(line, match_event_handler=self._on_match, context=found, scratch=scratch)
            except self._hs_module.ScanTerminated:
                return None
            return found
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
    if line.startswith(b"data:", q + 1):
        head = _DATA_URI_HEAD_BYTES.match(line, q + 1, min(e, q + 201))
        # the payload base64 only (no escape: the closing quote is not escaped either)
        if head is not None and not line[head.end() : e].rstrip(b"=").translate(None, _BASE64):
            media.append((q, e))
            return True
    return False


def _scanner() -> _LineScanner:
    global _SCANNER
    scanner = _SCANNER
    if scanner is None:
        scanner = _SCANNER = _LineScanner()
    return scanner


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
    found = _scanner().matches(line)
    if not found:
        return _NO_HINTS if found is not None else _ALL_HINTS
    hints: set[bytes] = set()
    media: list[tuple[int, int]] = []
    for index, end in found:
        needle = _LINE_NEEDLES[index]
        if needle in hints:
            continue
        start = end - len(needle)
        for key, at in _SAFE_KEY_AT.get(index, ()):  # the usual safe keys (``"token_counts":``)
            at = start - at
            # an unescaped quote opens the key (no needle occurs outside a JSON string)
            if at >= 0 and line.startswith(key, at) and (at == 0 or line[at - 1] != 0x5C):
                break
        else:
            if not _inert_hit(line, start, end, media):
                hints.add(needle)
    return frozenset(hints) if hints else _NO_HINTS


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

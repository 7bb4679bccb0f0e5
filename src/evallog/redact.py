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

:mod:`evallog.precheck` holds the fast pre-check of the samples' hot path
(whether :func:`redact` could change a record), built on the hints below.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import string
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from evallog.errors import SerializationError

__all__ = [
    "MAX_NESTING",
    "REDACTED",
    "is_credential_key",
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

"""Redaction of credentials before anything is written (formats.md §12 #17-18).

Three rules, applied to any JSON-like value:

1. the value of a key that *names* a credential (``api_key``, ``hf_token``,
   ``access_token``, ``secret``, ``password``, ``OPENAI_API_KEY``, ...) is
   replaced by ``"[REDACTED]"``; data keys that merely contain such words
   (``token_counts``, ``max_tokens``, ``score_key``, ``tokenizer_pad_token``)
   are kept;
2. inside strings, ``key=value`` pairs whose key names a credential (the
   ``model_args`` style ``pretrained=x,api_key=...``) get their value replaced;
3. anything that looks like a known token (``hf_...``, ``sk-...``,
   ``AKIA...``, ``ghp_...``, ...) is replaced wherever it appears.

Redaction returns a new value and never modifies its input. Results files
are redacted in full. For samples, :func:`record_needs_redaction` is a fast
walk that decides whether :func:`redact` is needed: every key is checked, but
only strings up to :data:`SAMPLE_STRING_LIMIT` characters are searched for
token values (longer strings are prompts, generations and media), so that the
hot path pays a few microseconds a sample.
"""

from __future__ import annotations

import re
from typing import Any

from evallog.schema import HARNESS_SAMPLE_KEYS

__all__ = ["REDACTED", "is_credential_key", "redact", "redact_text", "record_needs_redaction"]

REDACTED = "[REDACTED]"

# key names (case-insensitive, '-' and '_' equivalent) that hold credentials
_SECRET_WORDS = (
    r"api_?key|apikey|secret|secret_?key|client_?secret|password|passwd|passphrase|"
    r"private_?key|access_?key(?:_?id)?|credentials?|auth(?:orization)?|bearer"
)
_TOKEN_PREFIXES = r"hf|hugging_?face(?:_hub)?|access|auth|api|bearer|refresh|session|github|gh|openai|wandb|id|oauth|bot|slack|secret|personal_access"
_KEY_PATTERN = (
    rf"(?:[a-z0-9]+_)*(?:{_SECRET_WORDS})"  # openai_api_key, aws_secret_access_key, password
    rf"|(?:[a-z0-9]+_)*(?:{_TOKEN_PREFIXES})_?token"  # hf_token, HUGGING_FACE_HUB_TOKEN
    r"|token"  # a bare "token" argument (the trackers' own parameter name)
)
_KEY_RE = re.compile(rf"(?:{_KEY_PATTERN})", re.IGNORECASE)

# values that look like tokens of well-known services
_TOKEN_VALUE = (
    r"(?<![A-Za-z0-9])(?:"
    r"hf_[A-Za-z0-9]{30,}"
    r"|sk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_\-]{20,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}"
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|glpat-[A-Za-z0-9_\-]{20}"
    r")"
)
_TOKEN_RE = re.compile(_TOKEN_VALUE)

# candidate ``word = value`` / ``word: value`` pairs inside strings (model_args, metadata,
# command lines); whether ``word`` names a credential is decided by is_credential_key
_KV_RE = re.compile(
    r"(?<![A-Za-z0-9_\-])(?P<key>[A-Za-z][A-Za-z0-9_\-]{0,63})(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^,\s;&]+)"
)

_KEY_CACHE: dict[str, bool] = {}


def _normalize_key(key: str) -> str:
    return key.strip().replace("-", "_")


def is_credential_key(key: Any) -> bool:
    """True when a mapping key names a credential."""
    if not isinstance(key, str):
        return False
    cached = _KEY_CACHE.get(key)
    if cached is None:
        cached = _KEY_RE.fullmatch(_normalize_key(key)) is not None
        if len(_KEY_CACHE) > 50_000:
            _KEY_CACHE.clear()
        _KEY_CACHE[key] = cached
    return cached


def _redact_pair(m: re.Match[str]) -> str:
    if is_credential_key(m["key"]):
        return f"{m['key']}{m['sep']}{REDACTED}"
    return m.group(0)


def redact_text(text: str) -> str:
    """Redact ``key=value`` credentials and token-looking substrings of a string."""
    if "=" in text or ":" in text:
        text = _KV_RE.sub(_redact_pair, text)
    return _TOKEN_RE.sub(REDACTED, text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with credentials replaced by ``"[REDACTED]"``.

    Containers that need no change are returned as they are (not copied);
    the input is never modified.
    """
    if isinstance(value, str):
        return redact_text(value)
    if _depth > 200:
        return value
    if isinstance(value, dict):
        out = None
        for i, (k, v) in enumerate(value.items()):
            if is_credential_key(k):
                new = _redact_all_strings(v)
            else:
                new = redact(v, _depth + 1)
            if new is not v and not (isinstance(v, str) and new == v) and out is None:
                out = dict(list(value.items())[:i])
            if out is not None:
                out[k] = new
        return value if out is None else out
    if isinstance(value, (list, tuple)):
        items = [redact(v, _depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def _redact_all_strings(value: Any) -> Any:
    """Under a credential key: every non-empty string is a secret; flags and numbers are kept."""
    if isinstance(value, str):
        return REDACTED if value else value
    if isinstance(value, dict):
        return {k: _redact_all_strings(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_all_strings(v) for v in value]
    return value


# strings longer than this in samples are texts (prompts, generations, base64 media):
# only credential-named keys, ``key=value`` pieces and token-looking values in shorter
# strings are looked for there, so that the check costs a few microseconds a sample
SAMPLE_STRING_LIMIT = 256
_HARNESS_KEYS = HARNESS_SAMPLE_KEYS
_SAFE_KEYS: set[Any] = set()
# the literal starts of the _TOKEN_VALUE alternatives, and words every credential key contains
_TOKEN_PREFIXES_ALWAYS = ("AKIA", "ASIA", "AIza")
_TOKEN_PREFIXES_UNDERSCORE = ("hf_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
_TOKEN_PREFIXES_DASH = ("sk-", "xox", "glpat-")
_KEY_HINTS = ("key", "token", "secret", "pass", "auth", "bearer", "credential")
# the word just before an "=" (searched in a window ending at the "=")
_WORD_BEFORE = re.compile(r"(?<![A-Za-z0-9_\-])([A-Za-z][A-Za-z0-9_\-]{0,63})\s*\Z")


def _has_token(text: str) -> bool:
    """A token-looking value in ``text``: substring search for each literal prefix, then
    the full pattern at the few places found (much faster than scanning with the regex)."""
    prefixes: tuple[str, ...] = _TOKEN_PREFIXES_ALWAYS
    if "_" in text:
        prefixes += _TOKEN_PREFIXES_UNDERSCORE
    if "-" in text:
        prefixes += _TOKEN_PREFIXES_DASH
    for prefix in prefixes:
        i = text.find(prefix)
        while i != -1:
            if _TOKEN_RE.match(text, i):
                return True
            i = text.find(prefix, i + 1)
    return False


def _has_credential_assignment(text: str) -> bool:
    low = text.lower()
    if not any(hint in low for hint in _KEY_HINTS):
        return False
    i = text.find("=")
    while i != -1:
        m = _WORD_BEFORE.search(text, max(0, i - 80), i)
        if m is not None and is_credential_key(m[1]):
            return True
        i = text.find("=", i + 1)
    return False


def _string_may_hold_secret(value: str) -> bool:
    return _has_token(value) or ("=" in value and _has_credential_assignment(value))


def _keys_flagged(keys: Any) -> bool:
    """Whether any of ``keys`` names a credential; keys found safe are remembered."""
    if keys <= _SAFE_KEYS:  # a C-level subset test: the common case
        return False
    for key in keys:
        if key not in _SAFE_KEYS:
            if is_credential_key(key):
                return True
            if len(_SAFE_KEYS) < 100_000 and isinstance(key, str):
                _SAFE_KEYS.add(key)
    return False


def record_needs_redaction(record: Any) -> bool:
    """Whether :func:`redact` could change a sample record (a fast walk over its structure).

    Every mapping key is checked (credential names; keys found safe are
    remembered); strings of up to :data:`SAMPLE_STRING_LIMIT` characters are
    searched for token-looking values and ``key=value`` credentials. Longer
    strings are texts and are not searched: results files, by contrast, are
    redacted in full. The harness's own bookkeeping at the top level
    (``resps`` as number strings, hashes, ``token_counts``) is not searched.
    """
    limit = SAMPLE_STRING_LIMIT
    short: list[str] = []  # searched together, in one pass
    stack: list[Any] = []
    if type(record) is dict:
        if _keys_flagged(record.keys()):
            return True
        values: Any = [v for k, v in record.items() if k not in _HARNESS_KEYS]
    else:
        values = (record,)
    while True:
        for value in values:
            kind = type(value)
            if kind is str:
                if 6 < len(value) <= limit:
                    short.append(value)
            elif kind is dict:
                if _keys_flagged(value.keys()):
                    return True
                stack.append(value.values())
            elif kind is list or kind is tuple:
                stack.append(value)
        if not stack:
            break
        values = stack.pop()
    return bool(short) and _string_may_hold_secret("\n".join(short))

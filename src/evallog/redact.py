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

Redaction returns a new value and never modifies its input. For samples,
:func:`line_may_need_redaction` is a cheap pre-check on the encoded bytes so
that the hot path pays one regular-expression scan per line.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "is_credential_key", "redact", "redact_text", "line_may_need_redaction"]

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

# pre-check on an encoded JSON line: its keys, its ``word=`` pieces, and token-looking values
_JSON_KEY_RE = re.compile(rb'"([^"\\]{1,64})"\s*:')
_ASSIGN_RE = re.compile(rb"(?<![A-Za-z0-9_\-])([A-Za-z][A-Za-z0-9_\-]{0,63})\s*[=:]")
_TOKEN_BYTES_RE = re.compile(_TOKEN_VALUE.encode())
_KEY_CACHE: dict[str, bool] = {}
# substrings (lowercase) without which no credential key / token value can be present
_KEY_HINTS = re.compile(rb"key|secret|pass|credential|auth|bearer|token")
_VALUE_HINTS = re.compile(rb"hf_|sk-|akia|asia|gh[pousr]_|github_pat_|aiza|xox|glpat-")


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


def line_may_need_redaction(line: bytes) -> bool:
    """Cheap test on an encoded JSON line; False means :func:`redact` would change nothing."""
    low = line.lower()
    if b"token_counts" in low:  # lmms-eval's per-sample key: not a credential
        low = low.replace(b"token_counts", b"")
    if _KEY_HINTS.search(low):
        for raw in _JSON_KEY_RE.findall(line):
            if is_credential_key(raw.decode("utf-8", "replace")):
                return True
        for raw in _ASSIGN_RE.findall(line):
            if is_credential_key(raw.decode("ascii")):
                return True
    if _VALUE_HINTS.search(low):
        return _TOKEN_BYTES_RE.search(line) is not None
    return False

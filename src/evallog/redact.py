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

# key=value pairs inside strings (model_args, metadata strings, command lines)
_KV_RE = re.compile(
    rf"(?P<key>(?<![A-Za-z0-9_])(?:{_KEY_PATTERN}))(?P<sep>\s*[=:]\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^,\s;&]+)",
    re.IGNORECASE,
)

# pre-check on an encoded JSON line: a credential key, or a token-looking value
_LINE_RE = re.compile(
    rb'"(?:' + _KEY_PATTERN.encode() + rb')"\s*:' + rb"|" + _TOKEN_VALUE.encode() + rb"|" + rb"(?:"
    + _KEY_PATTERN.encode()
    + rb")\s*=",
    re.IGNORECASE,
)


def _normalize_key(key: str) -> str:
    return key.strip().replace("-", "_")


def is_credential_key(key: Any) -> bool:
    """True when a mapping key names a credential."""
    return isinstance(key, str) and _KEY_RE.fullmatch(_normalize_key(key)) is not None


def redact_text(text: str) -> str:
    """Redact ``key=value`` credentials and token-looking substrings of a string."""
    if "=" in text or ":" in text:
        text = _KV_RE.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
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
    return _LINE_RE.search(line) is not None

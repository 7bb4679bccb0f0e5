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
# the same tokens without the leading look-behind, so that the regex engine can skip
# ahead to the prefixes' first characters (a fast pre-check; _TOKEN_RE decides)
_TOKEN_PREFIX_RE = re.compile(_TOKEN_VALUE.replace("(?<![A-Za-z0-9])", "", 1))

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
SAMPLE_STRING_LIMIT = 512
_HARNESS_KEYS = frozenset(
    {"doc_id", "resps", "filtered_resps", "filter", "metrics", "doc_hash", "prompt_hash", "target_hash", "token_counts"}
)
_ASSIGN_STR_RE = re.compile(r"(?<![A-Za-z0-9_\-])([A-Za-z][A-Za-z0-9_\-]{0,63})\s*=")


def _string_may_hold_secret(value: str) -> bool:
    # every token pattern has "_" or "-", or starts with AKIA / ASIA / AIza
    if ("_" in value or "-" in value or "AKIA" in value or "ASIA" in value or "AIza" in value) and (
        _TOKEN_PREFIX_RE.search(value) and _TOKEN_RE.search(value)
    ):
        return True
    if "=" in value:
        return any(is_credential_key(word) for word in _ASSIGN_STR_RE.findall(value))
    return False


def record_needs_redaction(record: Any) -> bool:
    """Whether :func:`redact` could change a sample record (a fast walk over its structure).

    Every mapping key is checked (credential names, cached); strings of up to
    :data:`SAMPLE_STRING_LIMIT` characters are searched for token-looking
    values and ``key=value`` credentials. Longer strings are texts and are not
    searched: results files, by contrast, are redacted in full.
    """
    cache = _KEY_CACHE
    limit = SAMPLE_STRING_LIMIT
    if type(record) is dict:
        # the harness's own bookkeeping (responses as number strings, hashes) holds no secrets
        stack = [v for k, v in record.items() if k not in _HARNESS_KEYS]
        stack.append({k: None for k in record})  # the top-level keys themselves
    else:
        stack = [record]
    seen: set[int] = set()  # the same prompt string often stands in several requests
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if kind is str:
            if len(obj) <= limit and id(obj) not in seen:
                seen.add(id(obj))
                if _string_may_hold_secret(obj):
                    return True
            continue
        if kind is dict:
            for key in obj:
                flagged = cache.get(key)
                if flagged is None:
                    flagged = is_credential_key(key)
                if flagged:
                    return True
            values = obj.values()
        elif kind is list or kind is tuple:
            values = obj
        else:
            continue
        for value in values:
            kind = type(value)
            if kind is str:
                if len(value) <= limit and id(value) not in seen:
                    seen.add(id(value))
                    if _string_may_hold_secret(value):
                        return True
            elif kind is dict or kind is list or kind is tuple:
                stack.append(value)
    return False

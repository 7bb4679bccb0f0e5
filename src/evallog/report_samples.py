"""Compact sample records for the report page: texts shortened, media described, metrics picked out.

Split from :mod:`evallog.report` (which re-exports the public names).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from evallog.schema import SAMPLE_FIELD_KEYS
from evallog.tally import correctness

DEFAULT_MAX_TEXT = 2_000
"""Characters kept of one text field (prompt, target, response, document)."""
_MAX_LIST_ITEMS = 64
_MAX_DICT_KEYS = 64
_MAX_DEPTH = 6
# --------------------------------------------------------------------------- text compaction

_DATA_URI = re.compile(r"data:([\w.+-]+/[\w.+-]+)?((?:;[\w.+-]+=[\w.+-]+)*)(;base64)?,", re.I)
_DATA_URI_BODY = re.compile(r"data:([\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=]{32,}", re.I)
_BASE64ISH = re.compile(r"[A-Za-z0-9+/=\r\n]+")
_MEDIA_TYPES = {"image", "video", "audio", "bytes", "array", "tensor"}


def _human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _data_uri_label(match: re.Match[str], total_len: int) -> str:
    mime = match.group(1) or "data"
    payload = total_len - match.end()
    size = payload * 3 // 4 if match.group(3) else payload
    return f"[{mime.lower()}, {_human_bytes(size)} inline]"


def _sub_data_uri(match: re.Match[str]) -> str:
    mime = match.group(1) or "data"
    payload = len(match.group(0)) - match.group(0).index(",") - 1
    return f"[{mime.lower()}, {_human_bytes(payload * 3 // 4)} inline]"


def _looks_base64(text: str) -> bool:
    head = text[:4096]
    return (
        _BASE64ISH.fullmatch(head) is not None
        and any(c.isdigit() for c in head) and any(c.islower() for c in head) and any(c.isupper() for c in head)
    )


def compact_text(text: str, max_text: int = DEFAULT_MAX_TEXT) -> str:
    """``text`` as the page shows it: media payloads labelled, at most ``max_text`` characters kept.

    A longer text keeps its first third and its last two thirds around a
    marker saying how much was cut: the end of a few-shot prompt is the
    question, the end of a response its final answer.
    """
    if text.startswith("data:"):
        m = _DATA_URI.match(text)
        if m:
            return _data_uri_label(m, len(text))
    if len(text) > 512 and ";base64," in text:
        text = _DATA_URI_BODY.sub(_sub_data_uri, text)
    if len(text) > 1024 and _looks_base64(text):
        return f"[binary data, {len(text):,} characters]"
    if len(text) > max_text:
        head = max_text // 3
        tail = max_text - head
        return f"{text[:head]} \u2026 [{len(text) - max_text:,} characters cut] \u2026 {text[-tail:]}"
    return text


def _media_label(value: Mapping[str, Any]) -> str | None:
    """A short label for a described or HF-style media value, else ``None``."""
    kind = value.get("type")
    if isinstance(kind, str) and kind in _MEDIA_TYPES and ("sha256" in value or "shape" in value or "size" in value):
        parts = [kind]
        size = value.get("size")
        if kind == "image" and isinstance(size, list) and len(size) == 2:
            parts.append(f"{size[0]}\u00d7{size[1]}")
            if value.get("mode"):
                parts.append(str(value["mode"]))
        elif isinstance(size, int):
            parts.append(_human_bytes(size))
        if isinstance(value.get("shape"), list):
            parts.append("shape " + "\u00d7".join(str(s) for s in value["shape"]))
        digest = value.get("sha256")
        if isinstance(digest, str):
            parts.append(f"sha256 {digest[:12]}")
        return "[" + ", ".join(parts) + "]"
    if "bytes" in value and "path" in value and len(value) <= 3:  # datasets.Image storage
        data = value.get("bytes")
        size = len(data) if isinstance(data, (str, bytes)) else None
        path = value.get("path")
        label = "[image" + (f" {path}" if isinstance(path, str) and path else "")
        return label + (f", {_human_bytes(size)}]" if size else "]")
    return None


def compact_value(value: Any, max_text: int = DEFAULT_MAX_TEXT, _depth: int = 0) -> Any:
    """A JSON value cut down for the page: texts compacted, media labelled, big containers capped."""
    if isinstance(value, str):
        return compact_text(value, max_text)
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth >= _MAX_DEPTH:
        return compact_text(_as_json(value), max_text)
    if isinstance(value, Mapping):
        label = _media_label(value)
        if label is not None:
            return label
        out: dict[str, Any] = {}
        for n, (k, v) in enumerate(value.items()):
            if n == _MAX_DICT_KEYS:
                out["\u2026"] = f"{len(value) - n} more keys"
                break
            out[str(k)] = compact_value(v, max_text, _depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        items = [compact_value(v, max_text, _depth + 1) for v in value[:_MAX_LIST_ITEMS]]
        if len(value) > _MAX_LIST_ITEMS:
            items.append(f"\u2026 {len(value) - _MAX_LIST_ITEMS} more items")
        return items
    return compact_text(str(value), max_text)


def _as_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _as_text(value: Any) -> str:
    """Display text of a response / target / prompt value (single-element lists unwrapped)."""
    while isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return _as_json(value)


# --------------------------------------------------------------------------- sample records

# keys that compact_sample reads itself; everything else that is not a metric goes to "x"
_SAMPLE_KEYS = SAMPLE_FIELD_KEYS
_BOOL_TEXT = {"True": True, "False": False}


def _loglikelihoods(value: Any) -> list[tuple[float, bool | None]] | None:
    """``[[ll, is_greedy], ...]`` (strings after sanitize_list, or numbers) -> pairs; else ``None``."""
    if not isinstance(value, list) or not value:
        return None
    out: list[tuple[float, bool | None]] = []
    for item in value:
        while isinstance(item, list) and len(item) == 1 and isinstance(item[0], list):
            item = item[0]
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None
        ll, greedy = item
        try:
            ll_f = float(ll)
        except (TypeError, ValueError):
            return None
        if isinstance(greedy, str):
            if greedy not in _BOOL_TEXT:
                return None
            greedy = _BOOL_TEXT[greedy]
        elif not isinstance(greedy, bool):
            return None
        out.append((ll_f, greedy))
    return out


def _requests(sample: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """(first argument, second argument) of each request of the sample, whatever its shape."""
    args = sample.get("arguments")
    reqs: list[tuple[Any, Any]] = []
    if isinstance(args, Mapping):  # lm-eval file: {"gen_args_0": {"arg_0": ..., "arg_1": ...}}
        for req in args.values():
            if isinstance(req, Mapping):
                reqs.append((req.get("arg_0"), req.get("arg_1")))
    elif isinstance(args, list):  # pre-tracker shape: list of argument tuples
        for req in args:
            if isinstance(req, (list, tuple)):
                reqs.append((req[0] if req else None, req[1] if len(req) > 1 else None))
    if not reqs and "input" in sample:  # lmms-eval file: input = first argument of the first request
        inp = sample["input"]
        if isinstance(inp, list) and inp:
            reqs.append((inp[0], inp[1] if len(inp) > 1 else None))
        else:
            reqs.append((inp, None))
    return reqs


def _metric_value(value: Any, max_text: int) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return compact_text(value, max_text) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return compact_text(_as_json(value), max_text)


_correct = correctness  # 1 / 0 when the main metric of a sample says right / wrong, else None


def sample_metrics(sample: Mapping[str, Any], result_metrics: Sequence[str] = ()) -> list[str]:
    """Names of the per-sample metrics of ``sample``, main metric first.

    The sample's own ``metrics`` list (lm-eval) when it has one, else the
    metrics the results report for the task that the sample carries, else
    every key that holds a number or a dict and is not a known sample field.
    """
    from evallog.schema import NON_METRIC_SAMPLE_KEYS

    listed = sample.get("metrics")
    if isinstance(listed, list) and listed and all(isinstance(m, str) for m in listed):
        return list(dict.fromkeys(listed))
    present = [m for m in dict.fromkeys(result_metrics) if m in sample]
    if present:
        return present
    return [
        k for k, v in sample.items()
        if k not in NON_METRIC_SAMPLE_KEYS and isinstance(v, (int, float, bool, dict))
    ]


def compact_sample(
    sample: Mapping[str, Any],
    *,
    metrics: Sequence[str],
    filter_index: int,
    max_text: int = DEFAULT_MAX_TEXT,
) -> dict[str, Any]:
    """The page's record of one sample line (lm-eval or lmms-eval shape, formats.md §4.2-4.3).

    Keys: ``d`` doc id, ``f`` filter index, ``v`` metric values (in ``metrics``
    order), ``c`` correct (1/0/None from the main metric), ``i`` prompt, ``t``
    target, ``r`` response, and when they apply ``rr`` raw response, ``ch``
    choices, ``ti`` index of the target choice, ``p`` predicted choice,
    ``ll`` log-likelihoods, ``x`` the other fields (document, token counts,
    media labels).
    """
    rec: dict[str, Any] = {"d": sample.get("doc_id"), "f": filter_index}
    values = [_metric_value(sample.get(m), max_text) for m in metrics]
    rec["v"] = values
    rec["c"] = _correct(sample.get(metrics[0])) if metrics else None

    reqs = _requests(sample)
    prompt = reqs[0][0] if reqs else None
    rec["i"] = compact_text(_as_text(prompt), max_text)
    choices = [c for _, c in reqs]
    has_choices = len(choices) > 1 and all(isinstance(c, str) for c in choices)
    if has_choices:
        rec["ch"] = [compact_text(c, max_text) for c in choices]

    target = sample.get("target")
    target_text = target if isinstance(target, str) else _as_text(target)
    rec["t"] = compact_text(target_text, max_text)
    if has_choices and target_text.strip().isdigit() and int(target_text) < len(choices):
        rec["ti"] = int(target_text)

    filtered = sample.get("filtered_resps")
    lls = _loglikelihoods(filtered)
    if lls is not None and (has_choices or len(lls) > 1):
        best = max(range(len(lls)), key=lambda k: lls[k][0])
        rec["p"] = best
        rec["ll"] = [round(ll, 4) for ll, _ in lls]
        rec["r"] = compact_text(choices[best], max_text) if has_choices and best < len(choices) else f"choice {best}"
    elif lls is not None:
        ll, greedy = lls[0]
        rec["r"] = f"loglikelihood {ll:.4f}" + ("" if greedy is None else f", greedy {greedy}")
    else:
        rec["r"] = compact_text(_as_text(filtered), max_text)
        if "resps" in sample:
            raw = _as_text(sample["resps"])
            if raw != _as_text(filtered):
                rec["rr"] = compact_text(raw, max_text)

    extra = _extra_fields(sample, metrics)
    if extra:
        rec["x"] = compact_value(extra, max_text)
    return rec


def _extra_fields(sample: Mapping[str, Any], metrics: Sequence[str]) -> dict[str, Any]:
    """The fields compact_sample does not read itself (the document first)."""
    extra: dict[str, Any] = {}
    for key, value in sample.items():
        if key in _SAMPLE_KEYS or key in metrics:
            continue
        extra[key] = value
    if "doc" in sample:
        extra = {"doc": sample["doc"], **extra}
    return extra

"""Helpers of the anchors' per-sample transformations (formats.md §4.2-4.3)."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["float_text", "sanitize_like", "sanitize_list", "sanitize_pair"]

_LEAF_TYPES = frozenset({str, float, int, bool, type(None)})
_dumps = orjson.dumps


def float_text(value: float) -> str:
    """``str(value)`` of a ``float``, about 2.5x faster for the loglikelihoods the harnesses log.

    ``str(float)`` (CPython's shortest round-trip repr) writes ``1e-4 <= |x| < 1e16`` in plain
    decimal notation; orjson writes the same shortest digits there, in the same notation, about
    three times faster. Outside that range (exponents, zero, inf, nan) ``str()`` itself."""
    if -1e16 < value <= -1e-4 or 1e-4 <= value < 1e16:
        return _dumps(value).decode()
    return str(value)


def _orjson_writes_floats_as_str() -> bool:
    """The premise of :func:`float_text`, checked once on the orjson installed."""
    probe = (-12.345678901234567, -0.0001, 0.00012345, 0.1, 1.0, 123.0, -2.5e-3, 9999999999999998.0, 1e15, 7.0 / 3.0)
    return all(_dumps(v).decode() == str(v) for v in probe)


if not _orjson_writes_floats_as_str():  # pragma: no cover - another orjson's float notation
    float_text = str  # type: ignore[assignment]  # noqa: F811


def sanitize_list(sub: Any) -> Any:
    """The anchors' ``sanitize_list``: keep list/tuple nesting, every leaf becomes ``str(leaf)``.

    Loglikelihood responses are lists of ``(float, bool)`` pairs, lm-eval's are lists of
    one-item lists of them; these shapes are handled inline (no recursive call), which
    halves the cost of the common records.
    """
    leaf = _LEAF_TYPES
    if type(sub) is list:
        out: list[Any] = []
        append = out.append
        for item in sub:
            kind = type(item)
            if kind is tuple and len(item) == 2:
                first, second = item
                if type(first) in leaf and type(second) in leaf:
                    append((float_text(first) if type(first) is float else str(first), str(second)))
                    continue
            elif kind is list and len(item) == 1:  # lm-eval: one repeat per request
                inner = item[0]
                inner_kind = type(inner)
                if inner_kind in leaf:
                    append([str(inner)])
                    continue
                if inner_kind is tuple and len(inner) == 2:
                    first, second = inner
                    if type(first) in leaf and type(second) in leaf:
                        append([(float_text(first) if type(first) is float else str(first), str(second))])
                        continue
            if kind in leaf:
                append(str(item))
            else:
                append(sanitize_list(item))
        return out
    if isinstance(sub, list):
        return [sanitize_list(item) for item in sub]
    if isinstance(sub, tuple):
        if len(sub) == 2 and type(sub[0]) in leaf and type(sub[1]) in leaf:
            return (str(sub[0]), str(sub[1]))
        return tuple([str(item) if type(item) in leaf else sanitize_list(item) for item in sub])
    return str(sub)


def sanitize_like(sub: Any, done_from: Any, done: Any) -> Any:
    """``sanitize_list(sub)``, reusing the items of ``done`` (``sanitize_list(done_from)``) where
    ``sub``'s items are the very objects of ``done_from`` or the first item of a list there
    (filtered responses usually are the raw responses' objects, lm-eval's ``take_first`` the
    first repeat of each: the same object sanitizes to equal strings)."""
    if type(sub) is not list or type(done_from) is not list or type(done) is not list or len(sub) != len(done_from):
        return sanitize_list(sub)
    out: list[Any] = []
    append = out.append
    for i, item in enumerate(sub):
        raw = done_from[i]
        if item is raw:
            append(done[i])
        elif type(raw) is list and raw and item is raw[0] and type(done[i]) is list:
            append(done[i][0])
        else:
            append(str(item) if type(item) in _LEAF_TYPES else sanitize_list(item))
    return out


def sanitize_pair(raw: Any, filtered: Any) -> tuple[Any, Any]:
    """``(done, sanitize_like(filtered, raw, done))`` with ``done = sanitize_list(raw)``, in one pass
    over lm-eval's usual responses: ``raw`` a list of one-item lists (one repeat per request) of a
    leaf or a ``(leaf, leaf)`` pair, ``filtered`` as long; any other shape takes the two calls."""
    leaf = _LEAF_TYPES
    if type(raw) is list and type(filtered) is list and len(raw) == len(filtered):
        out: list[Any] = []
        fout: list[Any] = []
        for item, f in zip(raw, filtered):
            if type(item) is not list or len(item) != 1:
                break
            inner = item[0]
            kind = type(inner)
            if kind is tuple and len(inner) == 2:
                first, second = inner
                if type(first) is float and type(second) is bool:  # a loglikelihood and is-greedy
                    done: Any = (float_text(first), "True" if second else "False")
                elif type(first) not in leaf or type(second) not in leaf:
                    break
                else:
                    done = (str(first), str(second))
            elif kind in leaf:
                done = str(inner)
            else:
                break
            line = [done]
            out.append(line)
            if f is inner:  # take_first: the first repeat
                fout.append(done)
            elif f is item:
                fout.append(line)
            else:
                fout.append(str(f) if type(f) in leaf else sanitize_list(f))
        else:
            return out, fout
    done_all = sanitize_list(raw)
    return done_all, sanitize_like(filtered, raw, done_all)

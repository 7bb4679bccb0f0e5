"""Helpers of the anchors' per-sample transformations (formats.md §4.2-4.3)."""

from __future__ import annotations

from typing import Any

__all__ = ["sanitize_like", "sanitize_list", "sanitize_pair"]

_LEAF_TYPES = frozenset({str, float, int, bool, type(None)})


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
                    append((str(first), str(second)))
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
                        append([(str(first), str(second))])
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
                if type(first) not in leaf or type(second) not in leaf:
                    break
                done: Any = (str(first), str(second))
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

"""Helpers of the anchors' per-sample transformations (formats.md §4.2-4.3)."""

from __future__ import annotations

from typing import Any

__all__ = ["sanitize_list"]

_LEAF_TYPES = frozenset({str, float, int, bool, type(None)})


def sanitize_list(sub: Any) -> Any:
    """The anchors' ``sanitize_list``: keep list/tuple nesting, every leaf becomes ``str(leaf)``.

    Loglikelihood responses are lists of ``(float, bool)`` pairs; pairs of
    leaves are handled inline, which halves the cost of the common shapes.
    """
    leaf = _LEAF_TYPES
    if isinstance(sub, list):
        out: list[Any] = []
        for item in sub:
            kind = type(item)
            if kind in leaf:
                out.append(str(item))
            elif kind is tuple and len(item) == 2 and type(item[0]) in leaf and type(item[1]) in leaf:
                out.append((str(item[0]), str(item[1])))
            else:
                out.append(sanitize_list(item))
        return out
    if isinstance(sub, tuple):
        if len(sub) == 2 and type(sub[0]) in leaf and type(sub[1]) in leaf:
            return (str(sub[0]), str(sub[1]))
        return tuple([str(item) if type(item) in leaf else sanitize_list(item) for item in sub])
    return str(sub)

"""What each flavor writes: per-sample transformation, task hashes, model names.

lm-eval 0.4.13 (formats.md §4.2, §13.2) and lmms-eval 0.7.3 (§4.3, §13.3)
transform each sample dict *in place* before dumping it; here the same
transformation builds a new dict and leaves the caller's sample untouched.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

__all__ = [
    "transform_sample",
    "TRANSFORMS",
    "TaskHasher",
    "task_hash",
    "model_name_from_args",
    "hash_string",
    "sanitize_list",
    "DEFAULT_REPO_NAME",
]

DEFAULT_REPO_NAME = {"lm-eval": "lm-eval-results", "lmms-eval": "lmms-eval-results"}


def hash_string(text: str) -> str:
    """sha256 hex of UTF-8 text (the anchors' ``hash_string``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_LEAF_TYPES = frozenset({str, float, int, bool, type(None)})


def sanitize_list(sub: Any) -> Any:
    """The anchors' ``sanitize_list``: keep list/tuple nesting, every leaf becomes ``str(leaf)``.

    Loglikelihood responses are lists of ``(float, bool)`` pairs; pairs of
    leaves are handled inline, which halves the cost of the common shapes.
    """
    leaf = _LEAF_TYPES
    if isinstance(sub, list):
        out = []
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


_GEN_ARGS = [f"gen_args_{i}" for i in range(64)]
_ARG = [f"arg_{j}" for j in range(16)]


def _lmeval_arguments(arguments: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, args in enumerate(arguments):
        gen = _GEN_ARGS[i] if i < 64 else f"gen_args_{i}"
        if len(args) <= 16:
            out[gen] = dict(zip(_ARG, args))
        else:
            out[gen] = {f"arg_{j}": value for j, value in enumerate(args)}
    return out


def _transform_lmeval(sample: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(sample)
    if "arguments" in out:
        out["arguments"] = _lmeval_arguments(out["arguments"])
    if "resps" in out:
        out["resps"] = sanitize_list(out["resps"])
    if "filtered_resps" in out:
        out["filtered_resps"] = sanitize_list(out["filtered_resps"])
    if "target" in out:
        out["target"] = str(out["target"])
    # key order: lm-eval reassigns existing keys, which keeps their position
    return out


def _transform_lmms(sample: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(sample)
    arguments = out.get("arguments")
    if arguments:
        out["input"] = arguments[0]
    resps = sanitize_list(out["resps"]) if "resps" in out else None
    filtered = sanitize_list(out["filtered_resps"]) if "filtered_resps" in out else None
    # flatten the per-request wrapper of single-request docs (generation tasks)
    if isinstance(resps, list) and len(resps) == 1:
        resps = resps[0]
    if isinstance(filtered, list) and len(filtered) == 1:
        filtered = filtered[0]
    if "filtered_resps" in out:
        out["filtered_resps"] = filtered
    if "resps" in out:
        if resps == filtered or (isinstance(resps, list) and len(resps) == 1 and resps[0] == filtered):
            del out["resps"]
        else:
            out["resps"] = resps
    if "target" in out:
        out["target"] = str(out["target"])
    out.pop("arguments", None)
    out.pop("doc", None)
    return out


TRANSFORMS = {"lm-eval": _transform_lmeval, "lmms-eval": _transform_lmms}


def transform_sample(flavor: str, sample: Mapping[str, Any]) -> dict[str, Any]:
    """The record the flavor writes for one sample; ``sample`` is not modified."""
    return TRANSFORMS.get(flavor, _transform_lmms)(sample)


class TaskHasher:
    """Incremental ``task_hashes`` entry, equal to the anchors' batch computation.

    lm-eval: sha256 over the concatenation of ``doc_hash + prompt_hash + target_hash``;
    lmms-eval: sha256 over the concatenation of ``"sample_<i>" + doc_hash``.
    Missing hash fields count as empty strings.
    """

    __slots__ = ("flavor", "count", "_sha")

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor
        self.count = 0
        self._sha = hashlib.sha256()

    def update(self, sample: Mapping[str, Any]) -> None:
        if self.flavor == "lm-eval":
            piece = (
                f"{sample.get('doc_hash', '')}{sample.get('prompt_hash', '')}{sample.get('target_hash', '')}"
            )
        else:
            piece = f"sample_{self.count}{sample.get('doc_hash', '')}"
        self._sha.update(piece.encode("utf-8"))
        self.count += 1

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def task_hash(flavor: str, samples: Any) -> str:
    hasher = TaskHasher(flavor)
    for sample in samples:
        hasher.update(sample)
    return hasher.hexdigest()


# ------------------------------------------------------------------ model name
# order matters: peft and delta come with pretrained (formats.md §1.3)
_NAME_KEYS = {
    "lm-eval": ("peft", "delta", "pretrained", "model", "path", "engine"),
    "lmms-eval": (
        "peft", "delta", "pretrained", "model", "model_version", "model_name", "model_id", "path", "engine",
    ),
}


def parse_model_args(model_args: str) -> dict[str, str]:
    """``k=v,k2=v2`` -> dict; commas inside quotes or brackets do not split."""
    result: dict[str, str] = {}
    depth = 0
    quote = ""
    start = 0
    pieces = []
    for i, ch in enumerate(model_args):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[({":
            depth += 1
        elif ch in "])}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            pieces.append(model_args[start:i])
            start = i + 1
    pieces.append(model_args[start:])
    for piece in pieces:
        key, sep, value = piece.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            result.setdefault(key.strip(), value)
    return result


def model_name_from_args(model_args: Any, flavor: str) -> str:
    """The model name inside ``model_args`` (a ``k=v,...`` string or a dict); ``""`` if none.

    Unlike the anchors, keys are matched exactly (``base_model=x`` is not
    ``model=x``) and commas inside quotes or brackets do not cut the value.
    """
    if model_args is None:
        return ""
    if isinstance(model_args, Mapping):
        args = {str(k): v for k, v in model_args.items()}
    else:
        args = parse_model_args(str(model_args))
    for key in _NAME_KEYS.get(flavor, _NAME_KEYS["lm-eval"]):
        value = args.get(key)
        if value not in (None, ""):
            return str(value)
    return ""

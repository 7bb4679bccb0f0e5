"""JSON encoding of results and samples.

Fast path: :mod:`orjson` with a ``default`` hook that turns the objects
evaluation harnesses put into their dicts into plain JSON values, by duck
typing (numpy and torch are never imported here):

* numpy / torch scalars and 0-d arrays (``.item()``) -> numbers and booleans,
  whatever their width; float and int subclasses -> float / int;
* arrays and tensors (``.tolist()``) -> lists; large or image-shaped ones
  -> a short description, see :func:`describe_array`;
* ``set`` / ``frozenset`` -> sorted lists; ``datetime`` -> ISO 8601 (orjson);
  dataclasses and enums (orjson); mappings -> objects; ``pathlib`` paths -> str;
* ``bytes`` and PIL images -> ``{"type": ..., "size": ..., "sha256": ...}``;
* anything else -> ``str(obj)`` like the anchors (a function, a dtype).

Strict JSON (RFC 8259) is the default: NaN and infinities become ``null``.
With ``allow_nan=True`` the anchors' ``NaN`` / ``Infinity`` tokens are kept.

Values orjson refuses (integers beyond 64 bits, lone surrogates, non-string
keys) go through a slower stdlib path; what even that cannot encode raises
:class:`~evallog.errors.SerializationError`: nesting deeper than
:data:`~evallog.redact.MAX_NESTING`, cycles, keys that collide once written
as strings (``1`` and ``"1"``, ``None`` and ``"null"``), objects whose
``__str__`` fails. Objects written through ``str(obj)`` have credentials
redacted from that text.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import orjson

from evallog.errors import SerializationError
from evallog.redact import MAX_NESTING, redact_text

__all__ = [
    "LINE_OPTIONS",
    "MAX_ARRAY_ELEMENTS",
    "decode",
    "describe_bytes",
    "encode_document",
    "encode_line",
    "json_default",
    "to_plain",
]

# arrays with more elements than this (or with 3+ dimensions, i.e. images,
# video frames) are described instead of being written element by element
MAX_ARRAY_ELEMENTS = 4096

_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
# no OPT_NON_STR_KEYS: a non-string key goes to the slow path, which refuses keys that collide
LINE_OPTIONS = orjson.OPT_APPEND_NEWLINE
_DOC_OPTIONS = orjson.OPT_INDENT_2


def describe_bytes(data: bytes | bytearray | memoryview, kind: str = "bytes") -> dict[str, Any]:
    """A small, stable description of binary content (never the content itself)."""
    view = memoryview(data).cast("B")
    return {"type": kind, "size": view.nbytes, "sha256": hashlib.sha256(view).hexdigest()}


def describe_array(obj: Any) -> dict[str, Any] | None:
    """Describe a large or image-like array/tensor; ``None`` for small ones."""
    shape = tuple(int(n) for n in obj.shape)
    size = 1
    for n in shape:
        size *= n
    if len(shape) < 3 and size <= MAX_ARRAY_ELEMENTS:
        return None
    digest = None
    tobytes = getattr(obj, "tobytes", None)
    if tobytes is None and hasattr(obj, "detach"):  # torch tensor
        try:
            tobytes = obj.detach().cpu().numpy().tobytes
        except Exception:  # noqa: BLE001 - description stays usable without a digest
            tobytes = None
    if tobytes is not None:
        digest = hashlib.sha256(tobytes()).hexdigest()
    kind = "image" if len(shape) == 3 and shape[-1] in (1, 3, 4) else "array"
    if len(shape) == 4:
        kind = "video"
    return {"type": kind, "shape": list(shape), "dtype": str(getattr(obj, "dtype", "")), "sha256": digest}


def _describe_image(obj: Any) -> dict[str, Any]:
    """PIL-like image: ``mode``, ``size`` and ``tobytes()``."""
    try:
        digest = hashlib.sha256(obj.tobytes()).hexdigest()
    except Exception:  # noqa: BLE001 - lazily loaded images may fail to decode
        digest = None
    return {"type": "image", "mode": str(obj.mode), "size": list(obj.size), "sha256": digest}


def _sort_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, str(value))


# type -> the builtin the rules below give for every object of that type: float and int
# subclasses, and numpy's real scalars (``item()`` and ``float()``/``int()``/``bool()``
# agree on them). Looked up first, so that the frequent metric values skip the rules.
_SCALAR_TYPES: dict[type, type] = {}
_SCALAR_KINDS: dict[str, type] = {"f": float, "i": int, "u": int, "b": bool}
_SCALAR_TYPES_MAX = 64  # dynamically made subclasses must not grow it without bound


def _remember_scalar_type(kind: type, convert: type) -> None:
    if len(_SCALAR_TYPES) < _SCALAR_TYPES_MAX:
        _SCALAR_TYPES[kind] = convert


def json_default(obj: Any) -> Any:
    """orjson ``default`` hook; must return something orjson can encode natively."""
    convert = _SCALAR_TYPES.get(type(obj))
    if convert is not None:
        return convert(obj)
    if isinstance(obj, float):  # numpy.float64 and other float subclasses
        _remember_scalar_type(type(obj), float)
        return float(obj)
    if isinstance(obj, int):  # int subclasses (not bool, which orjson handles)
        _remember_scalar_type(type(obj), int)
        return int(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):  # before arrays: memoryview has a shape
        return describe_bytes(obj)
    shape = getattr(obj, "shape", None)
    if shape is not None and hasattr(obj, "tolist"):  # numpy / torch / jax arrays and scalars
        if len(shape) == 0:
            value = _item(obj)
            _remember_numpy_scalar_type(obj, value)
            return value
        description = describe_array(obj)
        return description if description is not None else obj.tolist()
    if hasattr(obj, "item") and hasattr(obj, "dtype"):  # numpy scalars without shape
        return _item(obj)
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return sorted(obj, key=_sort_key)
    if hasattr(obj, "mode") and hasattr(obj, "size") and hasattr(obj, "tobytes"):
        return _describe_image(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (list, tuple)):  # list/tuple subclasses orjson refused
        return list(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    try:
        text = str(obj)
    except Exception as exc:
        raise TypeError(f"{type(obj).__name__} cannot be written: its __str__ raised {type(exc).__name__}: {exc}") from exc
    return redact_text(text)


def _remember_numpy_scalar_type(obj: Any, value: Any) -> None:
    """Remember numpy's real scalar types (``numpy.float32``, ``numpy.int64``, ``numpy.bool_``...):
    for them ``float``/``int``/``bool`` of the object equals ``_scalar(obj.item())``."""
    kind = type(obj)
    if kind in _SCALAR_TYPES or kind.__module__ != "numpy" or type(value) not in (float, int, bool):
        return
    # scalars only (``numpy.generic``): a 0-d array's type is also that of every other array
    if not any(base.__name__ == "generic" and base.__module__ == "numpy" for base in kind.__mro__):
        return
    dtype = getattr(obj, "dtype", None)
    convert = _SCALAR_KINDS.get(getattr(dtype, "kind", ""))
    if convert is not None and convert is type(value):
        _remember_scalar_type(kind, convert)


def _item(obj: Any) -> Any:
    """A numpy / torch scalar (or 0-d array) as a plain value: numbers as numbers; dates,
    times and durations (``datetime64``, ``timedelta64``) as their text, as the harnesses'
    ``str()`` fallback writes them (``item()`` would give nanoseconds as an int); bytes
    described like other bytes."""
    if getattr(getattr(obj, "dtype", None), "kind", "") in ("M", "m"):
        return str(obj)
    value = obj.item()
    if isinstance(value, (bytes, bytearray)):
        return describe_bytes(value)
    return _scalar(value)


def _scalar(value: Any) -> Any:
    """A numpy scalar's ``item()``: ``longdouble`` and ``clongdouble`` give numpy scalars back."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, complex) or (hasattr(value, "imag") and bool(getattr(value, "imag", False))):
        return str(value)
    return float(value)


# ---------------------------------------------------------------- slow path
def to_plain(obj: Any, *, allow_nan: bool = False, _depth: int = 0) -> Any:
    """Recursively turn ``obj`` into plain JSON-compatible Python values.

    Used when orjson refuses a value, and by callers that need to inspect a
    normalized copy. With ``allow_nan=False``, NaN and infinities become None.
    """
    if _depth > MAX_NESTING:
        raise ValueError(f"value nested deeper than {MAX_NESTING} levels (or containing itself)")
    if obj is None:
        return None
    if isinstance(obj, bool):
        return bool(obj)
    if isinstance(obj, str):
        return str(obj)
    if isinstance(obj, float):
        value = float(obj)
        if not allow_nan and not math.isfinite(value):
            return None
        return value
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            key = _plain_key(k)
            if key in out:
                raise ValueError(f"keys collide once written as JSON strings: {redact_text(key)!r}")
            out[key] = to_plain(v, allow_nan=allow_nan, _depth=_depth + 1)
        return out
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, allow_nan=allow_nan, _depth=_depth + 1) for v in obj]
    if isinstance(obj, enum.Enum):
        return to_plain(obj.value, allow_nan=allow_nan, _depth=_depth + 1)
    if hasattr(obj, "isoformat") and hasattr(obj, "year"):  # date / datetime
        return obj.isoformat()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_plain(dataclasses.asdict(obj), allow_nan=allow_nan, _depth=_depth + 1)
    return to_plain(json_default(obj), allow_nan=allow_nan, _depth=_depth + 1)


def _plain_key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)  # the stdlib's rules for non-string keys
    if isinstance(key, enum.Enum):
        return str(key.value)
    if hasattr(key, "isoformat"):
        return str(key.isoformat())
    if hasattr(key, "item") and hasattr(key, "dtype"):  # numpy scalar keys
        return _plain_key(_scalar(key.item()))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _stdlib_dumps(obj: Any, *, allow_nan: bool, indent: int | None) -> bytes:
    plain = to_plain(obj, allow_nan=allow_nan)
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(plain, ensure_ascii=False, allow_nan=allow_nan, indent=indent, separators=separators)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        # lone surrogates: escape them (valid JSON text that reads back equal)
        if _SURROGATE_PAIR.search(text):  # would read back as one character, not two
            raise ValueError("a string holds a pair of surrogate code points that JSON cannot keep apart") from None
        text = json.dumps(plain, ensure_ascii=True, allow_nan=allow_nan, indent=indent, separators=separators)
        data = text.encode("ascii")
    return data + b"\n" if indent is None else data


def _has_non_finite(obj: Any, _depth: int = 0) -> bool:
    if isinstance(obj, float):
        return not math.isfinite(obj)
    if _depth > MAX_NESTING:
        return False
    if isinstance(obj, dict):
        return any(_has_non_finite(v, _depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_non_finite(v, _depth + 1) for v in obj)
    return False


def _encode(obj: Any, *, options: int, indent: int | None, allow_nan: bool, what: str) -> bytes:
    if allow_nan and _has_non_finite(obj):
        # orjson always writes null; the anchors' tokens need the stdlib
        try:
            return _stdlib_dumps(obj, allow_nan=True, indent=indent)
        except Exception as exc:
            raise SerializationError(f"cannot encode {what} as JSON: {exc}") from exc
    try:
        return orjson.dumps(obj, default=json_default, option=options)
    except (orjson.JSONEncodeError, TypeError):
        try:
            return _stdlib_dumps(obj, allow_nan=allow_nan, indent=indent)
        except Exception as exc:
            raise SerializationError(f"cannot encode {what} as JSON: {exc}") from exc


def encode_line(record: Any, *, allow_nan: bool = False) -> bytes:
    """One compact JSON line (with the trailing newline) for a samples file."""
    return _encode(record, options=LINE_OPTIONS, indent=None, allow_nan=allow_nan, what="sample")


def encode_document(document: Any, *, allow_nan: bool = False) -> bytes:
    """An indented (2 spaces) JSON document, as the anchors write results files."""
    return _encode(document, options=_DOC_OPTIONS, indent=2, allow_nan=allow_nan, what="results")


def decode(data: bytes | str) -> Any:
    """Parse JSON text: orjson first, the stdlib for the anchors' ``NaN``/``Infinity`` tokens.

    Raises :class:`ValueError` (``orjson.JSONDecodeError`` or ``json.JSONDecodeError``,
    or ``UnicodeDecodeError``) when the text is not JSON, or is nested too deeply to read.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as first:
        if "depth" in str(first) or "recursion" in str(first).lower():
            raise
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data).decode("utf-8")
        try:
            return json.loads(data)
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply to read") from exc

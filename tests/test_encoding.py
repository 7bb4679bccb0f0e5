"""Serialization: any JSON-like value (numpy, NaN, surrogates, deep nesting, huge strings)
either writes valid JSON that reads back equal, or raises a typed error."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import subprocess
import sys

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog.encoding import encode_document, encode_line
from evallog.errors import SerializationError

finite = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | finite | st.text()
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _read(data: bytes):
    # strict RFC 8259 parse: the stdlib refuses NaN/Infinity when parse_constant raises
    def no_constants(name):
        raise ValueError(f"non-standard token {name}")

    return json.loads(data.decode("utf-8"), parse_constant=no_constants)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_like)
def test_json_like_roundtrips(value):
    for encode in (encode_line, encode_document):
        try:
            data = encode({"v": value})
        except SerializationError:
            continue
        assert _read(data) == {"v": value}


@settings(max_examples=200)
@given(st.floats())
def test_floats_strict_by_default(x):
    back = _read(encode_line({"x": x}))["x"]
    if math.isfinite(x):
        assert back == x
    else:
        assert back is None


def test_allow_nan_keeps_anchor_tokens():
    line = encode_line({"a": float("nan"), "b": [float("inf"), -float("inf")]}, allow_nan=True)
    assert line == b'{"a":NaN,"b":[Infinity,-Infinity]}\n'
    doc = encode_document({"a": np.float64("nan")}, allow_nan=True)
    assert json.loads(doc)["a"] != json.loads(doc)["a"]  # NaN


@given(st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=4) | st.text())
def test_lone_surrogates_read_back_equal_or_raise(s):
    try:
        line = encode_line({"s": s})
    except SerializationError:
        return  # e.g. "\ud800\udc00": JSON would read it back as one character
    assert json.loads(line)["s"] == s


def test_big_ints_and_deep_nesting():
    assert json.loads(encode_line({"n": 2**100}))["n"] == 2**100
    deep: dict = {}
    cur = deep
    for _ in range(250):  # up to MAX_NESTING (orjson's own limit) is written
        cur["a"] = {}
        cur = cur["a"]
    assert json.loads(encode_line(deep)) == deep
    for _ in range(150):  # deeper: refused with a typed error (issue 17), never a RecursionError
        cur["a"] = {}
        cur = cur["a"]
    with pytest.raises(SerializationError):
        encode_line(deep)
    too_deep: list = []
    cur2 = too_deep
    for _ in range(5000):
        cur2.append([])
        cur2 = cur2[0]
    with pytest.raises(SerializationError):
        encode_line(too_deep)


def test_huge_string():
    s = "x" * 5_000_000 + "é"
    assert orjson.loads(encode_line({"s": s}))["s"] == s


NUMPY_CASES = [
    (np.float16(1.5), 1.5), (np.float32(1500.5), 1500.5), (np.float64(0.25), 0.25),
    (np.int8(-3), -3), (np.int16(7), 7), (np.int32(8), 8), (np.int64(2**40), 2**40),
    (np.uint8(255), 255), (np.uint64(2**63), 2**63), (np.bool_(True), True), (np.bool_(False), False),
    (np.array(3.5), 3.5), (np.array([1, 2, 3]), [1, 2, 3]), (np.array([[1.5], [2.5]]), [[1.5], [2.5]]),
]


@pytest.mark.parametrize("value,expected", NUMPY_CASES, ids=[type(v).__name__ + str(i) for i, (v, _) in enumerate(NUMPY_CASES)])
def test_numpy_values_stay_numbers(value, expected):
    back = json.loads(encode_line({"v": value}))["v"]
    assert back == expected and type(back) is type(expected)


def test_other_types():
    class Color(enum.Enum):
        RED = "red"

    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    out = json.loads(encode_line({
        "set": {3, 1, 2}, "frozen": frozenset({"b", "a"}), "when": dt.datetime(2024, 5, 1, 12, 30),
        "day": dt.date(2024, 5, 1), "enum": Color.RED, "dc": Point(1, 2.5), "tuple": (1, (2, 3)), 7: "int key",
    }))
    assert out == {"set": [1, 2, 3], "frozen": ["a", "b"], "when": "2024-05-01T12:30:00", "day": "2024-05-01",
                   "enum": "red", "dc": {"x": 1, "y": 2.5}, "tuple": [1, [2, 3]], "7": "int key"}


def test_binary_and_images_are_described():
    payload = b"\x89PNG" + bytes(50_000)
    out = json.loads(encode_line({"img": {"bytes": payload, "path": "a.png"}, "arr": np.zeros((64, 64, 3), np.uint8)}))
    assert out["img"]["bytes"]["type"] == "bytes" and out["img"]["bytes"]["size"] == len(payload)
    assert len(out["img"]["bytes"]["sha256"]) == 64 and out["img"]["path"] == "a.png"
    assert out["arr"]["type"] == "image" and out["arr"]["shape"] == [64, 64, 3]
    assert len(encode_line({"audio": {"array": np.zeros(16000), "sampling_rate": 16000}})) < 300


def test_pil_like_image_is_described():
    class FakeImage:  # duck-typed like PIL.Image.Image
        mode = "RGB"
        size = (4, 2)

        def tobytes(self):
            return bytes(24)

    out = json.loads(encode_line({"image": FakeImage()}))
    assert out["image"]["type"] == "image" and out["image"]["size"] == [4, 2] and out["image"]["mode"] == "RGB"


def test_encoding_does_not_import_numpy():
    code = (
        "import sys, evallog, evallog.tracker, evallog.encoding as e;"
        "e.encode_line({'a': 1.5, 'b': {1, 2}, 'c': b'x'});"
        "print(sorted(m for m in ('numpy', 'torch', 'datasets', 'huggingface_hub') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _anchor_sanitize_list(sub):  # lm-eval 0.4.13 / lmms-eval 0.7.3 utils.sanitize_list
    if isinstance(sub, list):
        return [_anchor_sanitize_list(item) for item in sub]
    if isinstance(sub, tuple):
        return tuple(_anchor_sanitize_list(item) for item in sub)
    return str(sub)


nested = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple),
    max_leaves=20,
)


@given(nested)
def test_sanitize_list_matches_the_anchors(value):
    from evallog.flavors import sanitize_list

    assert sanitize_list(value) == _anchor_sanitize_list(value)
    assert type(sanitize_list(value)) is type(_anchor_sanitize_list(value))


_NUMPY_SCALARS = [
    np.float64(0.1), np.float32(0.1), np.float16(0.3), np.longdouble(0.1), np.int8(-3), np.int64(-(2**62)),
    np.uint64(2**63 + 5), np.uint8(7), np.bool_(True), np.bool_(False), np.float32("nan"), np.float64("inf"),
    np.complex64(1 + 2j), np.array(2.5), np.array([1.5, 2.5]), np.array(3),
]


@pytest.mark.parametrize("strict", [True, False])
def test_remembered_scalar_types_encode_like_the_rules(strict):
    """The default hook remembers numpy scalar types (and float/int subclasses) to skip its rules:
    the first encoding of a type (through the rules) and later ones (remembered) give the same
    bytes, and a 0-d array's type is never remembered (it would turn every array into a number)."""
    from evallog import encoding

    encoding._SCALAR_TYPES.clear()
    first = [encode_line({"v": v}, allow_nan=not strict) for v in _NUMPY_SCALARS]
    assert np.ndarray not in encoding._SCALAR_TYPES and np.float32 in encoding._SCALAR_TYPES
    again = [encode_line({"v": v}, allow_nan=not strict) for v in _NUMPY_SCALARS]
    assert again == first
    encoding._SCALAR_TYPES.clear()
    # the same through the sink's fast path (orjson + default hook)
    from evallog.flavors import get_flavor
    from evallog.sink import SampleSink

    sink = SampleSink(get_flavor("lm-eval"), redact_secrets=True, strict_json=strict)
    lines = [sink.encode({"v": v}, "t", 0) for v in _NUMPY_SCALARS]
    assert [sink.encode({"v": v}, "t", 0) for v in _NUMPY_SCALARS] == lines
    assert json.loads(lines[0]) == {"v": 0.1} and json.loads(lines[14]) == {"v": [1.5, 2.5]}
    assert json.loads(lines[6]) == {"v": 2**63 + 5} and json.loads(lines[8]) == {"v": True}


def test_remembered_scalar_types_are_bounded():
    from evallog import encoding

    kinds = [type(f"F{i}", (float,), {}) for i in range(3 * encoding._SCALAR_TYPES_MAX)]
    assert [orjson.loads(encode_line([k(1.5)])) for k in kinds] == [[1.5]] * len(kinds)
    assert len(encoding._SCALAR_TYPES) <= encoding._SCALAR_TYPES_MAX
    encoding._SCALAR_TYPES.clear()


@pytest.mark.parametrize("strict", [True, False])
def test_numpy_dates_and_durations_are_written_as_their_text(tmp_path, strict):
    """``numpy.datetime64`` / ``timedelta64`` (scalars and 0-d arrays) are written as ``str()``,
    as the harnesses' fallback writes them; they used to fail the save (``float(date)``)."""
    np = pytest.importorskip("numpy")
    from evallog.flavors import get_flavor
    from evallog.sink import SampleSink

    values = {
        "day": np.datetime64("2024-01-02"),
        "ns": np.datetime64("2024-01-02T03:04:05.123456789"),
        "array": np.array(np.datetime64("2024-01-02", "ns")),
        "span": np.timedelta64(5, "s"),
    }
    expected = {key: str(value) for key, value in values.items()}
    assert json.loads(encode_line(values)) == expected
    sink = SampleSink(get_flavor("lm-eval"), redact_secrets=True, strict_json=strict)
    line = sink.encode({"doc_id": 0, "doc": values, "filter": "none"}, "t", 0)
    assert json.loads(line)["doc"] == expected

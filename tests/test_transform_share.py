"""The lm-eval and lmms-eval transforms sanitize filtered responses reusing the raw responses'
shared items (the very objects, or lm-eval's ``take_first``: the first repeat of each): same
result as sanitizing each on its own (the anchors' ``sanitize_list``)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from evallog.flavors import get_flavor, sanitize_list
from evallog.flavors._transform import sanitize_like, sanitize_pair

leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
nested = st.recursive(
    leaves, lambda children: st.lists(children, max_size=3) | st.lists(children, max_size=3).map(tuple), max_leaves=12
)


@given(st.lists(nested, max_size=5), st.data())
def test_sanitize_like_equals_sanitize_list(raw: list[Any], data: st.DataObject) -> None:
    # each filtered item: the raw response's very object, an equal copy, or another value
    filtered = [
        data.draw(st.sampled_from([item, copy.deepcopy(item), data.draw(nested)] + ([item[0]] if isinstance(item, list) and item else [])))
        for item in raw
    ] + data.draw(st.lists(nested, max_size=1))
    done = sanitize_list(raw)
    assert sanitize_like(filtered, raw, done) == sanitize_list(filtered)
    assert sanitize_like(tuple(filtered), raw, done) == sanitize_list(tuple(filtered))


# lm-eval's usual responses (one-item lists of a leaf or a pair), with other shapes mixed in
lm_eval_item = st.lists(leaves | st.tuples(leaves, leaves) | nested, min_size=1, max_size=1) | nested


@given(st.lists(lm_eval_item, max_size=5) | nested, st.data())
def test_sanitize_pair_equals_sanitize_list_twice(raw: Any, data: st.DataObject) -> None:
    # each filtered item: the raw item, its first element, an equal copy, or another value
    items = raw if isinstance(raw, list) else []
    filtered: Any = [
        data.draw(st.sampled_from([item, copy.deepcopy(item), data.draw(nested)] + ([item[0]] if isinstance(item, list) and item else [])))
        for item in items
    ] + data.draw(st.lists(nested, max_size=1))
    if data.draw(st.booleans()):
        filtered = data.draw(nested)
    done, filtered_done = sanitize_pair(raw, filtered)
    assert done == sanitize_list(raw) and type(done) is type(sanitize_list(raw))
    assert filtered_done == sanitize_list(filtered) and type(filtered_done) is type(sanitize_list(filtered))


@given(st.lists(st.tuples(st.floats(), st.booleans()), min_size=1, max_size=4), st.booleans())
def test_lmms_eval_record_same_with_shared_or_copied_responses(pairs: list[tuple[float, bool]], shared: bool) -> None:
    flavor = get_flavor("lmms-eval")
    sample = {"doc_id": 0, "arguments": ["q", " A", 0, "t", "test"], "resps": list(pairs),
              "filtered_resps": list(pairs) if shared else copy.deepcopy(pairs), "doc_hash": "h", "target": 1}
    out = flavor.transform_sample(sample)
    expected = [sanitize_list(p) for p in pairs]
    assert out["filtered_resps"] == (expected[0] if len(expected) == 1 else expected)
    assert "resps" not in out  # equal to the filtered responses: dropped, as the anchor does


@given(st.lists(st.lists(st.tuples(st.floats(), st.booleans()) | st.text(max_size=5), min_size=1, max_size=2), min_size=1, max_size=4),
       st.booleans())
def test_lm_eval_record_same_with_take_first_or_copied_responses(resps: list[list[Any]], shared: bool) -> None:
    flavor = get_flavor("lm-eval")
    first = [r[0] for r in resps]
    sample = {"doc_id": 0, "arguments": [("q", " A")], "resps": resps,
              "filtered_resps": first if shared else copy.deepcopy(first), "doc_hash": "h", "target": 1}
    out = flavor.transform_sample(sample)
    assert out["resps"] == sanitize_list(resps)
    assert out["filtered_resps"] == sanitize_list(first)
    assert out["arguments"] == {"gen_args_0": {"arg_0": "q", "arg_1": " A"}}
